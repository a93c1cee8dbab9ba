//! The page's evaluation worker: loads the model and runs every evaluation off the page's
//! thread. Built for the browser by Trunk; natively there is nothing to run.

#[cfg(target_arch = "wasm32")]
fn main() {
    lesion::web::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    eprintln!("lesion-worker runs inside the web page (built by trunk); use `lesion` here.");
    std::process::ExitCode::from(2)
}
