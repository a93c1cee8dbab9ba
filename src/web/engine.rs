//! The page's view of the engine: one Session plus what the results view needs, with
//! plain-data requests and results (the shape of messages, should it move to a worker).

use crate::eval::{Comparison, Report, Session};
use crate::model::{Layer, ModelInfo};
use crate::perturb::Settings;

/// Everything the results view shows for one setting. Plain data, computed by the engine.
#[derive(Debug, Clone)]
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
    pub files: Vec<String>,
    pub labels: Vec<Option<usize>>,
    pub intact: Report,
}

pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// Resolves after the browser has had a chance to handle input and paint.
pub async fn breathe() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

impl Engine {
    /// Evaluates `settings`. Between batches it yields to the browser and asks
    /// `still_wanted()`; when that says no, the work stops and `Ok(None)` comes back.
    pub async fn evaluate(
        &mut self,
        settings: &Settings,
        still_wanted: impl Fn() -> bool,
    ) -> Result<Option<Results>, String> {
        let start = now_ms();
        let outcome = self
            .session
            .evaluate_with(
                settings,
                |_, _| {},
                || {
                    let wanted = still_wanted();
                    async move {
                        breathe().await;
                        wanted
                    }
                },
            )
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
