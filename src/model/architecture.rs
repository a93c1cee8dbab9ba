//! Layer widths, read from a set of tensors and checked against torchvision's AlexNet
//! layout: the checks every [`Weights`](super::Weights) value has passed.

use std::collections::BTreeMap;

use super::layer::Layer;
use super::weights::HostTensor;
use crate::error::{LesionError, Result};

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

/// The shape of tensor `key`, or an error naming `source`.
fn shape_of<'t>(
    tensors: &'t BTreeMap<String, HostTensor>,
    key: &str,
    source: &str,
) -> Result<&'t [usize]> {
    tensors
        .get(key)
        .map(HostTensor::shape)
        .ok_or_else(|| LesionError::weights(source, format!("missing tensor `{key}`")))
}

impl Architecture {
    /// Reads the widths from `tensors` and checks that every layer's weight and bias is
    /// present with the shape torchvision's AlexNet layout requires, and that fc8 has one
    /// output per ImageNet class. Errors name `source`.
    pub fn of(tensors: &BTreeMap<String, HostTensor>, source: &str) -> Result<Self> {
        let conv = Self::conv_widths(tensors, source)?;
        let fc = Self::dense_widths(tensors, source, conv[4] * 36)?;
        let arch = Self {
            conv,
            fc: [fc[0], fc[1]],
            classes: fc[2],
        };
        for layer in Layer::ALL {
            let key = layer.bias_key();
            let shape = shape_of(tensors, &key, source)?;
            let out = arch.channels(layer)[0];
            if shape != [out] {
                return Err(LesionError::weights(
                    source,
                    format!("tensor `{key}` has shape {shape:?}, expected [{out}]"),
                ));
            }
        }
        let classes = crate::eval::labels::NUM_CLASSES;
        if arch.classes != classes {
            return Err(LesionError::weights(
                source,
                format!(
                    "fc8 has {} outputs, expected the {classes} ImageNet classes",
                    arch.classes
                ),
            ));
        }
        Ok(arch)
    }

    /// Output channels of conv1..conv5: `[out, in, k, k]`, each `in` the previous `out`.
    fn conv_widths(tensors: &BTreeMap<String, HostTensor>, source: &str) -> Result<[usize; 5]> {
        let mut expected_in = 3;
        let mut conv = [0; 5];
        for (i, layer) in Layer::CONV.iter().enumerate() {
            let key = layer.weight_key();
            let shape = shape_of(tensors, &key, source)?;
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
        Ok(conv)
    }

    /// Output units of fc6..fc8: `[out, in]`, fc6's `in` being `features`.
    fn dense_widths(
        tensors: &BTreeMap<String, HostTensor>,
        source: &str,
        features: usize,
    ) -> Result<[usize; 3]> {
        let mut expected_in = features;
        let mut fc = [0; 3];
        for (i, layer) in Layer::DENSE.iter().enumerate() {
            let key = layer.weight_key();
            let shape = shape_of(tensors, &key, source)?;
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
        Ok(fc)
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

    /// The shape of `layer`'s weight in torchvision's layout: `[out, in, k, k]` for a
    /// convolution, `[out, in]` for a dense layer.
    pub fn weight_shape(&self, layer: Layer) -> Vec<usize> {
        let [out, inp] = self.channels(layer);
        if layer.is_conv() {
            let (k, _, _) = layer.conv_geometry();
            vec![out, inp, k, k]
        } else {
            vec![out, inp]
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
