//! Fetching site files, with byte-level progress for the large ones.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

fn js_err(context: &str, err: JsValue) -> String {
    let text = err
        .as_string()
        .or_else(|| {
            Reflect::get(&err, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{err:?}"));
    format!("{context}: {text}")
}

async fn response(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| js_err(&format!("cannot fetch {url}"), e))?;
    let resp: Response = resp
        .dyn_into()
        .map_err(|_| format!("{url}: not a response"))?;
    if !resp.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            resp.status(),
            resp.status_text()
        ));
    }
    Ok(resp)
}

pub async fn text(url: &str) -> Result<String, String> {
    let resp = response(url).await?;
    let text = JsFuture::from(resp.text().map_err(|e| js_err(url, e))?)
        .await
        .map_err(|e| js_err(url, e))?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// Fetches `url` as bytes, calling `progress(received, total)` as chunks arrive.
pub async fn bytes(
    url: &str,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let resp = response(url).await?;
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
        .map_err(|_| format!("{url}: cannot read the response body"))?;
    let mut out = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_err(&format!("download of {url} broke off"), e))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| js_err(url, e))?;
        let array: Uint8Array = value
            .dyn_into()
            .map_err(|_| format!("{url}: unexpected chunk"))?;
        let start = out.len();
        out.resize(start + array.length() as usize, 0);
        array.copy_to(&mut out[start..]);
        progress(out.len() as u64, total);
    }
    Ok(out)
}
