//! What the worker does next, as plain data: the page's newest settings first (older ones
//! are dropped, and running work goes stale as soon as newer settings arrive), then the
//! look inside conv1 when conv1 or the inspected image changed, then, when idle, the
//! points of the per-layer charts. No JavaScript here: tested natively.

use std::collections::BTreeSet;

use crate::eval::session::{LayerState, states};
use crate::model::Layer;
use crate::perturb::{Damage, Kind, Settings};
use crate::web::protocol::CHART_POSITIONS;

/// How long (ms) the visitor must leave the settings alone before the extras (chart points,
/// the look inside) start: a slider stepped or dragged sends new settings every few tens
/// of ms, and each would otherwise wait for the extra under way to reach its next check.
pub const QUIET_MS: f64 = 300.0;

/// One chart point: a layer, the damage kind, the seed, and the slider position.
pub type ChartKey = (Layer, Kind, u64, u32);

/// What a look inside draws: conv1's state and the inspected image.
pub type InsideKey = (LayerState, usize);

/// A unit of work.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// The page's settings.
    Show(Settings),
    /// The pinned settings' numbers (the session stays at the page's settings).
    Pinned(Settings),
    /// conv1's filters and an image's conv1 feature maps.
    Inside(InsideKey),
    /// One chart point: only this layer damaged.
    Chart(ChartKey),
}

impl Job {
    /// The settings this job evaluates.
    pub fn settings(&self) -> Settings {
        match self {
            Job::Show(settings) | Job::Pinned(settings) => settings.clone(),
            Job::Inside((conv1, _)) => {
                let mut settings = Settings::default();
                if let Some((damage, seed)) = conv1 {
                    settings.seed = *seed;
                    settings.layers.insert(Layer::Conv1, *damage);
                }
                settings
            }
            Job::Chart((layer, kind, seed, position)) => {
                let mut settings = Settings {
                    seed: *seed,
                    ..Settings::default()
                };
                if let Ok(damage) = Damage::new(*kind, kind.slider_amount(*position)) {
                    settings.layers.insert(*layer, damage);
                }
                settings
            }
        }
    }
}

/// When a job was handed out: it is stale once anything newer was asked for, and belongs
/// to no one once its engine was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    version: u64,
    /// The engine generation the job runs on.
    pub generation: u64,
}

/// The worker's to-do list.
#[derive(Debug, Default)]
pub struct Scheduler {
    /// The settings the page wants and the kind to chart per layer.
    wanted: Option<(Settings, [Kind; 8])>,
    /// The layer whose chart fills in first (the one the visitor moved last).
    first: Option<Layer>,
    /// Bumped by everything that makes running work stale.
    version: u64,
    /// The generation of the engine in use (0 before the first).
    generation: u64,
    /// The image the page inspects.
    inspect: usize,
    /// Pinned settings the page has no numbers for, and the last ones sent.
    pinned: Option<Settings>,
    pinned_sent: Option<Settings>,
    /// The settings whose results were sent last (for the current engine).
    shown: Option<Settings>,
    /// What the look inside sent last showed (for the current engine).
    inspected: Option<InsideKey>,
    charted: BTreeSet<ChartKey>,
    /// When the page last asked (its clock, ms; see [`Scheduler::asked_at`]).
    asked_at: Option<f64>,
}

impl Scheduler {
    /// The page wants `settings` now, the numbers of `pinned` (when it has none), a look
    /// inside at image `inspect`, and charts of `kinds`, `first`'s before the others.
    pub fn want(
        &mut self,
        settings: Settings,
        kinds: [Kind; 8],
        first: Option<Layer>,
        inspect: usize,
        pinned: Option<Settings>,
    ) {
        self.wanted = Some((settings, kinds));
        self.first = first;
        self.inspect = inspect;
        self.pinned = pinned;
        self.version += 1;
    }

    /// The page's request of [`Scheduler::want`] arrived at `now` (ms).
    pub fn asked_at(&mut self, now: f64) {
        self.asked_at = Some(now);
    }

    /// How long (ms) `job` must wait at `now`: the extras (chart points and the look
    /// inside) until the settings have been left alone for [`QUIET_MS`]; the page's own
    /// settings and the pinned ones never.
    pub fn wait_before(&self, job: &Job, now: f64) -> Option<f64> {
        let extra = matches!(job, Job::Chart(_) | Job::Inside(_));
        let left = self.asked_at? + QUIET_MS - now;
        (extra && left > 0.0).then_some(left)
    }

    /// The engine of `generation` replaces the old one: nothing the old one computed
    /// counts any more.
    pub fn engine_replaced(&mut self, generation: u64) {
        self.generation = generation;
        self.shown = None;
        self.inspected = None;
        self.pinned_sent = None;
        self.charted.clear();
        self.version += 1;
    }

    /// The next job: the wanted settings unless they are on screen, else the pinned ones
    /// unless sent, else the look inside unless it shows them, else the first chart point
    /// still missing: the `first` layer's, then fc8's and down (the dense layers are the
    /// quickest to re-run).
    pub fn next(&self) -> Option<(Job, Ticket)> {
        let (settings, kinds) = self.wanted.as_ref()?;
        let ticket = Ticket {
            version: self.version,
            generation: self.generation,
        };
        if self.shown.as_ref() != Some(settings) {
            return Some((Job::Show(settings.clone()), ticket));
        }
        if let Some(pinned) = &self.pinned
            && self.pinned_sent.as_ref() != Some(pinned)
        {
            return Some((Job::Pinned(pinned.clone()), ticket));
        }
        let inside = (states(settings)[0], self.inspect);
        if self.inspected != Some(inside) {
            return Some((Job::Inside(inside), ticket));
        }
        let order = self
            .first
            .and_then(|first| Layer::ALL.iter().position(|l| *l == first))
            .into_iter()
            .chain((0..Layer::ALL.len()).rev());
        order.map(|i| (i, Layer::ALL[i])).find_map(|(i, layer)| {
            CHART_POSITIONS
                .iter()
                .map(|&position| (layer, kinds[i], settings.seed, position))
                .find(|key| !self.charted.contains(key))
                .map(|key| (Job::Chart(key), ticket))
        })
    }

    /// Whether work handed out with `ticket` is still wanted.
    pub fn is_current(&self, ticket: Ticket) -> bool {
        self.version == ticket.version && self.generation == ticket.generation
    }

    /// `job` finished (or failed: a failed job is not tried again until asked anew).
    /// Returns whether its result should be sent: not when its engine was replaced
    /// meanwhile. Results of older settings on the same engine are still sent (the page
    /// shows them as superseded until the newest arrive).
    pub fn done(&mut self, job: &Job, ticket: Ticket) -> bool {
        if ticket.generation != self.generation {
            return false;
        }
        match job {
            Job::Show(settings) => self.shown = Some(settings.clone()),
            Job::Pinned(settings) => self.pinned_sent = Some(settings.clone()),
            Job::Inside(key) => self.inspected = Some(*key),
            Job::Chart(key) => {
                self.charted.insert(*key);
            }
        }
        true
    }
}
