//! The web front end: two programs that meet only in [`protocol`]. The [`page`] (Leptos
//! components over the page state) and the [`worker`] (the engine in a Web Worker:
//! loading, WebGPU or CPU, scheduling) never import each other. One WebAssembly module
//! serves both: in a window it mounts the page, in the worker (`public/worker.js`) it
//! serves requests. The browser-only parts compile for wasm32; the decisions (reducer,
//! scheduler, chart geometry, texts) compile everywhere and are tested natively.

/// Declares modules that exist only in the browser (they use Leptos or web-sys).
macro_rules! browser_only {
    ($($module:ident),* $(,)?) => {
        $(
            #[cfg(target_arch = "wasm32")]
            mod $module;
        )*
    };
}

pub mod page;
pub mod protocol;
pub mod worker;

/// The entry point of the WebAssembly module, in the page or in the worker.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    if web_sys::window().is_some() {
        page::mount();
    } else {
        worker::start();
    }
}
