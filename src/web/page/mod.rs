//! The page, one of the two programs in the web front end: Leptos components over the
//! page state. It computes nothing: it sends requests to the worker and shows its replies
//! (see `protocol`). The decisions (`state`, `reducer`), the figure's geometry
//! (`figure`) and the words (`text`) are plain Rust, tested natively; the rest is the browser's.

pub mod figure;
pub mod reducer;
pub mod state;
pub mod text;

browser_only!(
    app,
    figure_view,
    guide,
    client,
    compare,
    controls,
    images,
    inside_view,
    model_input,
    results,
    store,
);

/// Installs a panic hook that shows the panic in the page, then mounts the app.
#[cfg(target_arch = "wasm32")]
pub fn mount() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&format!("lesion stopped with an internal error: {info}"));
    }));
    leptos::mount::mount_to_body(app::App);
}

/// Writes a message into the page's fatal-error box, outside Leptos (which may be gone).
#[cfg(target_arch = "wasm32")]
fn show_fatal(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(el) = document.get_element_by_id("fatal") {
        el.set_text_content(Some(message));
        let _ = el.set_attribute("class", "fatal shown");
    }
}
