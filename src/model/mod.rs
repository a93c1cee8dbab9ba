//! AlexNet as a Burn module, in torchvision's layout, with widths read from the weights:
//! the layers, host weights (checked to be an AlexNet when made), the rule for model
//! names, the `.pth` reader (native), the web weight format, random full-size weights, and
//! narrower weights zero-padded to the full size.

mod alexnet;
mod architecture;
mod conv;
mod layer;
pub mod manifest;
pub mod name;
pub mod official;
pub mod padded;
#[cfg(not(target_arch = "wasm32"))]
pub mod pth;
pub mod synthetic;
pub mod weights;

pub use alexnet::{Activation, AlexNet, conv_relu, max_pool};
pub use architecture::Architecture;
pub use layer::Layer;
pub use weights::{HostTensor, ModelInfo, ModelKind, Weights};
