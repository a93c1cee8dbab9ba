//! The one thing the page and the worker share: the messages between them, typed both
//! ways, and the few facts both sides need (chart positions, the clock, the fallback
//! policy). Neither side imports the other; each imports this.
//!
//! Requests travel as JavaScript values (serde-wasm-bindgen: a picked file's bytes go as one
//! `Uint8Array`); replies as postcard bytes, decoded in one pass (see [`codec`]). Every
//! reply is an [`Envelope`] that names the engine generation it came from, so the page
//! can drop what a replaced model computed.

#[cfg(target_arch = "wasm32")]
pub mod clock;
#[cfg(target_arch = "wasm32")]
pub mod codec;
mod failure;
#[cfg(target_arch = "wasm32")]
pub mod memory;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::eval::{Assessment, Inside, Interval, Report};
use crate::model::{Layer, ModelInfo};
use crate::perturb::{Kind, Settings};
use crate::share::BackendChoice;

pub use failure::{Failure, after_gpu_failure};

/// Slider positions (percent of the slider's range) the per-layer charts are drawn at.
pub const CHART_POSITIONS: [u32; 10] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

/// What the page asks of the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Load the site's model (`model` from the link, else the default).
    Load {
        model: Option<String>,
        backend: BackendChoice,
        /// Evaluate this many of the images (spread evenly), or all.
        images: Option<usize>,
        /// The visitor agreed to download the weights, however large. Without it the
        /// worker asks first ([`Reply::AskToDownload`]) when more than
        /// [`ASK_ABOVE_BYTES`] are missing from this browser.
        download_agreed: bool,
    },
    /// Load weights the user picked (files written by `lesion weights install`). The
    /// browser's `File` objects travel beside the request (see `codec`), so the worker
    /// reads each file once, and the page never copies it.
    LoadFiles(Vec<PickedFile>),
    /// Start the loaded model again on the CPU, with the same weights and images (the
    /// GPU failed; see [`after_gpu_failure`]).
    MoveToCpu { notice: String },
    /// Evaluate these settings (the newest wins). When idle, fill the per-layer charts,
    /// one damage kind per layer (`kinds`), under the settings' seed.
    Evaluate {
        settings: Settings,
        kinds: [Kind; 8],
        /// The layer the visitor moved last: its chart fills in first.
        first: Option<Layer>,
        /// The image whose conv1 feature maps "A look inside" shows (with conv1's
        /// filters): drawn after the numbers, before the chart points.
        inspect: usize,
        /// A pinned result (A) the page has no numbers for: evaluated after the settings,
        /// without moving the session, and answered by [`Reply::Pinned`].
        pinned: Option<Settings>,
    },
    /// Remove every weight file this browser keeps for the site (Cache Storage); the
    /// model on screen stays loaded. Answered by [`Reply::Forgotten`].
    ForgetWeights,
}

/// Downloads larger than this are said, and wait for the visitor's agreement, before
/// they start (the full-size AlexNet is 122 MB; the demo model 4.3 MB).
pub const ASK_ABOVE_BYTES: u64 = 50_000_000;

/// A download the worker would start: what the visitor is asked to agree to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Download {
    pub model: ModelInfo,
    /// Bytes to download, and the weights' whole size (the rest is in this browser).
    pub missing: u64,
    pub total: u64,
}

/// What forgetting the stored weights removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forgotten {
    pub files: usize,
    /// Their size, when every entry recorded it.
    pub bytes: Option<u64>,
}

/// A file the user dropped or picked: its name and size (its bytes stay in the browser's
/// `File` until the worker reads them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickedFile {
    pub name: String,
    pub size: u64,
}

/// The largest file the page reads: twice the full-size AlexNet in f32 (244 MB), so any
/// AlexNet fits, and a mistaken pick of a huge file is refused before a byte is read.
pub const MAX_PICKED_BYTES: u64 = 512 << 20;

impl PickedFile {
    /// Refuses a file larger than any AlexNet, before it is read (the page and the worker
    /// both ask).
    pub fn check_size(&self) -> Result<(), Failure> {
        if self.size <= MAX_PICKED_BYTES {
            return Ok(());
        }
        Err(Failure::Invalid {
            file: crate::text::shorten(&self.name, 80),
            message: format!(
                "is {:.0} MB, more than the {} MB any AlexNet needs; it was not read",
                self.size as f64 / 1e6,
                MAX_PICKED_BYTES / 1_000_000
            ),
        })
    }
}

/// One stage of loading, for the progress bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// What is happening, e.g. "Downloading weights".
    pub title: String,
    /// 0..=1, or None when the size is unknown.
    pub fraction: Option<f64>,
    pub detail: String,
}

impl Progress {
    pub fn new(title: impl Into<String>, fraction: Option<f64>, detail: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            fraction,
            detail: detail.into(),
        }
    }
}

/// A model the worker has loaded and evaluated intact: what the page shows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedModel {
    pub model: ModelInfo,
    /// Where it runs, for people: e.g. "WebGPU (…)" or "CPU (WebAssembly, burn flex)".
    pub device_label: String,
    pub on_gpu: bool,
    /// The eight layers' weight shapes, in torchvision's layout ([out, in, k, k] or
    /// [out, in]): what the page draws the network with.
    pub shapes: Vec<Vec<usize>>,
    /// The sample images' file names and labels, in evaluation order.
    pub files: Vec<String>,
    pub labels: Vec<Option<usize>>,
    pub intact: Report,
    /// Time to classify every image with the intact model.
    pub eval_ms: f64,
    /// The worker's WebAssembly memory once loaded, in bytes.
    pub worker_memory: u64,
    pub notices: Vec<String>,
}

/// Numbers for one setting: the engine's assessment and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub assessment: Assessment,
    /// Wall time of the evaluation (0 when the result was remembered).
    pub ms: f64,
    /// How long the request waited in the worker, from its arrival to the start of its
    /// evaluation (ms): for work already running there (a chart point) to reach a break.
    pub waited_ms: f64,
    /// When the request arrived in the worker (ms, on the clock page and worker share:
    /// `clock::epoch_ms`).
    pub arrived_at: f64,
    /// The worker's WebAssembly memory afterwards, in bytes.
    pub worker_memory: u64,
}

impl Results {
    pub fn settings(&self) -> &Settings {
        &self.assessment.settings
    }
}

/// One point of a layer's chart: relative top-1 with only `layer` damaged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    pub layer: Layer,
    pub kind: Kind,
    pub seed: u64,
    /// Slider position, 0..=100 (one of [`CHART_POSITIONS`]).
    pub position: u32,
    pub top1_rel: f64,
    /// The 95% interval of `top1_rel`.
    pub top1_rel_ci: Interval,
    pub agreement: f64,
}

/// What the worker tells the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The worker's WebAssembly could not start (sent by `public/worker.js`, which
    /// writes these bytes itself: keep this the first variant; see [`codec`]).
    StartFailed(String),
    /// The worker runs and takes requests.
    Ready,
    Progress(Progress),
    Loaded(Box<LoadedModel>),
    /// Loading failed: the model on screen (if any) stays.
    LoadFailed(Failure),
    Results(Box<Results>),
    Point(ChartPoint),
    /// The numbers of the pinned settings (see `Request::Evaluate`).
    Pinned(Box<Results>),
    /// conv1's filters and the inspected image's feature maps (see `Request::Evaluate`).
    Inside(Box<Inside>),
    /// An evaluation failed; the model stays loaded.
    EvalFailed(Failure),
    /// More than [`ASK_ABOVE_BYTES`] would be downloaded: nothing starts until the page
    /// loads again with `download_agreed`.
    AskToDownload(Download),
    /// The stored weights are gone (or could not be removed: the message says why).
    Forgotten(Result<Forgotten, String>),
    /// Something the page should say.
    Notice(String),
    /// The worker hit an internal error and is gone.
    Crashed(String),
}

/// A reply and the engine generation it belongs to: every engine the worker installs gets
/// the next generation (from 1); replies that belong to no engine carry 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub generation: u64,
    pub reply: Reply,
}

/// A message's bytes on the wire (postcard), both ways; `what` names it in the failure.
fn encode(message: &impl Serialize, what: &str) -> Result<Vec<u8>, Failure> {
    postcard::to_allocvec(message)
        .map_err(|e| Failure::Protocol(format!("cannot encode {what}: {e}")))
}

/// Reads a message's bytes; anything else is a [`Failure::Protocol`].
fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Failure> {
    postcard::from_bytes(bytes).map_err(|e| Failure::Protocol(format!("cannot read {what}: {e}")))
}

/// A request's bytes on the wire.
pub fn request_to_bytes(request: &Request) -> Result<Vec<u8>, Failure> {
    encode(request, "a request")
}

/// Reads a request's bytes.
pub fn request_from_bytes(bytes: &[u8]) -> Result<Request, Failure> {
    decode(bytes, "a request")
}

/// A reply's bytes on the wire.
pub fn to_bytes(envelope: &Envelope) -> Result<Vec<u8>, Failure> {
    encode(envelope, "a reply")
}

/// Reads a reply's bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, Failure> {
    decode(bytes, "a reply")
}
