//! The fixed sample set (natively, any folder of images in either layout: `folder`),
//! preprocessing, running the model over it (batched, and incrementally in a [`Session`]),
//! metrics, and an evaluation's result against the intact model ([`Assessment`]); natively,
//! any number of images in bounded memory (`listing`, `stream`).

pub mod assess;
#[cfg(not(target_arch = "wasm32"))]
pub mod folder;
pub mod inside;
pub mod intact;
pub mod labels;
#[cfg(not(target_arch = "wasm32"))]
pub mod listing;
pub mod metrics;
pub mod preprocess;
pub mod run;
pub mod samples;
pub mod session;
#[cfg(not(target_arch = "wasm32"))]
pub mod stream;

pub use assess::{Assessment, Metrics};
pub use inside::Inside;
pub use intact::Intact;
pub use metrics::{Comparison, Interval, Prediction, Report};
pub use run::{LogitMatrix, evaluate};
pub use samples::{Sample, SampleSet, spread};
pub use session::{Outcome, Purpose, Session};
