//! The web page (wasm32 only): Leptos components over the engine. Nothing here computes
//! results; it fetches files, hands them to the engine and shows what comes back.

mod app;
mod backend;
mod client;
mod engine;
mod fetch;
mod loader;
mod protocol;
mod worker;

/// The one WebAssembly module serves both sides: in the page it draws the app; in the
/// evaluation worker (`public/worker.js`, no window there) it serves requests.
pub fn start() {
    if web_sys::window().is_some() {
        mount();
    } else {
        worker::start();
    }
}

/// Installs a panic hook that shows the panic in the page, then mounts the app.
fn mount() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_fatal(&format!("lesion stopped with an internal error: {info}"));
    }));
    leptos::mount::mount_to_body(app::App);
}

/// Writes a message into the page's fatal-error box, outside Leptos (which may be gone).
fn show_fatal(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(el) = document.get_element_by_id("fatal") {
        el.set_text_content(Some(message));
        let _ = el.set_attribute("class", "fatal shown");
    }
}
