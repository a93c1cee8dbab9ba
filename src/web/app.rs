//! Leptos components: small, each showing one thing the engine computed.

use std::sync::Arc;

use leptos::prelude::*;

use super::loader::{self, Loaded, Progress};
use crate::eval::labels;
use crate::model::{ModelInfo, ModelKind};

#[derive(Debug, Clone)]
enum Phase {
    Loading(Progress),
    Ready(Arc<Loaded>),
    Failed(String),
}

#[component]
pub fn App() -> impl IntoView {
    let (phase, set_phase) = signal(Phase::Loading(Progress {
        step: "Starting".into(),
        fraction: None,
        detail: String::new(),
    }));
    let requested_model = super::query("model");
    let force_cpu = super::query("backend").as_deref() == Some("cpu");
    leptos::task::spawn_local(async move {
        let result = loader::load(requested_model, force_cpu, move |p| {
            set_phase.set(Phase::Loading(p))
        })
        .await;
        set_phase.set(match result {
            Ok(loaded) => Phase::Ready(Arc::new(loaded)),
            Err(message) => Phase::Failed(message),
        });
    });
    view! {
        <header class="top">
            <h1>"lesion"</h1>
            <p class="tagline">"Damage a real ImageNet-trained AlexNet and watch it fail."</p>
        </header>
        <main>
            {move || match phase.get() {
                Phase::Loading(progress) => view! { <LoadingView progress /> }.into_any(),
                Phase::Ready(loaded) => view! { <ResultsView loaded /> }.into_any(),
                Phase::Failed(message) => view! { <ErrorView message /> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn LoadingView(progress: Progress) -> impl IntoView {
    let percent = progress.fraction.map(|f| (f * 100.0).clamp(0.0, 100.0));
    view! {
        <section class="loading" aria-live="polite" data-state="loading">
            <h2>{progress.step.clone()}</h2>
            {match percent {
                Some(p) => view! { <progress max="100" value=format!("{p:.1}")></progress> }.into_any(),
                None => view! { <progress></progress> }.into_any(),
            }}
            <p class="detail">{progress.detail}</p>
        </section>
    }
}

#[component]
fn ErrorView(message: String) -> impl IntoView {
    view! {
        <section class="error" role="alert" data-state="error">
            <h2>"lesion could not start"</h2>
            <p id="error-message">{message}</p>
        </section>
    }
}

#[component]
fn ModelBadge(model: ModelInfo) -> impl IntoView {
    let (class, text) = match model.kind {
        ModelKind::Official => (
            "badge official",
            "Official ImageNet AlexNet (torchvision)".to_string(),
        ),
        ModelKind::Demo => (
            "badge demo",
            "DEMO model: a small AlexNet trained on the sample images, not the ImageNet AlexNet"
                .to_string(),
        ),
        ModelKind::Custom => ("badge custom", format!("Custom AlexNet: {}", model.name)),
    };
    view! { <p class=class id="model" data-kind=format!("{:?}", model.kind).to_lowercase()>{text}</p> }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

#[component]
fn Metric(
    name: &'static str,
    id: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    count: usize,
    of: usize,
) -> impl IntoView {
    view! {
        <div class="metric">
            <span class="metric-name">{name}</span>
            <span class="metric-value" id=id data-value=format!("{value}")>{pct(value)}</span>
            <span class="metric-ci">{format!("95% CI {}–{} · {count}/{of}", pct(lo), pct(hi))}</span>
        </div>
    }
}

#[component]
fn ResultsView(loaded: Arc<Loaded>) -> impl IntoView {
    let r = &loaded.report;
    let notices = loaded.notices.clone();
    view! {
        <section class="results" data-state="ready">
            <ModelBadge model=loaded.model.clone() />
            <p class="backend" id="backend" data-gpu=loaded.backend_is_gpu.to_string()>
                {format!("Running on {} · {} images classified in {:.0} ms", loaded.backend, r.n, loaded.eval_ms)}
            </p>
            <ul class="notices">
                {notices.into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
            </ul>
            <div class="metrics">
                <Metric name="top-1" id="top1" value=r.top1 lo=r.top1_ci.lo hi=r.top1_ci.hi count=r.top1_count() of=r.labelled />
                <Metric name="top-5" id="top5" value=r.top5 lo=r.top5_ci.lo hi=r.top5_ci.hi count=r.top5_count() of=r.labelled />
            </div>
            <ImageGrid loaded=loaded.clone() />
        </section>
    }
}

#[component]
fn ImageGrid(loaded: Arc<Loaded>) -> impl IntoView {
    let cards = loaded
        .files
        .iter()
        .zip(&loaded.labels)
        .zip(&loaded.report.predictions)
        .map(|((file, label), prediction)| {
            let top = prediction.top5.first().copied();
            let correct = matches!((top, label), (Some((c, _)), Some(l)) if c == *l);
            let guess = match top {
                Some((c, p)) => format!("{} ({:.0}%)", labels::name(c), p * 100.0),
                None => "no answer (NaN)".into(),
            };
            let truth = label.map(labels::name).unwrap_or("unlabelled");
            let class = if correct { "card correct" } else { "card wrong" };
            view! {
                <figure class=class data-file=file.clone()>
                    <img src=format!("samples/{file}") alt=truth.to_string() loading="lazy" width="112" height="112" />
                    <figcaption>
                        <span class="mark" aria-label={if correct { "correct" } else { "wrong" }}>
                            {if correct { "✓" } else { "✗" }}
                        </span>
                        <span class="guess">{guess}</span>
                        <span class="truth">{format!("true: {truth}")}</span>
                    </figcaption>
                </figure>
            }
        })
        .collect_view();
    view! { <div class="grid" id="grid">{cards}</div> }
}
