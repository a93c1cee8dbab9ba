#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    lesion::cli::main()
}

/// In the browser: the page. The evaluation worker is `lesion-worker` (src/worker_main.rs).
#[cfg(target_arch = "wasm32")]
fn main() {
    lesion::web::page::mount();
}
