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
//! again ([`Intact::lend_layer`]). A loaded, undamaged session then holds one copy of the
//! weights, not two, and a damaged one little more (at full size, the f16 copies of eight
//! damaged layers were 122 MB).

use std::collections::BTreeMap;

use crate::model::{HostTensor, Layer, ModelInfo, Weights};
use crate::perturb::{Damage, Kind, damage_in_place, layer_index};

mod values;

use values::{Removed, Values};

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
        let zeroing = state.is_some_and(|(damage, _)| damage.kind.only_zeroes());
        let light = zeroing || state.is_some_and(|(damage, _)| damage.kind == Kind::Bitflip);
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
            // Zeroing damage makes it intact word by word as it goes (`Removed::take`).
            Held::Removed(_) if zeroing => {}
            Held::Lent | Held::Removed(_) | Held::Flipped(..) => kept.restore(&mut model),
        }
        // `model` now holds the intact weight (or will, see above), lent to the model from
        // here on.
        let shape = kept.shape.clone();
        let (bias_shape, mut bias) = self.tensors[&layer.bias_key()].tensor().into_parts();
        let kept = self
            .tensors
            .get_mut(&layer.weight_key())
            .expect("every layer");
        let before = std::mem::replace(&mut kept.held, Held::Lent);
        let previous = match &before {
            Held::Removed(removed) if zeroing => Some(removed),
            _ => None,
        };
        let mut held = Held::Lent;
        if let Some((damage, seed)) = state {
            let index = layer_index(layer);
            held = match Removed::take(&mut model, &mut bias, index, damage, seed, previous) {
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
        kept.held = held;
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
mod tests;
