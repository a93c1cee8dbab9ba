//! The messages between the page and its evaluation worker, typed both ways. They travel
//! as JavaScript values (serde-wasm-bindgen: NaN stays NaN); failures travel as values.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use super::engine::Results;
use crate::eval::Report;
use crate::model::{Layer, ModelInfo};
use crate::perturb::{Kind, Settings};

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Load the site's model (`model` from the link, else the default).
    Load {
        model: Option<String>,
        force_cpu: bool,
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

pub fn encode<T: Serialize>(message: &T) -> Result<JsValue, String> {
    message
        .serialize(&serializer())
        .map_err(|e| format!("cannot encode a message: {e}"))
}

pub fn decode<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("cannot read a message: {e}"))
}
