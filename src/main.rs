#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    lesion::cli::main()
}

// The static constructors the linker collects (Burn's GPU compiler registers its
// operations through `inventory`). A module that never calls them itself is linked as a
// "command": wasm-ld then makes every export (each closure the browser invokes, each
// JavaScript value handed in) run all of them first, and every slider move paid for
// that thousands of times. Calling them once here, from the start function, makes it a
// module whose exports run only themselves (see `inventory`'s notes on WebAssembly).
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // SAFETY: the linker's own function, called once, first, before any code that reads
    // what the constructors register.
    unsafe { __wasm_call_ctors() };
    lesion::web::start();
}
