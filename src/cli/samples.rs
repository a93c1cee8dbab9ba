//! `--samples DIR` and `--strict`, as every command that reads sample images takes them: the
//! folder in either layout ([`SampleFolder`], or without its pixels [`ImageList`]), with a
//! warning naming each file left out; and the progress bars of commands that evaluate.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::LesionError;
use crate::eval::folder::SampleFolder;
use crate::eval::listing::ImageList;
use crate::eval::samples::OnBadFile;

/// The help of every command's `--samples DIR`.
pub const SAMPLES_HELP: &str = "Folder of images: DIR/<wnid>_<name>.jpg, or torchvision's ImageFolder layout DIR/<wnid>/<file>";
/// The help of every command's `--strict`.
pub const STRICT_HELP: &str = "Stop at the first sample file that cannot be used (unreadable, not an image, or without a label), instead of skipping it with a warning";
/// The help of `--cache-mb`.
pub const CACHE_HELP: &str = "Memory for kept layer inputs, in MB: a change to layer k re-runs only k..fc8 for the images whose input to k is kept, and recomputes it from the image files for the others. Memory stays bounded by this whatever the number of images";

fn on_bad(strict: bool) -> OnBadFile {
    if strict {
        OnBadFile::Stop
    } else {
        OnBadFile::Skip
    }
}

/// The images in `dir`: with `strict`, the first file that cannot be used is the error;
/// without, each is skipped with a warning naming it, and a last warning counts them.
pub fn load(dir: &Path, strict: bool) -> anyhow::Result<SampleFolder> {
    let folder = SampleFolder::read(dir, on_bad(strict))?;
    warn(dir, &folder.skipped, folder.considered, folder.set.len());
    Ok(folder)
}

/// [`load`] without keeping the pixels: each file is read once to find the usable images
/// (with a progress bar), and again when it is evaluated.
pub fn scan(dir: &Path, strict: bool) -> anyhow::Result<ImageList> {
    let bar = bar(0, "reading", "files");
    let list = ImageList::scan(dir, on_bad(strict), |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let list = list?;
    warn(dir, &list.skipped, list.considered, list.len());
    Ok(list)
}

fn warn(dir: &Path, skipped: &[LesionError], considered: usize, left: usize) {
    for why in skipped {
        eprintln!("lesion: warning: {why}; skipped (--strict stops here instead)");
    }
    if !skipped.is_empty() {
        eprintln!(
            "lesion: warning: {}: skipped {} of {considered} files and folders; {left} images left",
            dir.display(),
            skipped.len(),
        );
    }
}

/// A progress bar counting `unit`s, with their rate and the time left.
pub fn bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let template =
        format!("{what} {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left) {{msg}}");
    ProgressBar::new(len)
        .with_style(ProgressStyle::with_template(&template).expect("valid template"))
}

/// With `LESION_PEAK_MEMORY=1`, prints the process's peak resident memory to stderr as
/// `lesion: peak memory: <bytes> bytes` (Linux; nothing where the system does not tell it).
pub fn report_peak_memory() {
    if std::env::var_os("LESION_PEAK_MEMORY").is_some()
        && let Some(bytes) = peak_memory()
    {
        eprintln!("lesion: peak memory: {bytes} bytes");
    }
}

/// The process's peak resident memory in bytes (Linux's VmHWM), where the system tells it.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
