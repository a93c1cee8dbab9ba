#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    lesion::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    lesion::web::start();
}
