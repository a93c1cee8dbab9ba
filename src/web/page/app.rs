//! The page's frame: the header, and the view for each phase (loading, ready, failed).

use leptos::prelude::*;

use super::compare::Compare;
use super::controls::Controls;
use super::figure_view::PaperFigure;
use super::guide::{Intro, TryThis};
use super::images::ImageGrid;
use super::model_input::{ModelBadge, SubsetChoice};
use super::inside_view::LookInside;
use super::results::Numbers;
use super::state::Phase;
use super::store::Store;
use super::text;
use crate::share;
use crate::web::protocol::{Download, Failure, LoadedModel, Progress, Request};

fn current_query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

#[component]
pub fn App() -> impl IntoView {
    let store = Store::provide(share::parse(&current_query()));
    let phase = store.read(|s| s.phase.clone());
    view! {
        <header class="top">
            <h1>"lesion"</h1>
            <p class="tagline">"Damage a real ImageNet-trained AlexNet and watch it fail."</p>
        </header>
        <main>
            {move || match phase.get() {
                Phase::Loading(progress) => view! { <LoadingView progress /> }.into_any(),
                Phase::Asking(download) => view! { <AskView download /> }.into_any(),
                Phase::Ready(model) => view! { <Workbench model=*model /> }.into_any(),
                Phase::Failed(failure) => view! { <ErrorView failure /> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn LoadingView(progress: Progress) -> impl IntoView {
    let percent = progress.fraction.map(|f| (f * 100.0).clamp(0.0, 100.0));
    let bar = match percent {
        Some(p) => view! { <progress max="100" value=format!("{p:.1}")></progress> }.into_any(),
        None => view! { <progress></progress> }.into_any(),
    };
    view! {
        <section class="loading" aria-live="polite" data-state="loading">
            <h2>{progress.title}</h2>
            {bar}
            <p class="detail">{progress.detail}</p>
        </section>
    }
}

/// Before a large download: what it is, and a button to start it.
#[component]
fn AskView(download: Download) -> impl IntoView {
    let store = Store::get();
    let question = text::download_question(&download);
    let label = format!("Download {}", crate::text::mb(download.missing));
    view! {
        <section class="loading ask" data-state="ask">
            <h2>"Download the weights?"</h2>
            <p id="download-question">{question}</p>
            <button id="download" autofocus on:click=move |_| store.agree_to_download()>{label}</button>
        </section>
    }
}

#[component]
fn ErrorView(failure: Failure) -> impl IntoView {
    let reload = |_| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    };
    view! {
        <section class="error" role="alert" data-state="error">
            <h2>"lesion could not start"</h2>
            <p class="error-kind">{failure.heading()}</p>
            <p id="error-message">{failure.to_string()}</p>
            <button id="retry" on:click=reload>"Try again"</button>
        </section>
    }
}

#[component]
fn Workbench(model: LoadedModel) -> impl IntoView {
    let store = Store::get();
    let notices = store.read(|s| s.notices.clone());
    let on_gpu = model.on_gpu;
    let device_line = text::device_line(&model);
    let model = StoredValue::new(model);
    view! {
        <section class="workbench" data-state="ready">
            <div class="status-bar">
                <ModelBadge model=model.with_value(|m| m.model.clone()) />
                <p class="backend" id="backend" data-gpu=on_gpu.to_string()>{device_line}</p>
                {(!on_gpu).then(|| view! { <SubsetChoice /> })}
                <button id="forget-weights" class="quiet" on:click=move |_| store.send(&Request::ForgetWeights)
                    title="Remove the weights this browser keeps for the site (the next visit downloads them again)">
                    "Forget downloaded weights"
                </button>
                <ul class="notices" aria-live="polite">
                    {move || notices.get().into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
                </ul>
            </div>
            <div class="guide">
                <Intro />
                <TryThis />
            </div>
            <div class="layout">
                // First, so that on a narrow screen the numbers stay in view (sticky) over
                // the network's controls as well as the rest.
                <div class="headline">
                    <Status />
                    <Numbers intact=model.with_value(|m| m.intact.clone()) />
                </div>
                <Controls />
                <div class="output">
                    <PaperFigure />
                    <Compare model />
                    <LookInside model />
                    <ImageGrid model />
                </div>
            </div>
        </section>
    }
}

/// The status line: computing, updated (and how), remembered, or why it failed.
#[component]
fn Status() -> impl IntoView {
    let store = Store::get();
    let computing = store.read(|s| s.computing);
    // Milliseconds as the attributes below give them: whole, or empty when unknown.
    let whole = |ms: Option<f64>| ms.map(|ms| format!("{ms:.0}")).unwrap_or_default();
    let latency = store.read(move |s| whole(s.latency));
    let status = store.read(text::status);
    // Where the latency went besides the evaluation: the request's way to the worker, and
    // its wait there for other work to pause.
    let to_worker = store.read(move |s| whole(s.to_worker));
    let waited = store.read(move |s| whole(s.results.as_ref().map(|r| r.waited_ms)));
    // The worker's and the page's WebAssembly memory, for benchmarks and the curious.
    let worker_memory = store.read(|s| s.worker_memory().to_string());
    let page_memory = move || {
        latency.track();
        crate::web::protocol::memory::wasm_bytes().to_string()
    };
    view! {
        <p class="status" id="status" role="status" data-computing=move || computing.get().to_string()
            data-latency-ms=move || latency.get() data-waited-ms=move || waited.get()
            data-to-worker-ms=move || to_worker.get()
            data-worker-memory=move || worker_memory.get()
            data-page-memory=page_memory>
            {move || status.get()}
        </p>
    }
}
