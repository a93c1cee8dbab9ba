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
        // Every value as a normal f16 in one pass without branches (it vectorises); when
        // some are not (subnormal in f16, zero, or not exact), the block again value by
        // value, those few by the general conversion.
        let mut odd = false;
        let mut half: Vec<f16> = (chunk.iter())
            .map(|v| {
                let (h, normal) = normal_f16(v.to_bits());
                odd |= !normal;
                f16::from_bits(h)
            })
            .collect();
        if odd {
            for (h, v) in half.iter_mut().zip(chunk) {
                match exact_f16(*v) {
                    Some(exact) => *h = exact,
                    None => return Block::F32(chunk.to_vec()),
                }
            }
        }
        Block::F16(half)
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

    /// Reads the values in order.
    fn reader(&self) -> Reader<'_> {
        Reader {
            blocks: &self.0,
            block: 0,
            at: 0,
            table: f16_table(),
        }
    }
}

/// A place in [`Values`], read forward one value at a time.
struct Reader<'a> {
    blocks: &'a [Block],
    block: usize,
    at: usize,
    table: &'static [f32],
}

impl<'a> Reader<'a> {
    /// The next value, as f32.
    fn next(&mut self) -> f32 {
        let value = match &self.blocks[self.block] {
            Block::F16(v) => self.table[v[self.at].to_bits() as usize],
            Block::F32(v) => v[self.at],
        };
        self.step(1);
        value
    }

    /// The next `count` values, when they are in one block (as nearly always): a slice.
    fn run(&mut self, count: usize) -> Option<Run<'a>> {
        let range = self.at..self.at + count;
        let run = match self.blocks.get(self.block)? {
            Block::F16(v) => Run::Half(v.get(range)?),
            Block::F32(v) => Run::Full(v.get(range)?),
        };
        self.step(count);
        Some(run)
    }

    fn step(&mut self, count: usize) {
        self.at += count;
        if self.at == CHUNK {
            (self.block, self.at) = (self.block + 1, 0);
        }
    }
}

/// Values that follow one another in a block.
enum Run<'a> {
    Half(&'a [f16]),
    Full(&'a [f32]),
}

/// The f16 bits of the value with these f32 bits when it is a normal f16 number (most
/// values are), computed from the bits alone (wasm32 has no f16 conversion, and the general
/// one with its check took most of a dense move's time there); `false` (and bits that mean
/// nothing) otherwise.
fn normal_f16(bits: u32) -> (u16, bool) {
    const NORMAL_LOW: u32 = 113 << 23; // f16's smallest normal exponent, as f32's
    const NORMAL_SPAN: u32 = 30 << 23; // its 30 normal exponents
    let (sign, magnitude) = ((bits >> 16) & 0x8000, bits & 0x7fff_ffff);
    let normal = (magnitude.wrapping_sub(NORMAL_LOW) < NORMAL_SPAN) & (bits & 0x1fff == 0);
    let h = sign | magnitude.wrapping_sub(112 << 23) >> 13;
    (h as u16, normal)
}

/// `v` in f16 when f16 holds it exactly.
pub(super) fn exact_f16(v: f32) -> Option<f16> {
    let (h, normal) = normal_f16(v.to_bits());
    if normal {
        return Some(f16::from_bits(h));
    }
    let h = f16::from_f32(v);
    (h.to_f32().to_bits() == v.to_bits()).then_some(h)
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
    /// Damages `weight` and `bias` by `damage` from `seed` when it only zeroes weights
    /// (see [`zero_in_place`]), keeping what it zeroed; `None`, changing nothing, for other
    /// damage. `weight` is the intact weight, or, given `previous`, the damaged version
    /// that `previous` was taken from: it is made intact word by word as the damage goes
    /// (one pass over the layer, not two).
    pub(super) fn take(
        weight: &mut [f32],
        bias: &mut [f32],
        layer: u8,
        damage: Damage,
        seed: u64,
        previous: Option<&Removed>,
    ) -> Option<Self> {
        let mut earlier = previous.map(|p| (p, p.values.reader()));
        let prepare = |k: usize, word: &mut [f32]| {
            if let Some((previous, values)) = &mut earlier {
                previous.restore_word(k, word, values);
            }
        };
        let (mut blocks, mut block) = (Vec::new(), Vec::with_capacity(CHUNK));
        let keep = |value| {
            block.push(value);
            if block.len() == CHUNK {
                blocks.push(Block::of(&block));
                block.clear();
            }
        };
        let zeroed = zero_in_place(weight, bias, layer, damage, seed, prepare, keep)?;
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
        let mut values = self.values.reader();
        for (k, word) in weight.chunks_mut(64).enumerate() {
            self.restore_word(k, word, &mut values);
        }
    }

    /// [`Removed::restore`] for word `k` of the weight (weights 64k..), with `values` at
    /// the first value of that word.
    fn restore_word(&self, k: usize, word: &mut [f32], values: &mut Reader) {
        let bits = self.zeroed.word(k);
        let table = values.table;
        match values.run(bits.count_ones() as usize) {
            Some(Run::Half(run)) => {
                scatter(word, bits, run.iter().map(|h| table[h.to_bits() as usize]))
            }
            Some(Run::Full(run)) => scatter(word, bits, run.iter().copied()),
            None => scatter(word, bits, std::iter::from_fn(|| Some(values.next()))),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        self.zeroed.bytes() + self.values.bytes()
    }
}

/// Writes `values`, in order, to the positions of `word` whose bits are set.
/// (No more are read than there are bits.)
fn scatter(word: &mut [f32], mut bits: u64, mut values: impl Iterator<Item = f32>) {
    while bits != 0
        && let Some(value) = values.next()
    {
        word[bits.trailing_zeros() as usize] = value;
        bits &= bits - 1;
    }
}
