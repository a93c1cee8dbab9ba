//! Leptos components: small, each showing one thing the engine computed or holding one
//! control. State lives in a few signals; the engine runs outside them (see `schedule`).

use leptos::prelude::*;

use super::engine::{Engine, Results};
use super::loader::{self, Progress};
use crate::eval::{Report, labels};
use crate::model::{Layer, ModelInfo, ModelKind};
use crate::perturb::{Damage, Kind, PRESETS, Settings};
use crate::share::{self, Link};

/// What the page knows once the model is loaded (plain, cloneable data).
#[derive(Debug, Clone)]
struct Meta {
    model: ModelInfo,
    backend: String,
    backend_is_gpu: bool,
    files: Vec<String>,
    labels: Vec<Option<usize>>,
    intact: Report,
    eval_ms: f64,
}

#[derive(Debug, Clone)]
enum Phase {
    Loading(Progress),
    Ready(Meta),
    Failed(String),
}

/// The signals the controls write and the results read, plus the engine itself.
#[derive(Clone, Copy)]
struct State {
    /// The damage the user asked for (the URL mirrors it).
    settings: RwSignal<Settings>,
    /// The kind each layer's slider applies when moved (kept while a layer is intact).
    kinds: RwSignal<[Kind; 8]>,
    /// The numbers on screen, and the settings they belong to.
    results: RwSignal<Option<Results>>,
    computing: RwSignal<bool>,
    failure: RwSignal<Option<String>>,
    selected: RwSignal<Option<usize>>,
    engine: StoredValue<Option<Engine>, LocalStorage>,
}

fn current_query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// Evaluates the latest settings. At most one evaluation runs; when the settings change
/// meanwhile, it stops between batches and starts over with the newest, so a storm of
/// slider moves never queues stale work.
fn schedule(state: State) {
    if state.computing.get_untracked() {
        return;
    }
    let Some(mut engine) = state.engine.try_update_value(|e| e.take()).flatten() else {
        return;
    };
    state.computing.set(true);
    leptos::task::spawn_local(async move {
        loop {
            let wanted = state.settings.get_untracked();
            let still_wanted = || state.settings.with_untracked(|s| *s == wanted);
            match engine.evaluate(&wanted, still_wanted).await {
                Ok(Some(results)) if still_wanted() => {
                    state.results.set(Some(results));
                    break;
                }
                Ok(_) => continue,
                Err(message) => {
                    state.failure.set(Some(message));
                    break;
                }
            }
        }
        state.engine.set_value(Some(engine));
        state.computing.set(false);
    });
}

#[component]
pub fn App() -> impl IntoView {
    let link: Link = share::parse(&current_query());
    let (phase, set_phase) = signal(Phase::Loading(Progress {
        step: "Starting".into(),
        fraction: None,
        detail: String::new(),
    }));
    let notices = RwSignal::new(link.ignored.clone());
    let mut kinds = [Kind::Drop; 8];
    for (i, layer) in Layer::ALL.iter().enumerate() {
        if let Some(d) = link.settings.layers.get(layer) {
            kinds[i] = d.kind;
        }
    }
    let state = State {
        settings: RwSignal::new(link.settings.clone()),
        kinds: RwSignal::new(kinds),
        results: RwSignal::new(None),
        computing: RwSignal::new(false),
        failure: RwSignal::new(None),
        selected: RwSignal::new(None),
        engine: StoredValue::new_local(None),
    };
    let (model, force_cpu) = (link.model.clone(), link.force_cpu);
    leptos::task::spawn_local(async move {
        let result =
            loader::load(model, force_cpu, move |p| set_phase.set(Phase::Loading(p))).await;
        match result {
            Ok(loaded) => {
                notices.update(|n| n.extend(loaded.notices));
                let e = loaded.engine;
                let meta = Meta {
                    model: e.model.clone(),
                    backend: e.backend.clone(),
                    backend_is_gpu: e.backend_is_gpu,
                    files: e.files.clone(),
                    labels: e.labels.clone(),
                    intact: e.intact.clone(),
                    eval_ms: loaded.eval_ms,
                };
                state.engine.set_value(Some(e));
                set_phase.set(Phase::Ready(meta));
                schedule(state);
            }
            Err(message) => set_phase.set(Phase::Failed(message)),
        }
    });
    // Every change of the settings: mirror it in the URL (no history entry per move) and
    // evaluate it.
    let (link_model, link_cpu) = (link.model.clone(), link.force_cpu);
    Effect::new(move |_| {
        let settings = state.settings.get();
        let query = share::to_query(&settings, link_model.as_deref(), link_cpu);
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
        }
        schedule(state);
    });
    view! {
        <header class="top">
            <h1>"lesion"</h1>
            <p class="tagline">"Damage a real ImageNet-trained AlexNet and watch it fail."</p>
        </header>
        <main>
            {move || match phase.get() {
                Phase::Loading(progress) => view! { <LoadingView progress /> }.into_any(),
                Phase::Ready(meta) => view! { <Workbench meta state notices /> }.into_any(),
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
fn Workbench(meta: Meta, state: State, notices: RwSignal<Vec<String>>) -> impl IntoView {
    let meta = StoredValue::new(meta);
    let status = move || {
        if let Some(message) = state.failure.get() {
            return format!("Evaluation failed: {message}");
        }
        if state.computing.get() {
            return "Computing…".to_string();
        }
        match state.results.get() {
            Some(r) => match r.rerun_from {
                Some(layer) => format!(
                    "Updated in {:.0} ms (re-ran {} to fc8).",
                    r.ms,
                    layer.name()
                ),
                None => "Remembered result (no re-run).".to_string(),
            },
            None => String::new(),
        }
    };
    view! {
        <section class="workbench" data-state="ready">
            <div class="status-bar">
                <ModelBadge model=meta.with_value(|m| m.model.clone()) />
                <p class="backend" id="backend" data-gpu=meta.with_value(|m| m.backend_is_gpu.to_string())>
                    {meta.with_value(|m| format!(
                        "Running on {} · intact model classified {} images in {:.0} ms",
                        m.backend, m.intact.n, m.eval_ms
                    ))}
                </p>
                <ul class="notices" aria-live="polite">
                    {move || notices.get().into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
                </ul>
            </div>
            <div class="layout">
                <Controls state />
                <div class="output">
                    <p class="status" id="status" role="status" data-computing=move || state.computing.get().to_string()>
                        {status}
                    </p>
                    {move || state.results.get().map(|r| view! {
                        <Numbers results=r.clone() intact=meta.with_value(|m| m.intact.clone()) />
                    })}
                    <Details state meta />
                    <ImageGrid state meta />
                </div>
            </div>
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

#[component]
fn Controls(state: State) -> impl IntoView {
    let seed_text = move || state.settings.with(|s| s.seed.to_string());
    let set_seed = move |seed: u64| state.settings.update(|s| s.seed = seed);
    let new_seed = move |_| {
        let current = state.settings.with_untracked(|s| s.seed);
        // The next seed in a fixed odd-step walk: reproducible, never the same twice in a row.
        set_seed(
            current
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 44,
        );
    };
    view! {
        <aside class="controls" aria-label="Damage controls">
            <h2>"Damage"</h2>
            {Layer::ALL.into_iter().enumerate().map(|(i, layer)| view! { <LayerControl state index=i layer /> }).collect_view()}
            <div class="seed-row">
                <label for="seed">"Seed"</label>
                <input id="seed" type="number" min="0" inputmode="numeric" prop:value=seed_text
                    on:change=move |ev| {
                        match Settings::parse_seed(&event_target_value(&ev)) {
                            Ok(seed) => set_seed(seed),
                            // Refused text: show the seed in use again.
                            Err(_) => state.settings.update(|_| {}),
                        }
                    } />
                <button id="new-seed" on:click=new_seed>"New seed"</button>
                <button id="reset" on:click=move |_| state.settings.update(|s| s.layers.clear())>"Reset"</button>
            </div>
            <h3>"Presets"</h3>
            <div class="presets">
                {PRESETS.iter().map(|preset| {
                    let apply = move |_| {
                        let seed = state.settings.with_untracked(|s| s.seed);
                        let settings = preset.settings(seed);
                        state.kinds.update(|k| {
                            for (i, layer) in Layer::ALL.iter().enumerate() {
                                if let Some(d) = settings.layers.get(layer) {
                                    k[i] = d.kind;
                                }
                            }
                        });
                        state.settings.set(settings);
                    };
                    view! { <button class="preset" title=preset.claim on:click=apply>{preset.name}</button> }
                }).collect_view()}
            </div>
            <CopyLink />
        </aside>
    }
}

#[component]
fn LayerControl(state: State, index: usize, layer: Layer) -> impl IntoView {
    let damage = move || state.settings.with(|s| s.layers.get(&layer).copied());
    let kind = move || {
        damage()
            .map(|d| d.kind)
            .unwrap_or_else(|| state.kinds.with(|k| k[index]))
    };
    let step = move || damage().map(|d| d.kind.slider_step(d.amount)).unwrap_or(0);
    let describe = move || match damage() {
        Some(d) => d.kind.describe_amount(d.amount),
        None => "intact".to_string(),
    };
    let set = move |kind: Kind, step: u32| {
        state.settings.update(|s| {
            if step == 0 {
                s.layers.remove(&layer);
            } else if let Ok(d) = Damage::new(kind, kind.slider_amount(step)) {
                s.layers.insert(layer, d);
            }
        })
    };
    let slider_id = format!("slider-{}", layer.name());
    let kind_id = format!("kind-{}", layer.name());
    view! {
        <div class="layer" class:damaged=move || damage().is_some() data-layer=layer.name()>
            <label class="layer-name" for=slider_id.clone()>{layer.name()}</label>
            <select id=kind_id aria-label=format!("{} damage kind", layer.name())
                on:change=move |ev| {
                    let Ok(new_kind) = event_target_value(&ev).parse::<Kind>() else { return };
                    state.kinds.update(|k| k[index] = new_kind);
                    set(new_kind, step());
                }>
                {Kind::ALL.into_iter().map(|k| view! {
                    <option value=k.name() prop:selected=move || kind() == k>{k.name()}</option>
                }).collect_view()}
            </select>
            <input type="range" id=slider_id min="0" max="100" step="1"
                prop:value=move || step().to_string()
                aria-valuetext=describe
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<u32>() {
                        set(kind(), v);
                    }
                } />
            <output class="amount">{describe}</output>
        </div>
    }
}

#[component]
fn CopyLink() -> impl IntoView {
    let (copied, set_copied) = signal(String::new());
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let href = window.location().href().unwrap_or_default();
        let clipboard = window.navigator().clipboard();
        let promise = clipboard.write_text(&href);
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(promise).await;
            set_copied.set(match done {
                Ok(_) => "Link copied.".into(),
                Err(_) => format!("Copy this link: {href}"),
            });
        });
    };
    view! {
        <div class="share">
            <button id="copy-link" on:click=copy>"Copy link"</button>
            <span class="copied" role="status">{copied}</span>
        </div>
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".into()
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "–".into()
    }
}

#[component]
fn Numbers(results: Results, intact: Report) -> impl IntoView {
    let r = &results.report;
    let c = &results.comparison;
    let settings_text = share::to_query(&results.settings, None, false);
    view! {
        <div class="metrics" id="metrics" data-settings=settings_text>
            <div class="metric">
                <span class="metric-name">"top-1"</span>
                <span class="metric-value" id="top1" data-value=r.top1.to_string()>{pct(r.top1)}</span>
                <span class="metric-ci">{format!("95% CI {}–{} · {}/{}", pct(r.top1_ci.lo), pct(r.top1_ci.hi), r.top1_count(), r.labelled)}</span>
                <span class="metric-rel" id="top1-rel" data-value=c.top1_rel.to_string()>
                    {format!("{} of intact ({}) · CI {}–{}", ratio(c.top1_rel), pct(intact.top1), ratio(c.top1_rel_ci.lo), ratio(c.top1_rel_ci.hi))}
                </span>
            </div>
            <div class="metric">
                <span class="metric-name">"top-5"</span>
                <span class="metric-value" id="top5" data-value=r.top5.to_string()>{pct(r.top5)}</span>
                <span class="metric-ci">{format!("95% CI {}–{} · {}/{}", pct(r.top5_ci.lo), pct(r.top5_ci.hi), r.top5_count(), r.labelled)}</span>
                <span class="metric-rel" id="top5-rel" data-value=c.top5_rel.to_string()>
                    {format!("{} of intact ({}) · CI {}–{}", ratio(c.top5_rel), pct(intact.top5), ratio(c.top5_rel_ci.lo), ratio(c.top5_rel_ci.hi))}
                </span>
            </div>
            <div class="metric">
                <span class="metric-name">"agreement with intact top-1"</span>
                <span class="metric-value" id="agreement" data-value=c.agreement.to_string()>{pct(c.agreement)}</span>
                <span class="metric-ci">{format!("95% CI {}–{} · {}/{}", pct(c.agreement_ci.lo), pct(c.agreement_ci.hi), c.agree_count, r.n)}</span>
                {(r.non_finite > 0).then(|| view! {
                    <span class="metric-rel bad" id="non-finite">{format!("{} images gave NaN/inf (counted wrong)", r.non_finite)}</span>
                })}
            </div>
        </div>
    }
}

#[component]
fn Details(state: State, meta: StoredValue<Meta>) -> impl IntoView {
    move || {
        let i = state.selected.get()?;
        let results = state.results.get()?;
        let prediction = results.report.predictions.get(i)?.clone();
        let (file, label) = meta.with_value(|m| (m.files[i].clone(), m.labels[i]));
        let truth = label.map(labels::name).unwrap_or("unlabelled");
        Some(view! {
            <div class="details" id="details" aria-live="polite">
                <img src=format!("samples/{file}") alt=truth.to_string() width="160" height="160" />
                <div>
                    <h3>{format!("true class: {truth}")}</h3>
                    {if prediction.top5.is_empty() {
                        view! { <p class="bad">"The logits hold NaN or infinity: no prediction."</p> }.into_any()
                    } else {
                        view! {
                            <ol class="top5">
                                {prediction.top5.iter().map(|(c, p)| {
                                    let hit = Some(*c) == label;
                                    view! {
                                        <li class:hit=hit>
                                            <span class="bar" style:width=format!("{:.1}%", p * 100.0)></span>
                                            <span class="bar-label">{format!("{} {:.1}%", labels::name(*c), p * 100.0)}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ol>
                        }.into_any()
                    }}
                    <button on:click=move |_| state.selected.set(None)>"Close"</button>
                </div>
            </div>
        })
    }
}

#[component]
fn ImageGrid(state: State, meta: StoredValue<Meta>) -> impl IntoView {
    move || {
        let results = state.results.get()?;
        let cards = meta.with_value(|m| {
            m.files
                .iter()
                .zip(&m.labels)
                .zip(&results.report.predictions)
                .enumerate()
                .map(|(i, ((file, label), prediction))| {
                    let top = prediction.top5.first().copied();
                    let correct = matches!((top, label), (Some((c, _)), Some(l)) if c == *l);
                    let changed = results.comparison.changed.get(i).copied().unwrap_or(false);
                    let guess = match top {
                        Some((c, p)) => format!("{} ({:.0}%)", labels::name(c), p * 100.0),
                        None => "no answer (NaN)".into(),
                    };
                    let truth = label.map(labels::name).unwrap_or("unlabelled").to_string();
                    let class = format!(
                        "card {}{}",
                        if correct { "correct" } else { "wrong" },
                        if changed { " changed" } else { "" }
                    );
                    view! {
                        <figure class=class data-file=file.clone() data-changed=changed.to_string()>
                            <button class="pick" aria-label=format!("top-5 for {truth}")
                                on:click=move |_| state.selected.set(Some(i))>
                                <img src=format!("samples/{file}") alt=truth.clone() loading="lazy" width="112" height="112" />
                            </button>
                            <figcaption>
                                <span class="mark" aria-label={if correct { "correct" } else { "wrong" }}>
                                    {if correct { "✓" } else { "✗" }}
                                </span>
                                {changed.then(|| view! { <span class="changed-mark">" changed"</span> })}
                                <span class="guess">{guess}</span>
                                <span class="truth">{format!("true: {truth}")}</span>
                            </figcaption>
                        </figure>
                    }
                })
                .collect_view()
        });
        Some(view! { <div class="grid" id="grid">{cards}</div> })
    }
}
