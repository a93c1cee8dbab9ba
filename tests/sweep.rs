//! `lesion sweep` on the demo model: a CSV with every row, a well-formed SVG, and a rerun
//! that reuses finished rows; a torn last line is recomputed, a CSV from other weights or
//! samples is refused, and a second sweep into the same folder fails at once. Three
//! shards run at once merge to exactly the unsharded sweep; a merge of shards that do
//! not make one sweep is refused.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// The `lesion sweep` command of `weights` on `samples` into `out`, drop damage.
fn sweep_command(
    weights: &Path,
    samples: &Path,
    out: &Path,
    layers: &str,
    amounts: &str,
    seeds: &str,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lesion"));
    command
        .args(["sweep", "--kind", "drop", "--layers", layers])
        .args(["--amounts", amounts, "--seeds", seeds])
        .arg("--weights")
        .arg(weights)
        .arg("--samples")
        .arg(samples)
        .arg("--out")
        .arg(out);
    command
}

/// `lesion sweep` of `weights` on `samples` into `out` (drop damage), however it ends.
fn sweep_with(
    weights: &Path,
    samples: &Path,
    out: &Path,
    layers: &str,
    amounts: &str,
    seeds: &str,
) -> Output {
    sweep_command(weights, samples, out, layers, amounts, seeds)
        .output()
        .expect("the lesion binary runs")
}

fn demo_pth() -> PathBuf {
    reference("alexnet_demo.pth")
}

fn images() -> PathBuf {
    data().join("images_100")
}

fn sweep(out: &Path) -> String {
    let done = sweep_with(&demo_pth(), &images(), out, "conv1,fc6", "0:0.9:0.45", "2");
    assert!(done.status.success(), "{}", all_text(&done));
    String::from_utf8(done.stdout).unwrap()
}

/// A small sweep of the demo model (conv1 at 0, 0.45 and 0.9, one seed): three rows.
fn small_sweep(out: &Path) -> Output {
    sweep_with(&demo_pth(), &images(), out, "conv1", "0:0.9:0.45", "1")
}

/// Asserts a clean failure whose message contains every needle.
fn assert_fails_with(out: &Output, needles: &[&str]) {
    let text = all_text(out);
    assert!(!out.status.success(), "expected a failure:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "should mention {needle:?}:\n{text}");
    }
}

#[test]
fn sweep_writes_csv_and_svg_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let first = sweep(tmp.path());
    assert!(first.contains("0 already in"), "{first}");
    let csv = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // What it was computed from, the header, and 2 layers x 3 amounts x 2 seeds.
    assert_eq!(lines.len(), 2 + 12, "{csv}");
    let sha = |hex: &str| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let identity: Vec<&str> = lines[0].split(' ').collect();
    assert!(
        matches!(identity.as_slice(),
            ["#", "lesion-sweep", w, s] if w.strip_prefix("weights=").is_some_and(sha)
                && s.strip_prefix("samples=").is_some_and(sha)),
        "{}",
        lines[0]
    );
    let demo_sha = lesion::digest::read_sha256(std::fs::File::open(demo_pth()).unwrap()).unwrap();
    assert_eq!(identity[2], format!("weights={demo_sha}"));
    assert!(lines[1].starts_with("model,layer,kind,amount,seed,n,top1,"));
    // Readable as a plain CSV by any reader that skips `#` comment lines.
    let rows = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(csv.as_bytes())
        .records()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(rows.len(), 12);
    let header: Vec<&str> = lines[1].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for line in &lines[2..] {
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
    let kept: String = lines[..13].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(tmp.path().join("sweep.csv"), &kept).unwrap();
    let resumed = sweep(tmp.path());
    assert!(
        resumed.contains("11 already in") && resumed.contains("1 to compute"),
        "{resumed}"
    );
    let csv_after = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    assert_eq!(csv_after.lines().count(), 14);
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
        ("0.5,0.1,0.5", "drop", "twice"),
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

#[test]
fn a_torn_last_line_is_dropped_and_recomputed() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sweep.csv");
    let first = small_sweep(tmp.path());
    assert!(first.status.success(), "{}", all_text(&first));
    let whole = std::fs::read_to_string(&path).unwrap();
    let last_start = whole.trim_end().rfind('\n').unwrap() + 1;

    // A crash mid-line: the last row is cut short and has no newline.
    let torn_at = last_start + (whole.len() - last_start) / 2;
    std::fs::write(&path, &whole[..torn_at]).unwrap();
    let resumed = small_sweep(tmp.path());
    let text = all_text(&resumed);
    assert!(resumed.status.success(), "{text}");
    assert!(
        text.contains("warning") && text.contains("last line") && text.contains("sweep.csv"),
        "{text}"
    );
    assert!(
        text.contains("2 already in") && text.contains("1 to compute"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);

    // A crash that left a whole line of garbage at the end.
    std::fs::write(&path, format!("{whole}conv1,\0\0\0\n")).unwrap();
    let resumed = small_sweep(tmp.path());
    let text = all_text(&resumed);
    assert!(resumed.status.success(), "{text}");
    assert!(
        text.contains("warning") && text.contains("3 already in"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
}

#[test]
fn a_torn_line_in_the_middle_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sweep.csv");
    let first = small_sweep(tmp.path());
    assert!(first.status.success(), "{}", all_text(&first));
    let whole = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = whole.lines().map(str::to_string).collect();
    // Line 3 (the first row) cut short; the rows after it are whole.
    let half = lines[2].len() / 2;
    lines[2].truncate(half);
    let damaged: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, &damaged).unwrap();
    let out = small_sweep(tmp.path());
    assert_fails_with(&out, &["sweep.csv", "line 3", "delete"]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        damaged,
        "left as it was"
    );
}

/// A copy of `images_100` without its first image.
fn other_samples(dir: &Path) -> PathBuf {
    let samples = dir.join("samples");
    std::fs::create_dir(&samples).unwrap();
    for file in &sorted_files("images_100")[1..] {
        std::fs::copy(images().join(file), samples.join(file)).unwrap();
    }
    samples
}

#[test]
fn a_csv_from_other_weights_or_samples_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let path = out.join("sweep.csv");
    let first = sweep_with(&demo_pth(), &images(), &out, "conv1", "0.5", "1");
    assert!(first.status.success(), "{}", all_text(&first));
    let whole = std::fs::read_to_string(&path).unwrap();

    // Other weights under the same model name (the file stem).
    let impostor = tmp.path().join("alexnet_demo.pth");
    std::fs::copy(reference("alexnet_tiny.pth"), &impostor).unwrap();
    let refused = sweep_with(&impostor, &images(), &out, "conv1", "0.5", "1");
    assert_fails_with(&refused, &["sweep.csv", "other weights", "--out", "delete"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);

    // The same weights on another sample folder.
    let samples = other_samples(tmp.path());
    let refused = sweep_with(&demo_pth(), &samples, &out, "conv1", "0.5", "1");
    assert_fails_with(&refused, &["sweep.csv", "other sample", "--out", "delete"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);

    // The same weights and samples resume.
    let again = sweep_with(&demo_pth(), &images(), &out, "conv1", "0.5", "1");
    assert!(
        all_text(&again).contains("1 already in"),
        "{}",
        all_text(&again)
    );
}

#[test]
fn a_second_sweep_into_the_same_folder_fails_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = std::fs::File::create(tmp.path().join("sweep.csv.lock")).unwrap();
    lock.try_lock().unwrap();
    let started = std::time::Instant::now();
    let busy = small_sweep(tmp.path());
    assert_fails_with(&busy, &["sweep.csv", "another lesion sweep"]);
    assert!(
        !tmp.path().join("sweep.csv").exists(),
        "the second sweep wrote nothing"
    );
    println!("refused after {:?}", started.elapsed());
    // The lock file stays behind (as after a crash), but without its lock it blocks nothing.
    drop(lock);
    let ran = small_sweep(tmp.path());
    assert!(ran.status.success(), "{}", all_text(&ran));
    let csv = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2 + 3, "{csv}");
}

#[test]
fn two_sweeps_started_together_write_one_header() {
    let tmp = tempfile::tempdir().unwrap();
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
            .args([
                "sweep",
                "--layers",
                "conv1",
                "--amounts",
                "0,0.5",
                "--seeds",
                "1",
            ])
            .arg("--weights")
            .arg(demo_pth())
            .arg("--samples")
            .arg(images())
            .arg("--out")
            .arg(tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for out in &outs {
        let text = all_text(out);
        assert!(
            out.status.success() || text.contains("another lesion sweep"),
            "{text}"
        );
    }
    assert!(outs.iter().any(|o| o.status.success()));
    let csv = std::fs::read_to_string(tmp.path().join("sweep.csv")).unwrap();
    let count = |prefix: &str| csv.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!((count("# lesion-sweep"), count("model,")), (1, 1), "{csv}");
    assert_eq!(csv.lines().count(), 2 + 2, "{csv}");
}

/// The first `count` of `images_100`, copied into `dir/name`.
fn few_images(dir: &Path, name: &str, count: usize) -> PathBuf {
    let samples = dir.join(name);
    std::fs::create_dir(&samples).unwrap();
    for file in &sorted_files("images_100")[..count] {
        std::fs::copy(images().join(file), samples.join(file)).unwrap();
    }
    samples
}

/// `lesion sweep` of the demo model on `samples` (conv1 and fc6 at 0, 0.45 and 0.9, two
/// seeds: 12 rows) into `out`, as shard `shard` when given; started, not waited for.
fn start_sweep(
    weights: &Path,
    samples: &Path,
    out: &Path,
    shard: Option<&str>,
) -> std::process::Child {
    let mut command = sweep_command(weights, samples, out, "conv1,fc6", "0:0.9:0.45", "2");
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(shard) = shard {
        command.args(["--shard", shard]);
    }
    command.spawn().unwrap()
}

fn finished(child: std::process::Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", all_text(&out));
    out
}

/// `lesion sweep merge --out out shards...`, however it ends.
fn merge(out: &Path, shards: &[PathBuf]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(["sweep", "merge", "--out"])
        .arg(out)
        .args(shards)
        .output()
        .unwrap()
}

#[test]
fn three_shards_run_at_once_merge_to_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = few_images(tmp.path(), "samples", 10);
    let (whole, parts) = (tmp.path().join("whole"), tmp.path().join("parts"));
    let shards: Vec<std::process::Child> = ["1/3", "2/3", "3/3"]
        .iter()
        .map(|k| start_sweep(&demo_pth(), &samples, &parts, Some(k)))
        .collect();
    finished(start_sweep(&demo_pth(), &samples, &whole, None));
    let mut paths = Vec::new();
    for (k, child) in shards.into_iter().enumerate() {
        let stdout = String::from_utf8(finished(child).stdout).unwrap();
        assert!(
            stdout.contains(&format!("12 settings, 4 of them in shard {}/3", k + 1))
                && stdout.contains("4 to compute"),
            "{stdout}"
        );
        paths.push(parts.join(format!("sweep-{}-of-3.csv", k + 1)));
    }
    assert!(!parts.join("sweep.svg").exists(), "a shard draws no figure");
    let shard_csv = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(
        shard_csv.starts_with("# lesion-sweep weights="),
        "{shard_csv}"
    );
    assert!(
        shard_csv
            .lines()
            .next()
            .unwrap()
            .contains(" shard=2/3 kind=drop layers=conv1,fc6 amounts=0,0.45,0.9 seeds=2 model=\"")
    );
    assert_eq!(shard_csv.lines().count(), 2 + 4);

    // Given in any order, into a folder of its own.
    let merged = tmp.path().join("merged");
    let reversed: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    let out = merge(&merged, &reversed);
    assert!(out.status.success(), "{}", all_text(&out));
    for file in ["sweep.csv", "sweep.svg"] {
        assert_eq!(
            std::fs::read_to_string(merged.join(file)).unwrap(),
            std::fs::read_to_string(whole.join(file)).unwrap(),
            "{file} as the unsharded sweep wrote it"
        );
    }
    // Merging again, or into the unsharded sweep's folder (the same bytes), is no conflict.
    for out in [&merged, &whole] {
        let again = merge(out, &paths);
        assert!(again.status.success(), "{}", all_text(&again));
    }
}

#[test]
fn merge_refuses_a_missing_shard_a_duplicated_row_and_other_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = few_images(tmp.path(), "samples", 5);
    let parts = tmp.path().join("parts");
    let other = tmp.path().join("other");
    let runs: Vec<std::process::Child> = ["1/3", "2/3", "3/3"]
        .iter()
        .map(|k| start_sweep(&demo_pth(), &samples, &parts, Some(k)))
        .chain([start_sweep(
            &reference("alexnet_tiny.pth"),
            &samples,
            &other,
            Some("3/3"),
        )])
        .collect();
    runs.into_iter().for_each(|c| drop(finished(c)));
    let path = |k: usize| parts.join(format!("sweep-{k}-of-3.csv"));
    let out = tmp.path().join("out");

    let missing = merge(&out, &[path(1), path(3)]);
    assert_fails_with(&missing, &["shard 2/3", "missing"]);
    let twice = merge(&out, &[path(1), path(2), path(2)]);
    assert_fails_with(&twice, &["shard 2/3 is given twice"]);

    let text = std::fs::read_to_string(path(2)).unwrap();
    let last = text.lines().last().unwrap();
    let duplicated = tmp.path().join("duplicated.csv");
    std::fs::write(&duplicated, format!("{text}{last}\n")).unwrap();
    let out_dup = merge(&out, &[path(1), duplicated.clone(), path(3)]);
    assert_fails_with(
        &out_dup,
        &["duplicated.csv", "fc6=drop:0.45 seed 1", "twice"],
    );

    let lacking = tmp.path().join("lacking.csv");
    std::fs::write(&lacking, &text[..text.len() - last.len() - 1]).unwrap();
    let short = merge(&out, &[path(1), lacking, path(3)]);
    assert_fails_with(
        &short,
        &["lacking.csv", "lacks 1 of its 4 rows", "--shard 2/3"],
    );

    let foreign = merge(&out, &[path(1), path(2), other.join("sweep-3-of-3.csv")]);
    assert_fails_with(
        &foreign,
        &[
            "sweep-3-of-3.csv",
            "not shards of one sweep",
            "other weights",
        ],
    );

    let not_a_shard = tmp.path().join("plain.csv");
    let first_line_end = text.find(" shard=").unwrap();
    let body = &text[text.find('\n').unwrap()..];
    std::fs::write(&not_a_shard, format!("{}{body}", &text[..first_line_end])).unwrap();
    let plain = merge(&out, &[not_a_shard]);
    assert_fails_with(&plain, &["plain.csv", "not a shard"]);
    assert!(!out.join("sweep.csv").exists(), "nothing was written");

    // The same shards again into a folder whose sweep.csv holds other rows.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("sweep.csv"), "something else\n").unwrap();
    let taken = merge(&out, &[path(1), path(2), path(3)]);
    assert_fails_with(&taken, &["sweep.csv", "already holds other rows"]);
}
