//! The PyTorch reference for `lesion bench`'s pipeline figure: `bench/torch_pipeline.py`
//! (torchvision's ImageFolder + DataLoader + `alexnet()`, on the CPU or a CUDA GPU) run by a Python that
//! has torch and torchvision, on the images the lesion pipeline just read, with the same
//! weights file when it is a torchvision `.pth`.
//!
//! The script is given a temporary ImageFolder of links to exactly the images lesion used
//! (for either layout of `--samples`: a flat folder is not an ImageFolder, and an
//! ImageFolder may hold files lesion skipped), and must report that many.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::eval::folder::Layout;
use crate::eval::labels;
use crate::eval::listing::ImageList;
use crate::model::Weights;
use crate::model::official::FULL_SIZE;

/// The script, embedded so that `lesion bench` runs it from any working directory.
const SCRIPT: &str = include_str!("../../../bench/torch_pipeline.py");

/// The Python `./dev bench-torch` installs torch and torchvision into, relative to the
/// working directory; used when it exists and `--torch` is not given.
pub const DEFAULT_PYTHON: &str = "target/torch-venv/bin/python";

/// What the script prints: one JSON object.
#[derive(Debug, Deserialize)]
pub struct TorchRun {
    pub images_per_s: f64,
    pub images: usize,
    pub seconds: f64,
    pub torch: String,
    pub threads: usize,
    pub workers: usize,
    pub batch: usize,
    /// "cpu", or the CUDA GPU's name.
    #[serde(default = "cpu")]
    pub device: String,
}

fn cpu() -> String {
    "cpu".into()
}

/// Which Python to run, or why none is run (a line to print).
pub fn python(given: Option<&Path>, off: bool) -> Result<PathBuf, String> {
    match given {
        _ if off => Err("not measured (--no-torch)".into()),
        Some(python) => Ok(python.to_path_buf()),
        None if Path::new(DEFAULT_PYTHON).exists() => Ok(PathBuf::from(DEFAULT_PYTHON)),
        None => Err(format!(
            "not measured: no {DEFAULT_PYTHON} here. `./dev bench-torch` makes it (a venv \
             with torch and torchvision from PyPI) and runs this bench with it; or pass \
             --torch PYTHON, a Python that has both"
        )),
    }
}

/// The weights file the script loads (`None`: torchvision's random initialisation), or why
/// the script cannot run these weights. Speed does not depend on the values, so full-size
/// weights that are not a `.pth` are timed with random weights of the same shapes.
pub fn weights_file(path: Option<&Path>, weights: &Weights) -> Result<Option<PathBuf>, String> {
    if weights.architecture() != FULL_SIZE {
        return Err(
            "not measured: torchvision's alexnet() has the full widths, and these weights are \
             narrower (bench them without --weights, or with a full-size .pth)"
                .into(),
        );
    }
    Ok(path
        .filter(|p| p.extension().is_some_and(|e| e == "pth"))
        .map(Path::to_path_buf))
}

/// The name torchvision's ImageFolder gives to the image at `rel` (a path below the sample
/// folder): below its class's folder, with an extension ImageFolder accepts (it picks
/// files by extension, lesion by content).
fn link_name(rel: &str, label: Option<usize>, layout: Layout) -> String {
    let mut name = match (layout, label) {
        (Layout::ImageFolder, _) => rel.to_string(),
        (Layout::Flat, Some(i)) => format!("{}/{rel}", labels::classes()[i].wnid),
        (Layout::Flat, None) => format!("unlabelled/{rel}"),
    };
    let lower = name.to_ascii_lowercase();
    if ![".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e)) {
        name.push_str(".jpg");
    }
    name
}

/// An ImageFolder below `dir` of links to the images of `images` (read from `root`).
pub fn image_folder(images: &ImageList, root: &Path, dir: &Path) -> anyhow::Result<()> {
    let root = std::fs::canonicalize(root)
        .with_context(|| format!("{}: cannot resolve", root.display()))?;
    for (rel, label) in images.files.iter().zip(&images.labels) {
        let link = dir.join(link_name(rel, *label, images.layout));
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        let target = root.join(rel);
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(&target, &link);
        #[cfg(not(unix))]
        let made = std::fs::copy(&target, &link).map(|_| ());
        made.with_context(|| format!("{}: cannot link to {}", link.display(), target.display()))?;
    }
    Ok(())
}

/// Runs the script with `python` on `images`: batches of `batch`, `cores` DataLoader
/// workers and torch threads, `repeat` timed passes after a warm-up, the model on the
/// first CUDA GPU when `gpu` (and torch has one).
#[allow(clippy::too_many_arguments)]
pub fn run(
    python: &Path,
    images: &ImageList,
    root: &Path,
    weights: Option<&Path>,
    batch: usize,
    cores: usize,
    repeat: usize,
    gpu: bool,
) -> anyhow::Result<TorchRun> {
    let tmp = tempfile::tempdir().context("cannot make a temporary folder")?;
    let folder = tmp.path().join("images");
    image_folder(images, root, &folder)?;
    let script = tmp.path().join("torch_pipeline.py");
    std::fs::write(&script, SCRIPT).context("cannot write the PyTorch script")?;
    let mut command = Command::new(python);
    command
        .arg(&script)
        .arg(&folder)
        .args(["--batch", &batch.to_string()])
        .args(["--workers", &cores.to_string()])
        .args(["--threads", &cores.to_string()])
        .args(["--repeat", &repeat.max(1).to_string()])
        .args(["--device", if gpu { "cuda" } else { "cpu" }]);
    if let Some(weights) = weights {
        command.arg("--weights").arg(weights);
    }
    let shown = python.display();
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} {}: {} (its messages are above; --no-torch leaves PyTorch out)",
            script.display(),
            out.status
        );
    }
    let run = parse(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("{shown}: the PyTorch script's report"))?;
    if run.images != images.len() {
        bail!(
            "PyTorch ran {} images, lesion {}: the timings are not of the same images",
            run.images,
            images.len()
        );
    }
    Ok(run)
}

/// The script's report: the last line of its output.
pub fn parse(stdout: &str) -> anyhow::Result<TorchRun> {
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let line = line.context("it printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("not the expected JSON: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::samples::OnBadFile;

    #[test]
    fn links_are_named_as_imagefolder_expects() {
        let tench = Some(0);
        assert_eq!(
            link_name("n01440764_tench.jpg", tench, Layout::Flat),
            "n01440764/n01440764_tench.jpg"
        );
        assert_eq!(
            link_name("n01440764/a/x.JPEG", tench, Layout::ImageFolder),
            "n01440764/a/x.JPEG"
        );
        assert_eq!(
            link_name("n01440764_tench.img", tench, Layout::Flat),
            "n01440764/n01440764_tench.img.jpg"
        );
    }

    #[test]
    fn the_report_is_the_last_line() {
        let run = parse(
            "noise\n{\"images_per_s\": 12.5, \"images\": 10, \"seconds\": 0.8, \"times\": [0.8], \
             \"torch\": \"2.0\", \"torchvision\": \"0.1\", \"threads\": 2, \"workers\": 2, \
             \"batch\": 50, \"weights\": \"random\"}\n\n",
        )
        .unwrap();
        assert_eq!((run.images, run.threads, run.batch), (10, 2, 50));
        assert_eq!(run.images_per_s, 12.5);
        assert_eq!(
            run.device, "cpu",
            "a report without a device ran on the CPU"
        );
        assert!(parse("").is_err());
        assert!(parse("{\"images\": 3}").is_err());
    }

    #[test]
    fn a_flat_folder_becomes_class_folders_of_links() {
        const PNG: &[u8] = include_bytes!("../../../tests/fixtures/images/rgb.png");
        let tmp = tempfile::tempdir().unwrap();
        let flat = tmp.path().join("flat");
        std::fs::create_dir(&flat).unwrap();
        std::fs::write(flat.join("n01440764_a.png"), PNG).unwrap();
        std::fs::write(flat.join("n01530575_b"), PNG).unwrap();
        std::fs::write(flat.join("n01530575_cut.png"), &PNG[..PNG.len() / 2]).unwrap();
        let images = ImageList::scan(&flat, OnBadFile::Skip, |_, _| {}).unwrap();
        let out = tmp.path().join("out");
        image_folder(&images, &flat, &out).unwrap();
        let mut made: Vec<String> = walk(&out);
        made.sort();
        assert_eq!(
            made,
            ["n01440764/n01440764_a.png", "n01530575/n01530575_b.jpg"]
        );
        assert_eq!(std::fs::read(out.join(&made[1])).unwrap(), PNG);
    }

    /// Files below `dir`, as `/`-separated relative paths.
    fn walk(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        for class in std::fs::read_dir(dir).unwrap() {
            let class = class.unwrap();
            for file in std::fs::read_dir(class.path()).unwrap() {
                let name = file.unwrap().file_name();
                let class = class.file_name();
                found.push(format!(
                    "{}/{}",
                    class.to_string_lossy(),
                    name.to_string_lossy()
                ));
            }
        }
        found
    }
}
