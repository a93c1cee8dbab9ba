//! lesion's model and preprocessing against PyTorch's own outputs (../shared/data/reference).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use burn::prelude::Device;
use common::*;
use lesion::eval::preprocess::decode_and_crop;
use lesion::eval::{Report, SampleSet, evaluate};
use lesion::model::{AlexNet, ModelInfo, ModelKind, pth};

fn info(name: &str) -> ModelInfo {
    ModelInfo {
        kind: ModelKind::Custom,
        name: name.into(),
        source: name.into(),
    }
}

fn logits_on(file: &str, set: &SampleSet) -> Vec<f32> {
    let weights = pth::read_pth(&reference(file), info(file)).unwrap();
    let device = Device::flex();
    let model = AlexNet::from_weights(&weights, &device).unwrap();
    pollster::block_on(evaluate(&model, set, &device, |_, _| {}))
        .unwrap()
        .data
}

/// The model alone, fed PyTorch's own crops: only f32 rounding may differ.
#[test]
fn tiny_model_matches_pytorch_logits_in_both_pth_formats() {
    let set = torch_crop_set();
    let (shape, expected) = read_tensor(&reference("alexnet_tiny_logits.safetensors"), "logits");
    assert_eq!(shape, vec![100, 1000]);
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for file in ["alexnet_tiny.pth", "alexnet_tiny_legacy.pth"] {
        let got = logits_on(file, &set);
        let diff = max_abs_diff(&got, &expected);
        println!("{file}: max |logit - pytorch| = {diff:.3e} (logits up to {scale:.3})");
        // The tiny model's logits are ~0.1; f32 accumulation differences stay below 1e-5 of that.
        assert!(diff < 1e-6, "{file}: max abs diff {diff:e}");
    }
}

/// Our JPEG decode + crop against PIL (libjpeg-turbo) + torchvision's Resize/CenterCrop.
#[test]
fn preprocessing_matches_torchvision_crops() {
    let crops = torch_crops();
    let files = sorted_files("images_100");
    let (mut sum, mut count, mut max) = (0u64, 0u64, 0u8);
    for (file, expected) in files.iter().zip(&crops) {
        let bytes = std::fs::read(data().join("images_100").join(file)).unwrap();
        let ours = decode_and_crop(&bytes, file).unwrap();
        assert_eq!(ours.dimensions(), (224, 224), "{file}");
        for (a, b) in ours.as_raw().iter().zip(expected) {
            let d = a.abs_diff(*b);
            sum += d as u64;
            count += 1;
            max = max.max(d);
        }
    }
    let mean = sum as f64 / count as f64;
    println!("decode+crop vs PyTorch over 100 images: mean |diff| = {mean:.4} levels, max = {max}");
    // Decoders differ only in IDCT/upsampling rounding. Measured: mean 0.21 levels, max 4.
    assert!(mean < 0.3, "mean pixel difference {mean}");
    assert!(max <= 8, "max pixel difference {max}");
}

/// The demo model end to end (our decoder) on `folder`, against PyTorch's labels, accuracy
/// and logits. `stride` picks PyTorch's rows: images_100 holds classes 0, 10, ..., 990.
fn demo_end_to_end(folder: &str, stride: usize) {
    let set = SampleSet::load_dir(&data().join(folder)).unwrap();
    let n = set.len();
    assert_eq!(n, 1000 / stride);
    let got = logits_on("alexnet_demo.pth", &set);
    let (shape, all) = read_tensor(&reference("alexnet_demo_logits.safetensors"), "logits");
    assert_eq!(shape, vec![1000, 1000]);
    let expected: Vec<f64> = (0..n)
        .flat_map(|i| all[i * stride * 1000..(i * stride + 1) * 1000].to_vec())
        .collect();
    let matrix = lesion::eval::LogitMatrix {
        classes: 1000,
        data: got.clone(),
    };
    let report = Report::new(&matrix, &set.labels());
    let torch = lesion::eval::LogitMatrix {
        classes: 1000,
        data: expected.iter().map(|v| *v as f32).collect(),
    };
    let torch_report = Report::new(&torch, &set.labels());
    let diff = max_abs_diff(&got, &expected);
    println!(
        "demo on {folder}: top-1 {} (pytorch {}), top-5 {} (pytorch {}), max |logit diff| {diff:.4} (logit std 16.0)",
        report.top1, torch_report.top1, report.top5, torch_report.top5
    );
    // PyTorch's own accuracy on the 1000 sample images (alexnet_demo.json): 1.0 and 1.0.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference("alexnet_demo.json")).unwrap())
            .unwrap();
    if stride == 1 {
        let top1 = (json["top1_on_samples"].as_f64().unwrap() * n as f64).round() as usize;
        let top5 = (json["top5_on_samples"].as_f64().unwrap() * n as f64).round() as usize;
        assert!(
            report.top1_count().abs_diff(top1) <= 1,
            "top-1 {} vs {top1}",
            report.top1_count()
        );
        assert!(
            report.top5_count().abs_diff(top5) <= 1,
            "top-5 {} vs {top5}",
            report.top5_count()
        );
    }
    assert!(report.top1_count().abs_diff(torch_report.top1_count()) <= 1);
    assert!(report.top5_count().abs_diff(torch_report.top5_count()) <= 1);
    // Decoder differences move logits by a small fraction of their spread (std 16).
    assert!(diff < 1.5, "max logit difference {diff}");
    let same_top1 = (0..n)
        .filter(|&i| report.predictions[i].top1() == torch_report.predictions[i].top1())
        .count();
    assert!(
        same_top1 + 1 >= n,
        "top-1 agrees with PyTorch on {same_top1}/{n} images"
    );
}

#[test]
fn demo_model_end_to_end_on_images_100() {
    demo_end_to_end("images_100", 10);
}

#[test]
fn demo_model_end_to_end_on_images_1000() {
    demo_end_to_end("images_1000", 1);
}
