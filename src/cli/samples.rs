//! `--samples DIR` and `--strict`, as every command that reads sample images takes them: the
//! folder in either layout ([`SampleFolder`]), with a warning naming each file left out.

use std::path::Path;

use crate::eval::folder::SampleFolder;
use crate::eval::samples::OnBadFile;

/// The help of every command's `--samples DIR`.
pub const SAMPLES_HELP: &str = "Folder of images: DIR/<wnid>_<name>.jpg, or torchvision's ImageFolder layout DIR/<wnid>/<file>";
/// The help of every command's `--strict`.
pub const STRICT_HELP: &str = "Stop at the first sample file that cannot be used (unreadable, not an image, or without a label), instead of skipping it with a warning";

/// The images in `dir`: with `strict`, the first file that cannot be used is the error;
/// without, each is skipped with a warning naming it, and a last warning counts them.
pub fn load(dir: &Path, strict: bool) -> anyhow::Result<SampleFolder> {
    let on_bad = if strict {
        OnBadFile::Stop
    } else {
        OnBadFile::Skip
    };
    let folder = SampleFolder::read(dir, on_bad)?;
    for why in &folder.skipped {
        eprintln!("lesion: warning: {why}; skipped (--strict stops here instead)");
    }
    if !folder.skipped.is_empty() {
        eprintln!(
            "lesion: warning: {}: skipped {} of {} files and folders; {} images left",
            dir.display(),
            folder.skipped.len(),
            folder.considered,
            folder.set.len()
        );
    }
    Ok(folder)
}
