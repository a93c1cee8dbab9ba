//! AlexNet as a Burn module, in torchvision's layout, with widths read from the weights.

mod alexnet;
pub mod manifest;
#[cfg(not(target_arch = "wasm32"))]
pub mod pth;
pub mod synthetic;
pub mod weights;

pub use alexnet::{Activation, AlexNet};
pub use weights::{Architecture, HostTensor, Layer, ModelInfo, ModelKind, Weights};
