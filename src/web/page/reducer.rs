//! What each reply from the worker does to the page: plain Rust, tested natively. The
//! store applies the returned effects (messages to send, a worker to start again).

use super::state::{Loading, PageState, Phase};
use crate::web::protocol::{
    Envelope, Failure, Progress, Reply, Request, Results, after_gpu_failure,
};

/// Something the reducer wants done outside the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Request),
    /// Stop the worker and start a new one (it says `Ready`, and loading starts again).
    Respawn,
}

/// Applies one reply at time `now` (the page's clock, ms).
pub fn on_reply(state: &mut PageState, envelope: Envelope, now: f64) -> Vec<Effect> {
    let Envelope { generation, reply } = envelope;
    let stale = generation != state.generation;
    match reply {
        Reply::StartFailed(message) => {
            let failure =
                Failure::Engine(format!("the evaluation worker could not start: {message}"));
            state.phase = Phase::Failed(failure);
            vec![]
        }
        Reply::Ready => {
            state.worker_ready = true;
            state.loading = Some(Loading::Site);
            vec![Effect::Send(state.load_request())]
        }
        Reply::Progress(progress) => {
            on_progress(state, progress);
            vec![]
        }
        Reply::Loaded(model) => {
            state.generation = generation;
            state.loading = None;
            state.notices.extend(model.notices.iter().cloned());
            state.results = None;
            state.charts.clear();
            state.selected = None;
            state.inside = None;
            state.pinned_results = None;
            state.file_status = None;
            state.phase = Phase::Ready(model);
            vec![Effect::Send(state.ask(now))]
        }
        Reply::LoadFailed(failure) => {
            on_load_failed(state, failure);
            vec![]
        }
        // Whatever a replaced engine computed belongs to another model: dropped.
        Reply::Results(_)
        | Reply::Point(_)
        | Reply::Pinned(_)
        | Reply::Inside(_)
        | Reply::EvalFailed(_)
            if stale =>
        {
            vec![]
        }
        Reply::Pinned(results) => {
            state.on_pinned(*results);
            vec![]
        }
        Reply::Inside(inside) => {
            state.inside = Some(*inside);
            vec![]
        }
        Reply::Results(results) => {
            on_results(state, *results, now);
            vec![]
        }
        Reply::Point(point) => {
            let chart = (point.layer, point.kind, point.seed);
            let points = state.charts.entry(chart).or_default();
            let value = super::state::ChartValue {
                rel: point.top1_rel,
                lo: point.top1_rel_ci.lo,
                hi: point.top1_rel_ci.hi,
            };
            points.insert(point.position, value);
            vec![]
        }
        Reply::EvalFailed(failure) => on_eval_failed(state, failure),
        Reply::AskToDownload(download) => {
            state.loading = None;
            state.phase = Phase::Asking(download);
            vec![]
        }
        Reply::Forgotten(outcome) => {
            state.notices.push(super::text::forgotten(&outcome));
            vec![]
        }
        Reply::Notice(notice) => {
            state.notices.push(notice);
            vec![]
        }
        Reply::Crashed(message) => on_crash(state, &message),
    }
}

fn on_progress(state: &mut PageState, progress: Progress) {
    if state.is_ready() {
        state.file_status = Some(format!("{} {}", progress.title, progress.detail));
    } else {
        state.phase = Phase::Loading(progress);
    }
}

fn on_load_failed(state: &mut PageState, failure: Failure) {
    let loading = state.loading.take();
    if state.is_ready() && loading != Some(Loading::MoveToCpu) {
        // A picked file was refused: the model on screen stays.
        state.file_status = Some(failure.to_string());
    } else {
        state.computing = false;
        state.phase = Phase::Failed(failure);
    }
}

fn on_results(state: &mut PageState, results: Results, now: f64) {
    let current = *results.settings() == state.settings;
    if current {
        state.latency = Some(now - state.asked_at);
        state.to_worker = Some(results.arrived_at - state.asked_at);
    }
    state.results = Some(results);
    state.computing = !current;
}

fn on_eval_failed(state: &mut PageState, failure: Failure) -> Vec<Effect> {
    let on_gpu = state.model().is_some_and(|m| m.on_gpu);
    let gpu_failed = matches!(failure, Failure::Gpu(_));
    if let Some(notice) = after_gpu_failure(on_gpu && gpu_failed, &failure.to_string()) {
        state.backend = crate::share::BackendChoice::Cpu;
        state.loading = Some(Loading::MoveToCpu);
        state.computing = false;
        state.phase = Phase::Loading(Progress::new("Moving to the CPU", None, ""));
        return vec![Effect::Send(Request::MoveToCpu { notice })];
    }
    state.failure = Some(failure);
    state.computing = false;
    vec![]
}

fn on_crash(state: &mut PageState, message: &str) -> Vec<Effect> {
    if !state.worker_ready {
        // Its script or its WebAssembly never started: another try on the CPU would fail
        // the same way.
        let failure = Failure::Engine(format!("the evaluation worker could not start: {message}"));
        state.phase = Phase::Failed(failure);
        return vec![];
    }
    let on_gpu = match state.model() {
        Some(model) => model.on_gpu,
        None => state.backend != crate::share::BackendChoice::Cpu,
    };
    match after_gpu_failure(on_gpu, message) {
        Some(notice) => {
            // Most likely the GPU: start over on the CPU; the settings stay as they are.
            state.notices.push(notice);
            state.backend = crate::share::BackendChoice::Cpu;
            state.computing = false;
            state.phase = Phase::Loading(Progress::new("Restarting on the CPU", None, ""));
            state.worker_ready = false;
            vec![Effect::Respawn]
        }
        None => {
            let failure =
                Failure::Engine(format!("lesion stopped with an internal error: {message}"));
            state.computing = false;
            state.phase = Phase::Failed(failure);
            vec![]
        }
    }
}
