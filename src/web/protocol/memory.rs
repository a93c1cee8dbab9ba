//! How much memory this scope's WebAssembly holds (the page's or the worker's): the size of
//! its linear memory, which grows to the largest amount ever live and never shrinks.

use wasm_bindgen::JsCast;

/// Bytes of this module's linear memory.
pub fn wasm_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|memory| {
            memory
                .buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as u64
        })
        .unwrap_or(0)
}
