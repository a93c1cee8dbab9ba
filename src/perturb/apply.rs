//! Applying damage to host weights, one layer at a time. Biases are untouched except by
//! `units`. Every kernel reads the intact weights and writes a fresh buffer in one pass, so
//! damaging a layer costs one layer-sized allocation and never a copy of the whole model.

use super::hash::{self, Stream};
use super::settings::{Damage, Kind, Settings};
use crate::model::{HostTensor, Layer, Weights};

/// Layer index in the hash key (conv1 = 0 .. fc8 = 7).
pub fn layer_index(layer: Layer) -> u8 {
    Layer::ALL
        .iter()
        .position(|l| *l == layer)
        .expect("a known layer") as u8
}

/// A copy of `weights` with `settings` applied: for export and one-shot evaluation.
pub fn apply(weights: &Weights, settings: &Settings) -> Weights {
    let mut out = weights.clone();
    for (&layer, &damage) in &settings.layers {
        let (weight, bias) = damaged_layer(weights, layer, damage, settings.seed);
        out.set_layer(layer, weight, bias)
            .expect("damage keeps every tensor's shape");
    }
    out
}

/// The damaged weight and bias of one layer, computed from the intact `weights`.
pub fn damaged_layer(
    weights: &Weights,
    layer: Layer,
    damage: Damage,
    seed: u64,
) -> (HostTensor, HostTensor) {
    let weight = weights.weight(layer);
    let bias = weights.bias(layer);
    let (w, b) = damage_values(weight.data(), bias.data(), layer_index(layer), damage, seed);
    let sized = "damage keeps every tensor's size";
    (
        weight.with_data(w).expect(sized),
        bias.with_data(b).expect(sized),
    )
}

/// Damages one layer. `weight` is in torchvision's layout ([out, ...]), so output unit j
/// owns the j-th contiguous block. Returns the new weight and bias.
pub fn damage_values(
    weight: &[f32],
    bias: &[f32],
    layer: u8,
    damage: Damage,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let p = damage.amount;
    let mut bias = bias.to_vec();
    let weight = match damage.kind {
        Kind::Drop => drop(weight, layer, p, seed),
        Kind::Units => {
            let t = hash::threshold(p);
            let per_unit = weight.len() / bias.len().max(1);
            let mut out = copy_of(weight);
            for (j, b) in bias.iter_mut().enumerate() {
                if hash::score(seed, layer, Stream::Units, j as u64) < t {
                    *b = 0.0;
                    out[j * per_unit..(j + 1) * per_unit].fill(0.0);
                }
            }
            out
        }
        Kind::Prune => prune(weight, p),
        Kind::Noise => noise(weight, layer, p, seed),
        Kind::Bitflip => bitflip(weight, layer, p, seed),
    };
    (weight, bias)
}

/// Zeroes element i when its score is below the threshold. The hash dominates the cost;
/// natively the layer is split across the machine's cores (the result does not depend on
/// the split: every element's fate is a function of its index alone).
fn drop(weight: &[f32], layer: u8, p: f64, seed: u64) -> Vec<f32> {
    let t = hash::threshold(p);
    let key = hash::key(seed, layer, Stream::Drop);
    let mut out = buffer(weight.len());
    split_work(weight, &mut out, |offset, src, dst| {
        drop_kernel(key, t, offset, src, dst)
    });
    out
}

/// The drop loop, compiled for several instruction sets and picked at run time: with
/// 64-bit vector multiplies (AVX-512DQ) the hash runs about ten times faster than scalar.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn drop_kernel(key: u64, t: u32, offset: usize, src: &[f32], dst: &mut [f32]) {
    for (k, (w, o)) in src.iter().zip(dst.iter_mut()).enumerate() {
        let removed = hash::score_keyed(key, (offset + k) as u64) < t;
        *o = if removed { 0.0 } else { *w };
    }
}

/// Runs `kernel(offset, src_chunk, dst_chunk)` over the slices. Natively large layers are
/// split over rayon's pool, the same threads the CPU backend computes on, so the damage
/// never competes with backend workers that are still spinning after a forward pass.
fn split_work<F>(src: &[f32], dst: &mut [f32], kernel: F)
where
    F: Fn(usize, &[f32], &mut [f32]) + Sync,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 20;
        if src.len() >= CHUNK {
            src.par_chunks(CHUNK)
                .zip(dst.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(i, (s, d))| kernel(i * CHUNK, s, d));
            return;
        }
    }
    kernel(0, src, dst);
}

/// Removes exactly k = round(p * n) weights: the smallest |w|, ties broken by lower index.
/// Magnitudes are compared as the bits of |w| (monotonic for non-negative floats; NaN
/// sorts above infinity), so the k-th smallest is found by one selection over integers.
fn prune(weight: &[f32], p: f64) -> Vec<f32> {
    let n = weight.len();
    let k = ((p * n as f64).round() as usize).min(n);
    let mut out = copy_of(weight);
    if k == 0 {
        return out;
    }
    let magnitude = |w: f32| w.to_bits() & 0x7FFF_FFFF;
    let mut mags: Vec<u32> = weight.iter().map(|w| magnitude(*w)).collect();
    let (_, &mut cut, _) = mags.select_nth_unstable(k - 1);
    let below = weight.iter().filter(|w| magnitude(**w) < cut).count();
    let mut ties = k - below;
    for o in out.iter_mut() {
        let m = magnitude(*o);
        if m < cut {
            *o = 0.0;
        } else if m == cut && ties > 0 {
            *o = 0.0;
            ties -= 1;
        }
    }
    out
}

/// Adds `a x std(layer)` times a fixed standard normal per element (seeded by the hash),
/// so raising `a` only scales the same noise.
fn noise(weight: &[f32], layer: u8, a: f64, seed: u64) -> Vec<f32> {
    let n = weight.len() as f64;
    let mean = weight.iter().map(|w| *w as f64).sum::<f64>() / n;
    let var = weight
        .iter()
        .map(|w| (*w as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = a * var.sqrt();
    let mut out = buffer(weight.len());
    split_work(weight, &mut out, |offset, src, dst| {
        for (k, (w, o)) in src.iter().zip(dst.iter_mut()).enumerate() {
            let z = hash::normal(seed, layer, (offset + k) as u64);
            *o = (*w as f64 + scale * z) as f32;
        }
    });
    out
}

/// Flips each of the 32 x n bits independently with probability p. Flipped positions are
/// found by geometric skipping: draw j of the layer's bitflip stream gives the gap to the
/// next flipped bit, so the cost follows the number of flips, not the number of bits.
fn bitflip(weight: &[f32], layer: u8, p: f64, seed: u64) -> Vec<f32> {
    let mut out = copy_of(weight);
    let total = out.len() as u64 * 32;
    if p > 0.0 {
        let log_q = libm::log1p(-p.min(1.0));
        let mut position = 0u64;
        let mut draw = 0u64;
        loop {
            if p < 1.0 {
                let u = hash::unit_open(seed, layer, Stream::Bitflip, draw);
                draw += 1;
                let gap = libm::floor(libm::log(u) / log_q);
                if gap >= (total - position) as f64 {
                    break;
                }
                position += gap as u64;
            }
            if position >= total {
                break;
            }
            let w = &mut out[(position / 32) as usize];
            *w = f32::from_bits(w.to_bits() ^ (1 << (position % 32)));
            position += 1;
        }
    }
    out
}

/// A zeroed buffer for one damaged layer. On Linux, large ones ask for transparent huge
/// pages, so filling fc6 (151 MB) takes about 75 page faults instead of about 37,000,
/// which otherwise cost as much as the damage itself.
fn buffer(n: usize) -> Vec<f32> {
    let out = vec![0.0f32; n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&out);
    out
}

fn copy_of(weight: &[f32]) -> Vec<f32> {
    let mut out = buffer(weight.len());
    out.copy_from_slice(weight);
    out
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(buffer: &[f32]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(buffer);
    if bytes < 4 * HUGE {
        return;
    }
    let start = buffer.as_ptr() as usize;
    let (first, end) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
    if end > first {
        // SAFETY: advice only, on whole pages inside `buffer`'s allocation; MADV_HUGEPAGE
        // changes how the kernel backs them, never their contents.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}
