//! `lesion eval --device wgpu` natively: Burn's wgpu backend on whatever Vulkan adapter the
//! machine has (a GPU, or Mesa's lavapipe, which `./dev test` installs) must give the CPU's
//! logits. Ignored by a bare `cargo test`, which may run where no adapter exists.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;

fn logits(device: &str, dir: &std::path::Path) -> Vec<f32> {
    let out_file = dir.join(format!("{device}.safetensors"));
    let samples = data().join("images_100");
    let weights = reference("alexnet_demo.pth");
    lesion_ok(&[
        "eval".as_ref(),
        "--device".as_ref(),
        device.as_ref(),
        "--samples".as_ref(),
        samples.as_os_str(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--dump-logits".as_ref(),
        out_file.as_os_str(),
    ]);
    read_tensor(&out_file, "logits")
        .1
        .iter()
        .map(|v| *v as f32)
        .collect()
}

#[test]
#[ignore = "needs a Vulkan adapter (a GPU or lavapipe): run by ./dev test"]
fn wgpu_backend_matches_the_cpu_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let cpu = logits("cpu", tmp.path());
    let gpu = logits("wgpu", tmp.path());
    let cpu64: Vec<f64> = cpu.iter().map(|v| *v as f64).collect();
    let diff = max_abs_diff(&gpu, &cpu64);
    println!("demo model, 100 images: max |logit(wgpu) - logit(cpu)| = {diff:.2e} (logit std 16)");
    // Different kernels and summation order; logits of this model reach ~140.
    assert!(diff < 1e-3, "{diff}");
}
