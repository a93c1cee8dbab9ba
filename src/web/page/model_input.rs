//! Which model, and how much of the sample set: the model's badge, the CPU's subset
//! choice, and weights from this computer (a drop zone and a file picker).

use leptos::prelude::*;

use super::state::Loading;
use super::store::Store;
use super::text;
use crate::model::ModelInfo;
use crate::web::protocol::{PickedFile, Request};

#[component]
pub fn ModelBadge(model: ModelInfo) -> impl IntoView {
    let (class, text) = text::badge(&model);
    let kind = format!("{:?}", model.kind).to_lowercase();
    view! { <p class=class id="model" data-kind=kind>{text}</p> }
}

/// On the CPU: evaluate all images, or an evenly spread subset for quicker answers. The
/// choice is part of the link (`images=N`), so it reloads the page with the same damage.
#[component]
pub fn SubsetChoice() -> impl IntoView {
    let store = Store::get();
    let current = store.peek(|s| s.page.images);
    let choice = move |images: Option<usize>, text: &'static str| {
        let id = format!("images-{}", images.map_or("all".into(), |n| n.to_string()));
        if images == current {
            view! { <strong id=id aria-current="true">{text}</strong> }.into_any()
        } else {
            let href = store.read(move |s| s.query_with_images(images));
            view! { <a id=id href=move || href.get()>{text}</a> }.into_any()
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

/// Hands the picked files to the worker, which reads them (the page copies nothing). One
/// larger than any AlexNet is refused before it is read. The model on screen changes only
/// once the new one is ready.
fn take(store: Store, files: Option<web_sys::FileList>) {
    let Some(files) = files else { return };
    let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    if files.is_empty() {
        return;
    }
    let picked: Vec<PickedFile> = files
        .iter()
        .map(|f| PickedFile {
            name: f.name(),
            size: f.size() as u64,
        })
        .collect();
    if let Some(Err(failure)) = picked.iter().map(PickedFile::check_size).find(Result::is_err) {
        return store.update(|s| s.file_status = Some(failure.to_string()));
    }
    store.update(|s| {
        s.file_status = Some("Reading the file…".into());
        s.loading = Some(Loading::Files);
    });
    let beside: js_sys::Array = files.into_iter().collect();
    store.send_with(&Request::LoadFiles(picked), Some(&beside.into()));
}

#[component]
pub fn DropZone() -> impl IntoView {
    let store = Store::get();
    let (over, set_over) = signal(false);
    let status = store.read(|s| s.file_status.clone());
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        set_over.set(false);
        take(store, ev.data_transfer().and_then(|d| d.files()));
    };
    let on_pick = move |ev| {
        let input = event_target::<web_sys::HtmlInputElement>(&ev);
        take(store, input.files());
        // Empty again, so the next pick is a fresh list (even of the same file).
        input.set_value("");
    };
    view! {
        <div class="dropzone" class:over=over
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); set_over.set(true); }
            on:dragleave=move |_| set_over.set(false)
            on:drop=on_drop>
            <label for="weights-file">"Your own weights: drop the "<code>"alexnet.safetensors"</code>
                " (and "<code>"manifest.json"</code>") written by "<code>"lesion weights install"</code>" here, or "</label>
            <input id="weights-file" type="file" multiple accept=".safetensors,.json,.pth" on:change=on_pick />
            <p class="file-status" id="file-status" role="status">{move || status.get()}</p>
        </div>
    }
}
