//! The page's frame: the header, and the view for each phase (loading, ready, failed).

use leptos::prelude::*;

use super::controls::Controls;
use super::images::ImageGrid;
use super::model_input::{ModelBadge, SubsetChoice};
use super::results::{Details, Numbers};
use super::state::Phase;
use super::store::Store;
use super::text;
use crate::share;
use crate::web::protocol::{Failure, LoadedModel, Progress};

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
                <ul class="notices" aria-live="polite">
                    {move || notices.get().into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
                </ul>
            </div>
            <div class="layout">
                <Controls />
                <div class="output">
                    <Status />
                    <Numbers intact=model.with_value(|m| m.intact.clone()) />
                    <Details model />
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
    let latency = store.read(|s| s.latency.map(|ms| format!("{ms:.0}")).unwrap_or_default());
    let status = store.read(text::status);
    view! {
        <p class="status" id="status" role="status" data-computing=move || computing.get().to_string()
            data-latency-ms=move || latency.get()>
            {move || status.get()}
        </p>
    }
}
