//! Weights on the host, in torchvision's parameter names and memory layout. Every
//! [`Weights`] value has been checked to be an AlexNet in torchvision's layout, and every
//! [`HostTensor`] holds exactly the values its shape needs.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::architecture::Architecture;
use super::layer::Layer;
use crate::error::{LesionError, Result};

/// A dense f32 tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Why `len` values cannot fill `shape`, if they cannot.
fn size_mismatch(shape: &[usize], len: usize) -> Option<String> {
    let needed = shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
    if needed == Some(len) {
        return None;
    }
    let needed = needed.map_or_else(|| "too many".to_string(), |n| n.to_string());
    Some(format!(
        "shape {shape:?} needs {needed} values, but {len} were given"
    ))
}

impl HostTensor {
    /// A tensor of `shape` holding `data`; an error when their sizes differ.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        match size_mismatch(&shape, data.len()) {
            Some(why) => Err(LesionError::Model(format!("a host tensor's {why}"))),
            None => Ok(Self { shape, data }),
        }
    }

    /// [`HostTensor::new`] for tensor `name` read from `path`, which the error names.
    pub(crate) fn read(path: &str, name: &str, shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        match size_mismatch(&shape, data.len()) {
            Some(why) => Err(LesionError::weights(
                path,
                format!("tensor `{name}`: {why}"),
            )),
            None => Ok(Self { shape, data }),
        }
    }

    /// A tensor of this one's shape holding `data`; an error when the sizes differ.
    pub fn with_data(&self, data: Vec<f32>) -> Result<Self> {
        Self::new(self.shape.clone(), data)
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The shape and the values.
    pub fn into_parts(self) -> (Vec<usize>, Vec<f32>) {
        (self.shape, self.data)
    }

    pub fn to_tensor<const D: usize>(&self, device: &Device) -> Tensor<D> {
        self.clone().into_tensor(device)
    }

    /// Moves the values to `device` without an intermediate copy on the host.
    pub fn into_tensor<const D: usize>(self, device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(self.data, self.shape), device)
    }
}

/// Which model the weights are: the published ImageNet weights, the demo model, or a
/// file the user converted themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Official,
    Demo,
    Custom,
}

/// What is known about where a set of weights came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub kind: ModelKind,
    /// A short name: `official`, `demo`, or the name given at install.
    pub name: String,
    /// Where the weights were read from (a file name or address).
    pub source: String,
}

impl ModelInfo {
    /// One line for people: says plainly whether this is the real ImageNet model.
    pub fn describe(&self) -> String {
        match self.kind {
            ModelKind::Official => format!(
                "official torchvision ImageNet AlexNet ({}) from {}",
                self.name, self.source
            ),
            ModelKind::Demo => format!(
                "DEMO model ({}; not the ImageNet AlexNet: a small AlexNet trained on the 1000 sample images) from {}",
                self.name, self.source
            ),
            ModelKind::Custom => format!("custom AlexNet ({}) from {}", self.name, self.source),
        }
    }
}

/// The 16 parameter tensors of an AlexNet, keyed by torchvision name, checked against
/// torchvision's layout when made: every layer's weight and bias is present and fits.
#[derive(Debug, Clone)]
pub struct Weights {
    info: ModelInfo,
    tensors: BTreeMap<String, HostTensor>,
    architecture: Architecture,
}

impl Weights {
    /// Checks that `tensors` hold an AlexNet in torchvision's layout (see
    /// [`Architecture::of`]); errors name `info.source`.
    pub fn new(info: ModelInfo, tensors: BTreeMap<String, HostTensor>) -> Result<Self> {
        let architecture = Architecture::of(&tensors, &info.source)?;
        Ok(Self {
            info,
            tensors,
            architecture,
        })
    }

    /// [`Weights::new`] for tensors read from the file `path`, which errors name (rather
    /// than `info.source`, which may be the file the weights were once converted from).
    pub(crate) fn read(
        info: ModelInfo,
        tensors: BTreeMap<String, HostTensor>,
        path: &str,
    ) -> Result<Self> {
        let architecture = Architecture::of(&tensors, path)?;
        Ok(Self {
            info,
            tensors,
            architecture,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The same weights, described by `info`.
    pub fn with_info(self, info: ModelInfo) -> Self {
        Self { info, ..self }
    }

    /// Every tensor by torchvision name (the 16 layer parameters, and any others the
    /// source held).
    pub fn tensors(&self) -> &BTreeMap<String, HostTensor> {
        &self.tensors
    }

    pub fn into_tensors(self) -> BTreeMap<String, HostTensor> {
        self.tensors
    }

    /// The layer widths.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The weight tensor of `layer`.
    pub fn weight(&self, layer: Layer) -> &HostTensor {
        &self.tensors[&layer.weight_key()]
    }

    pub fn bias(&self, layer: Layer) -> &HostTensor {
        &self.tensors[&layer.bias_key()]
    }

    /// Replaces the weight and bias of `layer` with tensors of the same shapes (damaged
    /// ones, say); an error, changing nothing, when a shape differs.
    pub fn set_layer(&mut self, layer: Layer, weight: HostTensor, bias: HostTensor) -> Result<()> {
        for (new, old) in [(&weight, self.weight(layer)), (&bias, self.bias(layer))] {
            if new.shape != old.shape {
                return Err(LesionError::Model(format!(
                    "{} takes tensors of shape {:?}, not {:?}",
                    layer.name(),
                    old.shape,
                    new.shape
                )));
            }
        }
        self.tensors.insert(layer.weight_key(), weight);
        self.tensors.insert(layer.bias_key(), bias);
        Ok(())
    }

    pub fn num_parameters(&self) -> usize {
        self.tensors.values().map(HostTensor::len).sum()
    }

    /// The number of values in the largest tensor (fc6's weight in AlexNet).
    pub fn largest_tensor_len(&self) -> usize {
        self.tensors
            .values()
            .map(HostTensor::len)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest AlexNet layout: one channel per convolution, two units per fc layer.
    pub(crate) fn tiny() -> BTreeMap<String, HostTensor> {
        let arch = Architecture {
            conv: [1; 5],
            fc: [2, 2],
            classes: 1000,
        };
        let shapes = Layer::ALL.map(|l| (l, arch.weight_shape(l)));
        let zeros = |shape: Vec<usize>| {
            let n = shape.iter().product();
            HostTensor::new(shape, vec![0.0; n]).unwrap()
        };
        let mut tensors = BTreeMap::new();
        for (layer, shape) in shapes {
            tensors.insert(layer.bias_key(), zeros(vec![shape[0]]));
            tensors.insert(layer.weight_key(), zeros(shape));
        }
        tensors
    }

    fn info() -> ModelInfo {
        ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "tiny.pth".into(),
        }
    }

    #[test]
    fn a_host_tensor_holds_exactly_what_its_shape_needs() {
        assert!(HostTensor::new(vec![2, 3], vec![0.0; 6]).is_ok());
        let err = HostTensor::new(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert!(err.to_string().contains("needs 6 values"), "{err}");
        assert!(HostTensor::new(vec![usize::MAX, 2], Vec::new()).is_err());
        let t = HostTensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        assert!(t.with_data(vec![0.0; 2]).is_err());
        assert_eq!(t.into_parts(), (vec![3], vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn weights_are_checked_when_made() {
        let weights = Weights::new(info(), tiny()).unwrap();
        assert_eq!(weights.architecture().classes, 1000);
        assert_eq!(weights.largest_tensor_len(), 2000);
        assert_eq!(
            weights.num_parameters(),
            weights
                .tensors()
                .values()
                .map(HostTensor::len)
                .sum::<usize>()
        );
        let mut missing = tiny();
        missing.remove("features.3.weight");
        let err = Weights::new(info(), missing).unwrap_err().to_string();
        assert!(
            err.contains("tiny.pth") && err.contains("missing tensor `features.3.weight`"),
            "{err}"
        );
        let mut misshaped = tiny();
        misshaped.insert(
            "classifier.6.bias".into(),
            HostTensor::new(vec![999], vec![0.0; 999]).unwrap(),
        );
        assert!(Weights::new(info(), misshaped).is_err());
    }

    #[test]
    fn a_layer_is_replaced_only_by_tensors_of_its_shapes() {
        let mut weights = Weights::new(info(), tiny()).unwrap();
        let weight = weights.weight(Layer::Fc7).with_data(vec![1.0; 4]).unwrap();
        let bias = weights.bias(Layer::Fc7).clone();
        weights
            .set_layer(Layer::Fc7, weight.clone(), bias.clone())
            .unwrap();
        assert_eq!(weights.weight(Layer::Fc7), &weight);
        let wrong = HostTensor::new(vec![4], vec![0.0; 4]).unwrap();
        assert!(weights.set_layer(Layer::Fc7, wrong, bias).is_err());
        assert_eq!(weights.weight(Layer::Fc7), &weight, "nothing changed");
    }
}
