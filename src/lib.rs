//! lesion: damage a real ImageNet-trained AlexNet and watch it fail.
//!
//! The engine (this library) loads AlexNet weights, runs the fixed sample set and measures
//! accuracy. It compiles natively (the `lesion` CLI) and to wasm32 (the web page), and
//! knows nothing of the DOM: the web front end lives in [`web`], the CLI in `cli`.

pub mod error;
pub mod eval;
pub mod model;
pub mod perturb;
pub mod share;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{LesionError, Result};
