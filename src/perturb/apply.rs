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
    let mut out = buffer(weight.len());
    out.copy_from_slice(weight);
    let mut bias = bias.to_vec();
    damage_in_place(&mut out, &mut bias, layer, damage, seed);
    (out, bias)
}

/// [`damage_values`] on a layer's intact values already in `weight` and `bias`, which it
/// overwrites: a caller that keeps the intact weights in another form (f16, see
/// `eval::Intact`) fills one layer-sized buffer and needs no second one.
pub fn damage_in_place(weight: &mut [f32], bias: &mut [f32], layer: u8, damage: Damage, seed: u64) {
    let p = damage.amount;
    match damage.kind {
        Kind::Drop => drop(weight, layer, p, seed),
        Kind::Units => {
            let per_unit = weight.len() / bias.len().max(1);
            for j in removed_units(bias, layer, p, seed) {
                weight[j * per_unit..(j + 1) * per_unit].fill(0.0);
            }
        }
        Kind::Prune => prune(weight, p),
        Kind::Noise => noise(weight, layer, p, seed),
        Kind::Bitflip => bitflip(weight, layer, p, seed),
    }
}

/// Zeroes element i when its score is below the threshold. The hash dominates the cost;
/// natively the layer is split across the machine's cores (the result does not depend on
/// the split: every element's fate is a function of its index alone).
fn drop(weight: &mut [f32], layer: u8, p: f64, seed: u64) {
    let t = hash::threshold(p);
    let key = hash::key(seed, layer, Stream::Drop);
    split_work(weight, |offset, chunk| drop_kernel(key, t, offset, chunk));
}

/// The drop loop, compiled for several instruction sets and picked at run time: with
/// 64-bit vector multiplies (AVX-512DQ) the hash runs about ten times faster than scalar.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
pub(super) fn drop_kernel(key: u64, t: u32, offset: usize, weight: &mut [f32]) {
    for (k, w) in weight.iter_mut().enumerate() {
        let removed = hash::score_keyed(key, (offset + k) as u64) < t;
        *w = if removed { 0.0 } else { *w };
    }
}

/// Zeroes the bias of every unit `units` damage removes, and returns their indices.
pub(super) fn removed_units(bias: &mut [f32], layer: u8, p: f64, seed: u64) -> Vec<usize> {
    let t = hash::threshold(p);
    let mut removed = Vec::new();
    for (j, b) in bias.iter_mut().enumerate() {
        if hash::score(seed, layer, Stream::Units, j as u64) < t {
            *b = 0.0;
            removed.push(j);
        }
    }
    removed
}

/// Runs `kernel(offset, chunk)` over the slice. Natively large layers are split over
/// rayon's pool, the same threads the CPU backend computes on, so the damage never
/// competes with backend workers that are still spinning after a forward pass.
fn split_work<F>(weight: &mut [f32], kernel: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 20;
        if weight.len() >= CHUNK {
            weight
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, chunk)| kernel(i * CHUNK, chunk));
            return;
        }
    }
    kernel(0, weight);
}

/// Removes exactly k = round(p * n) weights: the smallest |w|, ties broken by lower index.
/// Magnitudes are compared as the bits of |w| (monotonic for non-negative floats; NaN
/// sorts above infinity), so the k-th smallest is an integer found by counting.
fn prune(weight: &mut [f32], p: f64) {
    let Some((cut, mut ties)) = prune_cut(weight, p) else {
        return;
    };
    for w in weight.iter_mut() {
        let m = magnitude(*w);
        if m < cut {
            *w = 0.0;
        } else if m == cut && ties > 0 {
            *w = 0.0;
            ties -= 1;
        }
    }
}

/// |w| as bits, which order as the magnitudes do.
pub(super) fn magnitude(w: f32) -> u32 {
    w.to_bits() & 0x7FFF_FFFF
}

/// For pruning the fraction `p`: the magnitude (as bits) of the k-th smallest weight, and
/// how many of the weights of that magnitude are removed (the first ones); `None` when no
/// weight is.
pub(super) fn prune_cut(weight: &[f32], p: f64) -> Option<(u32, usize)> {
    let n = weight.len();
    let k = ((p * n as f64).round() as usize).min(n);
    if k == 0 {
        return None;
    }
    let cut = kth_smallest(weight.iter().map(|w| magnitude(*w)), k);
    let below = weight.iter().filter(|w| magnitude(**w) < cut).count();
    Some((cut, k - below))
}

/// The k-th smallest (k from 1) of `keys`, by two counting passes: one over the high 16
/// bits finds the bucket that holds it, one over the low 16 bits of that bucket's keys
/// finds it. Two 64K-entry tables instead of a sorted copy of the layer (fc6's would be
/// another 151 MB).
fn kth_smallest(keys: impl Iterator<Item = u32> + Clone, k: usize) -> u32 {
    /// The bucket holding the k-th key counted, and how many keys the buckets before hold.
    fn bucket(counts: &[usize], k: usize) -> (u32, usize) {
        let mut before = 0;
        for (b, &c) in counts.iter().enumerate() {
            if before + c >= k {
                return (b as u32, before);
            }
            before += c;
        }
        unreachable!("k is at most the number of keys")
    }
    let mut counts = vec![0usize; 1 << 16];
    for key in keys.clone() {
        counts[(key >> 16) as usize] += 1;
    }
    let (high, before) = bucket(&counts, k);
    counts.fill(0);
    for key in keys.filter(|key| key >> 16 == high) {
        counts[(key & 0xFFFF) as usize] += 1;
    }
    let (low, _) = bucket(&counts, k - before);
    (high << 16) | low
}

/// Adds `a x std(layer)` times a fixed standard normal per element (seeded by the hash),
/// so raising `a` only scales the same noise.
fn noise(weight: &mut [f32], layer: u8, a: f64, seed: u64) {
    let n = weight.len() as f64;
    let mean = weight.iter().map(|w| *w as f64).sum::<f64>() / n;
    let var = weight
        .iter()
        .map(|w| (*w as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = a * var.sqrt();
    split_work(weight, |offset, chunk| {
        for (k, w) in chunk.iter_mut().enumerate() {
            let z = hash::normal(seed, layer, (offset + k) as u64);
            *w = (*w as f64 + scale * z) as f32;
        }
    });
}

/// Flips each of the 32 x n bits independently with probability p. Flipped positions are
/// found by geometric skipping: draw j of the layer's bitflip stream gives the gap to the
/// next flipped bit, so the cost follows the number of flips, not the number of bits.
fn bitflip(weight: &mut [f32], layer: u8, p: f64, seed: u64) {
    let total = weight.len() as u64 * 32;
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
            let w = &mut weight[(position / 32) as usize];
            *w = f32::from_bits(w.to_bits() ^ (1 << (position % 32)));
            position += 1;
        }
    }
}

/// A zeroed buffer for one damaged layer. On Linux, large ones ask for transparent huge
/// pages, so filling fc6 (151 MB) takes about 75 page faults instead of about 37,000,
/// which otherwise cost as much as the damage itself.
pub(crate) fn buffer(n: usize) -> Vec<f32> {
    let out = vec![0.0f32; n];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&out);
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
