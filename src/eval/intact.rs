//! The intact weights a [`Session`](super::Session) damages layers from. Each tensor is
//! kept in f16 when f16 holds every one of its values exactly (the site's weights are
//! f16: half the memory of f32, 122 MB instead of 244 MB at full size), else in f32, in
//! blocks of [`CHUNK`] values (no layer-sized block: in WebAssembly, whose memory never
//! shrinks, a 75 MB block freed and asked for again left holes that smaller blocks split).
//! What comes out is always the same f32 values that went in.
//!
//! On the CPU backend a layer's weight may instead be *lent* to the model
//! ([`Intact::lend`]): while the model's version of the layer is intact, the model's own
//! buffer is the only copy. When the layer is damaged by a damage that only sets weights to
//! zero (drop, prune, units), only what it zeroed is kept ([`Removed`]: a bit a weight and
//! the zeroed values), and the damaged version with those is the intact one again; bitflip
//! keeps nothing (the same flips undo it); noise keeps the layer's values until it is intact
//! again ([`Intact::lend_layer`]). A
//! loaded, undamaged session then holds one copy of the weights, not two, and a damaged
//! one little more (at full size, the f16 copies of eight damaged layers were 122 MB).

use std::collections::BTreeMap;

use half::f16;

use crate::model::{HostTensor, Layer, ModelInfo, Weights};
use crate::perturb::{Damage, Kind, Zeroed, damage_in_place, layer_index, zero_in_place};

/// Values per block (a small buffer, not a layer-sized one).
const CHUNK: usize = 1 << 16;

/// Every f16's f32 value, by its bits: one load per value where the conversion itself
/// is a dozen instructions (wasm32 has no f16 conversion; fc6's 37.7 M values took about
/// 0.3 s more per change in the page than the f32 copy they replace).
fn f16_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|b| f16::from_bits(b).to_f32()).collect())
}

/// Values in blocks of [`CHUNK`], each in f16 when f16 holds every one of its values
/// exactly, else in f32.
struct Values(Vec<Block>);

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
    fn of(data: &[f32]) -> Self {
        Values(data.chunks(CHUNK).map(Block::of).collect())
    }

    fn bytes(&self) -> usize {
        self.0.iter().map(Block::bytes).sum()
    }

    /// The values as f32, written into `out` (of the same length).
    fn fill(&self, out: &mut [f32]) {
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
    fn get(&self, k: usize, table: &[f32]) -> f32 {
        match &self.0[k / CHUNK] {
            Block::F16(v) => table[v[k % CHUNK].to_bits() as usize],
            Block::F32(v) => v[k % CHUNK],
        }
    }
}

/// What a zeroing damage ([`Kind::only_zeroes`]) took from a layer: which weights it set
/// to zero that were not zero, and their values, in order. The model's damaged version and
/// this are the intact values, at an eighth of a byte a weight and two a weight removed,
/// where a copy of the layer takes two a weight.
struct Removed {
    zeroed: Zeroed,
    values: Values,
}

impl Removed {
    /// Damages `weight` (intact) and `bias` by `damage` from `seed` when it only zeroes
    /// weights (see [`zero_in_place`]), keeping what it zeroed; `None`, changing nothing,
    /// for other damage.
    fn take(
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
    fn restore(&self, weight: &mut [f32]) {
        let table = f16_table();
        let mut k = 0;
        self.zeroed.each(|i| {
            weight[i] = self.values.get(k, table);
            k += 1;
        });
    }

    fn bytes(&self) -> usize {
        self.zeroed.bytes() + self.values.bytes()
    }
}

/// Where a tensor's intact values are.
enum Held {
    /// Here.
    Full(Values),
    /// In the model, which holds the layer intact.
    Lent,
    /// In the model, which holds the layer with these weights zeroed.
    Removed(Removed),
    /// In the model, which holds the layer with bits flipped by this bitflip damage (of the
    /// layer with this index): flipping them again gives the intact values, so nothing is
    /// kept.
    Flipped(u8, Damage, u64),
}

struct Kept {
    shape: Vec<usize>,
    held: Held,
}

impl Kept {
    fn of(tensor: &HostTensor) -> Self {
        Self {
            shape: tensor.shape().to_vec(),
            held: Held::Full(Values::of(tensor.data())),
        }
    }

    fn lent(tensor: &HostTensor) -> Self {
        Self {
            shape: tensor.shape().to_vec(),
            held: Held::Lent,
        }
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    fn bytes(&self) -> usize {
        match &self.held {
            Held::Full(values) => values.bytes(),
            Held::Lent | Held::Flipped(..) => 0,
            Held::Removed(removed) => removed.bytes(),
        }
    }

    /// The model's values of a lent tensor, `model`, made intact.
    fn intact_from(&self, mut model: Vec<f32>) -> HostTensor {
        self.restore(&mut model);
        HostTensor::new(self.shape.clone(), model).expect("the model's weight has its shape")
    }

    /// Makes the model's version of a lent tensor, `model`, intact.
    fn restore(&self, model: &mut [f32]) {
        match &self.held {
            Held::Removed(removed) => removed.restore(model),
            &Held::Flipped(layer, damage, seed) => {
                damage_in_place(model, &mut [], layer, damage, seed)
            }
            Held::Lent => {}
            Held::Full(_) => unreachable!("values kept here are not lent"),
        }
    }

    /// The values as f32 in `reuse` when it has their length, else in a new buffer.
    fn tensor_in(&self, mut reuse: Vec<f32>) -> HostTensor {
        let Held::Full(values) = &self.held else {
            panic!("lent values are read from the model, not from here")
        };
        if reuse.len() != self.len() {
            reuse = crate::perturb::buffer(self.len());
        }
        values.fill(&mut reuse);
        HostTensor::new(self.shape.clone(), reuse).expect("kept with its shape")
    }

    fn tensor(&self) -> HostTensor {
        self.tensor_in(Vec::new())
    }
}

/// The intact weights, compactly.
pub struct Intact {
    info: ModelInfo,
    tensors: BTreeMap<String, Kept>,
    /// Whether layers' weights are lent to the model ([`Intact::lend`]).
    lends: bool,
}

impl Intact {
    /// Keeps every tensor.
    pub fn keep(weights: &Weights) -> Self {
        Self::with(weights, false)
    }

    /// Keeps the biases; every layer's weight is lent to the model (see the module's
    /// documentation): the model's versions of the layers change through
    /// [`Intact::next_version`] only.
    pub fn lend(weights: &Weights) -> Self {
        Self::with(weights, true)
    }

    fn with(weights: &Weights, lends: bool) -> Self {
        let weight_keys: Vec<String> = Layer::ALL.iter().map(|l| l.weight_key()).collect();
        let lent = |name: &String| lends && weight_keys.contains(name);
        Self {
            lends,
            info: weights.info().clone(),
            tensors: weights
                .tensors()
                .iter()
                .map(|(name, t)| {
                    let kept = if lent(name) {
                        Kept::lent(t)
                    } else {
                        Kept::of(t)
                    };
                    (name.clone(), kept)
                })
                .collect(),
        }
    }

    /// The shape of `layer`'s weight.
    pub fn shape(&self, layer: Layer) -> &[usize] {
        &self.tensors[&layer.weight_key()].shape
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.tensors.values().map(Kept::bytes).sum()
    }

    /// Whether `layer`'s intact weight is here (it is otherwise lent to the model).
    pub fn holds(&self, layer: Layer) -> bool {
        matches!(self.tensors[&layer.weight_key()].held, Held::Full(_))
    }

    /// The model holds `layer` intact again: when layers are lent, the weight kept here is
    /// dropped. Weights kept from the start ([`Intact::keep`]) stay.
    pub fn lend_layer(&mut self, layer: Layer) {
        if self.lends
            && let Some(kept) = self.tensors.get_mut(&layer.weight_key())
            && matches!(kept.held, Held::Full(_))
        {
            kept.held = Held::Lent;
        }
    }

    /// `layer`'s next version in the model, in `state`, written into `model`: the model's
    /// buffer of its current version (empty when the model's weights are not on the host).
    /// When layers are lent, the intact values are made in that buffer (from what this
    /// keeps), and a damage that only zeroes weights keeps just what it zeroed, bitflip
    /// nothing; noise keeps the layer's values ([`Values`]), and so does a layer that had
    /// them already and is made intact or damaged by noise again.
    pub fn next_version(
        &mut self,
        layer: Layer,
        mut model: Vec<f32>,
        state: Option<(Damage, u64)>,
    ) -> (HostTensor, HostTensor) {
        // Damage whose intact values the model's version and little else give back.
        let light = state
            .is_some_and(|(damage, _)| damage.kind.only_zeroes() || damage.kind == Kind::Bitflip);
        let kept = &self.tensors[&layer.weight_key()];
        match &kept.held {
            Held::Full(_) if !(self.lends && light) => {
                return match state {
                    Some((damage, seed)) => self.damaged_in(layer, damage, seed, model),
                    None => self.layer_in(layer, model),
                };
            }
            Held::Full(values) => {
                if model.len() != kept.len() {
                    model = crate::perturb::buffer(kept.len());
                }
                values.fill(&mut model);
            }
            Held::Lent | Held::Removed(_) | Held::Flipped(..) => kept.restore(&mut model),
        }
        // `model` now holds the intact weight, lent to the model from here on.
        let shape = kept.shape.clone();
        let (bias_shape, mut bias) = self.tensors[&layer.bias_key()].tensor().into_parts();
        let mut held = Held::Lent;
        if let Some((damage, seed)) = state {
            let index = layer_index(layer);
            held = match Removed::take(&mut model, &mut bias, index, damage, seed) {
                Some(removed) => Held::Removed(removed),
                None if damage.kind == Kind::Bitflip => {
                    damage_in_place(&mut model, &mut bias, index, damage, seed);
                    Held::Flipped(index, damage, seed)
                }
                None => {
                    let values = Values::of(&model);
                    damage_in_place(&mut model, &mut bias, index, damage, seed);
                    Held::Full(values)
                }
            };
        }
        self.tensors
            .get_mut(&layer.weight_key())
            .expect("every layer")
            .held = held;
        let sized = "damage keeps every tensor's size";
        (
            HostTensor::new(shape, model).expect(sized),
            HostTensor::new(bias_shape, bias).expect(sized),
        )
    }

    /// The intact weight and bias of `layer`, in f32 (held here: see [`Intact::holds`]).
    pub fn layer(&self, layer: Layer) -> (HostTensor, HostTensor) {
        self.layer_in(layer, Vec::new())
    }

    /// [`Intact::layer`], the weight written into `reuse` when it has the weight's length
    /// (a buffer the layer's previous version no longer needs), else into a new one.
    pub fn layer_in(&self, layer: Layer, reuse: Vec<f32>) -> (HostTensor, HostTensor) {
        (
            self.tensors[&layer.weight_key()].tensor_in(reuse),
            self.tensors[&layer.bias_key()].tensor(),
        )
    }

    /// `layer` with `damage` drawn from `seed`: what `perturb::damaged_layer` gives for the
    /// intact weights, computed in one layer-sized buffer.
    pub fn damaged(&self, layer: Layer, damage: Damage, seed: u64) -> (HostTensor, HostTensor) {
        self.damaged_in(layer, damage, seed, Vec::new())
    }

    /// [`Intact::damaged`] in `reuse`, as [`Intact::layer_in`].
    pub fn damaged_in(
        &self,
        layer: Layer,
        damage: Damage,
        seed: u64,
        reuse: Vec<f32>,
    ) -> (HostTensor, HostTensor) {
        let (weight, bias) = self.layer_in(layer, reuse);
        Self::damage(layer, weight, bias, damage, seed)
    }

    /// `layer` from the model's version of a lent weight, `values` (a copy: see
    /// [`Intact::lend`]), with `damage` drawn from `seed` when there is one.
    pub fn from_lent(
        &self,
        layer: Layer,
        values: Vec<f32>,
        damage: Option<(Damage, u64)>,
    ) -> (HostTensor, HostTensor) {
        let weight = self.tensors[&layer.weight_key()].intact_from(values);
        let bias = self.tensors[&layer.bias_key()].tensor();
        match damage {
            Some((damage, seed)) => Self::damage(layer, weight, bias, damage, seed),
            None => (weight, bias),
        }
    }

    fn damage(
        layer: Layer,
        weight: HostTensor,
        bias: HostTensor,
        damage: Damage,
        seed: u64,
    ) -> (HostTensor, HostTensor) {
        let ((shape, mut w), (bias_shape, mut b)) = (weight.into_parts(), bias.into_parts());
        damage_in_place(&mut w, &mut b, layer_index(layer), damage, seed);
        let sized = "damage keeps every tensor's size";
        (
            HostTensor::new(shape, w).expect(sized),
            HostTensor::new(bias_shape, b).expect(sized),
        )
    }

    /// All of them in f32 again; a lent layer's weight from `lent(layer)` (the model's
    /// version, a copy).
    pub fn weights(&self, lent: impl Fn(Layer) -> Vec<f32>) -> Weights {
        let tensors = self
            .tensors
            .iter()
            .map(|(name, kept)| {
                let tensor = match &kept.held {
                    Held::Full(_) => kept.tensor(),
                    Held::Lent | Held::Removed(_) | Held::Flipped(..) => {
                        let layer = Layer::ALL
                            .into_iter()
                            .find(|l| l.weight_key() == *name)
                            .expect("only layers' weights are lent");
                        kept.intact_from(lent(layer))
                    }
                };
                (name.clone(), tensor)
            })
            .collect();
        Weights::new(self.info.clone(), tensors).expect("kept from checked weights")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;
    use crate::perturb::{Kind, damaged_layer};

    fn weights(values: impl Fn(usize) -> f32) -> Weights {
        let mut tensors = crate::model::weights::tests::tiny();
        let mut i = 0;
        for t in tensors.values_mut() {
            let data = (0..t.len())
                .map(|_| {
                    i += 1;
                    values(i)
                })
                .collect();
            *t = t.with_data(data).unwrap();
        }
        let info = ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "test".into(),
        };
        Weights::new(info, tensors).unwrap()
    }

    #[test]
    fn values_come_back_exactly_in_f16_or_f32() {
        let halves = weights(|i| f16::from_f32(i as f32 * 0.37 - 3.0).to_f32());
        let kept = Intact::keep(&halves);
        assert_eq!(kept.bytes(), halves.num_parameters() * 2);
        assert_eq!(kept.weights(|_| unreachable!()).tensors(), halves.tensors());
        // One value f16 cannot hold keeps that tensor in f32, exactly.
        let fine = weights(|i| i as f32 * 0.1 + 1e-7);
        let kept = Intact::keep(&fine);
        assert!(kept.bytes() > fine.num_parameters() * 2);
        assert_eq!(kept.weights(|_| unreachable!()).tensors(), fine.tensors());
    }

    #[test]
    fn damage_equals_damage_of_the_f32_weights() {
        let w = weights(|i| f16::from_f32((i % 17) as f32 * 0.25 - 2.0).to_f32());
        let kept = Intact::keep(&w);
        for kind in [
            Kind::Drop,
            Kind::Units,
            Kind::Prune,
            Kind::Noise,
            Kind::Bitflip,
        ] {
            let amount = if kind == Kind::Bitflip { 0.01 } else { 0.5 };
            let damage = Damage::new(kind, amount).unwrap();
            for layer in Layer::ALL {
                let bits =
                    |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                let (a, ab) = kept.damaged(layer, damage, 3);
                let (b, bb) = damaged_layer(&w, layer, damage, 3);
                assert_eq!(bits(&a), bits(&b), "{kind:?} {layer:?}");
                assert_eq!(bits(&ab), bits(&bb), "{kind:?} {layer:?} bias");
                // The same in a buffer that held other values (the layer's last version),
                // without a new one.
                let used = vec![f32::NAN; a.len()];
                let at = used.as_ptr();
                let (c, _) = kept.damaged_in(layer, damage, 3, used);
                assert_eq!(bits(&c), bits(&b), "{kind:?} {layer:?} reused");
                assert_eq!(c.data().as_ptr(), at, "{kind:?} {layer:?}: a new buffer");
            }
        }
    }

    /// Lent layers go from any version to any other in the model's buffer, each exactly
    /// what damaging the intact weights gives, and back to the intact values; a layer
    /// keeps what zeroing damage zeroed, nothing for bitflip, its values for noise.
    #[test]
    fn lent_layers_move_between_versions_exactly() {
        // Some zeros, so that zeroing damage meets weights that are zero already.
        let w = weights(|i| f16::from_f32((i % 17) as f32 * 0.25 - 2.0).to_f32());
        let mut lent = Intact::lend(&w);
        let biases = lent.bytes();
        let bits = |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let states = [
            Some((Damage::new(Kind::Drop, 0.5).unwrap(), 3)),
            Some((Damage::new(Kind::Drop, 0.7).unwrap(), 4)),
            Some((Damage::new(Kind::Bitflip, 0.01).unwrap(), 3)),
            Some((Damage::new(Kind::Units, 0.5).unwrap(), 3)),
            None,
            Some((Damage::new(Kind::Noise, 0.5).unwrap(), 3)),
            Some((Damage::new(Kind::Prune, 0.4).unwrap(), 3)),
            Some((Damage::new(Kind::Bitflip, 0.02).unwrap(), 5)),
            Some((Damage::new(Kind::Noise, 0.5).unwrap(), 6)),
            None,
        ];
        for layer in Layer::ALL {
            let mut model = w.weight(layer).data().to_vec();
            let mut copy_kept = false;
            for state in states {
                let at = model.as_ptr();
                let (weight, bias) = lent.next_version(layer, model, state);
                let (want, want_bias) = match state {
                    Some((damage, seed)) => damaged_layer(&w, layer, damage, seed),
                    None => (w.weight(layer).clone(), w.bias(layer).clone()),
                };
                let what = format!("{layer:?} {state:?}");
                assert_eq!(bits(&weight), bits(&want), "{what}");
                assert_eq!(bits(&bias), bits(&want_bias), "{what}: bias");
                assert_eq!(weight.data().as_ptr(), at, "{what}: a new buffer");
                let n = want.len();
                let kept = lent.bytes() - biases;
                match state.map(|(d, _)| d.kind) {
                    // Values kept for noise stay until the layer is lent again.
                    None => assert_eq!(kept, if copy_kept { n * 2 } else { 0 }, "{what}"),
                    Some(Kind::Bitflip) => assert_eq!(kept, 0, "{what}"),
                    Some(Kind::Noise) => assert_eq!(kept, n * 2, "{what}"),
                    Some(_) => {
                        let zeroed = (w.weight(layer).data().iter())
                            .zip(want.data())
                            .filter(|(i, d)| i.to_bits() != 0 && d.to_bits() == 0)
                            .count();
                        assert_eq!(kept, n.div_ceil(64) * 8 + zeroed * 2, "{what}");
                    }
                }
                // The intact weights, read from the model's version.
                let intact = lent.weights(|l| {
                    if l == layer {
                        weight.data().to_vec()
                    } else {
                        w.weight(l).data().to_vec()
                    }
                });
                assert_eq!(intact.tensors(), w.tensors(), "{what}: intact");
                model = weight.into_parts().1;
                let kind = state.map(|(d, _)| d.kind);
                copy_kept = kind == Some(Kind::Noise) || (kind.is_none() && copy_kept);
            }
            lent.lend_layer(layer);
            assert_eq!(lent.bytes(), biases, "{layer:?} lent again");
        }
    }
}
