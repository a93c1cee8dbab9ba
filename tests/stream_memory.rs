//! Memory bounded whatever the number of images: `lesion eval` on 5,000 images peaks
//! within 1.5x of its peak on 500 (the process's own measure, Linux's VmHWM), with a
//! damaged layer whose inputs do not fit the cache, so that images are decoded again.
//! A narrow AlexNet (every layer one channel wide) keeps the model's share of the time
//! small: the images, decoded and preprocessed in every pass, are what is measured.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use lesion::model::{Architecture, HostTensor, Layer, ModelInfo, ModelKind, Weights, manifest};

/// AlexNet with one channel or unit per layer (and 1000 classes), as f32 safetensors.
fn narrow_weights(path: &Path) {
    let arch = Architecture {
        conv: [1; 5],
        fc: [1, 1],
        classes: 1000,
    };
    let shapes = Layer::ALL.map(|l| (l, arch.weight_shape(l)));
    let mut tensors = BTreeMap::new();
    for (layer, shape) in shapes {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 20.0)
            .collect();
        tensors.insert(
            layer.weight_key(),
            HostTensor::new(shape.clone(), data).unwrap(),
        );
        let bias = (0..shape[0]).map(|i| (i % 7) as f32 / 10.0).collect();
        tensors.insert(
            layer.bias_key(),
            HostTensor::new(vec![shape[0]], bias).unwrap(),
        );
    }
    let info = ModelInfo {
        kind: ModelKind::Custom,
        name: "narrow".into(),
        source: "stream_memory".into(),
    };
    let weights = Weights::new(info, tensors).unwrap();
    std::fs::write(path, manifest::encode_f32(&weights)).unwrap();
}

/// `count` images in `dir`: the page's sample images again and again, hard-linked (or
/// copied) under new names `<wnid>_copy<i>.jpg`.
fn images(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("public/samples");
    let mut files: Vec<_> = std::fs::read_dir(samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for i in 0..count {
        let from = &files[i % files.len()];
        let wnid = &from.file_name().unwrap().to_str().unwrap()[..9];
        let to = dir.join(format!("{wnid}_copy{i}.jpg"));
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to).unwrap();
        }
    }
}

/// Peak memory in bytes of `lesion eval` on `dir`, and its output.
fn peak_of_eval(weights: &Path, dir: &Path, cwd: &Path) -> (u64, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(["eval", "--weights", s(weights), "--samples", s(dir)])
        .args(["--cache-mb", "16", "--set", "conv2=drop:0.5", "--json"])
        .current_dir(cwd)
        .env("LESION_PEAK_MEMORY", "1")
        .output()
        .unwrap();
    let text = all_text(&out);
    assert!(out.status.success(), "{text}");
    let peak = text
        .lines()
        .find_map(|l| l.strip_prefix("lesion: peak memory: "))
        .and_then(|l| l.strip_suffix(" bytes"))
        .unwrap_or_else(|| panic!("no peak memory in {text}"))
        .parse()
        .unwrap();
    (peak, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn peak_memory_at_5000_images_is_within_1_5x_of_that_at_500() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("narrow.safetensors");
    narrow_weights(&weights);
    let (small, large) = (tmp.path().join("500"), tmp.path().join("5000"));
    images(&small, 500);
    images(&large, 5000);
    let (peak_small, out_small) = peak_of_eval(&weights, &small, tmp.path());
    let (peak_large, out_large) = peak_of_eval(&weights, &large, tmp.path());
    let mb = |b: u64| b as f64 / 1e6;
    eprintln!(
        "peak memory: {:.1} MB on 500 images, {:.1} MB on 5000 ({:.2}x)",
        mb(peak_small),
        mb(peak_large),
        peak_large as f64 / peak_small as f64
    );
    assert!(
        (peak_large as f64) < 1.5 * peak_small as f64,
        "{:.1} MB on 5000 images, {:.1} MB on 500",
        mb(peak_large),
        mb(peak_small)
    );
    // Both evaluated every image.
    let n = |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap()["n"].clone();
    assert_eq!((n(&out_small), n(&out_large)), (500.into(), 5000.into()));
}

/// The streaming evaluator, keeping everything or nothing, gives the session's results
/// bit for bit (predictions with their probabilities), intact and damaged.
#[test]
fn streaming_results_equal_the_sessions_whatever_is_kept() {
    use lesion::eval::listing::ImageList;
    use lesion::eval::samples::OnBadFile;
    use lesion::eval::stream::Evaluator;
    use lesion::eval::{SampleSet, Session};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("public/samples");
    let tiny = || {
        let info = ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "alexnet_tiny.pth".into(),
        };
        lesion::model::pth::read_pth(&reference("alexnet_tiny.pth"), info).unwrap()
    };
    let list = ImageList::scan(&dir, OnBadFile::Stop, |_, _| {}).unwrap();
    let set = SampleSet::load_dir(&dir).unwrap();
    let device = burn::prelude::Device::flex();
    let mut session = pollster::block_on(Session::new(tiny(), &set, device.clone(), |_, _| {}));
    let session = session.as_mut().unwrap();
    let damaged = settings(3, &["conv2=drop:0.5", "fc7=noise:0.3"]);
    let expected = pollster::block_on(session.assess_now(&damaged, |_, _| {})).unwrap();
    for budget in [0, 1 << 30] {
        let mut stream =
            Evaluator::new(tiny(), &list, device.clone(), budget, |_, _| {}, None).unwrap();
        assert_eq!(stream.intact(), session.intact(), "budget {budget}");
        let got = stream.assess(&damaged, |_, _| {}).unwrap();
        assert_eq!(got.report, expected.report, "budget {budget}");
        // (The tiny model gets no top-1 right: relative top-1 is NaN, never equal.)
        let (c, e) = (&got.comparison, &expected.comparison);
        assert_eq!((&c.changed, c.top5_rel), (&e.changed, e.top5_rel));
        let fc8 = stream
            .assess(&settings(3, &["fc8=drop:0.5"]), |_, _| {})
            .unwrap();
        let fc8_settings = settings(3, &["fc8=drop:0.5"]);
        let want = pollster::block_on(session.assess_now(&fc8_settings, |_, _| {})).unwrap();
        assert_eq!(fc8.report, want.report, "budget {budget}");
        pollster::block_on(session.assess_now(&damaged, |_, _| {})).unwrap();
    }
}
