//! The demo model zero-padded to torchvision's full size: the real number of parameters in
//! the real shapes, never taken for the official weights, and the demo's own logits.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Instant;

use burn::prelude::Device;
use common::*;
use lesion::eval::{SampleSet, evaluate};
use lesion::model::official::{FULL_SIZE, FULL_SIZE_PARAMETERS, is_official};
use lesion::model::padded::pad_to_full_size;
use lesion::model::{AlexNet, Layer, ModelKind, Weights};

/// torchvision's AlexNet state dict, `[out, in, k, k]` / `[out, in]`.
const TORCHVISION_SHAPES: [(Layer, &[usize]); 8] = [
    (Layer::Conv1, &[64, 3, 11, 11]),
    (Layer::Conv2, &[192, 64, 5, 5]),
    (Layer::Conv3, &[384, 192, 3, 3]),
    (Layer::Conv4, &[256, 384, 3, 3]),
    (Layer::Conv5, &[256, 256, 3, 3]),
    (Layer::Fc6, &[4096, 9216]),
    (Layer::Fc7, &[4096, 4096]),
    (Layer::Fc8, &[1000, 4096]),
];

fn logits(weights: &Weights, samples: &SampleSet) -> Vec<f32> {
    let device = Device::flex();
    let model = AlexNet::from_weights(weights, &device).unwrap();
    pollster::block_on(evaluate(&model, samples, &device, |_, _| {}))
        .unwrap()
        .data
}

#[test]
fn the_padded_demo_has_torchvisions_shapes_and_is_not_official() {
    let demo = demo();
    let started = Instant::now();
    let padded = pad_to_full_size(&demo).unwrap();
    println!("padding the demo took {:?}", started.elapsed());
    assert_eq!(padded.architecture(), FULL_SIZE);
    assert_eq!(padded.num_parameters(), FULL_SIZE_PARAMETERS);
    assert_eq!(padded.num_parameters(), 61_100_840);
    assert_eq!(padded.tensors().len(), 16);
    for (layer, shape) in TORCHVISION_SHAPES {
        assert_eq!(padded.weight(layer).shape(), shape, "{}", layer.name());
        assert_eq!(padded.bias(layer).shape(), &shape[..1], "{}", layer.name());
    }
    let info = padded.info();
    assert_eq!(info.kind, ModelKind::Custom);
    assert!(
        info.source.contains("zero-padded") && info.source.contains("DEMO"),
        "{}",
        info.source
    );
    let sha = lesion::cli::source::file_sha256(&reference("alexnet_demo.pth")).unwrap();
    assert!(!is_official(&sha, &padded), "the demo's sha256 is {sha}");
}

/// A few real sample images through the demo and the padded demo, natively: the padded
/// network's extra channels are exactly zero, so only f32 summation order may differ.
#[test]
fn the_padded_demo_gives_the_demos_logits() {
    let all = SampleSet::load_dir(&data().join("images_100")).unwrap();
    let samples = SampleSet {
        samples: all.samples.into_iter().step_by(13).take(8).collect(),
    };
    assert_eq!(samples.len(), 8);
    let demo = demo();
    let padded = pad_to_full_size(&demo).unwrap();
    let started = Instant::now();
    let small = logits(&demo, &samples);
    let small_time = started.elapsed();
    let started = Instant::now();
    let full = logits(&padded, &samples);
    let full_time = started.elapsed();
    assert_eq!(small.len(), 8 * 1000);
    let scale = small.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let small_f64: Vec<f64> = small.iter().map(|v| *v as f64).collect();
    let diff = max_abs_diff(&full, &small_f64);
    println!(
        "8 images: max |padded - demo logit| = {diff:.3e} (logits up to {scale:.2}); demo {small_time:?}, padded {full_time:?}"
    );
    assert!(scale > 1.0, "the demo's logits are not all near zero");
    assert!(diff < 1e-4, "max abs diff {diff:e}");
}
