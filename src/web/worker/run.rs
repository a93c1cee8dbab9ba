//! The worker's event loop: requests in, replies out, one job at a time. Each engine it
//! installs gets the next generation, and every reply names the generation it belongs to.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::engine::Engine;
use super::loader::{self, Loaded, Outcome};
use super::scheduler::{Job, Scheduler, Ticket};
use crate::eval::Purpose;
use crate::share::BackendChoice;
use crate::web::protocol::clock::{epoch_ms, now_ms, sleep};
use crate::web::protocol::{ChartPoint, Envelope, Failure, PickedFile, Reply, Request, codec};

#[derive(Default)]
struct WorkerState {
    /// The engine, when loaded and not lent to the running job.
    engine: Option<Engine>,
    /// A newly loaded engine, to replace the current one between jobs.
    pending: Option<Engine>,
    /// An engine whose GPU failed: unused until the page asks to move it to the CPU.
    broken: Option<Engine>,
    scheduler: Scheduler,
    /// The generation of the newest installed engine (0: none yet).
    generation: u64,
    /// Bumped by every load request: only the newest load is installed.
    load: u64,
    running: bool,
    /// The sample images as fetched, for weights picked later.
    samples: Option<Vec<(String, Vec<u8>)>>,
    backend: BackendChoice,
    /// When the page's last request arrived: this scope's clock and the one it shares
    /// with the page (`clock::epoch_ms`).
    arrived: Option<(f64, f64)>,
}

thread_local! {
    static STATE: RefCell<WorkerState> = RefCell::new(WorkerState::default());
}

fn post_as(generation: u64, reply: Reply) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let sent = codec::encode_reply(&Envelope { generation, reply }).and_then(|value| {
        scope
            .post_message(&value)
            .map_err(|e| Failure::Protocol(format!("cannot send a reply: {e:?}")))
    });
    if let Err(failure) = sent {
        // Say so in the page rather than only in the console.
        let notice = Reply::Notice(format!("internal: {failure}"));
        if let Ok(value) = codec::encode_reply(&Envelope {
            generation,
            reply: notice,
        }) {
            let _ = scope.post_message(&value);
        }
    }
}

/// Replies that belong to no engine in particular.
fn post(reply: Reply) {
    post_as(0, reply)
}

/// Starts listening for requests, then says so.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(Reply::Crashed(info.to_string()));
    }));
    let onmessage =
        Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| match codec::decode_request(
            event.data(),
        ) {
            Ok((request, beside)) => handle(request, beside),
            Err(failure) => post(Reply::EvalFailed(failure)),
        });
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    post(Reply::Ready);
}

fn handle(request: Request, beside: Option<JsValue>) {
    match request {
        Request::Load {
            model,
            backend,
            images,
            download_agreed,
        } => {
            let ticket = STATE.with_borrow_mut(|s| {
                s.backend = backend;
                s.load += 1;
                s.load
            });
            wasm_bindgen_futures::spawn_local(async move {
                let report = |p| post(Reply::Progress(p));
                let loaded = loader::load(model, backend, images, download_agreed, report).await;
                finish_load(ticket, loaded);
            });
        }
        Request::LoadFiles(files) => {
            let ticket = STATE.with_borrow_mut(|s| {
                s.load += 1;
                s.load
            });
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = load_files(files, beside).await;
                finish_load(ticket, loaded.map(Outcome::from));
            });
        }
        Request::MoveToCpu { notice } => move_to_cpu(notice),
        Request::ForgetWeights => wasm_bindgen_futures::spawn_local(async {
            post(Reply::Forgotten(super::fetch::forget_all().await));
        }),
        Request::Evaluate {
            settings,
            kinds,
            first,
            inspect,
            pinned,
        } => {
            STATE.with_borrow_mut(|s| {
                s.scheduler.want(settings, kinds, first, inspect, pinned);
                s.scheduler.asked_at(now_ms());
                s.arrived = Some((now_ms(), epoch_ms()));
            });
            kick();
        }
    }
}

/// Installs a finished load, unless a newer load was asked for meanwhile (the last one
/// asked for wins, not the last to finish).
fn finish_load(ticket: u64, loaded: Result<Outcome, Failure>) {
    if STATE.with_borrow(|s| s.load != ticket) {
        return;
    }
    match loaded {
        Ok(Outcome::Loaded(loaded)) => install(*loaded),
        Ok(Outcome::Ask(download)) => post(Reply::AskToDownload(download)),
        Err(failure) => post(Reply::LoadFailed(failure)),
    }
}

/// Reads each picked `File` (sent beside the request) once, after checking its size.
async fn read_picked(
    files: Vec<PickedFile>,
    beside: Option<JsValue>,
) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let handles = js_sys::Array::from(&beside.unwrap_or(JsValue::UNDEFINED));
    let mut read = Vec::with_capacity(files.len());
    for (i, picked) in files.into_iter().enumerate() {
        picked.check_size()?;
        let unreadable = |why: &str| Failure::Invalid {
            file: crate::text::shorten(&picked.name, 80),
            message: format!("could not be read ({why})"),
        };
        let file: web_sys::File = handles
            .get(i as u32)
            .dyn_into()
            .map_err(|_| unreadable("it did not reach the worker"))?;
        let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
            .await
            .map_err(|_| unreadable("the browser refused"))?;
        read.push((picked.name, js_sys::Uint8Array::new(&buffer).to_vec()));
    }
    Ok(read)
}

async fn load_files(files: Vec<PickedFile>, beside: Option<JsValue>) -> Result<Loaded, Failure> {
    let files = read_picked(files, beside).await?;
    let weights = super::picked::weights_from_files(&files)?;
    drop(files);
    let (samples, backend) = STATE.with_borrow(|s| (s.samples.clone(), s.backend));
    let samples = samples.ok_or_else(|| {
        Failure::Engine("the sample images are not loaded yet; try again in a moment".into())
    })?;
    let notices = vec![format!(
        "Loaded {} from your computer. Links from this page open the site's own model: your file stays in this browser.",
        weights.info().name
    )];
    let report = |p| post(Reply::Progress(p));
    loader::start(weights, backend, samples, notices, &report).await
}

/// Announces a loaded engine under a new generation and puts it to work (once the running
/// job stops).
fn install(loaded: Loaded) {
    let generation = STATE.with_borrow_mut(|s| {
        s.generation += 1;
        s.samples = Some(loaded.engine.encoded().to_vec());
        s.generation
    });
    post_as(
        generation,
        Reply::Loaded(Box::new(loaded.engine.describe(loaded.notices))),
    );
    STATE.with_borrow_mut(|s| {
        s.pending = Some(loaded.engine);
        s.scheduler.engine_replaced(generation);
    });
    kick();
}

fn kick() {
    let start = STATE.with_borrow_mut(|s| {
        let idle = !s.running && (s.engine.is_some() || s.pending.is_some());
        s.running |= idle;
        idle
    });
    if start {
        wasm_bindgen_futures::spawn_local(work());
    }
}

/// What the work loop does next.
enum Next {
    Run(Job, Ticket, Box<Engine>),
    /// An extra that must wait this long (ms) for the visitor to pause.
    Wait(f64),
    Idle,
}

/// Works until nothing is wanted: the page's settings first, then chart points. When the
/// next job must wait ([`Scheduler::wait_before`]), the loop stops and a timer starts it
/// again, so that a request arriving meanwhile starts at once.
async fn work() {
    loop {
        let next = STATE.with_borrow_mut(|s| {
            if let Some(engine) = s.pending.take() {
                s.engine = Some(engine);
            }
            let Some((job, ticket)) = s.scheduler.next() else {
                return Next::Idle;
            };
            if let Some(ms) = s.scheduler.wait_before(&job, now_ms()) {
                return Next::Wait(ms);
            }
            match s.engine.take() {
                Some(engine) => Next::Run(job, ticket, Box::new(engine)),
                None => Next::Idle,
            }
        });
        let (job, ticket, mut engine) = match next {
            Next::Run(job, ticket, engine) => (job, ticket, *engine),
            Next::Wait(ms) => {
                wasm_bindgen_futures::spawn_local(async move {
                    sleep(ms.ceil() as u32).await;
                    kick();
                });
                break;
            }
            Next::Idle => break,
        };
        let still_wanted =
            || STATE.with_borrow(|s| s.scheduler.is_current(ticket) && s.pending.is_none());
        let outcome = match &job {
            Job::Show(_) | Job::Pinned(_) | Job::Chart(_) => {
                let purpose = if matches!(job, Job::Show(_)) {
                    Purpose::Show
                } else {
                    Purpose::Probe
                };
                let settings = job.settings();
                let (arrived, arrived_at) = STATE.with_borrow(|s| s.arrived).unwrap_or_default();
                let waited = now_ms() - arrived;
                let outcome = engine.evaluate(&settings, purpose, still_wanted).await;
                outcome.map(|r| {
                    r.map(|mut results| {
                        (results.waited_ms, results.arrived_at) = (waited, arrived_at);
                        Done::Results(Box::new(results))
                    })
                })
            }
            Job::Inside((_, image)) => {
                let inside = engine.look_inside(&job.settings(), *image).await;
                inside.map(|inside| Some(Done::Inside(Box::new(inside))))
            }
        };
        let publish = match outcome {
            Ok(None) => false,
            Ok(Some(_)) | Err(_) => STATE.with_borrow_mut(|s| s.scheduler.done(&job, ticket)),
        };
        let gpu_failed = matches!(outcome, Err(Failure::Gpu(_)));
        STATE.with_borrow_mut(|s| {
            // An engine replaced meanwhile is dropped here; a current one goes back, or
            // aside when its GPU failed (the page then decides what happens).
            if s.generation == ticket.generation {
                if gpu_failed {
                    s.broken = Some(engine);
                } else {
                    s.engine = Some(engine);
                }
            }
        });
        if publish {
            reply_for(job, ticket.generation, outcome);
        }
    }
    STATE.with_borrow_mut(|s| s.running = false);
}

/// What a finished job found.
enum Done {
    Results(Box<crate::web::protocol::Results>),
    Inside(Box<crate::eval::Inside>),
}

/// Sends what a finished job found.
fn reply_for(job: Job, generation: u64, outcome: Result<Option<Done>, Failure>) {
    let reply = match (job, outcome) {
        (_, Ok(None)) => return,
        (_, Ok(Some(Done::Inside(inside)))) => Reply::Inside(inside),
        (Job::Show(_), Ok(Some(Done::Results(results)))) => Reply::Results(results),
        (Job::Show(_), Err(failure)) => Reply::EvalFailed(failure),
        (Job::Pinned(_), Ok(Some(Done::Results(results)))) => Reply::Pinned(results),
        (Job::Chart((layer, kind, seed, position)), Ok(Some(Done::Results(results)))) => {
            let comparison = &results.assessment.comparison;
            Reply::Point(ChartPoint {
                layer,
                kind,
                seed,
                position,
                top1_rel: comparison.top1_rel,
                top1_rel_ci: comparison.top1_rel_ci,
                agreement: comparison.agreement,
            })
        }
        (Job::Inside(_), Ok(Some(Done::Results(_)))) => unreachable!("a look inside draws"),
        // The GPU failing is news whatever it was computing.
        (_, Err(failure @ Failure::Gpu(_))) => Reply::EvalFailed(failure),
        // Charts and pictures are extras: they stay missing, and the page says why.
        (Job::Chart(_), Err(failure)) => Reply::Notice(format!("A chart point failed: {failure}")),
        (Job::Pinned(_), Err(failure)) => {
            Reply::Notice(format!("The pinned result could not be computed: {failure}"))
        }
        (Job::Inside(_), Err(failure)) => {
            Reply::Notice(format!("The look inside conv1 failed: {failure}"))
        }
    };
    post_as(generation, reply);
}

/// The page decided to leave the GPU (see `protocol::after_gpu_failure`): start the
/// current model again on the CPU with the same weights and images.
fn move_to_cpu(notice: String) {
    let engine = STATE.with_borrow_mut(|s| {
        s.backend = BackendChoice::Cpu;
        s.load += 1;
        let engine = s
            .broken
            .take()
            .or_else(|| s.pending.take())
            .or_else(|| s.engine.take());
        engine.map(|e| (e, s.load))
    });
    let Some((engine, ticket)) = engine else {
        return post(Reply::LoadFailed(Failure::Engine(
            "there is no model to move to the CPU (it is still busy or was never loaded); reload the page".into(),
        )));
    };
    wasm_bindgen_futures::spawn_local(async move {
        let (weights, encoded) = engine.into_parts();
        let report = |p| post(Reply::Progress(p));
        let cpu = BackendChoice::Cpu;
        let loaded = loader::start(weights, cpu, encoded, vec![notice], &report).await;
        finish_load(ticket, loaded.map(Outcome::from));
    });
}
