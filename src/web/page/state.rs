//! The page's state as plain data, and the changes the controls make to it. No Leptos and
//! no JavaScript here: the components read this through `store`, and it is tested natively.

use std::collections::BTreeMap;

use crate::eval::Inside;
use crate::model::Layer;
use crate::perturb::{Damage, Kind, Preset, Settings};
use crate::share::{self, BackendChoice, Link, Page};
use crate::web::protocol::{Download, Failure, LoadedModel, Progress, Request, Results};

/// Where the page is: loading a model, showing one, or stopped with an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Loading(Progress),
    /// The weights are a large download: waiting for the visitor to agree.
    Asking(Download),
    Ready(Box<LoadedModel>),
    Failed(Failure),
}

/// What the page is waiting to have loaded, so that a failure lands in the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// The site's model (at start, or again after the worker died).
    Site,
    /// Files the user picked: a failure leaves the model on screen as it was.
    Files,
    /// The model on screen, moving from a failed GPU to the CPU.
    MoveToCpu,
}

/// One chart point: relative top-1 and its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartValue {
    pub rel: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One chart per (layer, kind, seed): slider position -> relative top-1.
pub type Charts = BTreeMap<(Layer, Kind, u64), BTreeMap<u32, ChartValue>>;

/// Everything the page knows.
#[derive(Debug, Clone, PartialEq)]
pub struct PageState {
    /// How the link asks the page to run (model, backend, images).
    pub page: Page,
    /// Where to run: as the link asks, or the CPU once the GPU failed.
    pub backend: BackendChoice,
    /// The damage the user asked for (the URL mirrors it).
    pub settings: Settings,
    /// The kind each layer's slider applies when moved (kept while a layer is intact).
    pub kinds: [Kind; 8],
    pub phase: Phase,
    /// Whether the current worker has said `Ready` (a worker that dies before that could
    /// not start, wherever it runs).
    pub worker_ready: bool,
    /// The engine generation whose replies count (see `protocol::Envelope`).
    pub generation: u64,
    pub loading: Option<Loading>,
    /// The numbers on screen; they may belong to older settings while `computing`.
    pub results: Option<Results>,
    pub computing: bool,
    /// When the page last asked for settings (its clock, ms), and how long the numbers for
    /// the settings on screen took to arrive after that.
    pub asked_at: f64,
    pub latency: Option<f64>,
    /// The part of the latency before the request reached the worker (ms).
    pub to_worker: Option<f64>,
    /// Why the last evaluation failed.
    pub failure: Option<Failure>,
    /// The image "A look inside" shows (the first until one is chosen).
    pub selected: Option<usize>,
    /// The look inside conv1 the worker drew last (for `selected`, or the image before).
    pub inside: Option<Inside>,
    /// The numbers of the pinned settings (`page.pinned`, A), once known.
    pub pinned_results: Option<Results>,
    pub notices: Vec<String>,
    pub charts: Charts,
    /// Loading of a picked file: progress, or why it was refused.
    pub file_status: Option<String>,
    /// The visitor agreed to download the site's weights, however large.
    pub download_agreed: bool,
    /// The layer whose slider or kind the visitor changed last (its chart fills first).
    pub last_moved: Option<usize>,
}

impl PageState {
    /// The state a link opens with.
    pub fn new(link: Link) -> Self {
        let mut kinds = [Kind::Drop; 8];
        for (i, layer) in Layer::ALL.iter().enumerate() {
            if let Some(d) = link.settings.layers.get(layer) {
                kinds[i] = d.kind;
            }
        }
        Self {
            backend: link.page.backend,
            page: link.page,
            settings: link.settings,
            kinds,
            phase: Phase::Loading(Progress::new("Starting", None, "")),
            worker_ready: false,
            generation: 0,
            loading: Some(Loading::Site),
            results: None,
            computing: false,
            asked_at: 0.0,
            latency: None,
            to_worker: None,
            failure: None,
            selected: None,
            inside: None,
            pinned_results: None,
            notices: link.ignored,
            charts: Charts::new(),
            file_status: None,
            download_agreed: false,
            last_moved: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
    }

    /// The model on screen, when there is one.
    pub fn model(&self) -> Option<&LoadedModel> {
        match &self.phase {
            Phase::Ready(model) => Some(model),
            _ => None,
        }
    }

    /// The worker's WebAssembly memory as it last said (bytes; 0 before a model loaded).
    pub fn worker_memory(&self) -> u64 {
        self.results
            .as_ref()
            .map(|r| r.worker_memory)
            .or(self.model().map(|m| m.worker_memory))
            .unwrap_or(0)
    }

    /// The request that loads the site's model as the link asks.
    pub fn load_request(&self) -> Request {
        Request::Load {
            model: self.page.model.clone(),
            backend: self.backend,
            images: self.page.images,
            download_agreed: self.download_agreed,
        }
    }

    /// The visitor agreed to the download the page asked about: the load to send.
    pub fn agree_to_download(&mut self) -> Request {
        self.download_agreed = true;
        self.loading = Some(Loading::Site);
        self.phase = Phase::Loading(Progress::new("Downloading weights", None, ""));
        self.load_request()
    }

    /// The page came back from the browser's back-forward cache, its worker released when
    /// it was hidden: everything but the settings starts again (the weights come from
    /// Cache Storage).
    pub fn restart(&mut self) {
        self.phase = Phase::Loading(Progress::new("Starting again", None, ""));
        self.worker_ready = false;
        self.loading = Some(Loading::Site);
        self.results = None;
        self.computing = false;
        self.failure = None;
        self.inside = None;
        self.pinned_results = None;
        self.charts.clear();
    }

    /// Asks for the current settings at time `now`. The worker drops older requests, so a
    /// storm of slider moves never queues stale work; the page shows "Computing" until the
    /// numbers on screen belong to the settings on screen.
    pub fn ask(&mut self, now: f64) -> Request {
        self.computing = !self.results_are_current();
        self.failure = None;
        self.asked_at = now;
        Request::Evaluate {
            settings: self.settings.clone(),
            kinds: self.kinds,
            first: self.last_moved.map(|i| Layer::ALL[i]),
            inspect: self.inspected(),
            pinned: self
                .page
                .pinned
                .clone()
                .filter(|_| self.pinned_numbers().is_none()),
        }
    }

    /// Pins the numbers on screen as A (they must be the current settings').
    pub fn pin(&mut self) {
        if self.results_are_current() {
            self.page.pinned = Some(self.settings.clone());
            self.pinned_results = self.results.clone();
        }
    }

    pub fn unpin(&mut self) {
        self.page.pinned = None;
        self.pinned_results = None;
    }

    /// The pinned result's numbers, when they are the pinned settings'.
    pub fn pinned_numbers(&self) -> Option<&Results> {
        let pinned = self.page.pinned.as_ref()?;
        self.pinned_results
            .as_ref()
            .filter(|r| r.settings() == pinned)
    }

    /// The pinned settings' numbers arrived from the worker.
    pub fn on_pinned(&mut self, results: Results) {
        if self.page.pinned.as_ref() == Some(results.settings()) {
            self.pinned_results = Some(results);
        }
    }

    /// The image the look inside is of.
    pub fn inspected(&self) -> usize {
        self.selected.unwrap_or(0)
    }

    /// Whether the look inside on screen shows conv1 as the settings have it, for the
    /// inspected image (else the worker is drawing the new one).
    pub fn inside_is_current(&self) -> bool {
        self.inside.as_ref().is_some_and(|inside| {
            let conv1 = |s: &Settings| crate::eval::session::states(s)[0];
            inside.image == self.inspected() && conv1(&inside.settings) == conv1(&self.settings)
        })
    }

    pub fn results_are_current(&self) -> bool {
        self.results
            .as_ref()
            .is_some_and(|r| *r.settings() == self.settings)
    }

    /// The share link's query for the current settings.
    pub fn query(&self) -> String {
        share::to_query(&self.settings, &self.page)
    }

    /// The query of this page with `images` evaluated instead (the CPU subset choice).
    pub fn query_with_images(&self, images: Option<usize>) -> String {
        let page = Page {
            images,
            ..self.page.clone()
        };
        share::to_query(&self.settings, &page)
    }

    /// The kind layer `index` shows: its damage's, else the one chosen for it.
    pub fn kind_of(&self, index: usize) -> Kind {
        let layer = Layer::ALL[index];
        self.settings
            .layers
            .get(&layer)
            .map(|d| d.kind)
            .unwrap_or(self.kinds[index])
    }

    /// Moves layer `index`'s slider to `position` (0 = intact) with `kind`.
    pub fn set_layer(&mut self, index: usize, kind: Kind, position: u32) {
        let layer = Layer::ALL[index];
        self.last_moved = Some(index);
        if position == 0 {
            self.settings.layers.remove(&layer);
        } else if let Ok(d) = Damage::new(kind, kind.slider_amount(position)) {
            self.settings.layers.insert(layer, d);
        }
    }

    /// Chooses layer `index`'s kind; its slider keeps its position.
    pub fn set_kind(&mut self, index: usize, kind: Kind) {
        let position = self.position_of(Layer::ALL[index]);
        self.kinds[index] = kind;
        self.set_layer(index, kind, position);
    }

    /// The slider position of `layer` (0 when intact).
    pub fn position_of(&self, layer: Layer) -> u32 {
        self.settings
            .layers
            .get(&layer)
            .map(|d| d.kind.slider_step(d.amount))
            .unwrap_or(0)
    }

    /// Every layer's kind (the figure's choice); damaged layers keep their positions.
    pub fn set_all_kinds(&mut self, kind: Kind) {
        let moved = self.last_moved;
        for index in 0..Layer::ALL.len() {
            self.set_kind(index, kind);
        }
        self.last_moved = moved;
    }

    /// A preset's damage under the current seed; each damaged layer's kind follows it.
    pub fn apply(&mut self, preset: &Preset) {
        let settings = preset.settings(self.settings.seed);
        for (i, layer) in Layer::ALL.iter().enumerate() {
            if let Some(d) = settings.layers.get(layer) {
                self.kinds[i] = d.kind;
            }
        }
        self.settings = settings;
    }

    /// The next seed in a fixed odd-step walk: reproducible, never the same twice in a row.
    pub fn next_seed(&mut self) {
        self.settings.seed = self
            .settings
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 44;
    }

    /// The chart of `layer` under its current kind and seed: position -> relative top-1.
    pub fn chart(&self, index: usize) -> Vec<(u32, f64)> {
        self.band(index)
            .into_iter()
            .map(|(p, rel, _, _)| (p, rel))
            .collect()
    }

    /// [`PageState::chart`] with each point's 95% interval: (position, rel, lo, hi).
    pub fn band(&self, index: usize) -> Vec<(u32, f64, f64, f64)> {
        let key = (Layer::ALL[index], self.kinds[index], self.settings.seed);
        self.charts
            .get(&key)
            .map(|points| {
                points
                    .iter()
                    .map(|(p, v)| (*p, v.rel, v.lo, v.hi))
                    .collect()
            })
            .unwrap_or_default()
    }
}
