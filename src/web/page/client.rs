//! The page's side of the worker: starts it, sends typed requests, hands every reply to
//! the page as an [`Envelope`]. A worker that dies is reported as a `Reply::Crashed`.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::web::protocol::{Envelope, Failure, Reply, Request, codec};

/// The worker's script (`public/worker.js`, named by its content when built), as
/// `public/boot.js` read it from `build.json`: the same deploy as the page's own code.
fn worker_script() -> Result<String, Failure> {
    let build = js_sys::Reflect::get(&js_sys::global(), &"lesionBuild".into()).ok();
    build
        .and_then(|build| js_sys::Reflect::get(&build, &"worker".into()).ok())
        .and_then(|name| name.as_string())
        .filter(|name| crate::text::is_plain_file_name(name))
        .map(|name| format!("./{name}"))
        .ok_or_else(|| {
            Failure::Engine(
                "the page was started without its build description (build.json): reload the page".into(),
            )
        })
}

pub struct Client {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Client {
    /// Starts a worker; every reply (and its death) goes to `on_reply`.
    pub fn spawn(on_reply: impl Fn(Envelope) + 'static) -> Result<Self, Failure> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(&worker_script()?, &options).map_err(|e| {
            Failure::Engine(format!("the evaluation worker could not start: {e:?}"))
        })?;
        let on_reply = Rc::new(on_reply);
        let replies = on_reply.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            replies(codec::decode_reply(event.data()))
        });
        // An uncaught error in the worker is an `ErrorEvent`; a module script that cannot be
        // fetched or parsed fires a plain `Event`, with no message of its own.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            event.prevent_default();
            let message = match event.dyn_ref::<ErrorEvent>() {
                Some(error) => error.message(),
                None => "its script could not be loaded (a network error, or a redeploy: reload the page)".into(),
            };
            on_reply(Envelope {
                generation: 0,
                reply: Reply::Crashed(message),
            });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Client {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Sends `request`, with `beside` (the picked `File`s) next to it.
    pub fn send(&self, request: &Request, beside: Option<&JsValue>) -> Result<(), Failure> {
        let value = codec::encode_request(request, beside)?;
        self.worker
            .post_message(&value)
            .map_err(|e| Failure::Protocol(format!("cannot reach the evaluation worker: {e:?}")))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
