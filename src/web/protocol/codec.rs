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
    let value = wire(super::request_to_bytes(request)?);
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
    let bytes = from_wire(value, "a request from the page")?;
    Ok((super::request_from_bytes(&bytes)?, beside))
}

pub fn encode_reply(envelope: &Envelope) -> Result<JsValue, Failure> {
    Ok(wire(super::to_bytes(envelope)?))
}

/// A message's bytes as the `Uint8Array` that crosses.
fn wire(bytes: Vec<u8>) -> JsValue {
    js_sys::Uint8Array::from(bytes.as_slice()).into()
}

/// The bytes of a message that crossed, or why it is none (`what`: whose message).
fn from_wire(value: JsValue, what: &str) -> Result<Vec<u8>, Failure> {
    let bytes = value
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| Failure::Protocol(format!("{what} is not bytes")))?;
    Ok(bytes.to_vec())
}

/// Any message the page receives becomes an envelope: one that cannot be read is a
/// [`Reply::Crashed`] (the worker said something this page does not understand, e.g.
/// after a redeploy), never silence.
pub fn decode_reply(value: JsValue) -> Envelope {
    let read = from_wire(value, "a reply from the worker").and_then(|b| super::from_bytes(&b));
    read.unwrap_or_else(|failure| Envelope {
        generation: 0,
        reply: Reply::Crashed(failure.to_string()),
    })
}
