//! `lesion sweep` on the demo model: a CSV with every row, a well-formed SVG, and a rerun
//! that reuses finished rows.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;

fn sweep(out: &std::path::Path) -> String {
    let (weights, samples) = (reference("alexnet_demo.pth"), data().join("images_100"));
    let args: Vec<&std::ffi::OsStr> = vec![
        "sweep".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--samples".as_ref(),
        samples.as_os_str(),
        "--kind".as_ref(),
        "drop".as_ref(),
        "--layers".as_ref(),
        "conv1,fc6".as_ref(),
        "--amounts".as_ref(),
        "0:0.9:0.45".as_ref(),
        "--seeds".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    String::from_utf8(lesion_ok(&args).stdout).unwrap()
}

#[test]
fn sweep_writes_csv_and_svg_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let first = sweep(tmp.path());
    assert!(first.contains("0 already in"), "{first}");
    let csv = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // Header + 2 layers x 3 amounts x 2 seeds.
    assert_eq!(lines.len(), 1 + 12, "{csv}");
    assert!(lines[0].starts_with("model,layer,kind,amount,seed,n,top1,"));
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        let amount: f64 = f[col("amount")].parse().unwrap();
        let rel: f64 = f[col("top1_rel")].parse().unwrap();
        let agreement: f64 = f[col("agreement")].parse().unwrap();
        assert_eq!(f[col("n")], "100");
        if amount == 0.0 {
            assert_eq!(
                (rel, agreement),
                (1.0, 1.0),
                "amount 0 is the intact model: {line}"
            );
        }
        if f[col("layer")] == "conv1" && amount == 0.9 {
            assert!(
                rel < 0.5,
                "90% of conv1 removed hurts the demo model: {line}"
            );
        }
    }
    let svg = std::fs::read_to_string(tmp.path().join("sweep.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let curves = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert_eq!(curves, 2, "one curve per layer");
    assert!(svg.contains("fraction of weights removed at random"));

    // A rerun computes nothing; removing a row recomputes exactly that one.
    let again = sweep(tmp.path());
    assert!(
        again.contains("12 already in") && again.contains("0 to compute"),
        "{again}"
    );
    let kept: String = lines[..12].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(tmp.path().join("sweep.csv"), &kept).unwrap();
    let resumed = sweep(tmp.path());
    assert!(
        resumed.contains("11 already in") && resumed.contains("1 to compute"),
        "{resumed}"
    );
    let csv_after = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    assert_eq!(csv_after.lines().count(), 13);
    assert_eq!(
        csv_after.lines().last(),
        lines.last().copied(),
        "the recomputed row equals the original"
    );
}

#[test]
fn bad_sweep_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = reference("alexnet_tiny.pth");
    for (amounts, kind, expected) in [
        ("0:1.5:0.1", "drop", "out of range"),
        ("0:0.5:0", "drop", "positive"),
        ("a,b", "drop", "not a number"),
        ("0:0.5:0.1", "melt", "unknown damage kind"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
            .args(["sweep", "--amounts", amounts, "--kind", kind, "--weights"])
            .arg(&weights)
            .arg("--samples")
            .arg(data().join("images_100"))
            .arg("--out")
            .arg(tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected) && !stderr.contains("panicked"),
            "{amounts} {kind}: {stderr}"
        );
    }
}
