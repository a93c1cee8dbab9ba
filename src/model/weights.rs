//! Weights on the host, in torchvision's parameter names and memory layout.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::error::{LesionError, Result};

/// The eight weight layers of AlexNet, in forward order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Conv1,
    Conv2,
    Conv3,
    Conv4,
    Conv5,
    Fc6,
    Fc7,
    Fc8,
}

impl Layer {
    pub const ALL: [Layer; 8] = [
        Layer::Conv1,
        Layer::Conv2,
        Layer::Conv3,
        Layer::Conv4,
        Layer::Conv5,
        Layer::Fc6,
        Layer::Fc7,
        Layer::Fc8,
    ];
    /// The convolutional layers (run batch by batch).
    pub const CONV: [Layer; 5] = [
        Layer::Conv1,
        Layer::Conv2,
        Layer::Conv3,
        Layer::Conv4,
        Layer::Conv5,
    ];
    /// The dense layers (run on every image at once).
    pub const DENSE: [Layer; 3] = [Layer::Fc6, Layer::Fc7, Layer::Fc8];

    /// The short name used by the CLI and share links (`conv1` … `fc8`).
    pub fn name(self) -> &'static str {
        match self {
            Layer::Conv1 => "conv1",
            Layer::Conv2 => "conv2",
            Layer::Conv3 => "conv3",
            Layer::Conv4 => "conv4",
            Layer::Conv5 => "conv5",
            Layer::Fc6 => "fc6",
            Layer::Fc7 => "fc7",
            Layer::Fc8 => "fc8",
        }
    }

    /// The prefix of this layer's parameters in torchvision's state dict.
    pub fn torch_prefix(self) -> &'static str {
        match self {
            Layer::Conv1 => "features.0",
            Layer::Conv2 => "features.3",
            Layer::Conv3 => "features.6",
            Layer::Conv4 => "features.8",
            Layer::Conv5 => "features.10",
            Layer::Fc6 => "classifier.1",
            Layer::Fc7 => "classifier.4",
            Layer::Fc8 => "classifier.6",
        }
    }

    pub fn weight_key(self) -> String {
        format!("{}.weight", self.torch_prefix())
    }

    pub fn bias_key(self) -> String {
        format!("{}.bias", self.torch_prefix())
    }

    pub fn is_conv(self) -> bool {
        matches!(
            self,
            Layer::Conv1 | Layer::Conv2 | Layer::Conv3 | Layer::Conv4 | Layer::Conv5
        )
    }

    /// (kernel size, stride, padding) of a convolution, as in torchvision.
    pub fn conv_geometry(self) -> (usize, usize, usize) {
        match self {
            Layer::Conv1 => (11, 4, 2),
            Layer::Conv2 => (5, 1, 2),
            _ => (3, 1, 1),
        }
    }
}

/// A dense f32 tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
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

/// The 16 parameter tensors of an AlexNet, keyed by torchvision name.
#[derive(Debug, Clone)]
pub struct Weights {
    pub info: ModelInfo,
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Weights {
    /// The weight tensor of `layer`. Call only after [`Architecture::from_weights`] succeeded.
    pub fn weight(&self, layer: Layer) -> &HostTensor {
        &self.tensors[&layer.weight_key()]
    }

    pub fn bias(&self, layer: Layer) -> &HostTensor {
        &self.tensors[&layer.bias_key()]
    }

    pub fn num_parameters(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }
}

/// Layer widths, read from and checked against the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Architecture {
    /// Output channels of conv1..conv5.
    pub conv: [usize; 5],
    /// Output units of fc6 and fc7.
    pub fc: [usize; 2],
    /// Number of classes (fc8's outputs).
    pub classes: usize,
}

impl Architecture {
    /// Reads the widths from `weights` and checks that every tensor is present with the
    /// shape torchvision's AlexNet layout requires.
    pub fn from_weights(weights: &Weights) -> Result<Self> {
        let source = &weights.info.source;
        let shape_of = |key: &str| -> Result<&[usize]> {
            weights
                .tensors
                .get(key)
                .map(|t| t.shape.as_slice())
                .ok_or_else(|| LesionError::weights(source, format!("missing tensor `{key}`")))
        };
        let mut expected_in = 3;
        let mut conv = [0; 5];
        for (i, layer) in Layer::ALL[..5].iter().enumerate() {
            let key = layer.weight_key();
            let shape = shape_of(&key)?;
            let (k, _, _) = layer.conv_geometry();
            match shape {
                [out, inp, kh, kw] if *inp == expected_in && *kh == k && *kw == k && *out > 0 => {
                    conv[i] = *out;
                    expected_in = *out;
                }
                _ => {
                    return Err(LesionError::weights(
                        source,
                        format!(
                            "tensor `{key}` has shape {shape:?}, expected [out, {expected_in}, {k}, {k}]"
                        ),
                    ));
                }
            }
        }
        let mut expected_in = conv[4] * 36;
        let mut fc = [0; 3];
        for (i, layer) in Layer::ALL[5..].iter().enumerate() {
            let key = layer.weight_key();
            let shape = shape_of(&key)?;
            match shape {
                [out, inp] if *inp == expected_in && *out > 0 => {
                    fc[i] = *out;
                    expected_in = *out;
                }
                _ => {
                    return Err(LesionError::weights(
                        source,
                        format!(
                            "tensor `{key}` has shape {shape:?}, expected [out, {expected_in}]"
                        ),
                    ));
                }
            }
        }
        let arch = Self {
            conv,
            fc: [fc[0], fc[1]],
            classes: fc[2],
        };
        for layer in Layer::ALL {
            let key = layer.bias_key();
            let shape = shape_of(&key)?;
            let out = arch.channels(layer)[0];
            if shape != [out] {
                return Err(LesionError::weights(
                    source,
                    format!("tensor `{key}` has shape {shape:?}, expected [{out}]"),
                ));
            }
        }
        if arch.classes != crate::eval::labels::NUM_CLASSES {
            return Err(LesionError::weights(
                source,
                format!(
                    "fc8 has {} outputs, expected the {} ImageNet classes",
                    arch.classes,
                    crate::eval::labels::NUM_CLASSES
                ),
            ));
        }
        Ok(arch)
    }

    /// `[out, in]` units of a layer (channels for convolutions, features for fc layers).
    pub fn channels(&self, layer: Layer) -> [usize; 2] {
        match layer {
            Layer::Conv1 => [self.conv[0], 3],
            Layer::Conv2 => [self.conv[1], self.conv[0]],
            Layer::Conv3 => [self.conv[2], self.conv[1]],
            Layer::Conv4 => [self.conv[3], self.conv[2]],
            Layer::Conv5 => [self.conv[4], self.conv[3]],
            Layer::Fc6 => [self.fc[0], self.conv[4] * 36],
            Layer::Fc7 => [self.fc[1], self.fc[0]],
            Layer::Fc8 => [self.classes, self.fc[1]],
        }
    }

    /// Multiply-adds for one 224x224 image.
    pub fn macs_per_image(&self) -> u64 {
        // Spatial sizes of each conv's output for a 224x224 input.
        let spatial = [55 * 55, 27 * 27, 13 * 13, 13 * 13, 13 * 13];
        let mut macs = 0u64;
        for (i, layer) in Layer::ALL.iter().enumerate() {
            let [out, inp] = self.channels(*layer);
            let (k, _, _) = layer.conv_geometry();
            macs += if layer.is_conv() {
                (out * inp * k * k * spatial[i]) as u64
            } else {
                (out * inp) as u64
            };
        }
        macs
    }
}
