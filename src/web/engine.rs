//! The worker's engine: one Session plus what the results view needs. Requests and
//! results are plain data (they travel as messages, see `protocol`).

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use super::protocol::Meta;
use crate::eval::{Comparison, Purpose, Report, SampleSet, Session};
use crate::model::{Layer, ModelInfo};
use crate::perturb::Settings;

/// Everything the results view shows for one setting. Plain data, computed by the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub settings: Settings,
    pub report: Report,
    pub comparison: Comparison,
    /// Wall time of the evaluation (0 when the result was remembered).
    pub ms: f64,
    /// The first layer that was re-run; `None` when the result was remembered.
    pub rerun_from: Option<Layer>,
}

/// A loaded model on its backend, with the sample set in it.
pub struct Engine {
    pub session: Session,
    pub model: ModelInfo,
    pub backend: String,
    pub backend_is_gpu: bool,
    /// The sample images as fetched (encoded), to start again on another device.
    pub encoded: Vec<(String, Vec<u8>)>,
    pub labels: Vec<Option<usize>>,
    pub intact: Report,
    pub eval_ms: f64,
}

fn global() -> js_sys::Object {
    js_sys::global()
}

/// Milliseconds from the page's or the worker's clock.
pub fn now_ms() -> f64 {
    js_sys::Reflect::get(&global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            let now: &js_sys::Function = wasm_bindgen::JsCast::dyn_ref(&now)?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or(0.0)
}

/// Resolves after the event loop has run: in the worker, newer requests are read then.
/// Where the browser has `scheduler.postTask`, the evaluation resumes at background
/// priority, so a request that is already waiting is handled first; else `setTimeout(0)`.
pub async fn breathe() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let scope = global();
        let get = |v: &JsValue, key: &str| {
            js_sys::Reflect::get(v, &JsValue::from_str(key))
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        let function = |v: JsValue| v.dyn_into::<js_sys::Function>().ok();
        if let Some(scheduler) = get(&scope, "scheduler")
            && let Some(post_task) = get(&scheduler, "postTask").and_then(function)
        {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"priority".into(), &"background".into());
            if post_task.call2(&scheduler, &resolve, &options).is_ok() {
                return;
            }
        }
        if let Some(set_timeout) = get(&scope, "setTimeout").and_then(function) {
            let _ = set_timeout.call2(&scope, &resolve, &0.into());
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

impl Engine {
    /// Builds the session: classifies every image once with the intact model.
    pub async fn start(
        weights: crate::model::Weights,
        encoded: Vec<(String, Vec<u8>)>,
        device: Device,
        backend: String,
        backend_is_gpu: bool,
        progress: impl FnMut(usize, usize),
    ) -> Result<Self, String> {
        let set = SampleSet::from_encoded(encoded.clone(), "samples").map_err(|e| e.to_string())?;
        let start = now_ms();
        let model = weights.info.clone();
        let session = Session::new(weights, &set, device, progress)
            .await
            .map_err(|e| e.to_string())?;
        let labels = set.labels();
        let intact = Report::new(session.logits(), &labels);
        Ok(Engine {
            session,
            model,
            backend,
            backend_is_gpu,
            encoded,
            labels,
            intact,
            eval_ms: now_ms() - start,
        })
    }

    pub fn meta(&self, notices: Vec<String>) -> Meta {
        Meta {
            model: self.model.clone(),
            backend: self.backend.clone(),
            backend_is_gpu: self.backend_is_gpu,
            files: self.encoded.iter().map(|(f, _)| f.clone()).collect(),
            labels: self.labels.clone(),
            intact: self.intact.clone(),
            eval_ms: self.eval_ms,
            notices,
        }
    }

    /// Evaluates `settings`. Between batches it yields to the event loop and asks
    /// `still_wanted()`; when that says no, the work stops and `Ok(None)` comes back.
    /// `Purpose::Probe` (chart points) leaves the session as it was.
    pub async fn evaluate(
        &mut self,
        settings: &Settings,
        purpose: Purpose,
        still_wanted: impl Fn() -> bool,
    ) -> Result<Option<Results>, String> {
        let start = now_ms();
        let between = || async {
            breathe().await;
            still_wanted()
        };
        let outcome = self
            .session
            .evaluate_with(settings, purpose, |_, _| {}, between)
            .await
            .map_err(|e| e.to_string())?;
        let Some(outcome) = outcome else {
            return Ok(None);
        };
        let report = Report::new(&outcome.logits, &self.labels);
        let comparison = Comparison::new(&report, &self.intact);
        Ok(Some(Results {
            settings: settings.clone(),
            report,
            comparison,
            ms: now_ms() - start,
            rerun_from: outcome.rerun_from,
        }))
    }
}
