//! Choosing the device the model runs on in the browser: WebGPU through Burn when the
//! browser has a hardware adapter (with the adapter's own limits), else Burn's CPU backend
//! with a visible notice. A software adapter (SwiftShader and the like) is passed over unless the
//! link asks for the GPU: it ran the demo model about 30x slower than the CPU path here.

use burn::prelude::Device;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::engine::Placement;
use crate::share::BackendChoice;

/// The device chosen and what the page should say about it.
pub struct Chosen {
    pub placement: Placement,
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

/// What the browser says of the adapter WebGPU would use: a description and whether it
/// runs in software. `None` when there is no adapter (wgpu then fails and the CPU is used).
async fn adapter() -> Option<(String, bool)> {
    let get = |v: &JsValue, key: &str| Reflect::get(v, &JsValue::from_str(key)).ok();
    let gpu = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "gpu"))?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise).await.ok()?;
    if adapter.is_null() || adapter.is_undefined() {
        return None;
    }
    let info = get(&adapter, "info").filter(|i| i.is_object());
    let text = |key: &str| info.as_ref().and_then(|i| get(i, key)?.as_string());
    let description = ["description", "vendor", "architecture", "device"]
        .iter()
        .filter_map(|key| text(key))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let flagged = |v: Option<JsValue>| v.and_then(|f| f.as_bool()).unwrap_or(false);
    let lower = description.to_lowercase();
    let software = flagged(info.as_ref().and_then(|i| get(i, "isFallbackAdapter")))
        || flagged(get(&adapter, "isFallbackAdapter"))
        || [
            "swiftshader",
            "llvmpipe",
            "lavapipe",
            "software",
            "basic render",
        ]
        .iter()
        .any(|name| lower.contains(name));
    Some((description, software))
}

pub fn cpu(notice: String) -> Chosen {
    Chosen {
        placement: Placement {
            device: Device::flex(),
            label: "CPU (WebAssembly, burn flex)".into(),
            on_gpu: false,
        },
        max_binding: u64::MAX,
        notice: Some(notice),
    }
}

/// `choice` comes from the link's `backend=`.
pub async fn choose(choice: BackendChoice) -> Chosen {
    if choice == BackendChoice::Cpu {
        return cpu("Running on the CPU because the link asks for it (backend=cpu).".into());
    }
    if !has_webgpu() {
        return cpu(
            "This browser does not offer WebGPU, so lesion runs on the CPU: the same numbers, but slower."
                .into(),
        );
    }
    let (description, software) = adapter().await.unwrap_or_default();
    if software && choice == BackendChoice::Auto {
        return cpu(format!(
            "This browser's WebGPU runs in software ({}), which is far slower than lesion's CPU path, so lesion runs on the CPU. Add backend=gpu to the link to use it anyway.",
            if description.is_empty() {
                "a fallback adapter"
            } else {
                &description
            }
        ));
    }
    webgpu(description).await
}

/// Opens WebGPU. cubecl requests the adapter's own limits, so fc6 (151 MB in f32) fits a
/// single storage binding wherever the adapter allows it.
async fn webgpu(description: String) -> Chosen {
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let limits = setup.device.limits();
            let name = if !info.name.is_empty() {
                info.name
            } else if !description.is_empty() {
                description
            } else {
                "unnamed adapter".to_string()
            };
            let mib = limits.max_storage_buffer_binding_size / (1 << 20);
            Chosen {
                placement: Placement {
                    device,
                    label: format!("WebGPU ({name}; storage binding up to {mib} MiB)"),
                    on_gpu: true,
                },
                max_binding: limits.max_storage_buffer_binding_size,
                notice: None,
            }
        }
        Err(err) => cpu(format!(
            "WebGPU is present but no GPU device could be opened ({err}); running on the CPU instead."
        )),
    }
}
