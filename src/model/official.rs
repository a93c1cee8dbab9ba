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
    use super::*;
    use crate::model::{HostTensor, ModelInfo, ModelKind, synthetic};

    /// A sha256 that starts with the official prefix (no real file needed).
    fn official_sha() -> String {
        format!("{OFFICIAL_SHA256_PREFIX}{}", "0".repeat(56))
    }

    /// The smallest AlexNet layout (one channel per convolution, two units per fc layer).
    fn tiny() -> Weights {
        let info = ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "tiny.pth".into(),
        };
        Weights::new(info, crate::model::weights::tests::tiny()).unwrap()
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
