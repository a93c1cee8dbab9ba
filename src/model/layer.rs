//! The eight weight layers of AlexNet: their names, torchvision's parameter keys, and the
//! geometry of the convolutions.

use serde::{Deserialize, Serialize};

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

    /// Whether a max pool (3x3, stride 2) follows this convolution's ReLU: after conv1,
    /// conv2 and conv5, as in torchvision.
    pub fn pooled(self) -> bool {
        matches!(self, Layer::Conv1 | Layer::Conv2 | Layer::Conv5)
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
