//! The site's weights, in the worker: each file the manifest lists (one, or shards of at
//! most 20 MiB) from this browser's Cache Storage when an earlier visit kept it, else
//! downloaded a few at a time, verified, and kept as soon as it verifies. A visit that
//! broke off half-way resumes: only the missing shards are fetched.

use std::cell::RefCell;

use futures_util::future::join_all;

use super::picked::file_failure;
use super::{fetch, retry};
use crate::model::Weights;
use crate::text::mb;
use crate::model::manifest::{self, FileEntry, Manifest};
use crate::web::protocol::clock::now_ms;
use crate::web::protocol::{ASK_ABOVE_BYTES, Download, Failure, Progress};

/// Shards downloaded at once.
const PARALLEL: usize = 3;

const TITLE: &str = "Downloading weights";

/// Bytes received per shard, for one progress bar over all of them.
struct Tally {
    got: RefCell<Vec<u64>>,
    total: u64,
    started: f64,
}

impl Tally {
    fn progress(&self, shard: usize, got: u64) -> Progress {
        let done: u64 = {
            let mut all = self.got.borrow_mut();
            all[shard] = got;
            all.iter().sum()
        };
        let seconds = ((now_ms() - self.started) / 1000.0).max(1e-3);
        let detail = format!(
            "{} of {} · {:.1} MB/s",
            mb(done),
            mb(self.total),
            done as f64 / 1e6 / seconds
        );
        Progress::new(TITLE, Some(done as f64 / self.total.max(1) as f64), detail)
    }
}

/// The weights, or the question to ask before downloading them.
pub enum Fetched {
    Weights(Weights),
    Ask(Download),
}

/// The verified weights of `manifest` (in folder `dir`), and what loading them had to say;
/// or, when more than [`ASK_ABOVE_BYTES`] are missing and the visitor has not `agreed`, the
/// download to ask about (nothing is fetched).
pub async fn load(
    manifest: &Manifest,
    dir: &str,
    agreed: bool,
    notices: &mut Vec<String>,
    report: &impl Fn(Progress),
) -> Result<Fetched, Failure> {
    let parts = manifest.parts();
    let url = |part: &FileEntry| format!("{dir}/{}", part.path);
    report(Progress::new("Looking for stored weights", None, ""));
    let mut pieces: Vec<Option<Vec<u8>>> = Vec::with_capacity(parts.len());
    for part in parts {
        pieces.push(stored(part, &url(part)).await);
    }
    let kept = pieces.iter().flatten().count();
    let missing: Vec<usize> = (0..parts.len()).filter(|&i| pieces[i].is_none()).collect();
    let missing_bytes: u64 = missing.iter().map(|&i| parts[i].bytes).sum();
    if !agreed && missing_bytes > ASK_ABOVE_BYTES {
        return Ok(Fetched::Ask(Download {
            model: manifest.model.clone(),
            missing: missing_bytes,
            total: manifest.total_bytes(),
        }));
    }
    if missing.is_empty() {
        notices.push(format!(
            "Weights ({}) came from this browser's cache: nothing was downloaded.",
            mb(manifest.total_bytes())
        ));
    } else if kept > 0 {
        notices.push(format!(
            "{kept} of {} weight files came from this browser's cache (an earlier visit broke off); fetched the other {}.",
            parts.len(),
            missing.len()
        ));
    }
    let tally = Tally {
        got: RefCell::new(vec![0; parts.len()]),
        total: missing_bytes,
        started: now_ms(),
    };
    let mut unkept = None;
    for wave in missing.chunks(PARALLEL) {
        let fetched = join_all(wave.iter().map(|&i| download(i, &parts[i], url(&parts[i]), &tally, report))).await;
        for (&i, result) in wave.iter().zip(fetched) {
            let (bytes, kept) = result?;
            unkept = unkept.or(kept.err());
            pieces[i] = Some(bytes);
        }
    }
    if let Some(e) = unkept {
        notices.push(format!("The weights could not be kept for the next visit ({e})."));
    }
    report(Progress::new("Reading the weights", None, mb(manifest.total_bytes())));
    // Every piece was verified as it arrived (from the cache or the network).
    // Each part is dropped once decoded (see `manifest::decode_parts`).
    let parts = pieces.into_iter().flatten().collect();
    let weights = manifest::decode_parts(parts, manifest.model.clone(), dir)
        .map_err(|e| file_failure(e, false))?;
    Ok(Fetched::Weights(weights))
}

/// A shard an earlier visit kept, if it still verifies (one that does not is dropped).
async fn stored(part: &FileEntry, url: &str) -> Option<Vec<u8>> {
    let bytes = fetch::cached(url, &part.sha256).await?;
    if manifest::verify_file(part, &bytes, url).is_ok() {
        Some(bytes)
    } else {
        fetch::forget(url, &part.sha256).await;
        None
    }
}

/// Downloads and verifies shard `i`, then keeps it; the bytes, and whether keeping worked.
async fn download(
    i: usize,
    part: &FileEntry,
    url: String,
    tally: &Tally,
    report: &impl Fn(Progress),
) -> Result<(Vec<u8>, Result<(), String>), Failure> {
    let bytes = fetch::bytes(&url, true, part.bytes, |event| match event {
        fetch::Event::Received(got) => report(tally.progress(i, got)),
        fetch::Event::Retrying { next, after } => {
            let detail = format!(
                "{}: trying again ({next} of {}) after: {}",
                part.path,
                retry::TRIES,
                after.describe()
            );
            report(Progress::new(TITLE, None, detail))
        }
    })
    .await?;
    manifest::verify_file(part, &bytes, &url).map_err(|e| file_failure(e, true))?;
    let kept = fetch::store(&url, &part.sha256, &bytes).await;
    Ok((bytes, kept))
}
