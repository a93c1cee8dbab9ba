//! Leptos components: small, each showing one thing the engine computed or holding one
//! control. State lives in a few signals; the engine runs in a worker (see `client`).

use std::collections::{BTreeMap, HashMap};

use leptos::prelude::*;

use super::client::Client;
use super::engine::{Results, now_ms};
use super::protocol::{Meta, PickedFile, Progress, Reply, Request};
use super::worker::CHART_STEPS;
use crate::eval::{Report, labels};
use crate::model::{Layer, ModelInfo, ModelKind};
use crate::perturb::{Damage, Kind, PRESETS, Settings, paper_mark};
use crate::share::{self, BackendChoice, Link, Page};

#[derive(Debug, Clone)]
enum Phase {
    Loading(Progress),
    Ready(Box<Meta>),
    Failed(String),
}

/// Chart points per (layer, kind, seed): slider step -> relative top-1.
type Charts = HashMap<(Layer, Kind, u64), BTreeMap<u32, f64>>;

/// The signals the controls write and the results read, plus the worker that computes.
#[derive(Clone, Copy)]
struct State {
    /// The damage the user asked for (the URL mirrors it).
    settings: RwSignal<Settings>,
    /// The kind each layer's slider applies when moved (kept while a layer is intact).
    kinds: RwSignal<[Kind; 8]>,
    /// The numbers on screen, and the settings they belong to.
    results: RwSignal<Option<Results>>,
    computing: RwSignal<bool>,
    /// When the page last asked for settings (its clock, ms), and how long the numbers for
    /// the settings on screen took to arrive after that.
    asked_at: StoredValue<f64>,
    latency: RwSignal<Option<f64>>,
    failure: RwSignal<Option<String>>,
    selected: RwSignal<Option<usize>>,
    phase: RwSignal<Phase>,
    notices: RwSignal<Vec<String>>,
    charts: RwSignal<Charts>,
    /// Loading of a picked file: progress, or why it was refused.
    file_status: RwSignal<Option<String>>,
    /// How the link asks the page to run (model, backend, images).
    page: StoredValue<Page>,
    /// Where to run: as the link asks, or the CPU once the GPU failed.
    backend: StoredValue<BackendChoice>,
    client: StoredValue<Option<Client>, LocalStorage>,
}

fn current_query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

fn send(state: State, request: &Request) {
    let sent = state
        .client
        .with_value(|c| c.as_ref().map(|c| c.send(request)));
    if let Some(Err(message)) = sent {
        state.failure.set(Some(message));
    }
}

/// Asks for the current settings. The worker drops older requests, so a storm of slider
/// moves never queues stale work; the page shows "Computing" until the numbers on screen
/// belong to the settings on screen.
fn request(state: State) {
    let settings = state.settings.get_untracked();
    let chart = state.kinds.get_untracked();
    let current = state
        .results
        .with_untracked(|r| r.as_ref().is_some_and(|r| r.settings == settings));
    state.computing.set(!current);
    state.failure.set(None);
    state.asked_at.set_value(now_ms());
    send(state, &Request::Evaluate { settings, chart });
}

/// Starts the worker (again, after a crash) and loads the model.
fn connect(state: State) {
    state.client.set_value(None);
    match Client::spawn(move |reply| on_reply(state, reply)) {
        Ok(client) => state.client.set_value(Some(client)),
        Err(message) => state.phase.set(Phase::Failed(message)),
    }
}

fn loaded(state: State) -> bool {
    state.phase.with_untracked(|p| matches!(p, Phase::Ready(_)))
}

fn on_reply(state: State, reply: Reply) {
    match reply {
        Reply::Ready => send(
            state,
            &Request::Load {
                model: state.page.with_value(|p| p.model.clone()),
                backend: state.backend.get_value(),
                images: state.page.with_value(|p| p.images),
            },
        ),
        Reply::Progress(progress) if loaded(state) => state
            .file_status
            .set(Some(format!("{} {}", progress.step, progress.detail))),
        Reply::Progress(progress) => state.phase.set(Phase::Loading(progress)),
        Reply::Loaded(meta) => {
            state
                .notices
                .update(|n| n.extend(meta.notices.iter().cloned()));
            state.results.set(None);
            state.charts.set(Charts::new());
            state.selected.set(None);
            state.file_status.set(None);
            state.phase.set(Phase::Ready(meta));
            request(state);
        }
        Reply::LoadFailed(message) if loaded(state) => state.file_status.set(Some(message)),
        Reply::LoadFailed(message) => state.phase.set(Phase::Failed(message)),
        Reply::Results(results) => {
            let current = state.settings.with_untracked(|s| *s == results.settings);
            if current {
                state
                    .latency
                    .set(Some(now_ms() - state.asked_at.get_value()));
            }
            state.results.set(Some(*results));
            state.computing.set(!current);
        }
        Reply::Point(point) => state.charts.update(|charts| {
            charts
                .entry((point.layer, point.kind, point.seed))
                .or_default()
                .insert(point.step, point.top1_rel);
        }),
        Reply::EvalFailed(message) => {
            state.failure.set(Some(message));
            state.computing.set(false);
        }
        Reply::Notice(notice) => state.notices.update(|n| n.push(notice)),
        Reply::Crashed(message) => {
            let on_gpu = state.phase.with_untracked(|p| match p {
                Phase::Ready(meta) => meta.backend_is_gpu,
                _ => state.backend.get_value() != BackendChoice::Cpu,
            });
            if on_gpu {
                // Most likely the GPU: start over on the CPU; the settings stay as they are.
                state.notices.update(|n| {
                    n.push(format!(
                        "The GPU evaluation stopped ({message}); lesion restarted on the CPU with the same settings."
                    ))
                });
                state.backend.set_value(BackendChoice::Cpu);
                state.phase.set(Phase::Loading(Progress {
                    step: "Restarting on the CPU".into(),
                    fraction: None,
                    detail: String::new(),
                }));
                connect(state);
            } else {
                state.phase.set(Phase::Failed(format!(
                    "lesion stopped with an internal error: {message}"
                )));
            }
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    let link: Link = share::parse(&current_query());
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
        asked_at: StoredValue::new(0.0),
        latency: RwSignal::new(None),
        failure: RwSignal::new(None),
        selected: RwSignal::new(None),
        phase: RwSignal::new(Phase::Loading(Progress {
            step: "Starting".into(),
            fraction: None,
            detail: String::new(),
        })),
        notices: RwSignal::new(link.ignored.clone()),
        charts: RwSignal::new(Charts::new()),
        file_status: RwSignal::new(None),
        page: StoredValue::new(link.page.clone()),
        backend: StoredValue::new(link.page.backend),
        client: StoredValue::new_local(None),
    };
    connect(state);
    // Every change of the settings: mirror it in the URL (no history entry per move) and
    // ask for it. A change of a kind asks too: the charts follow the kinds.
    Effect::new(move |_| {
        let settings = state.settings.get();
        state.kinds.track();
        let query = state
            .page
            .with_value(|page| share::to_query(&settings, page));
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
        }
        if loaded(state) {
            request(state);
        }
    });
    view! {
        <header class="top">
            <h1>"lesion"</h1>
            <p class="tagline">"Damage a real ImageNet-trained AlexNet and watch it fail."</p>
        </header>
        <main>
            {move || match state.phase.get() {
                Phase::Loading(progress) => view! { <LoadingView progress /> }.into_any(),
                Phase::Ready(meta) => view! { <Workbench meta=*meta state /> }.into_any(),
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
fn Workbench(meta: Meta, state: State) -> impl IntoView {
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
                {(!meta.with_value(|m| m.backend_is_gpu)).then(|| view! { <SubsetChoice state /> })}
                <ul class="notices" aria-live="polite">
                    {move || state.notices.get().into_iter().map(|n| view! { <li class="notice">{n}</li> }).collect_view()}
                </ul>
            </div>
            <div class="layout">
                <Controls state />
                <div class="output">
                    <p class="status" id="status" role="status" data-computing=move || state.computing.get().to_string()
                        data-latency-ms=move || state.latency.get().map(|ms| format!("{ms:.0}")).unwrap_or_default()>
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

/// On the CPU: evaluate all images, or an evenly spread subset for quicker answers. The
/// choice is part of the link (`images=N`), so it reloads the page with the same damage.
#[component]
fn SubsetChoice(state: State) -> impl IntoView {
    let current = state.page.with_value(|p| p.images);
    let href = move |images: Option<usize>| {
        let page = state.page.with_value(|p| Page {
            images,
            ..p.clone()
        });
        state.settings.with(|s| share::to_query(s, &page))
    };
    let choice = move |images: Option<usize>, text: &'static str| {
        let id = format!("images-{}", images.map_or("all".into(), |n| n.to_string()));
        if images == current {
            view! { <strong id=id aria-current="true">{text}</strong> }.into_any()
        } else {
            view! { <a id=id href=move || href(images)>{text}</a> }.into_any()
        }
    };
    view! {
        <p class="subset">
            "The CPU is slower: evaluate "
            {choice(None, "all images")}
            " or "
            {choice(Some(20), "20 of them")}
            " (quicker, wider intervals; part of the link)."
        </p>
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
            <DropZone state />
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
            <LayerChart state index layer />
        </div>
    }
}

/// Relative top-1 against the slider position with only this layer damaged (this layer's
/// kind, the current seed), filled in by the worker when idle; the paper's claim as a mark.
#[component]
fn LayerChart(state: State, index: usize, layer: Layer) -> impl IntoView {
    const TOP: f64 = 1.1;
    let x = |step: f64| 4.0 + step;
    let y = |rel: f64| 4.0 + 40.0 * (1.0 - rel.clamp(0.0, TOP) / TOP);
    let kind = move || state.kinds.with(|k| k[index]);
    let points = move || {
        let seed = state.settings.with(|s| s.seed);
        let kind = kind();
        state.charts.with(|c| {
            let mut points = vec![(0u32, 1.0)];
            if let Some(found) = c.get(&(layer, kind, seed)) {
                points.extend(found.iter().map(|(s, r)| (*s, *r)));
            }
            points
        })
    };
    let polyline = move || {
        points()
            .iter()
            .filter(|(_, r)| r.is_finite())
            .map(|(s, r)| format!("{:.1},{:.1}", x(*s as f64), y(*r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let done = move || points().len() - 1;
    // Exact values for tests and scripts: "step:relative-top-1" pairs.
    let values = move || {
        points()
            .iter()
            .skip(1)
            .map(|(s, r)| format!("{s}:{r}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let label = move || {
        let kind = kind();
        let values: Vec<String> = points()
            .iter()
            .skip(1)
            .map(|(s, r)| format!("{}: {r:.2}", kind.describe_amount(kind.slider_amount(*s))))
            .collect();
        if values.is_empty() {
            format!("{} chart: not computed yet", layer.name())
        } else {
            format!(
                "{} alone, {}, relative top-1: {}",
                layer.name(),
                kind.name(),
                values.join("; ")
            )
        }
    };
    let cursor = move || {
        let step = state
            .settings
            .with(|s| s.layers.get(&layer).map(|d| d.kind.slider_step(d.amount)))
            .unwrap_or(0);
        format!("{:.1}", x(step as f64))
    };
    let mark = move || {
        let mark = paper_mark(layer).filter(|_| kind() == Kind::Drop)?;
        let (mx, my) = (x(mark.amount * 100.0), y(mark.top1_rel));
        let arrow = if mark.above { my - 5.0 } else { my + 5.0 };
        Some(view! {
            <g class="paper-mark">
                <title>{mark.text}</title>
                <line x1=format!("{:.1}", mx - 6.0) x2=format!("{:.1}", mx + 6.0) y1=format!("{my:.1}") y2=format!("{my:.1}") />
                <line x1=format!("{mx:.1}") x2=format!("{mx:.1}") y1=format!("{my:.1}") y2=format!("{arrow:.1}") />
            </g>
        })
    };
    view! {
        <svg class="chart" viewBox="0 0 108 48" role="img" aria-label=label
            data-points=move || done().to_string() data-total=CHART_STEPS.len().to_string()
            data-values=values>
            <title>{label}</title>
            <rect class="frame" x="4" y="4" width="100" height="40" />
            <line class="chance" x1="4" x2="104" y1=format!("{:.1}", y(1.0)) y2=format!("{:.1}", y(1.0)) />
            <line class="cursor" x1=cursor x2=cursor y1="4" y2="44" />
            {mark}
            <polyline class="curve" points=polyline />
            {move || points().into_iter().skip(1).filter(|(_, r)| r.is_finite()).map(|(s, r)| view! {
                <circle cx=format!("{:.1}", x(s as f64)) cy=format!("{:.1}", y(r)) r="1.6" />
            }).collect_view()}
        </svg>
    }
}

/// Weights from this computer: a drop zone and a file picker for the files written by
/// `lesion weights install`. The model on screen changes only once the new one is ready.
#[component]
fn DropZone(state: State) -> impl IntoView {
    let (over, set_over) = signal(false);
    let take = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        if files.is_empty() {
            return;
        }
        state.file_status.set(Some("Reading the file…".into()));
        leptos::task::spawn_local(async move {
            let mut picked = Vec::new();
            for file in files {
                let read = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await;
                match read {
                    Ok(buffer) => picked.push(PickedFile {
                        name: file.name(),
                        bytes: js_sys::Uint8Array::new(&buffer).to_vec(),
                    }),
                    Err(_) => {
                        state
                            .file_status
                            .set(Some(format!("{} could not be read.", file.name())));
                        return;
                    }
                }
            }
            send(state, &Request::LoadFiles(picked));
        });
    };
    view! {
        <div class="dropzone" class:over=over
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); set_over.set(true); }
            on:dragleave=move |_| set_over.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                set_over.set(false);
                take(ev.data_transfer().and_then(|d| d.files()));
            }>
            <label for="weights-file">"Your own weights: drop the "<code>"alexnet.safetensors"</code>" (and "<code>"manifest.json"</code>") written by "<code>"lesion weights install"</code>" here, or "</label>
            <input id="weights-file" type="file" multiple accept=".safetensors,.json,.pth"
                on:change=move |ev| {
                    let input = event_target::<web_sys::HtmlInputElement>(&ev);
                    take(input.files());
                    // Empty again, so the next pick is a fresh list (even of the same file).
                    input.set_value("");
                } />
            <p class="file-status" id="file-status" role="status">{move || state.file_status.get()}</p>
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
    let settings_text = share::to_query(&results.settings, &Page::default());
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

/// The images, built once per model: only each card's marks and caption follow the
/// results, so a slider move never re-creates (and re-decodes) a hundred images.
#[component]
fn ImageGrid(state: State, meta: StoredValue<Meta>) -> impl IntoView {
    let cards = meta.with_value(|m| {
        m.files
            .iter()
            .zip(&m.labels)
            .enumerate()
            .map(|(index, (file, label))| view! { <Card state index file=file.clone() label=*label /> })
            .collect_view()
    });
    view! { <div class="grid" id="grid">{cards}</div> }
}

/// What one card shows under the current results.
#[derive(Debug, Clone, PartialEq)]
struct CardState {
    correct: bool,
    changed: bool,
    guess: String,
}

#[component]
fn Card(state: State, index: usize, file: String, label: Option<usize>) -> impl IntoView {
    let shown = Memo::new(move |_| {
        state.results.with(|r| {
            let r = r.as_ref()?;
            let top = r.report.predictions.get(index)?.top5.first().copied();
            Some(CardState {
                correct: matches!((top, label), (Some((c, _)), Some(l)) if c == l),
                changed: r.comparison.changed.get(index).copied().unwrap_or(false),
                guess: match top {
                    Some((c, p)) => format!("{} ({:.0}%)", labels::name(c), p * 100.0),
                    None => "no answer (NaN)".into(),
                },
            })
        })
    });
    let correct = move || shown.with(|s| s.as_ref().is_some_and(|s| s.correct));
    let changed = move || shown.with(|s| s.as_ref().is_some_and(|s| s.changed));
    let guess = move || shown.with(|s| s.as_ref().map(|s| s.guess.clone()).unwrap_or_default());
    let truth = label.map(labels::name).unwrap_or("unlabelled").to_string();
    view! {
        <figure class="card" class:correct=correct class:wrong=move || !correct() class:changed=changed
            data-file=file.clone() data-changed=move || changed().to_string()>
            <button class="pick" aria-label=format!("top-5 for {truth}")
                on:click=move |_| state.selected.set(Some(index))>
                <img src=format!("samples/{file}") alt=truth.clone() loading="lazy" width="112" height="112" />
            </button>
            <figcaption>
                <span class="mark" aria-label=move || if correct() { "correct" } else { "wrong" }>
                    {move || if correct() { "✓" } else { "✗" }}
                </span>
                {move || changed().then(|| view! { <span class="changed-mark">" changed"</span> })}
                <span class="guess">{guess}</span>
                <span class="truth">{format!("true: {truth}")}</span>
            </figcaption>
        </figure>
    }
}
