//! The `lesion` command line, run as a user would: install, eval, and every kind of bad
//! input, each of which must fail with a clear message naming the file, never a panic.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a clean failure: non-zero exit, no panic, and a message containing each needle.
fn assert_fails_with(out: &Output, needles: &[&str]) {
    let (stdout, stderr) = text(out);
    assert!(
        !out.status.success(),
        "expected failure, got success:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked:\n{stderr}");
    assert!(
        stderr.starts_with("lesion: error:"),
        "unclear error:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "error should mention {needle:?}:\n{stderr}"
        );
    }
}

fn install_tiny(dir: &Path) -> PathBuf {
    let weights = dir.join("weights");
    let out = lesion(
        &[
            "weights",
            "install",
            "--from",
            s(&reference("alexnet_tiny.pth")),
            "--name",
            "tiny",
            "--dir",
            s(&weights),
        ],
        dir,
    );
    assert!(out.status.success(), "{:?}", text(&out));
    weights.join("tiny")
}

fn eval_on(weights: &Path, samples: &Path, cwd: &Path) -> Output {
    lesion(
        &["eval", "--weights", s(weights), "--samples", s(samples)],
        cwd,
    )
}

fn eval_json(weights: &Path, samples: &Path, cwd: &Path) -> serde_json::Value {
    let out = lesion(
        &[
            "eval",
            "--weights",
            s(weights),
            "--samples",
            s(samples),
            "--json",
        ],
        cwd,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A local server that answers every request with `body`, to exercise the real download code.
fn serve_once(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/alexnet-owt-7be5be79.pth")
}

#[test]
fn install_falls_back_to_the_labelled_demo_model_when_the_download_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    // Nothing listens on port 9 (discard) here: the download fails at once.
    let out = lesion(
        &[
            "weights",
            "install",
            "--dir",
            s(&weights),
            "--url",
            "http://127.0.0.1:9/alexnet-owt-7be5be79.pth",
            "--demo-from",
            s(&reference("alexnet_demo.pth")),
        ],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let notice: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("not available"))
        .collect();
    assert_eq!(
        notice.len(),
        1,
        "one clear line about the failed download:\n{stdout}"
    );
    assert!(notice[0].contains("DEMO"), "{}", notice[0]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(weights.join("demo/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["model"]["kind"], "demo");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(weights.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(index["default"], "demo");

    // The installed (f16) demo model through `eval`, labelled as the demo in every output.
    let report = eval_json(
        &weights.join("demo"),
        &data().join("images_100"),
        tmp.path(),
    );
    assert_eq!(report["model"]["kind"], "demo");
    assert!(
        report["model_description"]
            .as_str()
            .unwrap()
            .contains("DEMO")
    );
    assert_eq!(report["n"], 100);
    let top1 = report["top1"].as_f64().unwrap();
    assert!(
        top1 >= 0.99,
        "the demo model knows its sample images: top-1 {top1}"
    );
    let text_out = lesion(
        &[
            "eval",
            "--weights",
            s(&weights.join("demo")),
            "--samples",
            s(&data().join("images_100")),
        ],
        tmp.path(),
    );
    assert!(
        text(&text_out).0.starts_with("model:   DEMO model"),
        "{:?}",
        text(&text_out)
    );

    // Installing again is a no-op that still says which model is installed.
    let again = lesion(
        &[
            "weights",
            "install",
            "--dir",
            s(&weights),
            "--url",
            "http://127.0.0.1:9/x.pth",
            "--demo-from",
            s(&reference("alexnet_demo.pth")),
        ],
        tmp.path(),
    );
    assert!(
        text(&again).0.contains("already installed"),
        "{:?}",
        text(&again)
    );
}

#[test]
fn a_download_with_the_wrong_sha256_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("weights");
    let url = serve_once(std::fs::read(reference("alexnet_tiny.pth")).unwrap());
    let out = lesion(
        &[
            "weights",
            "install",
            "--dir",
            s(&weights),
            "--url",
            &url,
            "--demo-from",
            s(&reference("alexnet_demo.pth")),
        ],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("does not start with 7be5be79"), "{stdout}");
    assert!(
        !tmp.path().join(".cache/alexnet-owt-7be5be79.pth").exists(),
        "a bad download is not kept"
    );
    assert!(weights.join("demo/manifest.json").is_file());
}

#[test]
fn eval_reads_pth_and_installed_weights_alike_and_dumps_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = data().join("images_100");
    let from_pth = eval_json(&reference("alexnet_demo.pth"), &samples, tmp.path());
    assert_eq!(from_pth["model"]["kind"], "custom");
    assert_eq!(from_pth["model"]["name"], "alexnet_demo");
    for key in ["n", "top1", "top5", "top1_ci", "top5_ci"] {
        assert!(!from_pth[key].is_null(), "missing {key}");
    }
    let lo = from_pth["top1_ci"]["lo"].as_f64().unwrap();
    let hi = from_pth["top1_ci"]["hi"].as_f64().unwrap();
    let top1 = from_pth["top1"].as_f64().unwrap();
    assert!(lo <= top1 && top1 <= hi && hi <= 1.0);

    let tiny = install_tiny(tmp.path());
    let dump = tmp.path().join("logits.safetensors");
    let out = lesion(
        &[
            "eval",
            "--weights",
            s(&tiny.join("manifest.json")),
            "--samples",
            s(&samples),
            "--dump-logits",
            s(&dump),
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let (shape, logits) = read_tensor(&dump, "logits");
    assert_eq!(shape, vec![100, 1000]);
    // f16 weights of the tiny model, our decoder: close to PyTorch's logits (scale 0.1).
    let (_, expected) = read_tensor(&reference("alexnet_tiny_logits.safetensors"), "logits");
    let got: Vec<f32> = logits.iter().map(|v| *v as f32).collect();
    let diff = max_abs_diff(&got, &expected);
    println!("tiny (f16 install) vs PyTorch: max |logit diff| = {diff:.2e}");
    assert!(diff < 2e-3, "{diff}");
}

#[test]
fn missing_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = data().join("images_100");
    let out = lesion(
        &["eval", "--weights", "nowhere.pth", "--samples", s(&samples)],
        tmp.path(),
    );
    assert_fails_with(&out, &["nowhere.pth", "no such file"]);
    let out = lesion(
        &[
            "eval",
            "--weights",
            s(&reference("alexnet_tiny.pth")),
            "--samples",
            "no-such-dir",
        ],
        tmp.path(),
    );
    assert_fails_with(&out, &["no-such-dir"]);
    let out = lesion(
        &["weights", "install", "--from", "missing.pth", "--dir", "w"],
        tmp.path(),
    );
    assert_fails_with(&out, &["missing.pth"]);
    assert!(
        !tmp.path().join("w").exists(),
        "nothing is written on failure"
    );
}

#[test]
fn truncated_pth_files_are_clear_errors_and_install_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for file in ["alexnet_tiny.pth", "alexnet_tiny_legacy.pth"] {
        let bytes = std::fs::read(reference(file)).unwrap();
        for keep in [bytes.len() / 2, bytes.len() - 100, 10] {
            let cut = tmp.path().join(format!("cut_{keep}_{file}"));
            std::fs::write(&cut, &bytes[..keep]).unwrap();
            let out = lesion(
                &[
                    "eval",
                    "--weights",
                    s(&cut),
                    "--samples",
                    s(&data().join("images_100")),
                ],
                tmp.path(),
            );
            assert_fails_with(&out, &[cut.file_name().unwrap().to_str().unwrap()]);
            let dir = tmp.path().join("w");
            let out = lesion(
                &[
                    "weights",
                    "install",
                    "--from",
                    s(&cut),
                    "--name",
                    "cut",
                    "--dir",
                    s(&dir),
                ],
                tmp.path(),
            );
            assert_fails_with(&out, &["cut_"]);
            assert!(
                !dir.join("cut").exists(),
                "nothing half-written for {file} cut at {keep}"
            );
        }
    }
}

/// Edits the legacy .pth in place (same byte length, so the pickle stays well-formed).
fn edited_legacy(tmp: &Path, name: &str, from: &[u8], to: &[u8]) -> PathBuf {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(reference("alexnet_tiny_legacy.pth")).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("pattern for {name} not found in the legacy file"));
    bytes[at..at + from.len()].copy_from_slice(to);
    let path = tmp.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn pth_with_missing_or_misshaped_tensor_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = data().join("images_100");
    let missing = edited_legacy(
        tmp.path(),
        "missing.pth",
        b"features.3.weight",
        b"features.3.weighX",
    );
    let out = lesion(
        &["eval", "--weights", s(&missing), "--samples", s(&samples)],
        tmp.path(),
    );
    assert_fails_with(&out, &["missing.pth", "missing tensor `features.3.weight`"]);

    // fc8 is (1000, 256) with stride (256, 1) (`qy` memoises the tuple); make it (1000, 255):
    // it still fits its storage, so only the shape check can catch it.
    let misshaped = edited_legacy(
        tmp.path(),
        "misshaped.pth",
        b"M\xe8\x03M\x00\x01\x86qyM\x00\x01K\x01\x86",
        b"M\xe8\x03M\xff\x00\x86qyM\x00\x01K\x01\x86",
    );
    let out = lesion(
        &["eval", "--weights", s(&misshaped), "--samples", s(&samples)],
        tmp.path(),
    );
    assert_fails_with(
        &out,
        &["misshaped.pth", "classifier.6.weight", "[1000, 255]"],
    );
}

#[test]
fn manifest_with_wrong_sha256_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = install_tiny(tmp.path());
    let file = tiny.join("alexnet.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
    let out = eval_on(&tiny, &data().join("images_100"), tmp.path());
    assert_fails_with(&out, &["alexnet.safetensors", "sha256"]);
    std::fs::write(&file, &bytes[..1000]).unwrap();
    let out = eval_on(&tiny, &data().join("images_100"), tmp.path());
    assert_fails_with(&out, &["alexnet.safetensors", "truncated"]);
}

#[test]
fn an_empty_sample_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = reference("alexnet_tiny.pth");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = lesion(
        &["eval", "--weights", s(&weights), "--samples", s(&empty)],
        tmp.path(),
    );
    assert_fails_with(&out, &["empty", "no images"]);
}

/// Two images, a zero-byte `.jpg`, a text file and a truncated PNG: without `--strict`
/// the run skips the three bad files, warning about each by name, and evaluates the two;
/// with `--strict` it stops at the first bad one (in file-name order). Never a panic.
#[test]
fn bad_files_in_a_sample_folder_are_skipped_by_name_or_stop_a_strict_run() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = reference("alexnet_tiny.pth");
    let polluted = tmp.path().join("polluted");
    std::fs::create_dir(&polluted).unwrap();
    for file in ["n01440764_tench.jpg", "n01530575_brambling.jpg"] {
        std::fs::copy(data().join("images_1000").join(file), polluted.join(file)).unwrap();
    }
    std::fs::write(polluted.join("n01440764_empty.jpg"), b"").unwrap();
    std::fs::write(polluted.join("notes.txt"), "not an image").unwrap();
    let png = std::fs::read("tests/fixtures/images/rgb.png").unwrap();
    std::fs::write(polluted.join("cut.png"), &png[..png.len() / 2]).unwrap();

    let out = lesion(
        &[
            "eval",
            "--weights",
            s(&weights),
            "--samples",
            s(&polluted),
            "--json",
        ],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (file, why) in [
        ("n01440764_empty.jpg", "empty file (0 bytes)"),
        ("notes.txt", "not a readable JPEG or PNG image"),
        ("cut.png", "not a readable JPEG or PNG image"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no warning names {file}:\n{stderr}"));
        assert!(
            line.starts_with("lesion: warning:") && line.contains(why) && line.contains("skipped"),
            "{line}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let files: Vec<&str> = json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["n01440764_tench.jpg", "n01530575_brambling.jpg"]);
    assert_eq!(json["n"], 2);

    let out = lesion(
        &[
            "eval",
            "--weights",
            s(&weights),
            "--samples",
            s(&polluted),
            "--strict",
        ],
        tmp.path(),
    );
    assert_fails_with(&out, &["cut.png", "not a readable JPEG or PNG image"]);
}

#[test]
fn eval_on_an_even_subset_of_the_images() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = reference("alexnet_tiny.pth");
    let samples = data().join("images_100");
    let out = lesion(
        &[
            "eval",
            "--json",
            "--images",
            "20",
            "--weights",
            s(&weights),
            "--samples",
            s(&samples),
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["n"], 20);
    let files: Vec<&str> = json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    // Every fifth image in file-name order, starting with the first.
    let mut all: Vec<String> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    let expected: Vec<&str> = all.iter().step_by(5).map(String::as_str).collect();
    assert_eq!(files, expected);
    for bad in ["3", "0", "many"] {
        let out = lesion(
            &[
                "eval",
                "--images",
                bad,
                "--weights",
                s(&weights),
                "--samples",
                s(&samples),
            ],
            tmp.path(),
        );
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--images"), "{bad}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad}: {stderr}");
    }
}

fn manifest_of(dir: &Path) -> lesion::model::manifest::Manifest {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    lesion::model::manifest::Manifest::parse(&text, "").unwrap()
}

#[test]
fn a_sharded_install_reads_bit_for_bit_like_one_file_and_names_a_corrupt_shard() {
    let dir = tempfile::tempdir().unwrap();
    let demo = reference("alexnet_demo.pth");
    let install = |name: &str, shard_mib: &str| {
        let weights = dir.path().join("weights");
        let args = [
            "weights",
            "install",
            "--from",
            s(&demo),
            "--name",
            name,
            "--dir",
            s(&weights),
            "--shard-mib",
            shard_mib,
        ];
        let out = lesion(&args, dir.path());
        assert!(out.status.success(), "{:?}", text(&out));
        weights.join(name)
    };
    let whole = install("whole", "20");
    let sharded = install("sharded", "1");
    assert_eq!(manifest_of(&whole).parts().len(), 1);
    let parts = manifest_of(&sharded).parts().to_vec();
    assert_eq!(parts.len(), 5, "4.3 MB in 1 MiB shards");
    for part in &parts {
        let len = std::fs::metadata(sharded.join(&part.path)).unwrap().len();
        assert!(len <= 1 << 20 && len == part.bytes, "{}: {len}", part.path);
    }
    // Shards concatenated are the one file, byte for byte.
    let joined: Vec<u8> = parts
        .iter()
        .flat_map(|p| std::fs::read(sharded.join(&p.path)).unwrap())
        .collect();
    assert!(joined == std::fs::read(whole.join("alexnet.safetensors")).unwrap());
    let samples = data().join("images_100");
    let mut a = eval_json(&whole, &samples, dir.path());
    let mut b = eval_json(&sharded, &samples, dir.path());
    // Everything but the model's name is the same.
    for json in [&mut a, &mut b] {
        json.as_object_mut()
            .unwrap()
            .retain(|k, _| !k.contains("model") && k != "weights");
    }
    assert_eq!(a, b);
    // Installing again with another shard size replaces the files (none left over).
    let again = install("whole", "1");
    assert!(!again.join("alexnet.safetensors").exists());
    // A corrupt shard is named.
    let bad = sharded.join(&parts[2].path);
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&bad, bytes).unwrap();
    let out = eval_on(&sharded, &samples, dir.path());
    assert_fails_with(&out, &["alexnet.safetensors.002", "sha256"]);
}

/// `bench --pipeline-only`: the pipeline's images per second and the PyTorch line (here
/// saying why PyTorch is not run), then nothing of the engine's parts.
#[test]
fn bench_pipeline_only_prints_the_pipeline_and_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = tmp.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for name in sorted_files("images_100").iter().take(4) {
        std::fs::copy(data().join("images_100").join(name), samples.join(name)).unwrap();
    }
    let weights = reference("alexnet_tiny.pth");
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--pipeline-only",
            "--repeat",
            "1",
            "--weights",
            s(&weights),
            "--samples",
            s(&samples),
        ];
        args.extend_from_slice(extra);
        let out = lesion(&args, tmp.path());
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    for (extra, why) in [
        (&["--no-torch"][..], "not measured (--no-torch)"),
        // A Python is named, but torchvision's alexnet() has the full widths.
        (&["--torch", "python3"][..], "these weights are narrower"),
    ] {
        let stdout = bench(extra);
        let line = |start: &str| {
            stdout
                .lines()
                .find(|l| l.starts_with(start))
                .map(str::to_owned)
        };
        let pipeline = line("pipeline:").unwrap_or_else(|| panic!("no pipeline line:\n{stdout}"));
        assert!(pipeline.contains("images/s  (4 images in"), "{pipeline}");
        let torch =
            line("pytorch pipeline:").unwrap_or_else(|| panic!("no PyTorch line:\n{stdout}"));
        assert!(torch.contains(why), "{torch}");
        assert!(!stdout.contains("full evaluation"), "went on:\n{stdout}");
    }
}
