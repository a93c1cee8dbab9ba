//! Which weights are torchvision's official ImageNet AlexNet
//! (`alexnet-owt-7be5be79.pth`): the file's sha256 starts with the prefix torchvision
//! checks, and the file holds the full-size network.

use super::{Architecture, Weights};

/// The prefix of the official file's sha256 that torchvision checks.
pub const OFFICIAL_SHA256_PREFIX: &str = "7be5be79";

/// torchvision's full-size AlexNet: conv 64-192-384-256-256, fc 4096-4096-1000.
/// [`Architecture::of`] has checked every other dimension against these widths (kernel
/// sizes, each layer's inputs being the previous layer's outputs, 256 x 6 x 6 into fc6).
pub const FULL_SIZE: Architecture = Architecture {
    conv: [64, 192, 384, 256, 256],
    fc: [4096, 4096],
    classes: 1000,
};

/// The parameters of torchvision's AlexNet state dict (its 16 weights and biases).
pub const FULL_SIZE_PARAMETERS: usize = 61_100_840;

/// Whether weights read from a file whose sha256 is `source_sha256` (lower-case hex) are
/// the official ones: the sha256 starts with [`OFFICIAL_SHA256_PREFIX`] and the file held
/// exactly torchvision's full-size AlexNet ([`FULL_SIZE`], [`FULL_SIZE_PARAMETERS`]
/// parameters, no other tensors). A 32-bit prefix alone is easy to match by chance or on
/// purpose; the shapes are not, for a network that also passes the prefix.
pub fn is_official(source_sha256: &str, weights: &Weights) -> bool {
    source_sha256.starts_with(OFFICIAL_SHA256_PREFIX)
        && weights.architecture() == FULL_SIZE
        && weights.num_parameters() == FULL_SIZE_PARAMETERS
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{HostTensor, Layer, ModelInfo, ModelKind, synthetic};

    /// A sha256 that starts with the official prefix (no real file needed).
    fn official_sha() -> String {
        format!("{OFFICIAL_SHA256_PREFIX}{}", "0".repeat(56))
    }

    /// The smallest AlexNet layout: one channel per convolution, two units per fc layer.
    fn tiny() -> Weights {
        let shapes: [(Layer, Vec<usize>); 8] = [
            (Layer::Conv1, vec![1, 3, 11, 11]),
            (Layer::Conv2, vec![1, 1, 5, 5]),
            (Layer::Conv3, vec![1, 1, 3, 3]),
            (Layer::Conv4, vec![1, 1, 3, 3]),
            (Layer::Conv5, vec![1, 1, 3, 3]),
            (Layer::Fc6, vec![2, 36]),
            (Layer::Fc7, vec![2, 2]),
            (Layer::Fc8, vec![1000, 2]),
        ];
        let zeros = |shape: Vec<usize>| {
            let n = shape.iter().product();
            HostTensor::new(shape, vec![0.0; n]).unwrap()
        };
        let mut tensors = BTreeMap::new();
        for (layer, shape) in shapes {
            tensors.insert(layer.bias_key(), zeros(vec![shape[0]]));
            tensors.insert(layer.weight_key(), zeros(shape));
        }
        let info = ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "tiny.pth".into(),
        };
        Weights::new(info, tensors).unwrap()
    }

    #[test]
    fn a_matching_prefix_on_small_weights_is_not_official() {
        assert!(!is_official(&official_sha(), &tiny()));
    }

    #[test]
    fn only_full_size_weights_with_the_prefix_are_official() {
        let full = synthetic::full_size();
        assert_eq!(full.num_parameters(), 61_100_840);
        assert!(is_official(&official_sha(), &full));
        assert!(!is_official(&"0".repeat(64), &full), "wrong prefix");
        assert!(!is_official("", &full), "no sha256");
        // The full-size network plus a tensor torchvision's AlexNet does not have.
        let info = full.info().clone();
        let mut tensors = full.into_tensors();
        let extra = HostTensor::new(vec![1], vec![0.0]).unwrap();
        tensors.insert("extra.weight".into(), extra);
        let padded = Weights::new(info, tensors).unwrap();
        assert!(!is_official(&official_sha(), &padded), "an extra tensor");
    }
}
