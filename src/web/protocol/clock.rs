//! Time and turn-taking in whichever scope runs this (the page's window or the worker).

use wasm_bindgen::{JsCast, JsValue};

fn get(value: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Milliseconds from this scope's `performance.now()` (0 where there is none).
pub fn now_ms() -> f64 {
    let Some(performance) = get(&js_sys::global(), "performance") else {
        return 0.0;
    };
    get(&performance, "now")
        .and_then(|now| now.dyn_into::<js_sys::Function>().ok())
        .and_then(|now| now.call0(&performance).ok())
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0)
}

/// Milliseconds since the Unix epoch, from `performance.timeOrigin + performance.now()`:
/// a clock the page and its worker share (each scope's `now_ms()` starts at its own
/// origin).
pub fn epoch_ms() -> f64 {
    let origin = get(&js_sys::global(), "performance")
        .and_then(|performance| get(&performance, "timeOrigin"))
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0);
    origin + now_ms()
}

/// Resolves after the event loop has run: in the worker, newer requests are read then.
/// Where the browser has `scheduler.postTask`, the evaluation resumes at background
/// priority, so a request that is already waiting is handled first; else `setTimeout(0)`.
pub async fn breathe() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let scope = js_sys::global();
        let function = |v: JsValue| v.dyn_into::<js_sys::Function>().ok();
        if let Some(scheduler) = get(&scope, "scheduler")
            && let Some(post_task) = get(&scheduler, "postTask").and_then(function)
        {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"priority".into(), &"background".into());
            if post_task.call2(&scheduler, &resolve, &options).is_ok() {
                return;
            }
        }
        if let Some(set_timeout) = get(&scope, "setTimeout").and_then(function) {
            let _ = set_timeout.call2(&scope, &resolve, &0.into());
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A promise that resolves with `value` after `ms` milliseconds (`setTimeout`).
pub fn after(ms: u32, value: &JsValue) -> js_sys::Promise {
    let value = value.clone();
    js_sys::Promise::new(&mut |resolve, _| {
        let scope = js_sys::global();
        if let Some(set_timeout) =
            get(&scope, "setTimeout").and_then(|v| v.dyn_into::<js_sys::Function>().ok())
        {
            let _ = set_timeout.call3(&scope, &resolve, &ms.into(), &value);
        }
    })
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let _ = wasm_bindgen_futures::JsFuture::from(after(ms, &JsValue::UNDEFINED)).await;
}

/// `promise`'s value, or `None` when it has not settled within `ms` milliseconds.
pub async fn within(promise: js_sys::Promise, ms: u32) -> Result<Option<JsValue>, JsValue> {
    let late: JsValue = js_sys::Object::new().into();
    let race = js_sys::Promise::race(&js_sys::Array::of2(&promise, &after(ms, &late)));
    let value = wasm_bindgen_futures::JsFuture::from(race).await?;
    Ok((!js_sys::Object::is(&value, &late)).then_some(value))
}
