//! A narrower AlexNet zero-padded to torchvision's full size: every layer widened to
//! [`FULL_SIZE`], the original values in the leading output channels (units) and input
//! channels (features), everything added zero. The added output channels have zero
//! weights and biases, so after ReLU they are exactly zero; the next layer's added inputs
//! have zero weights too, so the padded network computes the narrow one's function at the
//! real size (up to f32 summation order).
//!
//! fc6 reads conv5's 6x6 maps flattened channel-major (feature `c * 36 + y * 6 + x`), so
//! the narrow model's features `0..conv5 * 36` are exactly its channels and keep their
//! indices; padding fc6's inputs from `conv5 * 36` to `256 * 36` is the same copy as for
//! any other layer.

use std::collections::BTreeMap;

use super::official::FULL_SIZE;
use super::{HostTensor, Layer, ModelInfo, ModelKind, Weights};
use crate::error::{LesionError, Result};

/// `weights` zero-padded to torchvision's full-size AlexNet (conv 64-192-384-256-256,
/// fc 4096-4096-1000), described as custom weights: `<name>-full`, from the same source
/// "zero-padded to torchvision's full size" (and, for the demo model, that it is the demo
/// model). Only the 16 layer parameters are kept. Weights wider than full size in any
/// layer are an error naming the layer; already full-size weights come back unchanged in
/// value.
pub fn pad_to_full_size(weights: &Weights) -> Result<Weights> {
    let source = &weights.info().source;
    let arch = weights.architecture();
    for layer in Layer::ALL {
        let [out, inp] = arch.channels(layer);
        let [full_out, full_in] = FULL_SIZE.channels(layer);
        if out > full_out || inp > full_in {
            return Err(LesionError::weights(
                source,
                format!(
                    "{} is [{out} out, {inp} in], wider than torchvision's full size [{full_out} out, {full_in} in]: it cannot be padded to it",
                    layer.name()
                ),
            ));
        }
    }
    let mut tensors = BTreeMap::new();
    for layer in Layer::ALL {
        let [out, inp] = FULL_SIZE.channels(layer);
        tensors.insert(layer.weight_key(), pad(weights.weight(layer), out, inp)?);
        tensors.insert(layer.bias_key(), pad(weights.bias(layer), out, 1)?);
    }
    Weights::new(padded_info(weights.info()), tensors)
}

/// How padded weights are described: never official, and plainly the demo model when it was.
fn padded_info(info: &ModelInfo) -> ModelInfo {
    let demo = if info.kind == ModelKind::Demo {
        ": the DEMO model, not the ImageNet AlexNet"
    } else {
        ""
    };
    ModelInfo {
        kind: ModelKind::Custom,
        name: format!("{}-full", info.name),
        source: format!(
            "{} zero-padded to torchvision's full size{demo}",
            info.source
        ),
    }
}

/// `tensor` (`[o, i, k...]`, or `[o]` with `inp` 1) widened to `[out, inp, k...]`: its
/// values at the same `(o, i, k...)`, zeros elsewhere. The caller has checked the widths.
fn pad(tensor: &HostTensor, out: usize, inp: usize) -> Result<HostTensor> {
    let shape = tensor.shape();
    let (o, i) = (shape[0], shape.get(1).copied().unwrap_or(1));
    let inner: usize = shape.iter().skip(2).product();
    let mut data = vec![0.0; out * inp * inner];
    if o * i * inner > 0 {
        let (row, full_row) = (i * inner, inp * inner);
        for (src, dst) in tensor
            .data()
            .chunks_exact(row)
            .zip(data.chunks_exact_mut(full_row))
        {
            dst[..row].copy_from_slice(src);
        }
    }
    let mut full_shape = vec![out];
    if shape.len() > 1 {
        full_shape.push(inp);
        full_shape.extend_from_slice(&shape[2..]);
    }
    HostTensor::new(full_shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::official::{FULL_SIZE_PARAMETERS, is_official};

    /// An AlexNet of the given widths whose every value is distinct and non-zero.
    fn alexnet(conv: [usize; 5], fc: [usize; 2]) -> Weights {
        let arch = crate::model::Architecture {
            conv,
            fc,
            classes: 1000,
        };
        let mut tensors = BTreeMap::new();
        let mut next = 0.0f32;
        let mut values = |n: usize| {
            (0..n)
                .map(|_| {
                    next += 1.0;
                    next
                })
                .collect::<Vec<_>>()
        };
        for layer in Layer::ALL {
            let [out, inp] = arch.channels(layer);
            let (k, _, _) = layer.conv_geometry();
            let mut shape = vec![out, inp];
            if layer.is_conv() {
                shape.extend([k, k]);
            }
            let n = shape.iter().product();
            tensors.insert(
                layer.weight_key(),
                HostTensor::new(shape, values(n)).unwrap(),
            );
            tensors.insert(
                layer.bias_key(),
                HostTensor::new(vec![out], values(out)).unwrap(),
            );
        }
        let info = ModelInfo {
            kind: ModelKind::Demo,
            name: "small".into(),
            source: "small.pth".into(),
        };
        Weights::new(info, tensors).unwrap()
    }

    #[test]
    fn every_value_keeps_its_place_and_the_rest_is_zero() {
        let small = alexnet([2, 3, 4, 3, 2], [5, 6]);
        let full = pad_to_full_size(&small).unwrap();
        assert_eq!(full.architecture(), FULL_SIZE);
        assert_eq!(full.num_parameters(), FULL_SIZE_PARAMETERS);
        assert!(!is_official(&"0".repeat(64), &full));
        for layer in Layer::ALL {
            let (w, padded) = (small.weight(layer), full.weight(layer));
            let [o, i] = small.architecture().channels(layer);
            let [_, full_in] = FULL_SIZE.channels(layer);
            let inner = w.len() / (o * i);
            let mut kept = 0;
            for (at, v) in padded.data().iter().enumerate() {
                let (row, col) = (at / (full_in * inner), at % (full_in * inner));
                if row < o && col < i * inner {
                    assert_eq!(
                        *v,
                        w.data()[row * i * inner + col],
                        "{} at {at}",
                        layer.name()
                    );
                    kept += 1;
                } else {
                    assert_eq!(*v, 0.0, "{} at {at}", layer.name());
                }
            }
            assert_eq!(kept, w.len(), "{}", layer.name());
            let (b, padded_b) = (small.bias(layer).data(), full.bias(layer).data());
            assert_eq!(&padded_b[..o], b);
            assert!(padded_b[o..].iter().all(|v| *v == 0.0), "{}", layer.name());
        }
        // fc6: conv5's channel c is features c*36..c*36+36, in the small and the full model.
        let fc6 = full.weight(Layer::Fc6).data();
        let small_fc6 = small.weight(Layer::Fc6).data();
        assert_eq!(fc6[9216 + 36..9216 + 72], small_fc6[72 + 36..72 + 72]);
        assert_eq!(fc6[9216 + 72], 0.0, "conv5 had two channels");
    }

    #[test]
    fn padded_weights_are_described_as_custom_and_padded() {
        let info = pad_to_full_size(&alexnet([1, 1, 1, 1, 1], [2, 2]))
            .unwrap()
            .info()
            .clone();
        assert_eq!(info.kind, ModelKind::Custom);
        assert_eq!(info.name, "small-full");
        assert!(
            info.source
                .contains("small.pth zero-padded to torchvision's full size")
                && info.source.contains("DEMO model, not the ImageNet AlexNet"),
            "{}",
            info.source
        );
    }

    #[test]
    fn full_size_weights_pad_to_themselves() {
        let full = crate::model::synthetic::full_size();
        let padded = pad_to_full_size(&full).unwrap();
        for (key, tensor) in full.tensors() {
            assert_eq!(&padded.tensors()[key], tensor, "{key}");
        }
    }

    #[test]
    fn weights_wider_than_full_size_are_refused() {
        for (conv, fc, layer) in [
            ([2, 193, 4, 3, 2], [5, 6], "conv2"),
            ([2, 3, 4, 3, 2], [5, 4097], "fc7"),
        ] {
            let err = pad_to_full_size(&alexnet(conv, fc))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("small.pth: ")
                    && err.contains(&format!("{layer} is ["))
                    && err.contains("wider than torchvision's full size"),
                "{err}"
            );
        }
    }
}
