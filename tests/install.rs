//! `lesion weights install` next to other installs: a failed download keeps the default,
//! a corrupt `index.json` is refused and left alone, an install never takes another's
//! temporary files, and `--padded-demo` installs the demo model at full size.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// Installs `alexnet_tiny.pth` as `name` (`--default` when asked) into `weights`.
fn install_tiny(weights: &Path, name: &str, default: bool, cwd: &Path) -> Output {
    let tiny = reference("alexnet_tiny.pth");
    let mut args = vec!["weights", "install", "--from", s(&tiny), "--name", name];
    args.extend(["--dir", s(weights)]);
    if default {
        args.push("--default");
    }
    lesion(&args, cwd)
}

/// The official/demo install with a download that fails at once (nothing listens on port 9).
fn install_with_failed_download(weights: &Path, extra: &[&str], cwd: &Path) -> Output {
    let demo = reference("alexnet_demo.pth");
    let mut args = vec!["weights", "install", "--dir", s(weights)];
    args.extend(["--url", "http://127.0.0.1:9/alexnet-owt-7be5be79.pth"]);
    args.extend(["--demo-from", s(&demo)]);
    args.extend(extra);
    lesion(&args, cwd)
}

fn index(weights: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(weights.join("index.json")).unwrap()).unwrap()
}

fn names(index: &serde_json::Value) -> Vec<&str> {
    index["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect()
}

#[test]
fn a_failed_download_keeps_the_installed_default() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    // A model installed as the default (the official one, say).
    let first = install_tiny(&weights, "official", true, tmp.path());
    assert!(first.status.success(), "{}", all_text(&first));

    let fallback = install_with_failed_download(&weights, &[], tmp.path());
    let text = all_text(&fallback);
    assert!(fallback.status.success(), "{text}");
    let index = index(&weights);
    assert_eq!(names(&index), ["demo", "official"]);
    assert_eq!(index["default"], "official", "{text}");
    assert!(
        text.contains("`official` stays the default") && text.contains("--default"),
        "{text}"
    );

    // Asked for, the demo becomes the default.
    let asked = install_with_failed_download(&weights, &["--default"], tmp.path());
    let text = all_text(&asked);
    assert!(asked.status.success(), "{text}");
    assert_eq!(self::index(&weights)["default"], "demo", "{text}");
}

#[test]
fn a_corrupt_index_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    std::fs::create_dir(&weights).unwrap();
    let corrupt = "{\"default\": \"official\", \"models\": [";
    std::fs::write(weights.join("index.json"), corrupt).unwrap();
    let out = install_tiny(&weights, "tiny", false, tmp.path());
    let text = all_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        text.contains("index.json") && text.contains("not a lesion model index"),
        "{text}"
    );
    assert!(
        text.contains("repair it") && text.contains("install"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(weights.join("index.json")).unwrap(),
        corrupt
    );
    assert!(!weights.join("tiny").exists(), "nothing installed");
}

#[test]
fn an_install_leaves_other_installs_temporary_files_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    let target = weights.join("tiny");
    std::fs::create_dir_all(&target).unwrap();
    // What another install of the same model would be writing at this moment, under the
    // names a fixed-name scheme would use.
    let others = [
        weights.join("index.tmp"),
        target.join("alexnet.tmp"),
        target.join("manifest.tmp"),
    ];
    for other in &others {
        std::fs::write(other, "another install's half-written file").unwrap();
    }
    let out = install_tiny(&weights, "tiny", false, tmp.path());
    assert!(out.status.success(), "{}", all_text(&out));
    for other in &others {
        assert_eq!(
            std::fs::read_to_string(other).ok().as_deref(),
            Some("another install's half-written file"),
            "{}",
            other.display()
        );
    }
    assert_eq!(names(&index(&weights)), ["tiny"]);
    // The installed files can be read as widely as any file written plainly here.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = weights.join("plain");
        std::fs::write(&plain, "").unwrap();
        for file in [
            "index.json",
            "tiny/manifest.json",
            "tiny/alexnet.safetensors",
        ] {
            assert_eq!(mode(&weights.join(file)), mode(&plain), "{file}");
        }
    }
}

#[test]
fn installs_at_the_same_time_all_reach_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    let tiny = reference("alexnet_tiny.pth");
    // Four installs of different models into one folder, started together.
    let spawned: Vec<_> = ["u0", "u1", "u2", "u3"]
        .iter()
        .map(|name| {
            Command::new(env!("CARGO_BIN_EXE_lesion"))
                .args(["weights", "install", "--from", s(&tiny), "--name", name])
                .args(["--dir", s(&weights)])
                .current_dir(tmp.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in spawned {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", all_text(&out));
    }
    assert_eq!(
        names(&index(&weights)),
        ["u0", "u1", "u2", "u3"],
        "no install's entry lost"
    );
}

/// `--padded-demo` installs the demo model zero-padded to torchvision's full size, as
/// custom weights: every installed value is the padded demo's, rounded to f16.
#[test]
fn the_padded_demo_installs_at_full_size_as_custom_weights() {
    use lesion::model::padded::pad_to_full_size;
    use lesion::model::{ModelKind, official};
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    let demo = reference("alexnet_demo.pth");
    let refused = ["weights", "install", "--padded-demo", "--demo"];
    assert!(!lesion(&refused, tmp.path()).status.success());

    let mut args = vec!["weights", "install", "--padded-demo"];
    args.extend(["--demo-from", s(&demo), "--dir", s(&weights)]);
    let started = std::time::Instant::now();
    let out = lesion(&args, tmp.path());
    println!("install --padded-demo took {:?}", started.elapsed());
    let text = all_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("custom AlexNet (demo-full)")
            && text.contains("zero-padded to torchvision's full size")
            && text.contains("DEMO model, not the ImageNet AlexNet")
            && text.contains("61100840 parameters")
            && !text.contains("not available"),
        "{text}"
    );
    let index = index(&weights);
    assert_eq!(names(&index), ["demo-full"]);
    assert_eq!(index["models"][0]["model"]["kind"], "custom");

    let manifest_path = weights.join("demo-full/manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let demo_sha = lesion::cli::source::file_sha256(&demo).unwrap();
    assert_eq!(manifest["source_sha256"], demo_sha.as_str());
    assert_eq!(manifest["parameters"], 61_100_840);
    let (installed, sha) = lesion::cli::source::open_manifest(&manifest_path).unwrap();
    assert_eq!(installed.info().kind, ModelKind::Custom);
    assert!(!official::is_official(&sha, &installed));
    assert!(!official::is_official(&demo_sha, &installed));
    let expected = pad_to_full_size(&common::demo()).unwrap();
    assert_eq!(installed.architecture(), official::FULL_SIZE);
    assert_eq!(installed.tensors().len(), expected.tensors().len());
    for (key, tensor) in expected.tensors() {
        let got = &installed.tensors()[key];
        assert_eq!(got.shape(), tensor.shape(), "{key}");
        let differ = (got.data().iter().zip(tensor.data()))
            .filter(|(g, e)| **g != half::f16::from_f32(**e).to_f32())
            .count();
        assert_eq!(
            differ, 0,
            "{key}: {differ} values are not the padded demo's"
        );
    }
}

#[test]
fn official_only_installs_nothing_when_the_download_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    let out = install_with_failed_download(&weights, &["--official"], tmp.path());
    let text = all_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("--official installs nothing else") && !text.contains("DEMO"),
        "{text}"
    );
    assert!(
        !weights.join("index.json").exists(),
        "nothing was installed"
    );
    assert!(!weights.join("demo").exists());
}
