//! Applying damage to host weights, layer by layer. Biases are untouched except by `units`.

use super::hash::{self, Stream};
use super::settings::{Damage, Kind, Settings};
use crate::model::{Layer, Weights};

/// A copy of `weights` with `settings` applied (only damaged layers differ).
pub fn apply(weights: &Weights, settings: &Settings) -> Weights {
    let mut out = weights.clone();
    for (&layer, &damage) in &settings.layers {
        let index = Layer::ALL
            .iter()
            .position(|l| *l == layer)
            .expect("a known layer") as u8;
        let weight_key = layer.weight_key();
        let bias_key = layer.bias_key();
        let mut weight = out.tensors.remove(&weight_key).expect("validated weights");
        let bias = out.tensors.get_mut(&bias_key).expect("validated weights");
        damage_layer(
            &mut weight.data,
            &mut bias.data,
            index,
            damage,
            settings.seed,
        );
        out.tensors.insert(weight_key, weight);
    }
    out
}

/// Damages one layer in place. `weight` is in torchvision's layout ([out, ...]), so output
/// unit j owns the j-th contiguous block.
pub fn damage_layer(weight: &mut [f32], bias: &mut [f32], layer: u8, damage: Damage, seed: u64) {
    let p = damage.amount;
    match damage.kind {
        Kind::Drop => {
            let t = hash::threshold(p);
            for (i, w) in weight.iter_mut().enumerate() {
                if hash::score(seed, layer, Stream::Drop, i as u64) < t {
                    *w = 0.0;
                }
            }
        }
        Kind::Units => {
            let t = hash::threshold(p);
            let per_unit = weight.len() / bias.len().max(1);
            for (j, b) in bias.iter_mut().enumerate() {
                if hash::score(seed, layer, Stream::Units, j as u64) < t {
                    *b = 0.0;
                    weight[j * per_unit..(j + 1) * per_unit].fill(0.0);
                }
            }
        }
        Kind::Prune => {
            let k = (p * weight.len() as f64).round() as usize;
            if k == 0 {
                return;
            }
            let mut order: Vec<u32> = (0..weight.len() as u32).collect();
            let key = |i: &u32| (weight[*i as usize].abs(), *i);
            let by_magnitude = |a: &u32, b: &u32| {
                let (ma, ia) = key(a);
                let (mb, ib) = key(b);
                ma.total_cmp(&mb).then(ia.cmp(&ib))
            };
            if k < order.len() {
                order.select_nth_unstable_by(k, by_magnitude);
            }
            for i in &order[..k.min(order.len())] {
                weight[*i as usize] = 0.0;
            }
        }
        Kind::Noise => {
            let n = weight.len() as f64;
            let mean = weight.iter().map(|w| *w as f64).sum::<f64>() / n;
            let var = weight
                .iter()
                .map(|w| (*w as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            let scale = p * var.sqrt();
            for (i, w) in weight.iter_mut().enumerate() {
                *w = (*w as f64 + scale * hash::normal(seed, layer, i as u64)) as f32;
            }
        }
        Kind::Bitflip => {
            let t = hash::threshold(p);
            for (i, w) in weight.iter_mut().enumerate() {
                let mut bits = w.to_bits();
                for b in 0..32u64 {
                    if hash::score(seed, layer, Stream::Bitflip, i as u64 * 32 + b) < t {
                        bits ^= 1 << b;
                    }
                }
                *w = f32::from_bits(bits);
            }
        }
    }
}
