//! A layer's chart: relative top-1 against the slider position with only this layer
//! damaged (this layer's kind, the current seed), filled in by the worker when idle, with
//! the paper's claim as a mark. The geometry is `chart`'s.

use leptos::prelude::*;

use super::chart;
use super::store::Store;
use crate::model::Layer;
use crate::web::protocol::CHART_POSITIONS;

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

#[component]
pub fn LayerChart(index: usize) -> impl IntoView {
    let store = Store::get();
    let layer = Layer::ALL[index];
    let points = store.read(move |s| s.chart(index));
    let kind = store.read(move |s| s.kinds[index]);
    let cursor = store.read(move |s| f1(chart::x(s.position_of(layer) as f64)));
    let label = move || points.with(|p| chart::label(layer, kind.get(), p));
    let dots = move || {
        let dots = points.with(|p| chart::dots(p));
        dots.into_iter()
            .map(|(cx, cy)| view! { <circle cx=cx cy=cy r="1.6" /> })
            .collect_view()
    };
    let chance = f1(chart::y(1.0));
    view! {
        <svg class="chart" viewBox="0 0 108 48" role="img" aria-label=label
            data-points=move || points.with(|p| p.len()).to_string()
            data-total=CHART_POSITIONS.len().to_string()
            data-values=move || points.with(|p| chart::values(p))>
            <title>{label}</title>
            <rect class="frame" x="4" y="4" width="100" height="40" />
            <line class="chance" x1="4" x2="104" y1=chance.clone() y2=chance />
            <line class="cursor" x1=move || cursor.get() x2=move || cursor.get() y1="4" y2="44" />
            {move || chart::mark(layer, kind.get()).map(|mark| view! { <PaperMark mark /> })}
            <polyline class="curve" points=move || points.with(|p| chart::polyline(p)) />
            {dots}
        </svg>
    }
}

#[component]
fn PaperMark(mark: chart::Mark) -> impl IntoView {
    let [x1, y1, x2, y2] = mark.level.map(f1);
    let [ax1, ay1, ax2, ay2] = mark.arrow.map(f1);
    view! {
        <g class="paper-mark">
            <title>{mark.text}</title>
            <line x1=x1 x2=x2 y1=y1 y2=y2 />
            <line x1=ax1 x2=ax2 y1=ay1 y2=ay2 />
        </g>
    }
}
