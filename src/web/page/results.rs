//! The numbers: top-1, top-5 and agreement with their intervals, relative to the intact
//! model; and an image's top-5.

use leptos::prelude::*;

use super::store::Store;
use super::text::{interval, pct, relative};
use crate::eval::{Assessment, Interval, Report, labels};
use crate::share::{self, Page};
use crate::web::protocol::Results;

/// The three headline numbers, once there are results.
#[component]
pub fn Numbers(intact: Report) -> impl IntoView {
    let store = Store::get();
    let results = store.read(|s| s.results.clone());
    move || {
        results
            .get()
            .map(|results| view! { <Metrics results intact=intact.clone() /> })
    }
}

/// One number with its value for scripts (`data-value`), interval and relation to intact.
#[component]
fn Metric(
    name: &'static str,
    id: &'static str,
    value: f64,
    ci: Interval,
    count: usize,
    of: usize,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="metric">
            <span class="metric-name">{name}</span>
            <span class="metric-value" id=id data-value=value.to_string()>{pct(value)}</span>
            <span class="metric-ci">{interval(ci.lo, ci.hi, count, of)}</span>
            {children()}
        </div>
    }
}

#[component]
fn Metrics(results: Results, intact: Report) -> impl IntoView {
    let settings_text = share::to_query(results.settings(), &Page::default());
    let Assessment {
        report: r,
        comparison: c,
        ..
    } = results.assessment;
    let top1_rel = relative(c.top1_rel, "top-1", intact.top1, c.top1_rel_ci.lo, c.top1_rel_ci.hi);
    let top5_rel = relative(c.top5_rel, "top-5", intact.top5, c.top5_rel_ci.lo, c.top5_rel_ci.hi);
    let (top1_rel_value, top5_rel_value) = (c.top1_rel.to_string(), c.top5_rel.to_string());
    let non_finite = (r.non_finite > 0).then(|| {
        let text = format!("{} images gave NaN/inf (counted wrong)", r.non_finite);
        view! { <span class="metric-rel bad" id="non-finite">{text}</span> }
    });
    view! {
        <div class="metrics" id="metrics" data-settings=settings_text>
            <Metric name="top-1" id="top1" value=r.top1 ci=r.top1_ci count=r.top1_count() of=r.labelled>
                <span class="metric-rel" id="top1-rel" data-value=top1_rel_value>{top1_rel}</span>
            </Metric>
            <Metric name="top-5" id="top5" value=r.top5 ci=r.top5_ci count=r.top5_count() of=r.labelled>
                <span class="metric-rel" id="top5-rel" data-value=top5_rel_value>{top5_rel}</span>
            </Metric>
            <Metric name="agreement with intact top-1" id="agreement" value=c.agreement
                ci=c.agreement_ci count=c.agree_count of=r.n>
                {non_finite}
            </Metric>
        </div>
    }
}

/// An image's five best classes as bars, the true class marked.
#[component]
pub fn TopFive(top5: Vec<(usize, f32)>, label: Option<usize>) -> impl IntoView {
    if top5.is_empty() {
        return view! { <p class="bad">"The logits hold NaN or infinity: no prediction."</p> }
            .into_any();
    }
    let rows = top5.into_iter().map(|(c, p)| {
        let text = format!("{} {:.1}%", labels::name(c), p * 100.0);
        view! {
            <li class:hit=Some(c) == label>
                <span class="bar" style:width=format!("{:.1}%", p * 100.0)></span>
                <span class="bar-label">{text}</span>
            </li>
        }
    });
    view! { <ol class="top5">{rows.collect_view()}</ol> }.into_any()
}
