//! The intact weights a [`Session`](super::Session) damages layers from. Each tensor is
//! kept in f16 when f16 holds every one of its values exactly (the site's weights are
//! f16: half the memory of f32, 122 MB instead of 244 MB at full size), else in f32. What
//! comes out is always the same f32 values that went in.

use std::collections::BTreeMap;

use half::f16;

use crate::model::{HostTensor, Layer, ModelInfo, Weights};
use crate::perturb::{Damage, damage_in_place, layer_index};

/// Values per conversion step (a small buffer, not a layer-sized one).
const CHUNK: usize = 1 << 16;

/// Every f16's f32 value, by its bits: one load per value where the conversion itself
/// is a dozen instructions (wasm32 has no f16 conversion; fc6's 37.7 M values took about
/// 0.3 s more per change in the page than the f32 copy they replace).
fn f16_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|b| f16::from_bits(b).to_f32()).collect())
}

enum Values {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

struct Kept {
    shape: Vec<usize>,
    values: Values,
}

impl Kept {
    fn of(tensor: &HostTensor) -> Self {
        let data = tensor.data();
        let mut half = Vec::with_capacity(data.len());
        let mut exact = true;
        for chunk in data.chunks(CHUNK) {
            let start = half.len();
            half.extend(chunk.iter().map(|v| f16::from_f32(*v)));
            exact = half[start..]
                .iter()
                .zip(chunk)
                .all(|(h, v)| h.to_f32().to_bits() == v.to_bits());
            if !exact {
                break;
            }
        }
        let values = if exact {
            Values::F16(half)
        } else {
            Values::F32(data.to_vec())
        };
        Self {
            shape: tensor.shape().to_vec(),
            values,
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::F16(v) => v.len(),
            Values::F32(v) => v.len(),
        }
    }

    fn bytes(&self) -> usize {
        match &self.values {
            Values::F16(v) => v.len() * 2,
            Values::F32(v) => v.len() * 4,
        }
    }

    /// The values as f32, written into `out` (of the same length).
    fn fill(&self, out: &mut [f32]) {
        match &self.values {
            Values::F32(v) => out.copy_from_slice(v),
            Values::F16(v) => {
                let table = f16_table();
                for (d, s) in out.iter_mut().zip(v) {
                    *d = table[s.to_bits() as usize];
                }
            }
        }
    }

    /// The values as f32 in `reuse` when it has their length, else in a new buffer.
    fn values_in(&self, mut reuse: Vec<f32>) -> Vec<f32> {
        if reuse.len() != self.len() {
            reuse = crate::perturb::buffer(self.len());
        }
        self.fill(&mut reuse);
        reuse
    }

    fn tensor_in(&self, reuse: Vec<f32>) -> HostTensor {
        HostTensor::new(self.shape.clone(), self.values_in(reuse)).expect("kept with its shape")
    }

    fn tensor(&self) -> HostTensor {
        self.tensor_in(Vec::new())
    }
}

/// The intact weights, compactly.
pub struct Intact {
    info: ModelInfo,
    tensors: BTreeMap<String, Kept>,
}

impl Intact {
    pub fn keep(weights: &Weights) -> Self {
        Self {
            info: weights.info().clone(),
            tensors: weights
                .tensors()
                .iter()
                .map(|(name, t)| (name.clone(), Kept::of(t)))
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

    /// The intact weight and bias of `layer`, in f32.
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
        let ((shape, mut w), (bias_shape, mut b)) = (weight.into_parts(), bias.into_parts());
        damage_in_place(&mut w, &mut b, layer_index(layer), damage, seed);
        let sized = "damage keeps every tensor's size";
        (
            HostTensor::new(shape, w).expect(sized),
            HostTensor::new(bias_shape, b).expect(sized),
        )
    }

    /// All of them in f32 again.
    pub fn weights(&self) -> Weights {
        let tensors = self
            .tensors
            .iter()
            .map(|(name, kept)| (name.clone(), kept.tensor()))
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
        assert_eq!(kept.weights().tensors(), halves.tensors());
        // One value f16 cannot hold keeps that tensor in f32, exactly.
        let fine = weights(|i| i as f32 * 0.1 + 1e-7);
        let kept = Intact::keep(&fine);
        assert!(kept.bytes() > fine.num_parameters() * 2);
        assert_eq!(kept.weights().tensors(), fine.tensors());
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
}
