//! Messages as they cross between page and worker: postcard bytes in one `Uint8Array`
//! both ways, a request with picked `File`s as the pair `[bytes, files]` (the files
//! uncopied). serde-wasm-bindgen, which walks a JavaScript object field by field across
//! the wasm boundary, took about 0.5 s of the page's thread to read one result of 100
//! predictions in headless Chromium, and a request of a few fields cost milliseconds on
//! each side of every slider move.

use wasm_bindgen::{JsCast, JsValue};

use super::{Envelope, Failure, Reply, Request};

/// A request, and with `beside` (e.g. the picked `File`s) the pair `[request, beside]`.
pub fn encode_request(request: &Request, beside: Option<&JsValue>) -> Result<JsValue, Failure> {
    let bytes = super::request_to_bytes(request)?;
    let value: JsValue = js_sys::Uint8Array::from(bytes.as_slice()).into();
    Ok(match beside {
        Some(beside) => js_sys::Array::of2(&value, beside).into(),
        None => value,
    })
}

/// The request, and what came beside it.
pub fn decode_request(value: JsValue) -> Result<(Request, Option<JsValue>), Failure> {
    let (value, beside) = if js_sys::Array::is_array(&value) {
        let pair = js_sys::Array::from(&value);
        (pair.get(0), Some(pair.get(1)))
    } else {
        (value, None)
    };
    let bytes = value
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| Failure::Protocol("a request from the page is not bytes".into()))?;
    Ok((super::request_from_bytes(&bytes.to_vec())?, beside))
}

pub fn encode_reply(envelope: &Envelope) -> Result<JsValue, Failure> {
    let bytes = super::to_bytes(envelope)?;
    Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
}

/// Any message the page receives becomes an envelope: one that cannot be read is a
/// [`Reply::Crashed`] (the worker said something this page does not understand, e.g.
/// after a redeploy), never silence.
pub fn decode_reply(value: JsValue) -> Envelope {
    let read = value
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| Failure::Protocol("a reply from the worker is not bytes".into()))
        .and_then(|bytes| super::from_bytes(&bytes.to_vec()));
    read.unwrap_or_else(|failure| Envelope {
        generation: 0,
        reply: Reply::Crashed(failure.to_string()),
    })
}
