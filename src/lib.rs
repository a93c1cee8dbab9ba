//! lesion: damage a real ImageNet-trained AlexNet and watch it fail.
//!
//! The engine (this library) loads AlexNet weights ([`model`]), damages them
//! ([`perturb`]), runs the fixed sample set and measures accuracy ([`eval`]), and reads
//! and writes share links ([`share`]); [`digest`] and [`text`] hold the sha256 and
//! display rules everything shares. It compiles natively (the `lesion` CLI, `cli`) and to
//! wasm32 (the web page, [`web`], whose decisions also compile natively for their tests), and
//! knows nothing of the DOM outside `web`.

pub mod digest;
pub mod error;
pub mod eval;
pub mod model;
pub mod perturb;
pub mod share;
pub mod text;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod web;

pub use error::{LesionError, Result};
