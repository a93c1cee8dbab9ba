//! The worker's engine: one [`Session`] on one device, plus what the page is told about it.

use burn::prelude::Device;

use crate::eval::{Inside, Purpose, SampleSet, Session};
use crate::model::{Layer, ModelInfo, Weights};
use crate::perturb::Settings;
use crate::web::protocol::clock::{breathe, now_ms};
use crate::web::protocol::memory;
use crate::web::protocol::{Failure, LoadedModel, Results};

/// Where an engine runs, as the page is told.
#[derive(Debug, Clone)]
pub struct Placement {
    pub device: Device,
    pub label: String,
    pub on_gpu: bool,
}

/// A loaded model on its device, with the sample set in it.
pub struct Engine {
    session: Session,
    model: ModelInfo,
    placement: Placement,
    /// The sample images as fetched (encoded), to start again on another device.
    encoded: Vec<(String, Vec<u8>)>,
    eval_ms: f64,
}

impl Engine {
    /// Builds the session: classifies every image once with the intact model.
    pub async fn start(
        weights: Weights,
        encoded: Vec<(String, Vec<u8>)>,
        placement: Placement,
        progress: impl FnMut(usize, usize),
    ) -> Result<Self, Failure> {
        let set =
            SampleSet::from_encoded(encoded.clone(), "samples").map_err(|e| Failure::Invalid {
                file: "samples".into(),
                message: e.to_string(),
            })?;
        let start = now_ms();
        let model = weights.info().clone();
        let session = Session::new(weights, &set, placement.device.clone(), progress)
            .await
            .map_err(|e| engine_failure(placement.on_gpu, e))?;
        Ok(Engine {
            session,
            model,
            placement,
            encoded,
            eval_ms: now_ms() - start,
        })
    }

    /// The weights and images, to start again elsewhere (this engine is dropped).
    pub fn into_parts(self) -> (Weights, Vec<(String, Vec<u8>)>) {
        (self.session.weights(), self.encoded)
    }

    pub fn encoded(&self) -> &[(String, Vec<u8>)] {
        &self.encoded
    }

    pub fn describe(&self, notices: Vec<String>) -> LoadedModel {
        LoadedModel {
            model: self.model.clone(),
            device_label: self.placement.label.clone(),
            on_gpu: self.placement.on_gpu,
            shapes: Layer::ALL
                .iter()
                .map(|l| self.session.shape(*l).to_vec())
                .collect(),
            files: self.encoded.iter().map(|(f, _)| f.clone()).collect(),
            labels: self.session.labels().to_vec(),
            intact: self.session.intact().clone(),
            eval_ms: self.eval_ms,
            worker_memory: memory::wasm_bytes(),
            notices,
        }
    }

    /// Evaluates `settings`. Between batches it yields to the event loop and asks
    /// `still_wanted()`; when that says no, the work stops and `Ok(None)` comes back.
    /// `Purpose::Probe` (chart points) leaves the visitor's results and kept activations as
    /// they were.
    pub async fn evaluate(
        &mut self,
        settings: &Settings,
        purpose: Purpose,
        still_wanted: impl Fn() -> bool,
    ) -> Result<Option<Results>, Failure> {
        let start = now_ms();
        let between = || async {
            breathe().await;
            still_wanted()
        };
        let assessment = self
            .session
            .assess(settings, purpose, |_, _| {}, between)
            .await
            .map_err(|e| engine_failure(self.placement.on_gpu, e))?;
        Ok(assessment.map(|assessment| Results {
            assessment,
            ms: now_ms() - start,
            waited_ms: 0.0,
            arrived_at: 0.0,
            worker_memory: memory::wasm_bytes(),
        }))
    }
}

impl Engine {
    /// conv1's filters under `settings` and image `image`'s conv1 feature maps, intact and
    /// damaged (see `Session::look_inside`).
    pub async fn look_inside(&self, settings: &Settings, image: usize) -> Result<Inside, Failure> {
        self.session
            .look_inside(settings, image)
            .await
            .map_err(|e| engine_failure(self.placement.on_gpu, e))
    }
}

/// An engine error, as the page is told: on the GPU, a GPU failure.
fn engine_failure(on_gpu: bool, error: crate::LesionError) -> Failure {
    if on_gpu {
        Failure::Gpu(error.to_string())
    } else {
        Failure::Engine(error.to_string())
    }
}
