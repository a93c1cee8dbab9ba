//! The paper's figure, live: every layer's curve (relative top-1 against the amount of
//! damage, its 95% band, its current setting marked), filled in by the worker while the
//! page is idle, with the paper's claims drawn in; saved as SVG or PNG. The geometry is
//! `figure`'s; the drawing uses presentation attributes only, so a saved file looks the
//! same without the page's style sheet.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::figure::{self, COLOURS, LEFT, PLOT_H, PLOT_W, TOP};
use super::store::Store;
use crate::model::Layer;
use crate::perturb::Kind;
use crate::web::protocol::CHART_POSITIONS;

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

#[component]
pub fn PaperFigure() -> impl IntoView {
    let store = Store::get();
    let kinds = store.read(|s| s.kinds);
    let common = move || {
        let k = kinds.get();
        k.iter().all(|x| *x == k[0]).then_some(k[0])
    };
    let on_kind = move |ev| {
        if let Ok(kind) = event_target_value(&ev).parse::<Kind>() {
            store.update(|s| s.set_all_kinds(kind));
        }
    };
    let options = Kind::ALL.into_iter().map(move |k| {
        view! { <option value=k.name() prop:selected=move || common() == Some(k)>{k.name()}</option> }
    });
    let (saved, set_saved) = signal(String::new());
    view! {
        <section class="figure" aria-labelledby="figure-title">
            <div class="figure-head">
                <h2 id="figure-title">"Accuracy left, each layer damaged alone"</h2>
                <label class="figure-kind">"Kind, all layers "
                    <select id="figure-kind" on:change=on_kind>
                        <option value="" disabled=true prop:selected=move || common().is_none()>"mixed"</option>
                        {options.collect_view()}
                    </select>
                </label>
                <button id="save-svg" class="quiet" on:click=move |_| set_saved.set(save(false))>"Save SVG"</button>
                <button id="save-png" class="quiet" on:click=move |_| set_saved.set(save(true))>"Save PNG"</button>
                <span class="copied" role="status">{saved}</span>
            </div>
            <FigureSvg />
            <p class="figure-note">
                "Each curve damages one layer alone, with this seed, and fills in while the page is idle (the layer you moved first). Shaded: 95% interval. Ringed dot: that layer's current setting. Dashed marks: what Cheney et al. (2017) found for random removal."
            </p>
        </section>
    }
}

#[component]
fn FigureSvg() -> impl IntoView {
    let store = Store::get();
    let kinds = store.read(|s| s.kinds);
    let first_kind = move || kinds.get()[0];
    let chance = store.read(|s| {
        s.model()
            .map(|m| if m.intact.top1 > 0.0 { 0.001 / m.intact.top1 } else { 0.0 })
            .unwrap_or(0.0)
    });
    let gridlines = [0.0, 0.25, 0.5, 0.75, 1.0].map(|rel| {
        let y = f1(figure::y(rel));
        view! {
            <line x1=f1(LEFT) x2=f1(LEFT + PLOT_W) y1=y.clone() y2=y.clone() stroke="#e2e2dc" stroke-width="1" />
            <text x=f1(LEFT - 6.0) y=f1(figure::y(rel) + 4.0) text-anchor="end" font-size="12" fill="#555">
                {format!("{:.0}%", rel * 100.0)}
            </text>
        }
    });
    let ticks = move || {
        figure::x_ticks(first_kind())
            .into_iter()
            .map(|(p, text)| {
                let x = f1(figure::x(p as f64));
                view! {
                    <line x1=x.clone() x2=x.clone() y1=f1(TOP + PLOT_H) y2=f1(TOP + PLOT_H + 5.0) stroke="#555" />
                    <text x=x y=f1(TOP + PLOT_H + 19.0) text-anchor="middle" font-size="12" fill="#555">{text}</text>
                }
            })
            .collect_view()
    };
    let chance_y = move || f1(figure::y(chance.get()));
    view! {
        <svg id="figure-svg" class="paper-figure" xmlns="http://www.w3.org/2000/svg"
            viewBox=format!("0 0 {} {}", figure::WIDTH, figure::HEIGHT) role="img"
            aria-labelledby="figure-title" font-family="system-ui, sans-serif">
            <rect x="0" y="0" width=f1(figure::WIDTH) height=f1(figure::HEIGHT) fill="#ffffff" />
            {gridlines.into_iter().collect_view()}
            <line x1=f1(LEFT) x2=f1(LEFT + PLOT_W) y1=chance_y y2=chance_y stroke="#999" stroke-dasharray="4 3" />
            <text x=f1(LEFT + PLOT_W - 4.0) y=move || f1(figure::y(chance.get()) - 4.0) text-anchor="end" font-size="11" fill="#777">"chance"</text>
            <line x1=f1(LEFT) x2=f1(LEFT) y1=f1(TOP) y2=f1(TOP + PLOT_H) stroke="#555" />
            <line x1=f1(LEFT) x2=f1(LEFT + PLOT_W) y1=f1(TOP + PLOT_H) y2=f1(TOP + PLOT_H) stroke="#555" />
            {ticks}
            <text x=f1(LEFT + PLOT_W / 2.0) y=f1(figure::HEIGHT - 8.0) text-anchor="middle" font-size="13" fill="#1b1b1b">
                {move || figure::x_title(&kinds.get())}
            </text>
            <text transform=format!("translate(14 {}) rotate(-90)", f1(TOP + PLOT_H / 2.0)) text-anchor="middle" font-size="13" fill="#1b1b1b">
                "top-1, relative to the intact model"
            </text>
            {(0..Layer::ALL.len()).map(|index| view! { <Curve index /> }).collect_view()}
            {(0..Layer::ALL.len()).map(|index| view! { <Claim index /> }).collect_view()}
            {(0..Layer::ALL.len()).map(|index| view! { <LegendEntry index /> }).collect_view()}
        </svg>
    }
}

#[component]
fn Curve(index: usize) -> impl IntoView {
    let store = Store::get();
    let layer = Layer::ALL[index];
    let colour = COLOURS[index];
    let points = store.read(move |s| s.band(index));
    let kind = store.read(move |s| s.kinds[index]);
    let position = store.read(move |s| s.position_of(layer));
    let marker = move || {
        let p = position.get();
        points.with(|pts| figure::at(pts, p)).map(|rel| {
            view! {
                <circle class="current" cx=f1(figure::x(p as f64)) cy=f1(figure::y(rel)) r="6"
                    fill="#ffffff" stroke=colour stroke-width="2.5" />
            }
        })
    };
    view! {
        <g class="curve" data-layer=layer.name() data-points=move || points.with(|p| p.len()).to_string()
            data-total=CHART_POSITIONS.len().to_string() data-values=move || points.with(|p| figure::values(p))>
            <title>{move || points.with(|p| figure::describe(layer, kind.get(), p, CHART_POSITIONS.len()))}</title>
            <polygon points=move || points.with(|p| figure::band(p)) fill=colour fill-opacity="0.08" stroke="none" />
            <polyline points=move || points.with(|p| figure::curve(p)) fill="none" stroke=colour stroke-width="2.2" />
            {move || points.with(|p| {
                p.iter()
                    .filter(|(_, r, _, _)| r.is_finite())
                    .map(|(pos, r, _, _)| view! {
                        <circle cx=f1(figure::x(*pos as f64)) cy=f1(figure::y(*r)) r="2.8" fill=colour />
                    })
                    .collect_view()
            })}
            {marker}
        </g>
    }
}

#[component]
fn Claim(index: usize) -> impl IntoView {
    let store = Store::get();
    let layer = Layer::ALL[index];
    let kind = store.read(move |s| s.kinds[index]);
    move || {
        figure::claim(layer, kind.get()).map(|c| {
            // Above: the curve should stay over the level; below: it falls to it.
            let (from, to) = if c.above { (c.y, c.y - 14.0) } else { (c.y - 16.0, c.y) };
            view! {
                <g class="claim" data-layer=layer.name()>
                    <title>{c.text}</title>
                    <line x1=f1(c.x - 14.0) x2=f1(c.x + 14.0) y1=f1(c.y) y2=f1(c.y)
                        stroke=COLOURS[index] stroke-width="2" stroke-dasharray="4 2" />
                    <line x1=f1(c.x) x2=f1(c.x) y1=f1(from) y2=f1(to) stroke=COLOURS[index] stroke-width="1.5" />
                </g>
            }
        })
    }
}

#[component]
fn LegendEntry(index: usize) -> impl IntoView {
    let store = Store::get();
    let layer = Layer::ALL[index];
    let points = store.read(move |s| s.chart(index).len());
    let y = TOP + 10.0 + index as f64 * 22.0;
    let x = LEFT + PLOT_W + 18.0;
    view! {
        <line x1=f1(x) x2=f1(x + 22.0) y1=f1(y) y2=f1(y) stroke=COLOURS[index] stroke-width="3" />
        <text x=f1(x + 28.0) y=f1(y + 4.0) font-size="13" fill="#1b1b1b">
            {move || {
                let n = points.get();
                if n == CHART_POSITIONS.len() {
                    layer.name().to_string()
                } else {
                    format!("{} ({n}/{})", layer.name(), CHART_POSITIONS.len())
                }
            }}
        </text>
    }
}

/// Downloads the figure as SVG, or as a PNG drawn from it; what to tell the visitor.
fn save(png: bool) -> String {
    match try_save(png) {
        Ok(()) => String::new(),
        Err(e) => format!("Could not save the figure: {e:?}"),
    }
}

fn try_save(png: bool) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let svg = document
        .get_element_by_id("figure-svg")
        .ok_or("no figure")?;
    let text = web_sys::XmlSerializer::new()?.serialize_to_string(&svg)?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/svg+xml");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    if !png {
        download(&document, &url, "lesion-figure.svg")?;
        return web_sys::Url::revoke_object_url(&url);
    }
    let image = web_sys::HtmlImageElement::new()?;
    let loaded = image.clone();
    let doc = document.clone();
    let svg_url = url.clone();
    let onload = Closure::once_into_js(move || {
        let draw = || -> Result<(), JsValue> {
            let canvas: web_sys::HtmlCanvasElement = doc.create_element("canvas")?.dyn_into()?;
            let scale = 2.0;
            canvas.set_width((figure::WIDTH * scale) as u32);
            canvas.set_height((figure::HEIGHT * scale) as u32);
            let context: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")?
                .ok_or("no 2d context")?
                .dyn_into()?;
            context.draw_image_with_html_image_element_and_dw_and_dh(
                &loaded,
                0.0,
                0.0,
                figure::WIDTH * scale,
                figure::HEIGHT * scale,
            )?;
            download(&doc, &canvas.to_data_url_with_type("image/png")?, "lesion-figure.png")
        };
        let _ = draw();
        let _ = web_sys::Url::revoke_object_url(&svg_url);
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(&url);
    Ok(())
}

fn download(document: &web_sys::Document, href: &str, name: &str) -> Result<(), JsValue> {
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(href);
    link.set_download(name);
    link.click();
    Ok(())
}
