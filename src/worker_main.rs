//! lesion's evaluation worker, a WebAssembly module of its own: `public/worker.js` starts
//! it in a Web Worker, where it serves the page's requests (load, evaluate, charts). The
//! page (`src/main.rs`) is a separate, much smaller module: it never runs the model.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "lesion-worker runs in a browser, inside the site `trunk build` makes; use `lesion` here"
    );
    std::process::ExitCode::from(2)
}

#[cfg(target_arch = "wasm32")]
fn main() {
    lesion::web::worker::start();
}
