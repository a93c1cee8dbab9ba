//! A sample folder on disk, in either of two layouts:
//!
//! - flat: `DIR/<wnid>_<name>.jpg`, each labelled by the WordNet id its name starts with;
//! - torchvision's `ImageFolder`: `DIR/<wnid>/<any name>`, each labelled by its class
//!   folder (files at any depth below it, as torchvision walks them).
//!
//! A folder is ImageFolder when any of its sub-folders is named like a WordNet id (`n` and
//! eight digits); a flat folder's sub-folders are passed over, and so are hidden files and
//! folders. Images are in sorted relative-path order (`n01440764_tench.jpg`,
//! `n01440764/x.JPEG`), so one image a class laid out either way is in the same order. A
//! file that cannot be read, is not a JPEG or PNG image, or has no label (flat: its name
//! does not start with a class's WordNet id; ImageFolder: it is outside the class folders)
//! and a folder that is not a class in an ImageFolder layout are left out, each with the
//! error that names it; with [`OnBadFile::Stop`] the first of them is the error. Files are
//! read and decoded in parallel.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::labels;
use super::samples::{self, OnBadFile, Sample, SampleSet, label_from_file_name};
use crate::digest;
use crate::error::{LesionError, Result};

/// How a sample folder is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `DIR/<wnid>_<name>.jpg`.
    Flat,
    /// `DIR/<wnid>/<any name>`.
    ImageFolder,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Flat => "flat",
            Layout::ImageFolder => "ImageFolder",
        }
    }
}

/// Deepest a file is looked for below a class folder (a symlink loop ends there).
const MAX_DEPTH: usize = 16;
/// Files read and decoded at once; a strict load stops after the batch with the first bad one.
pub(super) const BATCH: usize = 256;

/// A sample folder's images, what was left out of it, and the digest of what is in it.
#[derive(Debug)]
pub struct SampleFolder {
    pub set: SampleSet,
    pub layout: Layout,
    /// What was left out, each as the error that names it, in relative-path order.
    pub skipped: Vec<LesionError>,
    /// Files (and passed-over folders) considered: the images and the skipped.
    pub considered: usize,
    /// sha256 of each image's file, in the set's order.
    contents: Vec<[u8; 32]>,
}

/// What the listing found at one relative path.
enum Found {
    /// A file, with its class or why it has none.
    File(std::result::Result<usize, String>),
    /// Something that cannot be used at all: a folder that is not a class, or one that
    /// cannot be listed.
    Unusable(LesionError),
}

pub(super) struct Entry {
    /// Path below the sample folder, `/`-separated.
    pub(super) rel: String,
    path: PathBuf,
    found: Found,
}

impl SampleFolder {
    /// Lists and reads the sample folder `dir`. An error when `dir` cannot be listed or no
    /// image is left; with [`OnBadFile::Stop`], also at the first file that cannot be used.
    pub fn read(dir: &Path, on_bad: OnBadFile) -> Result<Self> {
        let read = read_each(dir, on_bad, |sample, sha| (sample, sha), |_, _| {})?;
        let (samples, contents) = read.usable.into_iter().unzip();
        Ok(SampleFolder {
            set: SampleSet { samples },
            layout: read.layout,
            skipped: read.skipped,
            considered: read.considered,
            contents,
        })
    }

    /// The set's digest, in hex: the sha256 of one line `<sha256 of the file>  <wnid>\n`
    /// per image, the lines sorted. It names the labelled images the set holds, not their
    /// names, order or layout: the same images flat or in class folders, or renamed, have
    /// the same digest, and a skipped file changes nothing. For a flat folder,
    /// `for f in *; do echo "$(sha256sum <"$f" | cut -c1-64)  $(echo "$f" | cut -c1-9)"; done | LC_ALL=C sort | sha256sum`
    /// gives the same.
    pub fn digest(&self) -> String {
        set_digest(&self.contents, self.set.samples.iter().map(|s| s.label))
    }

    /// Keeps the [`samples::spread`] subset of `count` images (relative-path order).
    pub fn keep_spread(self, count: Option<usize>) -> Self {
        let keep = samples::spread(self.set.len(), count);
        let mut pairs: Vec<Option<(Sample, [u8; 32])>> = self
            .set
            .samples
            .into_iter()
            .zip(self.contents)
            .map(Some)
            .collect();
        let (samples, contents) = keep.into_iter().filter_map(|i| pairs[i].take()).unzip();
        Self {
            set: SampleSet { samples },
            contents,
            ..self
        }
    }
}

/// What [`read_each`] found: each usable image as `keep` made it, and the rest.
pub(super) struct Read<T> {
    pub(super) layout: Layout,
    pub(super) usable: Vec<T>,
    pub(super) skipped: Vec<LesionError>,
    pub(super) considered: usize,
}

/// Lists the sample folder `dir` and reads every file, [`BATCH`] at a time on every core,
/// each usable image going through `keep` there (so what it drops is dropped at once);
/// `progress(done, total)` counts the files read. An error when `dir` cannot be listed or
/// no image is left; with [`OnBadFile::Stop`], also at the first file that cannot be used.
pub(super) fn read_each<T: Send>(
    dir: &Path,
    on_bad: OnBadFile,
    keep: impl Fn(Sample, [u8; 32]) -> T + Sync,
    progress: impl Fn(usize, usize),
) -> Result<Read<T>> {
    let shown = dir.display().to_string();
    let (layout, mut entries) = list(dir, &shown)?;
    let total = entries.len();
    let mut read = Read {
        layout,
        usable: Vec::new(),
        skipped: Vec::new(),
        considered: total,
    };
    while !entries.is_empty() {
        let batch: Vec<Entry> = entries.drain(..entries.len().min(BATCH)).collect();
        let loaded: Vec<Result<T>> = batch
            .into_par_iter()
            .map(|e| load(e, &shown).map(|(sample, sha)| keep(sample, sha)))
            .collect();
        for result in loaded {
            match result {
                Ok(item) => read.usable.push(item),
                Err(e) if on_bad == OnBadFile::Skip => read.skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        progress(total - entries.len(), total);
    }
    if read.usable.is_empty() {
        let more = match read.skipped.len() {
            0 => String::new(),
            n => format!("; {n} unusable file(s) or folder(s) skipped"),
        };
        return Err(samples::no_images(&shown, &more));
    }
    Ok(read)
}

/// The digest of a set ([`SampleFolder::digest`]) from each image's sha256 and label.
pub(super) fn set_digest(
    contents: &[[u8; 32]],
    labels: impl Iterator<Item = Option<usize>>,
) -> String {
    let mut lines: Vec<String> = contents
        .iter()
        .zip(labels)
        .map(|(sha, label)| {
            let wnid = label.map_or("-", |i| labels::classes()[i].wnid.as_str());
            format!("{}  {wnid}\n", digest::hex(sha))
        })
        .collect();
    lines.sort();
    digest::sha256_hex(lines.concat().as_bytes())
}

/// Reads, hashes and decodes one entry; errors name `dir/rel`.
pub(super) fn load(entry: Entry, dir: &str) -> Result<(Sample, [u8; 32])> {
    let label = match entry.found {
        Found::Unusable(e) => return Err(e),
        Found::File(label) => label,
    };
    let shown = format!("{dir}/{}", entry.rel);
    let bytes = std::fs::read(&entry.path).map_err(|e| LesionError::io(&shown, e))?;
    let sample = Sample::decode(entry.rel, label.as_ref().ok().copied(), &bytes, &shown)?;
    match label {
        Ok(_) => Ok((sample, Sha256::digest(&bytes).into())),
        Err(why) => Err(LesionError::samples(shown, why)),
    }
}

/// Whether `name` is shaped like a WordNet id: `n` and eight digits.
fn is_wnid(name: &str) -> bool {
    name.len() == 9 && name.starts_with('n') && name[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The names in `dir` that are not hidden, each with its path and whether it is a folder.
fn read_names(dir: &Path) -> std::io::Result<Vec<(String, PathBuf, bool)>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            let path = entry.path();
            let is_dir = path.is_dir();
            names.push((name, path, is_dir));
        }
    }
    Ok(names)
}

/// The folder's layout and its entries, sorted by relative path.
pub(super) fn list(dir: &Path, shown: &str) -> Result<(Layout, Vec<Entry>)> {
    let top = read_names(dir).map_err(|e| LesionError::io(shown, e))?;
    let layout = if top.iter().any(|(name, _, is_dir)| *is_dir && is_wnid(name)) {
        Layout::ImageFolder
    } else {
        Layout::Flat
    };
    let mut entries = Vec::new();
    for (name, path, is_dir) in top {
        let found = match (layout, is_dir) {
            (Layout::Flat, true) => continue,
            (Layout::Flat, false) => Found::File(label_from_file_name(&name).ok_or_else(|| {
                "no label: its name does not start with the WordNet id of one of the 1000 ImageNet classes (as in n01440764_tench.jpg), and the folder has no class folders (n01440764/...)".to_string()
            })),
            (Layout::ImageFolder, false) => Found::File(Err(
                "no label: it is outside the class folders (the folder is in the ImageFolder layout, DIR/<wnid>/<file>)".into(),
            )),
            (Layout::ImageFolder, true) if is_wnid(&name) => {
                let label = labels::index_of_wnid(&name).ok_or_else(|| {
                    format!("no label: {name} is not the WordNet id of one of the 1000 ImageNet classes")
                });
                walk(&path, &name, &label, 1, shown, &mut entries);
                continue;
            }
            (Layout::ImageFolder, true) => Found::Unusable(LesionError::samples(
                format!("{shown}/{name}"),
                "a folder not named by a WordNet id (as in n01440764) beside the class folders; its files are not read",
            )),
        };
        entries.push(Entry {
            rel: name,
            path,
            found,
        });
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((layout, entries))
}

/// Adds every file below the class folder `dir` (relative path `rel`) with `label`.
fn walk(
    dir: &Path,
    rel: &str,
    label: &std::result::Result<usize, String>,
    depth: usize,
    shown: &str,
    out: &mut Vec<Entry>,
) {
    let unusable = |e: LesionError| Entry {
        rel: rel.to_string(),
        path: dir.to_path_buf(),
        found: Found::Unusable(e),
    };
    let names = match read_names(dir) {
        Ok(names) => names,
        Err(e) => return out.push(unusable(LesionError::io(format!("{shown}/{rel}"), e))),
    };
    if depth > MAX_DEPTH && !names.is_empty() {
        return out.push(unusable(LesionError::samples(
            format!("{shown}/{rel}"),
            format!("more than {MAX_DEPTH} folders deep (a symbolic link loop?); not read"),
        )));
    }
    for (name, path, is_dir) in names {
        let rel = format!("{rel}/{name}");
        if is_dir {
            walk(&path, &rel, label, depth + 1, shown, out);
        } else {
            out.push(Entry {
                rel,
                path,
                found: Found::File(label.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../tests/fixtures/images/rgb.png");

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn files(folder: &SampleFolder) -> Vec<&str> {
        folder.set.samples.iter().map(|s| s.file.as_str()).collect()
    }

    #[test]
    fn both_layouts_label_sort_and_digest_alike() {
        let tmp = tempfile::tempdir().unwrap();
        let (flat, classes) = (tmp.path().join("flat"), tmp.path().join("classes"));
        write(&flat, "n01530575_b.png", PNG);
        write(&flat, "n01440764_a.png", PNG);
        write(&flat, "sub/n01440764_ignored.png", PNG);
        write(&classes, "n01530575/any.png", PNG);
        write(&classes, "n01440764/deeper/x.png", PNG);
        write(&classes, ".hidden/x.png", PNG);
        let flat = SampleFolder::read(&flat, OnBadFile::Stop).unwrap();
        let classes = SampleFolder::read(&classes, OnBadFile::Stop).unwrap();
        assert_eq!(
            (flat.layout, classes.layout),
            (Layout::Flat, Layout::ImageFolder)
        );
        assert_eq!(files(&flat), ["n01440764_a.png", "n01530575_b.png"]);
        assert_eq!(
            files(&classes),
            ["n01440764/deeper/x.png", "n01530575/any.png"]
        );
        assert_eq!(flat.set.labels(), [Some(0), Some(10)]);
        assert_eq!(classes.set.labels(), flat.set.labels());
        assert_eq!(flat.digest(), classes.digest());
        assert_eq!(flat.digest().len(), 64);
        let one = flat.keep_spread(Some(1));
        assert_eq!(files(&one), ["n01440764_a.png"]);
        assert_ne!(one.digest(), classes.digest());
    }

    #[test]
    fn unusable_entries_are_skipped_by_name_or_stop_a_strict_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, "n01440764/good.png", PNG);
        write(dir, "n01440764/cut.png", &PNG[..PNG.len() / 2]);
        write(dir, "n00000001/unknown.png", PNG);
        write(dir, "loose.png", PNG);
        write(dir, "misc/x.png", PNG);
        let folder = SampleFolder::read(dir, OnBadFile::Skip).unwrap();
        assert_eq!(files(&folder), ["n01440764/good.png"]);
        assert_eq!(folder.considered, 5);
        let skipped: Vec<String> = folder.skipped.iter().map(|e| e.to_string()).collect();
        let expect = [
            ("loose.png", "outside the class folders"),
            ("misc", "not named by a WordNet id"),
            (
                "n00000001/unknown.png",
                "not the WordNet id of one of the 1000",
            ),
            ("n01440764/cut.png", "not a readable JPEG or PNG"),
        ];
        assert_eq!(skipped.len(), expect.len(), "{skipped:?}");
        for (line, (name, why)) in skipped.iter().zip(expect) {
            let shown = format!("{}/{name}: ", dir.display());
            assert!(line.starts_with(&shown) && line.contains(why), "{line}");
        }
        let err = SampleFolder::read(dir, OnBadFile::Stop)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("loose.png") && err.contains("no label"),
            "{err}"
        );
    }
}
