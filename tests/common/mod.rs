//! Shared helpers for the integration tests: where the reference data lives, and readers
//! for PyTorch's reference outputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lesion::eval::preprocess::{IMAGE_LEN, normalise};
use lesion::eval::{Sample, SampleSet};

/// `../shared/data` beside the checkout (CI lays it there).
pub fn data() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.is_dir(),
        "the reference data is expected at {}",
        dir.display()
    );
    dir
}

pub fn reference(file: &str) -> PathBuf {
    data().join("reference").join(file)
}

/// A named tensor from a safetensors file, as f32 (from f32 or i64 storage) plus its shape.
pub fn read_tensor(path: &std::path::Path, name: &str) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor(name).unwrap();
    let values = match view.dtype() {
        safetensors::Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::I64 => view
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::U8 => view.data().iter().map(|v| *v as f64).collect(),
        other => panic!("unexpected dtype {other:?}"),
    };
    (view.shape().to_vec(), values)
}

/// PyTorch's own 224x224 centre crops of `images_100` (u8 HWC), in sorted file order.
pub fn torch_crops() -> Vec<Vec<u8>> {
    let (shape, values) = read_tensor(&reference("crops_100.safetensors"), "crops");
    assert_eq!(shape, vec![100, 224, 224, 3]);
    values
        .chunks_exact(224 * 224 * 3)
        .map(|c| c.iter().map(|v| *v as u8).collect())
        .collect()
}

/// The crops as a sample set (no decoding involved), labelled from the sorted file names.
pub fn torch_crop_set() -> SampleSet {
    let files = sorted_files("images_100");
    let samples = torch_crops()
        .iter()
        .zip(files)
        .map(|(crop, file)| {
            let pixels = normalise(crop);
            assert_eq!(pixels.len(), IMAGE_LEN);
            Sample::new(
                file.clone(),
                lesion::eval::samples::label_from_file_name(&file),
                pixels,
            )
        })
        .collect();
    SampleSet { samples }
}

pub fn sorted_files(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(data().join(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// Largest absolute difference between two equally long sequences.
pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Runs the `lesion` binary and asserts that it succeeded.
pub fn lesion_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(args)
        .output()
        .expect("the lesion binary runs");
    assert!(
        out.status.success(),
        "lesion failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Malformed links: each parses to something usable and names what it ignored.
pub const MALFORMED: [&str; 24] = [
    "?conv1=",
    "?conv1=drop",
    "?conv1=drop:",
    "?conv1=:0.5",
    "?conv1=drop:abc",
    "?conv1=drop:1.5",
    "?conv1=drop:-0.1",
    "?conv1=drop:NaN",
    "?conv1=drop:inf",
    "?conv9=drop:0.5",
    "?fc6=melt:0.2",
    "?seed=",
    "?seed=-1",
    "?seed=99999999999999999999999",
    "?seed=3.5",
    "?v=2&conv1=drop:0.5",
    "?zzz=1",
    "?model=%3Cscript%3Ealert(1)%3C/script%3E",
    "?%3Cscript%3Ealert(1)%3C/script%3E=1",
    "?conv1=%3Cimg%20src=x%20onerror=alert(1)%3E",
    "?conv1=drop:0.5&conv1=drop:0.9",
    "?backend=quantum",
    "?%ZZ=%",
    "?fc7=noise:0.5:0.1",
];

/// The demo model from the reference data.
pub fn demo() -> lesion::model::Weights {
    use lesion::model::{ModelInfo, ModelKind, pth};
    let info = ModelInfo {
        kind: ModelKind::Demo,
        name: "demo".into(),
        source: "alexnet_demo.pth".into(),
    };
    pth::read_pth(&reference("alexnet_demo.pth"), info).unwrap()
}

/// Settings from a seed and `LAYER=KIND:AMOUNT` texts.
pub fn settings(seed: u64, texts: &[&str]) -> lesion::perturb::Settings {
    let mut s = lesion::perturb::Settings {
        seed,
        ..Default::default()
    };
    for t in texts {
        s.set(t).unwrap();
    }
    s
}

/// Runs `lesion` in `cwd`, with HOME and TORCH_HOME there: no torchvision cache of the
/// official weights may leak in from the machine.
pub fn lesion(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .env("TORCH_HOME", cwd.join("torch"))
        .output()
        .expect("the lesion binary runs")
}

/// Both output streams, for messages and checks.
pub fn all_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
