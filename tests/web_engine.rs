//! The engine compiled to wasm32, in real headless Chromium: the tiny model on WebGPU and
//! on the CPU backend must give the logits the native build gives, and damage must give
//! bit-identical weights to the native build's.
//!
//! Run by `./dev test`, which first writes the fixtures with the native CLI:
//! `target/web-fixtures/tiny/` (the tiny model installed in the web format) and
//! `target/web-fixtures/logits.safetensors` (native logits for the eight images below),
//! `damaged.safetensors` (`lesion export` with tests/fixtures/damage.txt) and
//! `damaged-logits.safetensors` (`lesion eval` with the same damage, bitflip left out).
#![cfg(target_arch = "wasm32")]

use burn::prelude::Device;
use lesion::eval::{SampleSet, Session, evaluate};
use lesion::model::AlexNet;
use lesion::model::Weights;
use lesion::model::manifest::{self, Manifest};
use lesion::perturb::{Settings, apply};
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

const DAMAGE: &str = include_str!("fixtures/damage.txt");
const DAMAGED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/web-fixtures/damaged.safetensors"
));
const DAMAGED_LOGITS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/web-fixtures/damaged-logits.safetensors"
));

/// The fixture's settings; `finite` leaves out bitflip (as the native logits do).
fn damage(finite: bool) -> Settings {
    let mut settings = Settings::default();
    for line in DAMAGE.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(seed) = line.strip_prefix("seed=") {
            settings.seed = Settings::parse_seed(seed).unwrap();
        } else if !(finite && line.contains("bitflip")) {
            settings.set(line).unwrap();
        }
    }
    settings
}

fn tiny() -> Weights {
    let manifest = Manifest::parse(MANIFEST, "manifest.json").unwrap();
    manifest::load_verified(&manifest, WEIGHTS, "alexnet.safetensors").unwrap()
}

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
    read_logits(NATIVE)
}

fn read_logits(bytes: &[u8]) -> Vec<f32> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let view = st.tensor("logits").unwrap();
    assert_eq!(view.shape(), [8, 1000]);
    view.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

async fn logits_on(device: &Device) -> Vec<f32> {
    let model = AlexNet::from_weights(&tiny(), device).unwrap();
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

thread_local! {
    static GPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

/// The page's one WebGPU device (it can be set up once per page; the tests share it).
async fn gpu() -> Device {
    if let Some(device) = GPU.with(|g| g.borrow().clone()) {
        return device;
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .expect("headless Chromium with --enable-unsafe-webgpu offers a WebGPU adapter");
    GPU.with(|g| *g.borrow_mut() = Some(device.clone()));
    device
}

#[wasm_bindgen_test]
async fn webgpu_in_the_browser_matches_native() {
    let device = gpu().await;
    let got = logits_on(&device).await;
    let diff = max_abs_diff(&got, &native_logits());
    web_sys::console::log_1(&format!("WebGPU vs native: max |diff| = {diff:e}").into());
    // Different kernels and summation order on the GPU; logits are ~0.1 in size.
    assert!(diff < 1e-5, "max abs diff {diff}");
}

#[wasm_bindgen_test]
fn damage_in_wasm_is_bit_identical_to_native() {
    let settings = damage(false);
    assert_eq!(settings.layers.len(), 6, "every kind is exercised");
    let damaged = apply(&tiny(), &settings);
    let native = safetensors::SafeTensors::deserialize(DAMAGED).unwrap();
    for (name, tensor) in damaged.tensors() {
        let view = native.tensor(name).unwrap();
        assert_eq!(view.shape(), tensor.shape(), "{name}");
        let bits: Vec<u32> = view
            .data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let differ = bits
            .iter()
            .zip(tensor.data())
            .filter(|(a, b)| **a != b.to_bits())
            .count();
        assert_eq!(differ, 0, "{name}: {differ} weights differ from native");
    }
    // Another seed is another mask.
    let other = apply(
        &tiny(),
        &Settings {
            seed: settings.seed + 1,
            ..settings.clone()
        },
    );
    assert!(other.tensors() != damaged.tensors());
    web_sys::console::log_1(&"damaged weights: wasm == native, bit for bit".into());
}

#[wasm_bindgen_test]
async fn damaged_model_in_the_browser_matches_native_on_cpu_and_webgpu() {
    let expected = read_logits(DAMAGED_LOGITS);
    for (name, device, tolerance) in [
        ("wasm flex", Device::flex(), 1e-6),
        ("WebGPU", gpu().await, 1e-5),
    ] {
        let mut session = Session::new(tiny(), &samples(), device, |_, _| {})
            .await
            .unwrap();
        let got = session.evaluate(&damage(true), |_, _| {}).await.unwrap();
        let diff = max_abs_diff(&got.logits.data, &expected);
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        web_sys::console::log_1(
            &format!("damaged, {name} vs native: max |diff| = {diff:e} (largest logit {scale})")
                .into(),
        );
        assert!(diff < tolerance * scale, "{name}: max abs diff {diff}");
    }
}
