//! Random weights of the full torchvision size, for timing (never for answers).

use std::collections::BTreeMap;

use super::{HostTensor, Layer, ModelInfo, ModelKind, Weights};

/// torchvision's AlexNet shapes, `[out, in, k, k]` / `[out, in]`.
const FULL_SIZE: [(Layer, &[usize]); 8] = [
    (Layer::Conv1, &[64, 3, 11, 11]),
    (Layer::Conv2, &[192, 64, 5, 5]),
    (Layer::Conv3, &[384, 192, 3, 3]),
    (Layer::Conv4, &[256, 384, 3, 3]),
    (Layer::Conv5, &[256, 256, 3, 3]),
    (Layer::Fc6, &[4096, 9216]),
    (Layer::Fc7, &[4096, 4096]),
    (Layer::Fc8, &[1000, 4096]),
];

/// Full-size AlexNet weights, uniform with He's variance (2 / fan-in), from a fixed seed.
pub fn full_size() -> Weights {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        // SplitMix64: only the speed of the model is measured with these, not its answers.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut tensors = BTreeMap::new();
    for (layer, shape) in FULL_SIZE {
        let n: usize = shape.iter().product();
        let fan_in = n / shape[0];
        let scale = 2.0 * (3.0 * 2.0 / fan_in as f32).sqrt();
        let data = (0..n).map(|_| next() * scale).collect();
        let weight = HostTensor::new(shape.to_vec(), data).expect("sized by its shape");
        tensors.insert(layer.weight_key(), weight);
        let bias = (0..shape[0]).map(|_| next() * 0.02).collect();
        let bias = HostTensor::new(vec![shape[0]], bias).expect("sized by its shape");
        tensors.insert(layer.bias_key(), bias);
    }
    let info = ModelInfo {
        kind: ModelKind::Custom,
        name: "synthetic".into(),
        source: "random weights of the full torchvision size (speed only)".into(),
    };
    Weights::new(info, tensors).expect("torchvision's AlexNet layout")
}
