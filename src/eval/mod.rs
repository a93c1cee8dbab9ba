//! The fixed sample set, preprocessing, running the model over it, and metrics.

pub mod labels;
pub mod metrics;
pub mod preprocess;
pub mod run;
pub mod samples;
pub mod session;

pub use metrics::{Comparison, Interval, Prediction, Report};
pub use run::{LogitMatrix, evaluate};
pub use samples::{Sample, SampleSet, spread};
pub use session::{Outcome, Purpose, Session};
