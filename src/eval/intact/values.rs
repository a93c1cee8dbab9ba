//! How [`Intact`](super::Intact) keeps values compactly: in blocks of f16 when exact, and,
//! for a layer damaged by zeroing damage, only what the damage zeroed.

use half::f16;

use crate::perturb::{Damage, Zeroed, zero_in_place};

/// Values per block (a small buffer, not a layer-sized one).
pub(super) const CHUNK: usize = 1 << 16;

/// Every f16's f32 value, by its bits: one load per value where the conversion itself
/// is a dozen instructions (wasm32 has no f16 conversion; fc6's 37.7 M values took about
/// 0.3 s more per change in the page than the f32 copy they replace).
pub(super) fn f16_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|b| f16::from_bits(b).to_f32()).collect())
}

/// Values in blocks of [`CHUNK`], each in f16 when f16 holds every one of its values
/// exactly, else in f32.
pub(super) struct Values(Vec<Block>);

enum Block {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Block {
    fn of(chunk: &[f32]) -> Self {
        let half: Vec<f16> = chunk.iter().map(|v| f16::from_f32(*v)).collect();
        let exact = half
            .iter()
            .zip(chunk)
            .all(|(h, v)| h.to_f32().to_bits() == v.to_bits());
        if exact {
            Block::F16(half)
        } else {
            Block::F32(chunk.to_vec())
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Block::F16(v) => v.len() * 2,
            Block::F32(v) => v.len() * 4,
        }
    }
}

impl Values {
    pub(super) fn of(data: &[f32]) -> Self {
        Values(data.chunks(CHUNK).map(Block::of).collect())
    }

    pub(super) fn bytes(&self) -> usize {
        self.0.iter().map(Block::bytes).sum()
    }

    /// The values as f32, written into `out` (of the same length).
    pub(super) fn fill(&self, out: &mut [f32]) {
        let table = f16_table();
        for (d, block) in out.chunks_mut(CHUNK).zip(&self.0) {
            match block {
                Block::F32(s) => d.copy_from_slice(s),
                Block::F16(s) => {
                    for (d, s) in d.iter_mut().zip(s) {
                        *d = table[s.to_bits() as usize];
                    }
                }
            }
        }
    }

    /// Value `k`, as f32.
    pub(super) fn get(&self, k: usize, table: &[f32]) -> f32 {
        match &self.0[k / CHUNK] {
            Block::F16(v) => table[v[k % CHUNK].to_bits() as usize],
            Block::F32(v) => v[k % CHUNK],
        }
    }
}

/// What a zeroing damage ([`Kind::only_zeroes`](crate::perturb::Kind::only_zeroes)) took from a layer: which weights it set
/// to zero that were not zero, and their values, in order. The model's damaged version and
/// this are the intact values, at an eighth of a byte a weight and two a weight removed,
/// where a copy of the layer takes two a weight.
pub(super) struct Removed {
    zeroed: Zeroed,
    values: Values,
}

impl Removed {
    /// Damages `weight` (intact) and `bias` by `damage` from `seed` when it only zeroes
    /// weights (see [`zero_in_place`]), keeping what it zeroed; `None`, changing nothing,
    /// for other damage.
    pub(super) fn take(
        weight: &mut [f32],
        bias: &mut [f32],
        layer: u8,
        damage: Damage,
        seed: u64,
    ) -> Option<Self> {
        let (mut blocks, mut block) = (Vec::new(), Vec::with_capacity(CHUNK));
        let zeroed = zero_in_place(weight, bias, layer, damage, seed, |value| {
            block.push(value);
            if block.len() == CHUNK {
                blocks.push(Block::of(&block));
                block.clear();
            }
        })?;
        if !block.is_empty() {
            blocks.push(Block::of(&block));
        }
        Some(Self {
            zeroed,
            values: Values(blocks),
        })
    }

    /// Writes the values back into `weight` (the damaged version): the intact weight again.
    pub(super) fn restore(&self, weight: &mut [f32]) {
        let table = f16_table();
        let mut k = 0;
        self.zeroed.each(|i| {
            weight[i] = self.values.get(k, table);
            k += 1;
        });
    }

    pub(super) fn bytes(&self) -> usize {
        self.zeroed.bytes() + self.values.bytes()
    }
}
