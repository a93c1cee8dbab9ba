//! Fetching site files, with byte-level progress for the large ones, a stall timeout,
//! tries again as [`retry`] says and a size cap; and the Cache Storage bucket that keeps
//! verified weights between visits. Failures are [`Failure::Network`], or
//! [`Failure::Verification`] for a response larger than expected.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, RequestCache, Response};

use super::retry::{self, Miss};
use crate::web::protocol::{Failure, Forgotten};
use crate::web::protocol::clock::{sleep, within};

fn network(url: &str, message: impl Into<String>) -> Failure {
    Failure::Network {
        url: url.into(),
        message: message.into(),
    }
}

/// A JavaScript error as text.
fn js_text(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            Reflect::get(&err, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{err:?}"))
}

fn js_err(context: &str, err: JsValue) -> String {
    format!("{context}: {}", js_text(err))
}

/// What a download tells its caller as it goes.
pub enum Event<'a> {
    /// Bytes received so far.
    Received(u64),
    /// Try `next` (of [`retry::TRIES`]) starts after this miss and a pause.
    Retrying { next: u32, after: &'a Miss },
}

/// `fetch` of whichever scope runs this: the page's window or the worker's global scope.
/// `no_store` keeps the response out of the HTTP cache (the weights live in Cache Storage);
/// everything else is revalidated (`no-cache`), so a redeploy is seen at once.
fn fetch(url: &str, no_store: bool, signal: &AbortSignal) -> Result<js_sys::Promise, Miss> {
    let init = web_sys::RequestInit::new();
    init.set_cache(if no_store {
        RequestCache::NoStore
    } else {
        RequestCache::NoCache
    });
    init.set_signal(Some(signal));
    let scope = js_sys::global();
    if let Some(window) = scope.dyn_ref::<web_sys::Window>() {
        Ok(window.fetch_with_str_and_init(url, &init))
    } else if let Some(worker) = scope.dyn_ref::<web_sys::WorkerGlobalScope>() {
        Ok(worker.fetch_with_str_and_init(url, &init))
    } else {
        Err(Miss::Final("no window and no worker scope to fetch from".into()))
    }
}

/// `promise`'s value; a stall aborts the request.
async fn unless_stalled(
    promise: js_sys::Promise,
    abort: &AbortController,
    context: &str,
) -> Result<JsValue, Miss> {
    match within(promise, retry::STALL_MS).await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => {
            abort.abort();
            Err(Miss::Stalled)
        }
        Err(e) => Err(Miss::Broken(js_err(context, e))),
    }
}

fn too_large(got: u64, limit: u64) -> Miss {
    Miss::Final(format!(
        "the server sent {got} bytes or more where at most {limit} were expected: refused"
    ))
}

/// One try: the whole body, or why not.
async fn try_once(
    url: &str,
    no_store: bool,
    limit: u64,
    progress: &mut dyn FnMut(Event),
) -> Result<Vec<u8>, Miss> {
    let abort = AbortController::new().map_err(|e| Miss::Final(js_text(e)))?;
    let signal = abort.signal();
    let resp = unless_stalled(fetch(url, no_store, &signal)?, &abort, "cannot fetch").await?;
    let resp: Response = resp
        .dyn_into()
        .map_err(|_| Miss::Final("not a response".into()))?;
    if !resp.ok() {
        return Err(Miss::Status(resp.status(), resp.status_text()));
    }
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(total) = total.filter(|&t| t > limit) {
        abort.abort();
        return Err(too_large(total, limit));
    }
    let Some(body) = resp.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| Miss::Final("cannot read the response body".into()))?;
    let mut out = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = unless_stalled(reader.read(), &abort, "the download broke off").await?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(out);
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| Miss::Final(js_text(e)))?;
        let array: Uint8Array = value
            .dyn_into()
            .map_err(|_| Miss::Final("unexpected chunk".into()))?;
        let start = out.len();
        let got = (start + array.length() as usize) as u64;
        if got > limit {
            abort.abort();
            return Err(too_large(got, limit));
        }
        out.resize(got as usize, 0);
        array.copy_to(&mut out[start..]);
        progress(Event::Received(got));
    }
}

/// Fetches `url` as bytes, at most `limit` of them, trying again as [`retry`] says.
/// `no_store`: bypass the HTTP cache (for files kept in Cache Storage instead).
pub async fn bytes(
    url: &str,
    no_store: bool,
    limit: u64,
    mut progress: impl FnMut(Event),
) -> Result<Vec<u8>, Failure> {
    let mut tries = 1;
    loop {
        let miss = match try_once(url, no_store, limit, &mut progress).await {
            Ok(bytes) => return Ok(bytes),
            Err(miss) => miss,
        };
        let Some(pause) = retry::pause_ms(tries, &miss) else {
            let message = retry::gave_up(tries, &miss);
            return Err(match miss {
                Miss::Final(_) => Failure::Verification {
                    file: url.into(),
                    message,
                },
                _ => network(url, message),
            });
        };
        tries += 1;
        progress(Event::Retrying {
            next: tries,
            after: &miss,
        });
        sleep(pause).await;
    }
}

/// The most bytes a text file of the site (index, manifest, list) may have.
const TEXT_LIMIT: u64 = 1 << 20;

pub async fn text(url: &str) -> Result<String, Failure> {
    let bytes = bytes(url, false, TEXT_LIMIT, |_| {}).await?;
    String::from_utf8(bytes).map_err(|_| network(url, "not UTF-8 text"))
}

/// The Cache Storage bucket for verified weights. Keys carry the file's sha256, so a new
/// version of the weights is a new entry and an old one is never mistaken for it.
const CACHE: &str = "lesion-weights-v1";

fn cache_storage() -> Option<web_sys::CacheStorage> {
    let scope = js_sys::global();
    match scope.dyn_ref::<web_sys::Window>() {
        Some(window) => window.caches().ok(),
        None => scope
            .dyn_ref::<web_sys::WorkerGlobalScope>()?
            .caches()
            .ok(),
    }
}

async fn open_cache() -> Option<web_sys::Cache> {
    JsFuture::from(cache_storage()?.open(CACHE))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

fn cache_key(url: &str, sha256: &str) -> String {
    format!("{url}?sha256={sha256}")
}

/// The bytes stored for `url` with this sha256, if this browser has them.
pub async fn cached(url: &str, sha256: &str) -> Option<Vec<u8>> {
    let cache = open_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(&cache_key(url, sha256)))
        .await
        .ok()?;
    let resp: Response = hit.dyn_into().ok()?;
    let size = resp
        .headers()
        .get(SIZE_HEADER)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    // Read in the stream's small chunks, not as one ArrayBuffer of the whole shard: a
    // 20 MiB buffer per shard would stay in the worker's JS heap, as garbage, until a
    // major collection (which an idle worker may never run).
    let reader: ReadableStreamDefaultReader = resp.body()?.get_reader().dyn_into().ok()?;
    let mut out = Vec::with_capacity(size.unwrap_or(0));
    loop {
        let chunk = JsFuture::from(reader.read()).await.ok()?;
        if Reflect::get(&chunk, &"done".into()).ok()?.as_bool() != Some(false) {
            return Some(out);
        }
        let array: Uint8Array = Reflect::get(&chunk, &"value".into()).ok()?.dyn_into().ok()?;
        let start = out.len();
        out.resize(start + array.length() as usize, 0);
        array.copy_to(&mut out[start..]);
    }
}

/// Keeps verified bytes for the next visit. Failing to (private mode, full disk) only
/// means the next visit downloads again.
pub async fn store(url: &str, sha256: &str, bytes: &[u8]) -> Result<(), String> {
    let cache = open_cache()
        .await
        .ok_or("this browser offers no Cache Storage here")?;
    let body = Uint8Array::from(bytes);
    // The entry's size, so that forgetting can say how much it freed without reading it.
    let headers = web_sys::Headers::new().map_err(|e| js_err("cannot build the cache entry", e))?;
    headers
        .set(SIZE_HEADER, &bytes.len().to_string())
        .map_err(|e| js_err("cannot build the cache entry", e))?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers);
    let resp = Response::new_with_opt_buffer_source_and_init(Some(&body), &init)
        .map_err(|e| js_err("cannot build the cache entry", e))?;
    JsFuture::from(cache.put_with_str(&cache_key(url, sha256), &resp))
        .await
        .map_err(|e| js_err("cannot store the weights in Cache Storage", e))?;
    Ok(())
}

/// The header of a stored entry that records its size in bytes.
const SIZE_HEADER: &str = "x-lesion-bytes";

/// Removes every weight file this browser keeps for the site: how many there were and,
/// when each recorded its size, how many bytes.
pub async fn forget_all() -> Result<Forgotten, String> {
    let storage = cache_storage().ok_or("this browser offers no Cache Storage here")?;
    let mut forgotten = Forgotten {
        files: 0,
        bytes: Some(0),
    };
    if let Some(cache) = open_cache().await {
        let responses = JsFuture::from(cache.match_all())
            .await
            .map_err(|e| js_err("cannot list the stored weights", e))?;
        for response in js_sys::Array::from(&responses).iter() {
            let size = response
                .dyn_ref::<Response>()
                .and_then(|r| r.headers().get(SIZE_HEADER).ok().flatten())
                .and_then(|v| v.parse::<u64>().ok());
            forgotten.files += 1;
            forgotten.bytes = forgotten.bytes.zip(size).map(|(a, b)| a + b);
        }
    }
    JsFuture::from(storage.delete(CACHE))
        .await
        .map_err(|e| js_err("cannot remove the stored weights", e))?;
    Ok(forgotten)
}

/// Drops a stored entry (e.g. one that no longer verifies).
pub async fn forget(url: &str, sha256: &str) {
    if let Some(cache) = open_cache().await {
        let _ = JsFuture::from(cache.delete_with_str(&cache_key(url, sha256))).await;
    }
}

/// `url` made absolute against this scope's own address (as Cache Storage keys are).
fn absolute(url: &str) -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &"location".into()).ok()?;
    let base = Reflect::get(&location, &"href".into()).ok()?.as_string()?;
    Some(web_sys::Url::new_with_base(url, &base).ok()?.href())
}

/// Removes stored weights that the installed models no longer use: in the folder of the
/// model just loaded (`folder`), every file but its `current` parts (`(url, sha256)`:
/// older versions, or a single file since split into shards); elsewhere, files outside
/// every folder of `folders` (one per installed model, e.g. `weights/demo/`). Returns how
/// many went.
pub async fn prune(current: &[(String, String)], folder: &str, folders: &[String]) -> usize {
    let (Some(cache), Some(folder)) = (open_cache().await, absolute(folder)) else {
        return 0;
    };
    let keep: Vec<String> = current
        .iter()
        .filter_map(|(url, sha)| absolute(&cache_key(url, sha)))
        .collect();
    let folders: Vec<String> = folders.iter().filter_map(|f| absolute(f)).collect();
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return 0;
    };
    let mut removed = 0;
    for key in js_sys::Array::from(&keys).iter() {
        let Some(key) = key.dyn_ref::<web_sys::Request>().map(|r| r.url()) else {
            continue;
        };
        let stale = key.starts_with(folder.as_str()) && !keep.contains(&key);
        let unlisted = !folders.iter().any(|f| key.starts_with(f.as_str()));
        if (stale || unlisted)
            && JsFuture::from(cache.delete_with_str(&key))
                .await
                .is_ok_and(|gone| gone.as_bool() == Some(true))
        {
            removed += 1;
        }
    }
    removed
}
