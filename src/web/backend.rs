//! Choosing where the model runs in the browser: WebGPU through Burn when the browser has
//! it (with the adapter's own limits), else Burn's CPU backend with a visible notice.

use burn::prelude::Device;
use wasm_bindgen::JsValue;

/// The device in use and what the page should say about it.
pub struct Backend {
    pub device: Device,
    /// e.g. "WebGPU (SwiftShader Device)" or "CPU (WebAssembly)".
    pub label: String,
    pub is_gpu: bool,
    /// The largest storage buffer one binding may hold (bytes); unlimited on the CPU.
    pub max_binding: u64,
    /// Why the CPU is used, when it is.
    pub notice: Option<String>,
}

/// Whether `navigator.gpu` exists here (the page or the worker).
fn has_webgpu() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .and_then(|n| js_sys::Reflect::get(&n, &JsValue::from_str("gpu")))
        .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

pub fn cpu(notice: String) -> Backend {
    Backend {
        device: Device::flex(),
        label: "CPU (WebAssembly, burn flex)".into(),
        is_gpu: false,
        max_binding: u64::MAX,
        notice: Some(notice),
    }
}

/// `force_cpu` comes from `?backend=cpu`.
pub async fn choose(force_cpu: bool) -> Backend {
    if force_cpu {
        return cpu("Running on the CPU because the link asks for it (backend=cpu).".into());
    }
    if !has_webgpu() {
        return cpu(
            "This browser does not offer WebGPU, so lesion runs on the CPU: the same numbers, but slower."
                .into(),
        );
    }
    // cubecl requests the adapter's own limits, so fc6 (151 MB in f32) fits a single
    // storage binding wherever the adapter allows it.
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let limits = setup.device.limits();
            Backend {
                device,
                label: format!(
                    "WebGPU ({}; storage binding up to {} MiB)",
                    if info.name.is_empty() {
                        "unnamed adapter".to_string()
                    } else {
                        info.name
                    },
                    limits.max_storage_buffer_binding_size / (1 << 20)
                ),
                is_gpu: true,
                max_binding: limits.max_storage_buffer_binding_size,
                notice: None,
            }
        }
        Err(err) => cpu(format!(
            "WebGPU is present but no GPU device could be opened ({err}); running on the CPU instead."
        )),
    }
}
