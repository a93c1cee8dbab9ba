//! The sample images, built once per model: only each card's marks and caption follow the
//! results, so a slider move never re-creates (and re-decodes) a hundred images.

use leptos::prelude::*;

use super::store::Store;
use super::text;
use crate::eval::labels;
use crate::web::protocol::LoadedModel;

#[component]
pub fn ImageGrid(model: StoredValue<LoadedModel>) -> impl IntoView {
    let cards = model.with_value(|m| {
        m.files
            .iter()
            .zip(&m.labels)
            .enumerate()
            .map(|(index, (file, label))| view! { <Card index file=file.clone() label=*label /> })
            .collect_view()
    });
    view! { <div class="grid" id="grid">{cards}</div> }
}

/// Opens "A look inside" at image `index`, scrolled into view.
fn look_inside(store: Store, index: usize) {
    store.update(|s| s.selected = Some(index));
    let section = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("inside"));
    if let Some(section) = section {
        section.scroll_into_view();
    }
}

/// What one card shows under the current results.
#[derive(Debug, Clone, PartialEq)]
struct CardState {
    correct: bool,
    changed: bool,
    guess: String,
}

#[component]
fn Card(index: usize, file: String, label: Option<usize>) -> impl IntoView {
    let store = Store::get();
    let shown = store.read(move |s| {
        let r = &s.results.as_ref()?.assessment;
        let top = r.report.predictions.get(index)?.top5.first().copied();
        Some(CardState {
            correct: matches!((top, label), (Some((c, _)), Some(l)) if c == l),
            changed: r.comparison.changed.get(index).copied().unwrap_or(false),
            guess: text::guess(top),
        })
    });
    let correct = move || shown.with(|s| s.as_ref().is_some_and(|s| s.correct));
    let changed = move || shown.with(|s| s.as_ref().is_some_and(|s| s.changed));
    let guess = move || shown.with(|s| s.as_ref().map(|s| s.guess.clone()).unwrap_or_default());
    let truth = label.map(labels::name).unwrap_or("unlabelled").to_string();
    view! {
        <figure class="card" class:correct=correct class:wrong=move || !correct() class:changed=changed
            data-file=file.clone() data-changed=move || changed().to_string()>
            <button class="pick" aria-label=format!("look inside: {truth}")
                on:click=move |_| look_inside(store, index)>
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
