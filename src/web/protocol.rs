//! The messages between the page and its evaluation worker, typed both ways; failures
//! travel as values. Requests travel as JavaScript values (serde-wasm-bindgen: a picked
//! file's bytes go as one `Uint8Array`); replies as postcard bytes, decoded in one pass
//! (NaN and u64 survive both ways). serde-wasm-bindgen, which walks a JavaScript object
//! field by field across the wasm boundary, took about 0.5 s of the page's thread to read
//! one result (100 predictions) in headless Chromium on this machine.

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use super::engine::Results;
use crate::eval::Report;
use crate::model::{Layer, ModelInfo};
use crate::perturb::{Kind, Settings};
use crate::share::BackendChoice;

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Load the site's model (`model` from the link, else the default).
    Load {
        model: Option<String>,
        backend: BackendChoice,
        /// Evaluate this many of the images (spread evenly), or all.
        images: Option<usize>,
    },
    /// Load weights the user picked (files written by `lesion weights install`).
    LoadFiles(Vec<PickedFile>),
    /// Evaluate these settings (the newest wins). When idle, fill the per-layer charts for
    /// `chart` (one kind per layer) under the settings' seed.
    Evaluate {
        settings: Settings,
        chart: [Kind; 8],
    },
}

/// A file the user dropped or picked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PickedFile {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// One step of loading, for the progress bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: String,
    /// 0..=1, or None when the size is unknown.
    pub fraction: Option<f64>,
    pub detail: String,
}

/// What the page knows once a model is loaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub model: ModelInfo,
    pub backend: String,
    pub backend_is_gpu: bool,
    pub files: Vec<String>,
    pub labels: Vec<Option<usize>>,
    pub intact: Report,
    /// Time to classify every image with the intact model.
    pub eval_ms: f64,
    pub notices: Vec<String>,
}

/// One point of a layer's chart: relative top-1 with only `layer` damaged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    pub layer: Layer,
    pub kind: Kind,
    pub seed: u64,
    /// Slider position, 0..=100.
    pub step: u32,
    pub top1_rel: f64,
    pub agreement: f64,
}

/// What the worker tells the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The worker runs and takes requests.
    Ready,
    Progress(Progress),
    Loaded(Box<Meta>),
    /// Loading failed: nothing to evaluate.
    LoadFailed(String),
    Results(Box<Results>),
    Point(ChartPoint),
    /// An evaluation failed; the model stays loaded.
    EvalFailed(String),
    /// Something the page should say (e.g. a move from the GPU to the CPU).
    Notice(String),
    /// The worker hit an internal error and is gone.
    Crashed(String),
}

fn serializer() -> serde_wasm_bindgen::Serializer {
    // u64 seeds above 2^53 must survive: as BigInt.
    serde_wasm_bindgen::Serializer::new().serialize_large_number_types_as_bigints(true)
}

pub fn encode_request(request: &Request) -> Result<JsValue, String> {
    request
        .serialize(&serializer())
        .map_err(|e| format!("cannot encode a request: {e}"))
}

pub fn decode_request(value: JsValue) -> Result<Request, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("cannot read a request: {e}"))
}

pub fn encode_reply(reply: &Reply) -> Result<JsValue, String> {
    let bytes = postcard::to_allocvec(reply).map_err(|e| format!("cannot encode a reply: {e}"))?;
    Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
}

pub fn decode_reply(value: JsValue) -> Result<Reply, String> {
    let bytes = value
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| "cannot read a reply: it is not bytes".to_string())?
        .to_vec();
    postcard::from_bytes(&bytes).map_err(|e| format!("cannot read a reply: {e}"))
}
