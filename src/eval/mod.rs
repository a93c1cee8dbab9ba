//! The fixed sample set, preprocessing, running the model over it, and metrics.

pub mod labels;
pub mod metrics;
pub mod preprocess;
pub mod run;
pub mod samples;

pub use metrics::{Interval, Prediction, Report};
pub use run::{LogitMatrix, evaluate};
pub use samples::{Sample, SampleSet};
