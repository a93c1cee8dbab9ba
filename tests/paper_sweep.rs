//! `lesion sweep --paper` on the demo model and a few sample images: the paper's grid
//! (8 layers x 10 amounts x the seeds) in sweep.csv, the paper's figure in sweep.svg, and
//! both claims printed with the numbers the CSV holds; shards of it merge to the same
//! figure and claims; it refuses --kind, --layers and --amounts.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::*;

/// The first `count` of the page's sample images, copied into `dir/samples`.
fn samples(dir: &Path, count: usize) -> PathBuf {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("public/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let to = dir.join("samples");
    std::fs::create_dir(&to).unwrap();
    for file in &files[..count] {
        std::fs::copy(file, to.join(file.file_name().unwrap())).unwrap();
    }
    to
}

/// `lesion sweep --paper --seeds SEEDS` of the demo model, started, not waited for.
fn start(samples: &Path, out: &Path, seeds: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(["sweep", "--paper", "--seeds", seeds])
        .arg("--weights")
        .arg(reference("alexnet_demo.pth"))
        .arg("--samples")
        .arg(samples)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lesion binary runs")
}

fn finished(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", all_text(&out));
    out
}

/// The printed lines that start with `claim` or `note`.
fn claims(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("claim ") || l.starts_with("note: "))
        .map(str::to_string)
        .collect()
}

/// The CSV's rows as (layer, amount, seed, top1, top1_rel).
fn rows(csv_path: &Path) -> Vec<(String, f64, u64, f64, f64)> {
    let text = std::fs::read_to_string(csv_path).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[col("layer")].to_string(),
                r[col("amount")].parse().unwrap(),
                r[col("seed")].parse().unwrap(),
                r[col("top1")].parse().unwrap(),
                r[col("top1_rel")].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn paper_sweep_writes_the_grid_the_figure_and_both_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let images = samples(tmp.path(), 10);
    let out_dir = tmp.path().join("paper");
    let out = finished(start(&images, &out_dir, "2", &[]));
    let text = all_text(&out);

    let rows = rows(&out_dir.join("sweep.csv"));
    assert_eq!(rows.len(), 8 * 10 * 2, "{text}");
    let layers: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let amounts: BTreeSet<String> = rows.iter().map(|r| format!("{}", r.1)).collect();
    let seeds: BTreeSet<u64> = rows.iter().map(|r| r.2).collect();
    assert_eq!(layers.len(), 8);
    assert_eq!(amounts.len(), 10);
    assert!(
        amounts.contains("0.7") && amounts.contains("0.9"),
        "{amounts:?}"
    );
    assert_eq!(seeds, BTreeSet::from([0, 1]));

    let svg = std::fs::read_to_string(out_dir.join("sweep.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    assert_eq!(count("polyline"), 8, "one curve per layer");
    assert_eq!(count("polygon"), 8, "one band per layer");
    for needle in [
        "Convolutional layers",
        "Fully connected layers",
        "fraction of weights removed at random",
        "top-1 / intact top-1",
        "min–max",
        "chance",
        "conv1",
        "fc8",
    ] {
        assert!(svg.contains(needle), "the figure should show {needle:?}");
    }

    let lines = claims(&out);
    assert_eq!(
        lines.len(),
        3,
        "two claims and the note (not official): {text}"
    );
    assert!(
        lines[0].starts_with("claim 1 PASS:") || lines[0].starts_with("claim 1 FAIL:"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("claim 2 PASS:") || lines[1].starts_with("claim 2 FAIL:"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("official ImageNet"), "{}", lines[2]);
    // The printed numbers are the CSV's: fc6's top-1 / intact and conv1's top-1 at 70%
    // removed, each the mean of the two seeds.
    let mean_at = |layer: &str, value: fn(&(String, f64, u64, f64, f64)) -> f64| {
        let at: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == layer && (r.1 - 0.7).abs() < 1e-9)
            .map(value)
            .collect();
        assert_eq!(at.len(), 2);
        at.iter().sum::<f64>() / 2.0
    };
    let fc6 = format!("fc6 {:.3}", mean_at("fc6", |r| r.4));
    assert!(lines[0].contains(&fc6), "{fc6} in {}", lines[0]);
    let conv1 = format!("top-1 {:.1}%", mean_at("conv1", |r| r.3) * 100.0);
    assert!(lines[1].contains(&conv1), "{conv1} in {}", lines[1]);
    for line in &lines {
        assert!(svg.contains(&line[..40]), "the figure states {line}");
    }
}

#[test]
fn paper_shards_merge_to_the_same_figure_and_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let images = samples(tmp.path(), 4);
    let (whole, parts) = (tmp.path().join("whole"), tmp.path().join("parts"));
    let started = [
        start(&images, &whole, "1", &[]),
        start(&images, &parts, "1", &["--shard", "1/2"]),
        start(&images, &parts, "1", &["--shard", "2/2"]),
    ];
    let [whole_out, ..] = started.map(finished);
    let merged_dir = tmp.path().join("merged");
    let merged = Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(["sweep", "merge", "--out"])
        .arg(&merged_dir)
        .arg(parts.join("sweep-1-of-2.csv"))
        .arg(parts.join("sweep-2-of-2.csv"))
        .output()
        .unwrap();
    assert!(merged.status.success(), "{}", all_text(&merged));
    assert_eq!(claims(&merged), claims(&whole_out));
    assert_eq!(claims(&merged).len(), 3, "{}", all_text(&merged));
    for file in ["sweep.csv", "sweep.svg"] {
        assert_eq!(
            std::fs::read(merged_dir.join(file)).unwrap(),
            std::fs::read(whole.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn paper_refuses_its_own_grid_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--kind", "prune"),
        ("--layers", "conv1"),
        ("--amounts", "0,0.5"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lesion"))
            .args(["sweep", "--paper", flag, value, "--weights", "w.pth"])
            .args(["--samples", "s", "--out"])
            .arg(tmp.path())
            .output()
            .unwrap();
        let text = all_text(&out);
        assert!(
            !out.status.success() && text.contains("cannot be used with") && text.contains(flag),
            "{flag}: {text}"
        );
    }
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
