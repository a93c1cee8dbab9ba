//! The engine compiled to wasm32, in real headless Chromium: the tiny model on WebGPU and
//! on the CPU backend must give the logits the native build gives.
//!
//! Run by `./dev test`, which first writes the fixtures with the native CLI:
//! `target/web-fixtures/tiny/` (the tiny model installed in the web format) and
//! `target/web-fixtures/logits.safetensors` (native logits for the eight images below).
#![cfg(target_arch = "wasm32")]

use burn::prelude::Device;
use lesion::eval::{SampleSet, evaluate};
use lesion::model::AlexNet;
use lesion::model::manifest::{self, Manifest};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MANIFEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/web-fixtures/tiny/manifest.json"
));
const WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/web-fixtures/tiny/alexnet.safetensors"
));
const NATIVE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/web-fixtures/logits.safetensors"
));

macro_rules! sample {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/web-fixtures/samples/",
                $name
            ))
            .as_slice(),
        )
    };
}

fn samples() -> SampleSet {
    let files = [
        sample!("n01440764_tench.jpg"),
        sample!("n02128925_jaguar.jpg"),
        sample!("n03095699_container_ship.jpg"),
        sample!("n03642806_laptop.jpg"),
        sample!("n04310018_steam_locomotive.jpg"),
        sample!("n07747607_orange.jpg"),
        sample!("n09472597_volcano.jpg"),
        sample!("n12768682_buckeye.jpg"),
    ];
    SampleSet::from_encoded(
        files
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect(),
        "fixtures",
    )
    .unwrap()
}

fn native_logits() -> Vec<f32> {
    let st = safetensors::SafeTensors::deserialize(NATIVE).unwrap();
    let view = st.tensor("logits").unwrap();
    assert_eq!(view.shape(), [8, 1000]);
    view.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

async fn logits_on(device: &Device) -> Vec<f32> {
    let manifest = Manifest::parse(MANIFEST, "manifest.json").unwrap();
    let weights = manifest::load_verified(&manifest, WEIGHTS, "alexnet.safetensors").unwrap();
    let model = AlexNet::from_weights(&weights, device).unwrap();
    evaluate(&model, &samples(), device, |_, _| {})
        .await
        .unwrap()
        .data
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[wasm_bindgen_test]
async fn cpu_backend_in_the_browser_matches_native() {
    let got = logits_on(&Device::flex()).await;
    let diff = max_abs_diff(&got, &native_logits());
    web_sys::console::log_1(&format!("wasm flex vs native: max |diff| = {diff:e}").into());
    // Same decoder, same weights, same backend: only f32 summation order may differ.
    assert!(diff < 1e-6, "max abs diff {diff}");
}

#[wasm_bindgen_test]
async fn webgpu_in_the_browser_matches_native() {
    let device = Device::wgpu_options()
        .init_async()
        .await
        .expect("headless Chromium with --enable-unsafe-webgpu offers a WebGPU adapter");
    let got = logits_on(&device).await;
    let diff = max_abs_diff(&got, &native_logits());
    web_sys::console::log_1(&format!("WebGPU vs native: max |diff| = {diff:e}").into());
    // Different kernels and summation order on the GPU; logits are ~0.1 in size.
    assert!(diff < 1e-5, "max abs diff {diff}");
}
