//! The damage controls: a slider and a kind per layer, the seed, reset, presets, the
//! share link and the weights picker. Each writes the page state; nothing here computes.

use leptos::prelude::*;

use super::model_input::DropZone;
use super::store::Store;
use super::text;
use crate::model::Layer;
use crate::perturb::{Kind, PRESETS, Settings};

#[component]
pub fn Controls() -> impl IntoView {
    view! {
        <aside class="controls" aria-label="Damage controls">
            <h2>"The network: damage a layer"</h2>
            <p class="flow-end">"image 3×224×224 ↓"</p>
            <ol class="network">
                {(0..Layer::ALL.len()).map(|index| view! { <li><LayerControl index /></li> }).collect_view()}
            </ol>
            <p class="flow-end">"↓ 1000 class scores"</p>
            <SeedRow />
            <h3>"Presets"</h3>
            <Presets />
            <CopyLink />
            <DropZone />
        </aside>
    }
}

#[component]
fn LayerControl(index: usize) -> impl IntoView {
    let store = Store::get();
    let layer = Layer::ALL[index];
    let damage = store.read(move |s| s.settings.layers.get(&layer).copied());
    let kind = store.read(move |s| s.kind_of(index));
    let position = store.read(move |s| s.position_of(layer));
    let describe = move || match damage.get() {
        Some(d) => d.kind.describe_amount(d.amount),
        None => "intact".to_string(),
    };
    let short = move || super::text::amount_short(damage.get());
    let on_kind = move |ev| {
        if let Ok(new_kind) = event_target_value(&ev).parse::<Kind>() {
            store.update(|s| s.set_kind(index, new_kind));
        }
    };
    let on_slide = move |ev| {
        if let Ok(v) = event_target_value(&ev).parse::<u32>() {
            store.update(|s| s.set_layer(index, s.kind_of(index), v));
        }
    };
    let slider_id = format!("slider-{}", layer.name());
    let shape = store.read(move |s| {
        s.model()
            .and_then(|m| m.shapes.get(index).cloned())
            .unwrap_or_default()
    });
    let size = move || {
        shape.with(|sh| {
            if sh.is_empty() {
                return String::new();
            }
            let count: usize = sh.iter().product();
            format!("{} · {} weights", text::shape(sh), text::count(count))
        })
    };
    let gone = move || text::gone(damage.get());
    let explain = move || text::kind_sentence(kind.get());
    let options = Kind::ALL.into_iter().map(|k| {
        view! { <option value=k.name() prop:selected=move || kind.get() == k>{k.name()}</option> }
    });
    view! {
        <div class="layer" class:damaged=move || damage.get().is_some() data-layer=layer.name()>
            <label class="layer-name" for=slider_id.clone()>{layer.name()}</label>
            <span class="layer-size">{size}</span>
            <select id=format!("kind-{}", layer.name()) aria-label=format!("{} damage kind", layer.name())
                title=explain on:change=on_kind>
                {options.collect_view()}
            </select>
            <input type="range" id=slider_id min="0" max="100" step="1"
                prop:value=move || position.get().to_string()
                aria-valuetext=describe on:input=on_slide />
            <output class="amount" title=describe>{short}</output>
            <span class="gone" aria-hidden="true">
                <span class="gone-bar" style:width=move || format!("{:.1}%", gone().unwrap_or(0.0) * 100.0)></span>
            </span>
        </div>
    }
}

#[component]
fn SeedRow() -> impl IntoView {
    let store = Store::get();
    let seed = store.read(|s| s.settings.seed.to_string());
    let on_change = move |ev| match Settings::parse_seed(&event_target_value(&ev)) {
        Ok(seed) => store.update(|s| s.settings.seed = seed),
        // Refused text: show the seed in use again.
        Err(_) => event_target::<web_sys::HtmlInputElement>(&ev)
            .set_value(&store.peek(|s| s.settings.seed.to_string())),
    };
    view! {
        <div class="seed-row">
            <label for="seed">"Seed"</label>
            <input id="seed" type="number" min="0" inputmode="numeric" prop:value=move || seed.get()
                on:change=on_change />
            <button id="new-seed" on:click=move |_| store.update(|s| s.next_seed())>"New seed"</button>
            <button id="reset" on:click=move |_| store.update(|s| s.settings.layers.clear())>"Reset"</button>
        </div>
    }
}

#[component]
fn Presets() -> impl IntoView {
    let store = Store::get();
    let buttons = PRESETS.iter().map(|preset| {
        let apply = move |_| store.update(|s| s.apply(preset));
        view! { <button class="preset" title=preset.claim on:click=apply>{preset.name}</button> }
    });
    view! { <div class="presets">{buttons.collect_view()}</div> }
}

#[component]
fn CopyLink() -> impl IntoView {
    let (copied, set_copied) = signal(String::new());
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let href = window.location().href().unwrap_or_default();
        let promise = window.navigator().clipboard().write_text(&href);
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
