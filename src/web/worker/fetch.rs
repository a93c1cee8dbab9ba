//! Fetching site files, with byte-level progress for the large ones, and the Cache
//! Storage bucket that keeps verified weights between visits. Failures are
//! [`Failure::Network`].

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

use crate::web::protocol::Failure;

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

/// `fetch` of whichever scope runs this: the page's window or the worker's global scope.
/// `no_store` keeps the response out of the HTTP cache (the weights live in Cache Storage).
fn fetch(url: &str, no_store: bool) -> Result<js_sys::Promise, Failure> {
    let init = web_sys::RequestInit::new();
    if no_store {
        init.set_cache(web_sys::RequestCache::NoStore);
    }
    let scope = js_sys::global();
    if let Some(window) = scope.dyn_ref::<web_sys::Window>() {
        Ok(window.fetch_with_str_and_init(url, &init))
    } else if let Some(worker) = scope.dyn_ref::<web_sys::WorkerGlobalScope>() {
        Ok(worker.fetch_with_str_and_init(url, &init))
    } else {
        Err(network(url, "no window and no worker scope to fetch from"))
    }
}

async fn response(url: &str, no_store: bool) -> Result<Response, Failure> {
    let resp = JsFuture::from(fetch(url, no_store)?)
        .await
        .map_err(|e| network(url, js_err("cannot fetch", e)))?;
    let resp: Response = resp
        .dyn_into()
        .map_err(|_| network(url, "not a response"))?;
    if !resp.ok() {
        let status = format!("HTTP {} {}", resp.status(), resp.status_text());
        return Err(network(url, status.trim_end()));
    }
    Ok(resp)
}

pub async fn text(url: &str) -> Result<String, Failure> {
    let resp = response(url, false).await?;
    let promise = resp.text().map_err(|e| network(url, js_text(e)))?;
    let text = JsFuture::from(promise)
        .await
        .map_err(|e| network(url, js_text(e)))?;
    text.as_string().ok_or_else(|| network(url, "not text"))
}

/// Fetches `url` as bytes, calling `progress(received, total)` as chunks arrive.
/// `no_store`: bypass the HTTP cache (for files kept in Cache Storage instead).
pub async fn bytes(
    url: &str,
    no_store: bool,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, Failure> {
    let resp = response(url, no_store).await?;
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    let Some(body) = resp.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| network(url, "cannot read the response body"))?;
    let mut out = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| network(url, js_err("the download broke off", e)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| network(url, js_text(e)))?;
        let array: Uint8Array = value
            .dyn_into()
            .map_err(|_| network(url, "unexpected chunk"))?;
        let start = out.len();
        out.resize(start + array.length() as usize, 0);
        array.copy_to(&mut out[start..]);
        progress(out.len() as u64, total);
    }
    Ok(out)
}

/// The Cache Storage bucket for verified weights. Keys carry the file's sha256, so a new
/// version of the weights is a new entry and an old one is never mistaken for it.
const CACHE: &str = "lesion-weights-v1";

async fn open_cache() -> Option<web_sys::Cache> {
    let scope = js_sys::global();
    let caches = match scope.dyn_ref::<web_sys::Window>() {
        Some(window) => window.caches().ok()?,
        None => scope
            .dyn_ref::<web_sys::WorkerGlobalScope>()?
            .caches()
            .ok()?,
    };
    JsFuture::from(caches.open(CACHE))
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
    let buffer = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// Keeps verified bytes for the next visit. Failing to (private mode, full disk) only
/// means the next visit downloads again.
pub async fn store(url: &str, sha256: &str, bytes: &[u8]) -> Result<(), String> {
    let cache = open_cache()
        .await
        .ok_or("this browser offers no Cache Storage here")?;
    let body = Uint8Array::from(bytes);
    let resp = Response::new_with_opt_buffer_source(Some(&body))
        .map_err(|e| js_err("cannot build the cache entry", e))?;
    JsFuture::from(cache.put_with_str(&cache_key(url, sha256), &resp))
        .await
        .map_err(|e| js_err("cannot store the weights in Cache Storage", e))?;
    Ok(())
}

/// Drops a stored entry (e.g. one that no longer verifies).
pub async fn forget(url: &str, sha256: &str) {
    if let Some(cache) = open_cache().await {
        let _ = JsFuture::from(cache.delete_with_str(&cache_key(url, sha256))).await;
    }
}
