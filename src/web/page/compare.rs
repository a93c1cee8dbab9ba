//! Compare: the numbers on screen pinned as A beside the current ones (B), and the images
//! whose answer differs. A pinned A is part of the share link (`pin=`).

use leptos::prelude::*;

use super::state::PageState;
use super::store::Store;
use super::text::{damage_summary, guess, pct};
use crate::eval::Report;
use crate::web::protocol::{LoadedModel, Results};

/// At most this many differing images are named (the rest are counted).
const NAMED: usize = 12;

#[component]
pub fn Compare(model: StoredValue<LoadedModel>) -> impl IntoView {
    let store = Store::get();
    let pinned = store.read(|s| s.page.pinned.clone());
    let a = store.read(|s| s.pinned_numbers().cloned());
    let b = store.read(|s| s.results.clone());
    let can_pin = store.read(PageState::results_are_current);
    move || match pinned.get() {
        None => view! {
            <div class="compare compare-empty">
                <button id="pin" disabled=move || !can_pin.get() on:click=move |_| store.update(PageState::pin)
                    title="Keep these numbers as A, then change the damage to see A and B side by side">
                    "Pin as A"
                </button>
                <span class="compare-hint">"to compare with another damage"</span>
            </div>
        }
        .into_any(),
        Some(settings) => {
            let rows = move || match (a.get(), b.get()) {
                (Some(a), Some(b)) => view! { <Table a b model /> }.into_any(),
                _ => view! { <p class="compare-wait">"Computing A\u{2026}"</p> }.into_any(),
            };
            view! {
                <section class="compare" id="compare" aria-label="A pinned beside B, now">
                    <p class="compare-a">"A: " {damage_summary(&settings)}</p>
                    {rows}
                    <button id="unpin" class="quiet" on:click=move |_| store.update(PageState::unpin)>"Unpin A"</button>
                </section>
            }
            .into_any()
        }
    }
}

#[component]
fn Table(a: Results, b: Results, model: StoredValue<LoadedModel>) -> impl IntoView {
    let (ra, rb) = (&a.assessment.report, &b.assessment.report);
    let row = |name: &'static str, id: &'static str, of: fn(&Results) -> f64| {
        let (va, vb) = (of(&a), of(&b));
        view! {
            <tr>
                <th scope="row">{name}</th>
                <td id=format!("a-{id}") data-value=va.to_string()>{pct(va)}</td>
                <td id=format!("b-{id}") data-value=vb.to_string()>{pct(vb)}</td>
            </tr>
        }
    };
    let differ = differing(ra, rb, model);
    view! {
        <table class="compare-table">
            <thead><tr><th></th><th scope="col">"A (pinned)"</th><th scope="col">"B (now)"</th></tr></thead>
            <tbody>
                {row("top-1", "top1", |r| r.assessment.report.top1)}
                {row("top-5", "top5", |r| r.assessment.report.top5)}
                {row("agreement", "agreement", |r| r.assessment.comparison.agreement)}
            </tbody>
        </table>
        <p class="compare-b">"B: " {damage_summary(b.settings())}</p>
        {differ}
    }
}

/// The images whose top-1 differs between A and B, named with both answers.
fn differing(a: &Report, b: &Report, model: StoredValue<LoadedModel>) -> impl IntoView + use<> {
    let differ = a.differing(b);
    let count = differ.len();
    let said = match count {
        0 => "A and B give every image the same answer.".to_string(),
        1 => "1 image gets another answer in B than in A:".to_string(),
        n => format!("{n} images get another answer in B than in A:"),
    };
    let named = differ.iter().take(NAMED).map(|&i| {
        let file = model.with_value(|m| m.files[i].clone());
        let answer = |r: &Report| guess(r.predictions[i].top5.first().copied());
        let text = format!("{file}: {} \u{2192} {}", answer(a), answer(b));
        view! { <li data-image=i.to_string()>{text}</li> }
    });
    let more = (count > NAMED).then(|| view! { <li>{format!("\u{2026} and {} more", count - NAMED)}</li> });
    view! {
        <p id="differ" data-count=count.to_string()>{said}</p>
        <ul class="differ">{named.collect_view()}{more}</ul>
    }
}
