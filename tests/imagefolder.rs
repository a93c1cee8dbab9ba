//! `--samples` in either layout: torchvision's ImageFolder (`DIR/<wnid>/<any name>`) and the
//! flat `DIR/<wnid>_<name>.jpg` give the same numbers, bit for bit, and the same digest for
//! the same images; unreadable and unlabelled files are skipped by name, or stop `--strict`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// Every 20th of the site's sample images: five classes, one image each.
fn some_samples() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("public/samples");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".jpg"))
        .collect();
    files.sort();
    files.into_iter().step_by(20).collect()
}

fn sample(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("public/samples")
        .join(file)
}

/// The images flat, as they are named in the site.
fn flat(dir: &Path) -> PathBuf {
    let out = dir.join("flat");
    std::fs::create_dir(&out).unwrap();
    for file in some_samples() {
        std::fs::copy(sample(&file), out.join(&file)).unwrap();
    }
    out
}

/// The same images in class folders under names that carry no label, as ImageNet's own
/// validation files are named.
fn image_folder(dir: &Path) -> PathBuf {
    let out = dir.join("classes");
    for (i, file) in some_samples().iter().enumerate() {
        let class = out.join(&file[..9]);
        std::fs::create_dir_all(&class).unwrap();
        let name = format!("ILSVRC2012_val_{:08}.JPEG", 50 - i);
        std::fs::copy(sample(file), class.join(name)).unwrap();
    }
    out
}

/// `lesion eval --json` of the demo model, damaged, with its logits dumped to `dump`.
fn eval(samples: &Path, dump: &Path, extra: &[&str]) -> Output {
    let weights = reference("alexnet_demo.pth");
    let mut args = vec![
        "eval",
        "--json",
        "--weights",
        s(&weights),
        "--samples",
        s(samples),
        "--dump-logits",
        s(dump),
        "--set",
        "conv2=drop:0.5",
    ];
    args.extend_from_slice(extra);
    lesion(&args, samples.parent().unwrap())
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", all_text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn files(json: &serde_json::Value) -> Vec<String> {
    json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap().to_string())
        .collect()
}

/// The output without what names the folder and its files.
fn numbers(mut json: serde_json::Value) -> serde_json::Value {
    let object = json.as_object_mut().unwrap();
    object.remove("samples");
    object.remove("samples_layout");
    for p in object["predictions"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("file");
    }
    json
}

#[test]
fn image_folder_and_flat_layouts_give_identical_numbers_and_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let (flat, classes) = (flat(tmp.path()), image_folder(tmp.path()));
    let (flat_dump, classes_dump) = (tmp.path().join("flat.st"), tmp.path().join("classes.st"));
    let a = json(&eval(&flat, &flat_dump, &[]));
    let b = json(&eval(&classes, &classes_dump, &[]));
    assert_eq!(
        (a["n"].as_u64(), a["labelled"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(
        (a["samples_layout"].as_str(), b["samples_layout"].as_str()),
        (Some("flat"), Some("ImageFolder"))
    );
    let names: Vec<String> = some_samples()
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{}/ILSVRC2012_val_{:08}.JPEG", &f[..9], 50 - i))
        .collect();
    assert_eq!(files(&a), some_samples());
    assert_eq!(files(&b), names, "sorted by relative path: by class");
    let digest = a["samples_digest"].as_str().unwrap().to_string();
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(numbers(a), numbers(b), "identical numbers, and digest");
    assert_eq!(
        std::fs::read(&flat_dump).unwrap(),
        std::fs::read(&classes_dump).unwrap(),
        "identical logits, bit for bit"
    );

    // The text output names the digest too; a renamed image keeps it, another image not.
    let text = lesion(
        &[
            "eval",
            "--weights",
            s(&reference("alexnet_tiny.pth")),
            "--samples",
            s(&classes),
        ],
        tmp.path(),
    );
    assert!(text.status.success(), "{}", all_text(&text));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("digest {digest} (ImageFolder layout)")),
        "{stdout}"
    );
    let first = &some_samples()[0];
    std::fs::rename(
        flat.join(first),
        flat.join(format!("{}_renamed.jpg", &first[..9])),
    )
    .unwrap();
    let renamed = json(&eval(&flat, &flat_dump, &[]));
    assert_eq!(renamed["samples_digest"].as_str(), Some(digest.as_str()));
    std::fs::remove_file(flat.join(format!("{}_renamed.jpg", &first[..9]))).unwrap();
    let fewer = json(&eval(&flat, &flat_dump, &[]));
    assert_ne!(fewer["samples_digest"].as_str(), Some(digest.as_str()));
}

/// The warning line that names `file`.
fn warning<'a>(stderr: &'a str, file: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("no warning names {file}:\n{stderr}"))
}

#[test]
fn unreadable_and_unlabelled_files_are_skipped_by_name_or_stop_a_strict_run() {
    let tmp = tempfile::tempdir().unwrap();
    let classes = image_folder(tmp.path());
    let clean = json(&eval(&classes, &tmp.path().join("clean.st"), &[]));
    let class = classes.join(&some_samples()[0][..9]);
    std::fs::write(class.join("broken.JPEG"), "<html>moved</html>").unwrap();
    std::fs::copy(sample(&some_samples()[1]), classes.join("loose.jpg")).unwrap();

    let out = eval(&classes, &tmp.path().join("l.st"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let polluted = json(&out);
    for (file, why) in [
        ("broken.JPEG", "not a readable JPEG or PNG image"),
        ("loose.jpg", "no label: it is outside the class folders"),
    ] {
        let line = warning(&stderr, file);
        assert!(
            line.starts_with("lesion: warning:") && line.contains(why) && line.contains("skipped"),
            "{line}"
        );
    }
    assert!(
        stderr.contains("skipped 2 of 7 files and folders; 5 images left"),
        "{stderr}"
    );
    assert_eq!(polluted["n"], 5);
    assert_eq!(
        polluted["samples_digest"], clean["samples_digest"],
        "skipped files are not in the digest"
    );

    // --strict stops at the first in relative-path order, naming it.
    let out = eval(&classes, &tmp.path().join("s.st"), &["--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.starts_with("lesion: error:") && stderr.contains("loose.jpg: no label"),
        "{stderr}"
    );
    std::fs::remove_file(classes.join("loose.jpg")).unwrap();
    let out = eval(&classes, &tmp.path().join("s.st"), &["--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("broken.JPEG: not a readable JPEG or PNG image"),
        "{stderr}"
    );

    // Flat: a readable image whose name carries no class is unlabelled.
    let flat = flat(tmp.path());
    std::fs::copy(sample(&some_samples()[1]), flat.join("holiday.jpg")).unwrap();
    let out = eval(&flat, &tmp.path().join("f.st"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(json(&out)["n"], 5);
    assert!(
        warning(&stderr, "holiday.jpg").contains("no label: its name does not start with"),
        "{stderr}"
    );
    let out = eval(&flat, &tmp.path().join("f.st"), &["--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("holiday.jpg: no label"),
        "{stderr}"
    );
}
