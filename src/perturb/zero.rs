//! Damage that only zeroes weights (drop, prune, units), done so that it says what it
//! zeroed: with that and the damaged weights, the intact ones can be made again.

use super::apply::{drop_kernel, magnitude, prune_cut, removed_units};
use super::hash::{self, Stream};
use super::settings::{Damage, Kind};

/// A set of a layer's weights, as a bitmask: bit i % 64 of word i / 64 is weight i. An
/// eighth of a byte a weight, where keeping a layer's values takes two bytes a weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zeroed {
    words: Vec<u64>,
}

impl Zeroed {
    fn none(n: usize) -> Self {
        Self {
            words: vec![0; n.div_ceil(64)],
        }
    }

    fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// How many weights it names.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// The set's part among weights 64k..64k+64: bit b is weight 64k + b.
    pub fn word(&self, k: usize) -> u64 {
        self.words[k]
    }

    /// Calls `f` with every weight's index, in increasing order.
    pub fn each(&self, mut f: impl FnMut(usize)) {
        for (k, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                f(k * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

/// [`damage_in_place`] for damage that only sets weights to zero ([`Kind::only_zeroes`]:
/// drop, prune, units), which also says what it zeroed: `keep(value)` is called for every
/// weight it sets to zero that was not zero (bits, so -0.0 too), in increasing order of
/// position, and the set of those comes back. With it and the damaged weights, the intact
/// ones can be made again. `None`, changing nothing, for other damage.
///
/// `prepare(k, word)` is called once for every word of `weight` (its weights 64k..64k+64;
/// the last may be shorter), in order, before the damage reads it: a caller that holds the
/// weights to damage as another damage's result and what it zeroed makes them intact there,
/// and drop then reads the layer only once (for prune and units every word is prepared
/// first: they look at the whole layer).
pub fn zero_in_place(
    weight: &mut [f32],
    bias: &mut [f32],
    layer: u8,
    damage: Damage,
    seed: u64,
    mut prepare: impl FnMut(usize, &mut [f32]),
    mut keep: impl FnMut(f32),
) -> Option<Zeroed> {
    let n = weight.len();
    let p = damage.amount;
    let mut zeroed = Zeroed::none(n);
    match damage.kind {
        Kind::Drop => {
            // A word at a time, while it is in the cache: prepared, then drop's own loop (it
            // vectorises, where one that builds the word as it hashes does not), then the
            // word from which bits that changed.
            let t = hash::threshold(p);
            let key = hash::key(seed, layer, Stream::Drop);
            for (k, (chunk, word)) in weight.chunks_mut(64).zip(&mut zeroed.words).enumerate() {
                prepare(k, chunk);
                let mut before = [0.0f32; 64];
                let before = &mut before[..chunk.len()];
                before.copy_from_slice(chunk);
                drop_kernel(key, t, k * 64, chunk);
                *word = changed_bits(chunk, before);
                let mut bits = *word;
                while bits != 0 {
                    keep(before[bits.trailing_zeros() as usize]);
                    bits &= bits - 1;
                }
            }
        }
        Kind::Units | Kind::Prune => {
            for (k, chunk) in weight.chunks_mut(64).enumerate() {
                prepare(k, chunk);
            }
            if damage.kind == Kind::Units {
                let per_unit = n / bias.len().max(1);
                for j in removed_units(bias, layer, p, seed) {
                    (j * per_unit..(j + 1) * per_unit).for_each(|i| zeroed.insert(i));
                }
            } else if let Some((cut, mut ties)) = prune_cut(weight, p) {
                for (i, w) in weight.iter().enumerate() {
                    let m = magnitude(*w);
                    if m < cut || (m == cut && ties > 0) {
                        ties -= usize::from(m == cut);
                        zeroed.insert(i);
                    }
                }
            }
            for (chunk, word) in weight.chunks_mut(64).zip(&mut zeroed.words) {
                *word = take_word(chunk, *word, &mut keep);
            }
        }
        Kind::Noise | Kind::Bitflip => return None,
    }
    Some(zeroed)
}

/// The bits of the positions (64 at most) where `now` and `was` differ as bits.
fn changed_bits(now: &[f32], was: &[f32]) -> u64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if now.len() == 64 {
        // Four at a time, with the vector compare's bitmask (about a nanosecond a weight
        // less than one bit at a time, over fc6's 37.7 M).
        use core::arch::wasm32::{i32x4_bitmask, u32x4, u32x4_ne};
        let lanes = |v: &[f32]| {
            u32x4(
                v[0].to_bits(),
                v[1].to_bits(),
                v[2].to_bits(),
                v[3].to_bits(),
            )
        };
        let mut bits = 0u64;
        for (q, (a, b)) in now.chunks_exact(4).zip(was.chunks_exact(4)).enumerate() {
            bits |= u64::from(i32x4_bitmask(u32x4_ne(lanes(a), lanes(b)))) << (4 * q);
        }
        return bits;
    }
    let mut bits = 0u64;
    for (b, (now, was)) in now.iter().zip(was).enumerate() {
        bits |= u64::from(now.to_bits() != was.to_bits()) << b;
    }
    bits
}

/// Zeroes the weights of `chunk` (64 at most) whose bits are set in `removed`, passing
/// those that were not zero to `keep`; returns their bits.
fn take_word(chunk: &mut [f32], removed: u64, keep: &mut impl FnMut(f32)) -> u64 {
    let (mut kept, mut bits) = (0u64, removed);
    while bits != 0 {
        let b = bits.trailing_zeros();
        let w = &mut chunk[b as usize];
        if w.to_bits() != 0 {
            keep(*w);
            kept |= 1 << b;
            *w = 0.0;
        }
        bits &= bits - 1;
    }
    kept
}
