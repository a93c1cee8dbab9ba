//! How the page should run AlexNet on the CPU, measured in wasm32 (SIMD, one thread) with a
//! full-size AlexNet of random weights, every comparison within the same run:
//! 1. each layer on Burn's `flex` and on its `ndarray` backend;
//! 2. the dense layers in pieces of several sizes or on all images at once;
//! 3. what a move of a dense layer costs before its product: from a copy of its intact
//!    values in f16, or from what the last drop zeroed (as a session keeps it on the CPU).
//!
//! Prints times and ratios; asserts nothing about speed. `./dev bench-wasm` runs it under
//! node (needs the `ndarray` feature).
#![cfg(target_arch = "wasm32")]

use burn::prelude::*;
use burn::tensor::Distribution;
use lesion::eval::Intact;
use lesion::model::{Activation, AlexNet, Layer, synthetic};
use lesion::perturb::{Damage, Kind, damage_in_place, layer_index};
use wasm_bindgen_test::*;

/// Milliseconds from a monotonic clock (node and browsers both have `performance`).
fn now() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now = js_sys::Reflect::get(&performance, &"now".into()).unwrap();
    js_sys::Function::from(now)
        .call0(&performance)
        .unwrap()
        .as_f64()
        .unwrap()
}

/// Waits for a result (and copies it to the host, as the engine does with logits).
async fn finish(x: &Activation) {
    let data = match x {
        Activation::Maps(x) => x.clone().into_data_async().await,
        Activation::Flat(x) => x.clone().into_data_async().await,
    };
    data.expect("reads back");
}

/// Median of `repeat` timings of one layer on `input`.
async fn time_stage(model: &AlexNet, layer: Layer, input: &Activation, repeat: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..repeat {
        let start = now();
        let y = model.stage(layer, input.clone());
        finish(&y).await;
        times.push(now() - start);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[allow(deprecated)] // burn 0.22 marks ndarray deprecated in favour of flex; it is measured here
fn ndarray() -> Device {
    Device::ndarray()
}

/// Per layer, for the page's batch of `batch` images: flex's time, ndarray's, their ratio.
async fn backends(batch: usize, repeat: usize) {
    let weights = synthetic::full_size();
    let devices = [Device::flex(), ndarray()];
    let mut times = [[0.0; 8]; 2];
    for (d, device) in devices.iter().enumerate() {
        let model = AlexNet::from_weights(&weights, device).expect("builds");
        let mut x = Activation::Maps(Tensor::<4>::random(
            [batch, 3, 224, 224],
            Distribution::Default,
            device,
        ));
        for (k, layer) in Layer::ALL.into_iter().enumerate() {
            // One untimed run first: the first touch of a layer's weights may pay for their
            // layout once (as the page pays once per damage).
            let y = model.stage(layer, x.clone());
            finish(&y).await;
            times[d][k] = time_stage(&model, layer, &x, repeat).await;
            x = y;
        }
    }
    console_log!("1. backend per layer: a batch of {batch} images, median of {repeat} (ms)");
    console_log!("layer     flex  ndarray  ndarray/flex");
    for (k, layer) in Layer::ALL.into_iter().enumerate() {
        console_log!(
            "{:<6} {:>7.1} {:>8.1}  {:>6.2}x",
            layer.name(),
            times[0][k],
            times[1][k],
            times[1][k] / times[0][k]
        );
    }
    let total = |d: usize| times[d].iter().sum::<f64>();
    let best: f64 = (0..8).map(|k| times[0][k].min(times[1][k])).sum();
    console_log!(
        "all    {:>7.1} {:>8.1}  {:>6.2}x   each layer on its faster backend: {best:.1} ms ({:.2}x flex alone)",
        total(0),
        total(1),
        total(1) / total(0),
        total(0) / best
    );
}

/// The dense layers on flex for `images` images: in pieces of each of `pieces` images, and
/// all at once (every piece streams the weights again: fc6's are 151 MB).
async fn dense_path(images: usize, pieces: &[usize], repeat: usize) {
    let weights = synthetic::full_size();
    let device = Device::flex();
    let model = AlexNet::from_weights(&weights, &device).expect("builds");
    let features = Tensor::<2>::random([images, 9216], Distribution::Default, &device);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    console_log!("2. fc6..fc8 on flex for {images} images, median of {repeat}:");
    let mut whole = f64::NAN;
    for &rows in pieces.iter().chain([&images]) {
        let mut times = Vec::new();
        for _ in 0..repeat {
            let start = now();
            for chunk in features.clone().split(rows, 0) {
                let mut x = Activation::Flat(chunk);
                for layer in [Layer::Fc6, Layer::Fc7, Layer::Fc8] {
                    x = model.stage(layer, x);
                    finish(&x).await;
                }
            }
            times.push(now() - start);
        }
        let ms = median(times);
        if rows == images {
            whole = ms;
            console_log!("all at once: {ms:.1} ms");
        } else {
            console_log!("in pieces of {rows}: {ms:.1} ms");
        }
    }
    console_log!("(all at once is the reference: {whole:.1} ms)");
}

/// A dense layer's move before its product, per layer, two ways: with a copy of the intact
/// values kept in f16, the weight filled from it, then `drop` damage (one hash per weight);
/// as a session keeps a layer on the CPU, the weight made intact again in the model's buffer
/// from what the last drop zeroed, then the next drop, keeping what it zeroes.
fn dense_damage(repeat: usize) {
    let mut weights = synthetic::full_size();
    for layer in Layer::ALL {
        let w = weights.weight(layer);
        let halves = w.data().iter().map(|v| half::f16::from_f32(*v).to_f32());
        let (w, b) = (
            w.with_data(halves.collect()).unwrap(),
            weights.bias(layer).clone(),
        );
        weights.set_layer(layer, w, b).unwrap();
    }
    let kept = Intact::keep(&weights);
    let mut lent = Intact::lend(&weights);
    let damage = Damage::new(Kind::Drop, 0.3).unwrap();
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    console_log!("3. a dense layer's move before its product (drop 0.3), median of {repeat}:");
    for layer in [Layer::Fc6, Layer::Fc7, Layer::Fc8] {
        let mut buffer = vec![0.0f32; weights.weight(layer).len()];
        let (mut fill, mut drop) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            let start = now();
            let (w, b) = kept.layer_in(layer, buffer);
            let filled = now();
            let ((_, mut w), (_, mut b)) = (w.into_parts(), b.into_parts());
            damage_in_place(&mut w, &mut b, layer_index(layer), damage, 1);
            drop.push(now() - filled);
            fill.push(filled - start);
            buffer = w;
        }
        let mut model = weights.weight(layer).data().to_vec();
        let (mut zeroing, before) = (Vec::new(), lent.bytes());
        for seed in 0..=repeat as u64 {
            let start = now();
            let (w, _) = lent.next_version(layer, model, Some((damage, seed)));
            // The first is the layer's first damage, from the model's intact values.
            if seed > 0 {
                zeroing.push(now() - start);
            }
            model = w.into_parts().1;
        }
        let (fill, drop, zeroing) = (median(fill), median(drop), median(zeroing));
        console_log!(
            "{}: a copy kept ({:.1} MB): filled from f16 {fill:.1} ms + drop {drop:.1} ms; what drop zeroed kept ({:.1} MB): made intact and dropped {zeroing:.1} ms (copy / zeroed = {:.2}x)",
            layer.name(),
            weights.weight(layer).len() as f64 * 2e-6,
            (lent.bytes() - before) as f64 / 1e6,
            (fill + drop) / zeroing,
        );
    }
}

#[wasm_bindgen_test]
async fn cpu_backends_and_paths() {
    backends(10, 3).await;
    dense_path(100, &[10, 25, 50], 5).await;
    dense_damage(3);
}
