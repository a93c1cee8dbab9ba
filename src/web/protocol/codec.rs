//! Messages as they cross between page and worker. Requests go as JavaScript values
//! (serde-wasm-bindgen; picked `File`s beside them, uncopied); replies as
//! postcard bytes in one `Uint8Array` (serde-wasm-bindgen, which walks a JavaScript object
//! field by field across the wasm boundary, took about 0.5 s of the page's thread to read
//! one result of 100 predictions in headless Chromium).

use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use super::{Envelope, Failure, Reply, Request};

fn serializer() -> serde_wasm_bindgen::Serializer {
    // u64 seeds above 2^53 must survive: as BigInt.
    serde_wasm_bindgen::Serializer::new().serialize_large_number_types_as_bigints(true)
}

/// A request, and with `beside` (e.g. the picked `File`s) the pair `[request, beside]`.
pub fn encode_request(request: &Request, beside: Option<&JsValue>) -> Result<JsValue, Failure> {
    let value = request
        .serialize(&serializer())
        .map_err(|e| Failure::Protocol(format!("cannot encode a request: {e}")))?;
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
    let request = serde_wasm_bindgen::from_value(value)
        .map_err(|e| Failure::Protocol(format!("cannot read a request: {e}")))?;
    Ok((request, beside))
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
