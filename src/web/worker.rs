//! The evaluation worker: owns the engine, takes typed requests from the page and answers
//! with typed replies. The newest settings win: a running evaluation stops between
//! batches when newer settings arrive. When idle it fills the per-layer charts.

use std::cell::RefCell;
use std::collections::BTreeSet;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::engine::Engine;
use super::loader::{self, Loaded};
use super::protocol::{self, ChartPoint, PickedFile, Reply, Request};
use crate::eval::Purpose;
use crate::model::Layer;
use crate::perturb::{Damage, Kind, Settings};
use crate::share::BackendChoice;

/// Slider positions the charts are drawn at (percent of the slider's range).
pub const CHART_STEPS: [u32; 10] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

type ChartKey = (Layer, Kind, u64, u32);

#[derive(Default)]
struct State {
    /// The engine, when loaded and not lent to the running task.
    engine: Option<Engine>,
    /// A newly loaded engine, to replace the current one between evaluations.
    pending: Option<Engine>,
    /// The settings the page wants and the kind to chart per layer.
    wanted: Option<(Settings, [Kind; 8])>,
    /// Bumped by every request that makes running work stale.
    version: u64,
    /// The settings whose results were sent last.
    shown: Option<Settings>,
    charted: BTreeSet<ChartKey>,
    running: bool,
    /// The sample images as fetched and where the model was asked to run.
    samples: Option<Vec<(String, Vec<u8>)>>,
    backend: BackendChoice,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn post(reply: &Reply) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let sent = protocol::encode_reply(reply).and_then(|value| {
        scope
            .post_message(&value)
            .map_err(|e| format!("cannot send a reply: {e:?}"))
    });
    if let Err(message) = sent {
        // Say so in the page rather than only in the console.
        if let Ok(value) = protocol::encode_reply(&Reply::Notice(format!("internal: {message}"))) {
            let _ = scope.post_message(&value);
        }
    }
}

/// Starts listening for requests, then says so.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(&Reply::Crashed(info.to_string()));
    }));
    let onmessage =
        Closure::<dyn FnMut(MessageEvent)>::new(
            |event: MessageEvent| match protocol::decode_request(event.data()) {
                Ok(request) => handle(request),
                Err(message) => post(&Reply::EvalFailed(message)),
            },
        );
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    post(&Reply::Ready);
}

fn handle(request: Request) {
    match request {
        Request::Load {
            model,
            backend,
            images,
        } => {
            STATE.with_borrow_mut(|s| s.backend = backend);
            wasm_bindgen_futures::spawn_local(async move {
                let report = |p| post(&Reply::Progress(p));
                let loaded = loader::load(model, backend, images, report).await;
                match loaded {
                    Ok(loaded) => install(loaded),
                    Err(message) => post(&Reply::LoadFailed(message)),
                }
            });
        }
        Request::LoadFiles(files) => {
            wasm_bindgen_futures::spawn_local(load_files(files));
        }
        Request::Evaluate { settings, chart } => {
            STATE.with_borrow_mut(|s| {
                s.wanted = Some((settings, chart));
                s.version += 1;
            });
            kick();
        }
    }
}

async fn load_files(files: Vec<PickedFile>) {
    let files: Vec<(String, Vec<u8>)> = files.into_iter().map(|f| (f.name, f.bytes)).collect();
    let weights = match loader::weights_from_files(&files) {
        Ok(weights) => weights,
        Err(message) => return post(&Reply::LoadFailed(message)),
    };
    drop(files);
    let (samples, backend) = STATE.with_borrow(|s| (s.samples.clone(), s.backend));
    let Some(samples) = samples else {
        return post(&Reply::LoadFailed(
            "the sample images are not loaded yet; try again in a moment".into(),
        ));
    };
    let notices = vec![format!(
        "Loaded {} from your computer. Links from this page open the site's own model: your file stays in this browser.",
        weights.info.name
    )];
    let report = |p| post(&Reply::Progress(p));
    let largest = loader::largest_layer(&weights);
    match loader::start(weights, largest, backend, samples, notices, &report).await {
        Ok(loaded) => install(loaded),
        Err(message) => post(&Reply::LoadFailed(message)),
    }
}

/// Announces a loaded engine and puts it to work (after the running evaluation stops).
fn install(loaded: Loaded) {
    post(&Reply::Loaded(Box::new(loaded.engine.meta(loaded.notices))));
    STATE.with_borrow_mut(|s| {
        s.samples = Some(loaded.engine.encoded.clone());
        s.pending = Some(loaded.engine);
        s.version += 1;
    });
    kick();
}

fn kick() {
    let start = STATE.with_borrow_mut(|s| {
        let idle = !s.running && (s.engine.is_some() || s.pending.is_some());
        if idle {
            s.running = true;
        }
        idle
    });
    if start {
        wasm_bindgen_futures::spawn_local(run());
    }
}

enum Job {
    /// The page's settings.
    Show(Settings),
    /// One chart point: only this layer damaged.
    Chart(ChartKey),
}

fn next_job(s: &State) -> Option<Job> {
    let (settings, chart) = s.wanted.as_ref()?;
    if s.shown.as_ref() != Some(settings) {
        return Some(Job::Show(settings.clone()));
    }
    Layer::ALL.iter().enumerate().rev().find_map(|(i, &layer)| {
        CHART_STEPS
            .iter()
            .map(|&step| (layer, chart[i], settings.seed, step))
            .find(|key| !s.charted.contains(key))
            .map(Job::Chart)
    })
}

fn still_current(version: u64) -> bool {
    STATE.with_borrow(|s| s.version == version && s.pending.is_none())
}

/// Works until nothing is wanted: the page's settings first, then chart points.
async fn run() {
    loop {
        let next = STATE.with_borrow_mut(|s| {
            if let Some(engine) = s.pending.take() {
                s.engine = Some(engine);
                s.shown = None;
                s.charted.clear();
            }
            let job = next_job(s)?;
            Some((job, s.engine.take()?, s.version))
        });
        let Some((job, mut engine, version)) = next else {
            break;
        };
        match job {
            Job::Show(settings) => {
                let outcome = engine
                    .evaluate(&settings, Purpose::Show, || still_current(version))
                    .await;
                match outcome {
                    Ok(Some(results)) => {
                        STATE.with_borrow_mut(|s| s.shown = Some(settings));
                        post(&Reply::Results(Box::new(results)));
                    }
                    Ok(None) => {}
                    Err(message) => {
                        if engine.backend_is_gpu {
                            STATE.with_borrow_mut(|s| s.running = false);
                            return move_to_cpu(engine, message).await;
                        }
                        STATE.with_borrow_mut(|s| s.shown = Some(settings));
                        post(&Reply::EvalFailed(message));
                    }
                }
            }
            Job::Chart(key) => {
                let (layer, kind, seed, step) = key;
                let mut settings = Settings {
                    seed,
                    ..Settings::default()
                };
                if let Ok(damage) = Damage::new(kind, kind.slider_amount(step)) {
                    settings.layers.insert(layer, damage);
                }
                let outcome = engine
                    .evaluate(&settings, Purpose::Probe, || still_current(version))
                    .await;
                match outcome {
                    Ok(Some(results)) => {
                        STATE.with_borrow_mut(|s| s.charted.insert(key));
                        post(&Reply::Point(ChartPoint {
                            layer,
                            kind,
                            seed,
                            step,
                            top1_rel: results.comparison.top1_rel,
                            agreement: results.comparison.agreement,
                        }));
                    }
                    Ok(None) => {}
                    Err(message) => {
                        // Charts are extras: mark the point done and say why it is missing.
                        STATE.with_borrow_mut(|s| s.charted.insert(key));
                        post(&Reply::Notice(format!("A chart point failed: {message}")));
                    }
                }
            }
        }
        STATE.with_borrow_mut(|s| s.engine = Some(engine));
    }
    STATE.with_borrow_mut(|s| s.running = false);
}

/// The GPU failed mid-evaluation (e.g. the device was lost): start again on the CPU with
/// the same weights and images; the page keeps its settings and asks again.
async fn move_to_cpu(engine: Engine, message: String) {
    let weights = engine.session.weights().clone();
    let encoded = engine.encoded.clone();
    drop(engine);
    let largest = loader::largest_layer(&weights);
    let notices = vec![format!(
        "The GPU stopped working ({message}); lesion moved to the CPU and kept your settings."
    )];
    STATE.with_borrow_mut(|s| s.backend = BackendChoice::Cpu);
    let report = |p| post(&Reply::Progress(p));
    let cpu = BackendChoice::Cpu;
    match loader::start(weights, largest, cpu, encoded, notices, &report).await {
        Ok(loaded) => install(loaded),
        Err(message) => post(&Reply::LoadFailed(message)),
    }
}
