//! A sample folder's usable images without their pixels: what evaluating any number of
//! images needs to hold. [`ImageList::scan`] reads, hashes and decodes every file once (on
//! every core) to find the usable ones, as [`SampleFolder::read`](super::folder::SampleFolder::read)
//! does, but keeps only each image's name, label and sha256; [`ImageList::decode_batch`]
//! reads images again when they are evaluated, refusing a file that changed since.

use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::folder::{self, Layout};
use super::preprocess::IMAGE_LEN;
use super::samples::{self, OnBadFile, Sample};
use crate::error::{LesionError, Result};

/// The usable images of a sample folder, in relative-path order, and what was left out.
#[derive(Debug)]
pub struct ImageList {
    root: PathBuf,
    /// The folder as given, for messages.
    shown: String,
    pub layout: Layout,
    /// Each image's path below the folder, `/`-separated.
    pub files: Vec<String>,
    pub labels: Vec<Option<usize>>,
    /// What was left out, each as the error that names it, in relative-path order.
    pub skipped: Vec<LesionError>,
    /// Files (and passed-over folders) considered: the images and the skipped.
    pub considered: usize,
    /// sha256 of each image's file.
    contents: Vec<[u8; 32]>,
}

impl ImageList {
    /// Lists `dir` (either layout) and reads every file once to find the usable images;
    /// `progress(done, total)` counts the files read. Errors as
    /// [`SampleFolder::read`](super::folder::SampleFolder::read)'s.
    pub fn scan(dir: &Path, on_bad: OnBadFile, progress: impl Fn(usize, usize)) -> Result<Self> {
        // The pixels are dropped as soon as each file proved decodable.
        let read = folder::read_each(dir, on_bad, |s, sha| (s.file, s.label, sha), progress)?;
        let mut list = ImageList {
            root: dir.to_path_buf(),
            shown: dir.display().to_string(),
            layout: read.layout,
            files: Vec::new(),
            labels: Vec::new(),
            skipped: read.skipped,
            considered: read.considered,
            contents: Vec::new(),
        };
        for (file, label, sha) in read.usable {
            list.files.push(file);
            list.labels.push(label);
            list.contents.push(sha);
        }
        Ok(list)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The set's digest, as [`SampleFolder::digest`](super::folder::SampleFolder::digest).
    pub fn digest(&self) -> String {
        folder::set_digest(&self.contents, self.labels.iter().copied())
    }

    /// Keeps the [`samples::spread`] subset of `count` images (relative-path order).
    pub fn keep_spread(mut self, count: Option<usize>) -> Self {
        let keep = samples::spread(self.len(), count);
        if keep.len() < self.len() {
            self.files = keep
                .iter()
                .map(|&i| std::mem::take(&mut self.files[i]))
                .collect();
            self.labels = keep.iter().map(|&i| self.labels[i]).collect();
            self.contents = keep.iter().map(|&i| self.contents[i]).collect();
        }
        self
    }

    /// Reads image `i` again and preprocesses it: normalised CHW pixels. An error when the
    /// file cannot be read or no longer holds what [`ImageList::scan`] read.
    pub fn decode(&self, i: usize) -> Result<Vec<f32>> {
        let rel = &self.files[i];
        let shown = format!("{}/{rel}", self.shown);
        let bytes = std::fs::read(self.root.join(rel)).map_err(|e| LesionError::io(&shown, e))?;
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        if sha != self.contents[i] {
            return Err(LesionError::samples(
                shown,
                "the file changed while it was being evaluated",
            ));
        }
        Ok(Sample::decode(rel.clone(), self.labels[i], &bytes, &shown)?.pixels())
    }

    /// Images `range`, read and preprocessed on every core: a `[len, 3, 224, 224]` batch.
    pub fn decode_batch(&self, range: Range<usize>) -> Result<Vec<f32>> {
        let images: Vec<Vec<f32>> = range
            .clone()
            .into_par_iter()
            .map(|i| self.decode(i))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(range.len() * IMAGE_LEN);
        for pixels in images {
            out.extend_from_slice(&pixels);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::folder::SampleFolder;

    const PNG: &[u8] = include_bytes!("../../tests/fixtures/images/rgb.png");

    #[test]
    fn a_scan_finds_what_a_read_finds_and_decodes_the_same_pixels() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("n01440764")).unwrap();
        std::fs::write(dir.join("n01440764/a.png"), PNG).unwrap();
        std::fs::write(dir.join("n01440764/b.png"), &PNG[..PNG.len() / 2]).unwrap();
        std::fs::write(dir.join("loose.png"), PNG).unwrap();
        let read = SampleFolder::read(dir, OnBadFile::Skip).unwrap();
        let list = ImageList::scan(dir, OnBadFile::Skip, |_, _| {}).unwrap();
        assert_eq!(list.files, ["n01440764/a.png"]);
        assert_eq!(list.labels, read.set.labels());
        assert_eq!(list.digest(), read.digest());
        assert_eq!(list.skipped.len(), 2);
        assert_eq!(list.decode_batch(0..1).unwrap(), read.set.batch(0..1));
        std::fs::write(dir.join("n01440764/a.png"), &PNG[..PNG.len() - 1]).unwrap();
        let err = list.decode(0).unwrap_err().to_string();
        assert!(err.contains("changed"), "{err}");
        assert!(ImageList::scan(dir, OnBadFile::Stop, |_, _| {}).is_err());
    }
}
