//! The web front end: two programs that meet only in [`protocol`]. The [`page`] (Leptos
//! components over the page state) and the [`worker`] (the engine in a Web Worker:
//! loading, WebGPU or CPU, scheduling) never import each other, and each is a WebAssembly
//! module of its own: the page (`src/main.rs`, a few MB: Leptos and the protocol) and
//! the worker (`src/worker_main.rs`, started by `public/worker.js`: the model, burn and
//! the fetching). So the browser compiles and keeps burn's code once, in the worker, and
//! the page draws before the worker's module has even arrived. The browser-only parts
//! compile for wasm32; the decisions (reducer, scheduler, chart geometry, texts) compile
//! everywhere and are tested natively.

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
