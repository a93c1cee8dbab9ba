//! The page's state in one signal, shared by context: components read only the slices
//! they show (memos), controls change it through [`Store::update`], and worker replies go
//! through the reducer. Also the one effect that mirrors the settings in the URL.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::PageTransitionEvent;

use super::client::Client;
use super::reducer::{self, Effect as Action};
use super::state::PageState;
use crate::share::Link;
use crate::web::protocol::clock::epoch_ms;
use crate::web::protocol::{Envelope, Request};

/// A handle on the page's state and its worker; `Copy`, so every closure can hold one.
#[derive(Clone, Copy)]
pub struct Store {
    state: RwSignal<PageState>,
    client: StoredValue<Option<Client>, LocalStorage>,
}

impl Store {
    /// Creates the state for `link`, provides it to every component, starts the worker and
    /// keeps the URL in step with the settings.
    pub fn provide(link: Link) -> Self {
        let store = Store {
            state: RwSignal::new(PageState::new(link)),
            client: StoredValue::new_local(None),
        };
        provide_context(store);
        store.connect();
        store.mirror_in_url();
        store.release_when_hidden();
        store
    }

    /// The visitor agreed to the download the page asked about.
    pub fn agree_to_download(self) {
        if let Some(request) = self.state.try_update(PageState::agree_to_download) {
            self.send(&request);
        }
    }

    /// A hidden page lets its worker go (the model and its gigabyte of memory), so that
    /// pages kept in the back-forward cache hold none; one shown again from that cache
    /// starts a worker and loads again (from Cache Storage).
    fn release_when_hidden(self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let hide = Closure::<dyn FnMut(PageTransitionEvent)>::new(move |_: PageTransitionEvent| {
            self.client.set_value(None);
        });
        let show = Closure::<dyn FnMut(PageTransitionEvent)>::new(move |event: PageTransitionEvent| {
            if event.persisted() {
                self.state.update(PageState::restart);
                self.connect();
            }
        });
        let _ = window.add_event_listener_with_callback("pagehide", hide.as_ref().unchecked_ref());
        let _ = window.add_event_listener_with_callback("pageshow", show.as_ref().unchecked_ref());
        // They live as long as the page.
        hide.forget();
        show.forget();
    }

    /// The store provided by [`Store::provide`].
    pub fn get() -> Self {
        expect_context::<Store>()
    }

    /// A slice of the state that notifies only when it changes.
    pub fn read<T>(self, slice: impl Fn(&PageState) -> T + Send + Sync + 'static) -> Memo<T>
    where
        T: PartialEq + Send + Sync + 'static,
    {
        Memo::new(move |_| self.state.with(&slice))
    }

    /// Reads the state once, without subscribing.
    pub fn peek<T>(self, read: impl FnOnce(&PageState) -> T) -> T {
        self.state.with_untracked(read)
    }

    /// Changes the state (a control moved). A change of the settings or kinds asks the
    /// worker for them (see `mirror_in_url`).
    pub fn update(self, change: impl FnOnce(&mut PageState)) {
        self.state.update(change);
    }

    /// Sends a request to the worker; a worker that cannot be reached is an error shown in
    /// the page.
    pub fn send(self, request: &Request) {
        self.send_with(request, None)
    }

    /// Sends `request` with JavaScript values beside it (the picked `File`s).
    pub fn send_with(self, request: &Request, beside: Option<&wasm_bindgen::JsValue>) {
        let sent = self
            .client
            .with_value(|c| c.as_ref().map(|c| c.send(request, beside)));
        if let Some(Err(failure)) = sent {
            self.state.update(|s| s.failure = Some(failure));
        }
    }

    fn dispatch(self, envelope: Envelope) {
        let actions = self
            .state
            .try_update(|s| reducer::on_reply(s, envelope, epoch_ms()))
            .unwrap_or_default();
        for action in actions {
            match action {
                Action::Send(request) => self.send(&request),
                Action::Respawn => self.connect(),
            }
        }
    }

    /// Starts the worker (again, after a crash); it says `Ready`, then loading begins.
    fn connect(self) {
        self.client.set_value(None);
        match Client::spawn(move |envelope| self.dispatch(envelope)) {
            Ok(client) => self.client.set_value(Some(client)),
            Err(failure) => self
                .state
                .update(|s| s.phase = super::state::Phase::Failed(failure)),
        }
    }

    /// Every change of the settings: mirror it in the URL (no history entry per move) and
    /// ask for it. A change of a kind asks too (the charts follow the kinds), and so do
    /// the choice of the image to look inside and a pin (which the link holds).
    fn mirror_in_url(self) {
        let settings = self.read(|s| s.settings.clone());
        let kinds = self.read(|s| s.kinds);
        let inspected = self.read(PageState::inspected);
        let pinned = self.read(|s| s.page.pinned.clone());
        Effect::new(move |_| {
            // Read, not only tracked: a memo computes (and so notifies) only when read.
            settings.with(|_| ());
            kinds.with(|_| ());
            inspected.with(|_| ());
            pinned.with(|_| ());
            let query = self.peek(PageState::query);
            if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                let _ =
                    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
            }
            if self.peek(PageState::is_ready) {
                let request = self.state.try_update(|s| s.ask(epoch_ms()));
                if let Some(request) = request {
                    self.send(&request);
                }
            }
        });
    }
}
