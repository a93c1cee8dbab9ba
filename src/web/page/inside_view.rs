//! "A look inside": conv1's filters, and for one chosen image its top-5 and its conv1
//! feature maps, each intact beside damaged. The worker draws the pictures (see
//! `eval::inside`); the page shows them as they are.

use leptos::prelude::*;

use super::results::TopFive;
use super::state::PageState;
use super::store::Store;
use crate::eval::inside::{GAP, Picture};
use crate::eval::labels;
use crate::share::{self, Page};
use crate::web::protocol::LoadedModel;

#[component]
pub fn LookInside(model: StoredValue<LoadedModel>) -> impl IntoView {
    let store = Store::get();
    let inside = store.read(|s| s.inside.clone());
    let current = store.read(PageState::inside_is_current);
    let inspected = store.read(PageState::inspected);
    let (file, label) = {
        let at = move |i: usize| model.with_value(|m| (m.files[i].clone(), m.labels[i]));
        (move || at(inspected.get()).0, move || at(inspected.get()).1)
    };
    let truth = move || label().map(labels::name).unwrap_or("unlabelled").to_string();
    let top5_now = store.read(|s| {
        let i = s.inspected();
        let report = &s.results.as_ref()?.assessment.report;
        Some(report.predictions.get(i)?.top5.clone())
    });
    let top5_intact = move || {
        let i = inspected.get();
        model.with_value(|m| m.intact.predictions.get(i).map(|p| p.top5.clone()))
    };
    let pictures = move || {
        inside.get().map(|inside| {
            let settings = share::to_query(&inside.settings, &Page::default());
            view! {
                <div class="inside-pictures" data-settings=settings data-image=inside.image.to_string()
                    data-filter-scale=inside.filter_scale.to_string()>
                    <Pair title="conv1's filters" id="filters" intact=inside.filters_intact damaged=inside.filters
                        note="Each tile is one filter: its 11\u{d7}11 weights on the red, green and blue channels of the image. Grey is zero, so removed and pruned weights turn grey, noise speckles, a knocked-out filter is a plain grey tile, and magenta marks a weight that is no longer a number (a flipped bit)." />
                    <Pair title="What conv1 makes of the image" id="maps" intact=inside.maps_intact damaged=inside.maps
                        note="One map per filter, after ReLU: bright where the filter responds. Both on the intact map's scale, so a darker map lost its response and magenta is NaN." />
                </div>
            }
        })
    };
    let options = model.with_value(|m| {
        m.files
            .iter()
            .zip(&m.labels)
            .enumerate()
            .map(|(i, (file, label))| {
                let name = label.map(labels::name).unwrap_or("unlabelled");
                let text = format!("{}: {name} ({file})", i + 1);
                view! { <option value=i.to_string() prop:selected=move || inspected.get() == i>{text}</option> }
            })
            .collect_view()
    });
    let on_image = move |ev| {
        if let Ok(i) = event_target_value(&ev).parse::<usize>() {
            store.update(|s| s.selected = Some(i));
        }
    };
    view! {
        <section class="inside" id="inside" aria-labelledby="inside-title"
            data-current=move || current.get().to_string()>
            <div class="inside-head">
                <h2 id="inside-title">"A look inside"</h2>
                <label>"Image "<select id="inside-image" on:change=on_image>{options}</select></label>
            </div>
            <div class="inside-image">
                <img src=move || format!("samples/{}", file()) alt=truth width="112" height="112" />
                <div class="pair">
                    <div id="top5-intact">
                        <h3>"intact"</h3>
                        {move || top5_intact().map(|top5| view! { <TopFive top5 label=label() /> })}
                    </div>
                    <div id="top5-now">
                        <h3>"as damaged"</h3>
                        {move || top5_now.get().map(|top5| view! { <TopFive top5 label=label() /> })}
                    </div>
                </div>
                <p class="inside-truth">{move || format!("true class: {}", truth())}</p>
            </div>
            {pictures}
        </section>
    }
}

/// An intact picture beside its damaged one (`#{id}-intact`, `#{id}-now`), and what they show.
#[component]
fn Pair(
    title: &'static str,
    id: &'static str,
    intact: Picture,
    damaged: Picture,
    note: &'static str,
) -> impl IntoView {
    view! {
        <h3>{title}</h3>
        <div class="pair">
            <Shown picture=intact id=format!("{id}-intact") caption="intact" />
            <Shown picture=damaged id=format!("{id}-now") caption="as damaged" />
        </div>
        <p class="inside-note">{note}</p>
    }
}

/// A picture from the worker, shown pixel for pixel (scaled up by the style sheet), with
/// its grid for scripts that read it back.
#[component]
fn Shown(picture: Picture, id: String, caption: &'static str) -> impl IntoView {
    let url = png_url(&picture.png);
    let revoke = url.clone();
    on_cleanup(move || {
        if let Some(url) = &revoke {
            let _ = web_sys::Url::revoke_object_url(url);
        }
    });
    let grid = picture.grid;
    view! {
        <figure class="picture">
            <img id=id src=url.unwrap_or_default() alt=format!("{caption}: {} tiles", grid.tiles)
                width=grid.width().to_string() height=grid.height().to_string()
                data-tiles=grid.tiles.to_string() data-cols=grid.cols.to_string() data-tile-w=grid.tile_w.to_string()
                data-tile-h=grid.tile_h.to_string() data-gap=GAP.to_string() />
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

/// An object URL for PNG bytes (revoked when the picture goes).
fn png_url(png: &[u8]) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(png));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/png");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
