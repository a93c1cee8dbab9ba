//! The engine's memory, counted by a global allocator: what a session holds once loaded,
//! and that slider moves and chart probes do not make it grow.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use burn::prelude::Device;
use common::*;
use lesion::eval::run::BATCH;
use lesion::eval::{Purpose, SampleSet, Session};
use lesion::model::manifest;
use lesion::model::padded::pad_to_full_size;
use lesion::model::{Layer, Weights};

/// The system allocator, counting the bytes live now and the most live at once, and on
/// each thread the largest block it asked for.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn asked(size: usize) {
    LARGEST.with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        asked(layout.size());
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        asked(layout.size());
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        asked(new);
        let q = unsafe { System.realloc(p, layout, new) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            let live = LIVE.fetch_add(new, Relaxed) + new;
            PEAK.fetch_max(live, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counts are global: tests that read them run one at a time (cargo runs a file's
/// tests on several threads, and another test's frees made a session look smaller).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn mb(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Bytes live now, less `before`.
fn live_since(before: usize) -> usize {
    LIVE.load(Relaxed).saturating_sub(before)
}

fn peak_since(before: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(before)
}

/// The settings of move `i`: every layer in turn, kinds and amounts changing.
fn move_settings(i: usize) -> String {
    let layers = [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8",
    ];
    let kinds = ["drop", "prune", "noise", "units"];
    let amount = [0.3, 0.5, 0.7, 0.9][i / 8 % 4];
    format!("{}={}:{amount}", layers[i % 8], kinds[i / 3 % 4])
}

/// Move `i`: a chart probe (as the page makes while idle), then the visitor's settings.
fn make_move(session: &mut Session, i: usize) {
    let shown = settings(i as u64, &[&move_settings(i)]);
    let probe = settings(7, &[&move_settings(i + 13)]);
    pollster::block_on(session.assess(&probe, Purpose::Probe, |_, _| {}, || async { true }))
        .unwrap();
    pollster::block_on(session.assess_now(&shown, |_, _| {})).unwrap();
}

#[test]
#[ignore = "a measurement: about a minute at full size"]
fn the_full_size_session_s_memory_does_not_grow_with_moves() {
    let _alone = one_at_a_time();
    // As the site installs them: f16.
    let padded = pad_to_full_size(&demo()).unwrap();
    let (_, f16_bytes) = manifest::encode(&padded, None);
    drop(padded);
    let all = SampleSet::load_dir(&data().join("images_100")).unwrap();
    let n: usize = std::env::var("LESION_MEMORY_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let samples = SampleSet {
        samples: all.samples[..n].to_vec(),
    };
    let pixels: usize = samples.samples.iter().map(|s| s.bytes()).sum();
    let info = demo().info().clone();
    let weights = manifest::decode(&f16_bytes, info, "demo-full").unwrap();
    drop(f16_bytes);
    let before = LIVE.load(Relaxed) - weights.num_parameters() * 4;
    PEAK.store(LIVE.load(Relaxed), Relaxed);
    let mut session =
        pollster::block_on(Session::new(weights, &samples, Device::flex(), |_, _| {})).unwrap();
    let loaded = live_since(before);
    println!(
        "loaded {n} images: live {} (weights in f32 counted from the start; images {}), peak {}",
        mb(loaded),
        mb(pixels),
        mb(peak_since(before))
    );
    let mut after = Vec::new();
    for i in 0..50 {
        make_move(&mut session, i);
        after.push(live_since(before));
        if i % 10 == 9 {
            println!(
                "after {} moves: live {}, peak {}",
                i + 1,
                mb(*after.last().unwrap()),
                mb(peak_since(before))
            );
        }
    }
}

/// The bytes of the activations a session keeps beyond the images themselves: the inputs
/// of conv2..conv5 per image, and of fc6..fc8 for all images.
fn kept_activation_bytes(weights: &Weights, images: usize) -> usize {
    let arch = weights.architecture();
    let [c1, c2, c3, c4] = [0, 1, 2, 3].map(|i| arch.conv[i]);
    let maps = c1 * 27 * 27 + c2 * 13 * 13 + c3 * 13 * 13 + c4 * 13 * 13;
    let dense = arch.conv[4] * 36 + arch.fc[0] + arch.fc[1];
    (maps + dense) * images * 4
}

/// Once loaded, a session holds the model's tensors (which are the intact weights: no
/// second copy), the images as bytes and the kept activations, and nothing else of size; a
/// chart probe costs its damaged layers and one batch, not a second copy of the kept
/// activations; fifty moves leave nothing behind but the remembered results.
#[test]
fn a_session_holds_what_it_needs_and_moves_leave_nothing_behind() {
    let _alone = one_at_a_time();
    let (_, f16_bytes) = manifest::encode(&demo(), None);
    let weights = manifest::decode(&f16_bytes, demo().info().clone(), "demo").unwrap();
    drop(f16_bytes);
    // Two full batches, so that one batch is half of what the session keeps.
    let all = SampleSet::load_dir(&data().join("images_100")).unwrap();
    let samples = SampleSet {
        samples: all.samples[..2 * BATCH].to_vec(),
    };
    let n = samples.len();
    // The CPU backend's matrix products keep scratch space per thread, sized by the
    // processor's caches and kept for good: a first, throwaway session makes it, so that
    // what is counted below is what the session holds.
    let warm_up = SampleSet {
        samples: all.samples[..2].to_vec(),
    };
    let scratch_before = LIVE.load(Relaxed);
    let throwaway = pollster::block_on(Session::new(demo(), &warm_up, Device::flex(), |_, _| {}));
    drop(throwaway);
    println!(
        "the backend's scratch, kept for good: {}",
        mb(LIVE.load(Relaxed).saturating_sub(scratch_before))
    );
    let params = weights.num_parameters();
    let biases: usize = Layer::ALL.iter().map(|l| weights.bias(*l).len()).sum();
    let kept = kept_activation_bytes(&weights, n);
    // The images as the bytes they were normalised from.
    let pixels = n * 3 * 224 * 224;
    let before = LIVE.load(Relaxed) - params * 4;
    let mut session =
        pollster::block_on(Session::new(weights, &samples, Device::flex(), |_, _| {})).unwrap();
    // The model's buffers hold the intact weights: only the biases are kept beside them.
    assert_eq!(
        session.intact_bytes(),
        biases * 2,
        "a second copy of the weights"
    );
    // Once: the f16 -> f32 table (256 KB, kept for good) that making a damaged layer intact
    // again from the values kept first makes.
    for fc8 in ["fc8=drop:0.1", "fc8=drop:0.2"] {
        let warm = settings(1, &[fc8]);
        pollster::block_on(session.assess(&warm, Purpose::Probe, |_, _| {}, || async { true }))
            .unwrap();
    }
    // The model now holds the probe's fc8 and the session what it zeroed of fc8, until an
    // evaluation that needs fc8 intact: counted apart.
    let beside_kept =
        |session: &Session| live_since(before) - (session.intact_bytes() - biases * 2);
    let loaded = beside_kept(&session);
    let needed = params * 4 + pixels + kept;
    println!(
        "loaded: live {} for {} needed (model {}, images {}, activations {})",
        mb(loaded),
        mb(needed),
        mb(params * 4),
        mb(pixels),
        mb(kept)
    );
    assert!(
        loaded < needed + needed / 20,
        "a session of {n} images holds {} where {} is needed",
        mb(loaded),
        mb(needed)
    );

    // A probe of conv2 re-runs conv2..fc8 for every image.
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let probe = settings(3, &["conv2=drop:0.5"]);
    pollster::block_on(session.assess(&probe, Purpose::Probe, |_, _| {}, || async { true }))
        .unwrap();
    let extra = PEAK.load(Relaxed) - base;
    println!(
        "a conv2 probe: {} more at most ({} kept)",
        mb(extra),
        mb(kept)
    );
    // Keeping (as a probe once did) a second copy of every kept activation costs at least
    // `kept` on top of the work's own buffers.
    assert!(
        extra < kept,
        "a probe took {} more; the session keeps {} of activations",
        mb(extra),
        mb(kept)
    );
    let left = beside_kept(&session).abs_diff(loaded);
    assert!(left < 64 << 10, "a probe left {left} bytes behind");

    // Remembered results are bounded in bytes: 8 MiB, 20 results of 100 images (each
    // 100 x 1000 f32), where 64 of them took 25.6 MB of the page's memory at full size.
    pollster::block_on(session.assess_now(&settings(1, &["fc8=drop:0.5"]), |_, _| {})).unwrap();
    let base = beside_kept(&session);
    for step in 0..30 {
        let fc8 = format!("fc8=drop:0.{step:02}");
        pollster::block_on(session.assess_now(&settings(1, &[&fc8]), |_, _| {})).unwrap();
    }
    let grown = beside_kept(&session).saturating_sub(base);
    println!("30 results of {n} images remembered more: {}", mb(grown));
    assert!(
        grown <= (8 << 20) + (256 << 10),
        "30 more results of {n} images took {}",
        mb(grown)
    );

    drop(session);

    // Moves across every layer, on fewer images (the growth is per move, not per image).
    let few = SampleSet {
        samples: all.samples[..20].to_vec(),
    };
    let (_, f16_bytes) = manifest::encode(&demo(), None);
    let weights = manifest::decode(&f16_bytes, demo().info().clone(), "demo").unwrap();
    drop(f16_bytes);
    let mut session =
        pollster::block_on(Session::new(weights, &few, Device::flex(), |_, _| {})).unwrap();
    let before = LIVE.load(Relaxed);
    let mut live = Vec::new();
    for i in 0..48 {
        make_move(&mut session, i);
        live.push(live_since(before));
    }
    // Each shown result is remembered (20 x 1000 f32, at most 64 of them: 8 MiB at most).
    let remembered = 40 * few.len() * 1000 * 4;
    println!("after 8 moves {}, after 48 {}", mb(live[7]), mb(live[47]));
    assert!(
        live[47] <= live[7] + remembered + (256 << 10),
        "the session grew from {} after 8 moves to {} after 48",
        mb(live[7]),
        mb(live[47])
    );
}

/// Four of the sample images: enough for a session, few enough to be quick.
fn four_images() -> SampleSet {
    let all = SampleSet::load_dir(&data().join("images_100")).unwrap();
    SampleSet {
        samples: all.samples[..4].to_vec(),
    }
}

/// Checks that `what` asked for no block as large as a layer (`layer_bytes` or more).
fn no_layer_sized_block(what: &str, largest: usize, layer_bytes: usize) {
    println!("{what}: largest block {}", mb(largest));
    assert!(
        largest < layer_bytes,
        "{what} allocated {} at once: a buffer for a layer of {} or more",
        mb(largest),
        mb(layer_bytes)
    );
}

/// A session of `weights` on `images`, on the CPU backend.
fn cpu_session(weights: &Weights, images: &SampleSet) -> Session {
    let session = Session::new(weights.clone(), images, Device::flex(), |_, _| {});
    pollster::block_on(session).unwrap()
}

/// A move writes the layer's new version into the buffer of the version it replaces, on
/// the CPU backend: no block the size of the layer is allocated. (In WebAssembly, whose
/// memory never shrinks, a new fc6 beside the old one at every move left holes that
/// smaller blocks split, and the page's memory grew with the number of moves.)
#[test]
fn a_move_writes_the_layer_into_the_buffer_it_replaces() {
    let _alone = one_at_a_time();
    let (weights, few) = (demo(), four_images());
    let bytes = |layer: Layer| weights.weight(layer).data().len() * 4;
    let (fc6, fc7) = (bytes(Layer::Fc6), bytes(Layer::Fc7));
    let mut session = cpu_session(&weights, &few);
    let show = |session: &mut Session, seed: u64, texts: &[&str]| {
        LARGEST.with(|l| l.set(0));
        pollster::block_on(session.assess_now(&settings(seed, texts), |_, _| {})).unwrap();
        LARGEST.with(|l| l.get())
    };
    show(&mut session, 1, &["fc6=drop:0.1"]);
    // Every move changes fc6, fc7 or both; a new buffer for either is at least this big.
    let layer_bytes = fc6.min(fc7);
    let moves: [&[&str]; 4] = [
        &["fc6=drop:0.5"],
        &["fc6=noise:0.3"],
        &["fc6=noise:0.3", "fc7=prune:0.5"],
        &["fc7=prune:0.5"],
    ];
    for (i, texts) in moves.into_iter().enumerate() {
        let largest = show(&mut session, 10 + i as u64, texts);
        no_layer_sized_block(&format!("a move to {texts:?}"), largest, layer_bytes);
    }
    // And the numbers are those of a session that made new buffers.
    let mut fresh = cpu_session(&weights, &few);
    let logits = |s: &mut Session, texts: &[&str]| {
        pollster::block_on(s.assess_now(&settings(3, texts), |_, _| {})).unwrap();
        s.logits().clone()
    };
    let texts = ["fc6=noise:0.3", "fc7=prune:0.5"];
    assert_eq!(logits(&mut session, &texts), logits(&mut fresh, &texts));
}

/// A chart probe (one layer damaged alone, as the page's charts ask while the visitor's
/// settings damage others) also writes the layers it changes into the model's buffers: no
/// block the size of a layer, where it once damaged copies of them (151 MB for fc6 at
/// full size, on top of the page's high-water mark). The probe's numbers, and those of the
/// visitor's settings after it, are those of a fresh session.
#[test]
fn a_chart_probe_writes_its_layers_into_the_model_s_buffers() {
    let _alone = one_at_a_time();
    let (weights, few) = (demo(), four_images());
    let bytes = |layer: Layer| weights.weight(layer).data().len() * 4;
    let layer_bytes = bytes(Layer::Fc6).min(bytes(Layer::Fc7));
    let mut session = cpu_session(&weights, &few);
    let shown = settings(1, &["fc6=drop:0.4", "fc7=noise:0.5"]);
    pollster::block_on(session.assess_now(&shown, |_, _| {})).unwrap();
    let probe = |session: &mut Session, texts: &[&str]| {
        LARGEST.with(|l| l.set(0));
        let settings = settings(7, texts);
        let done = session.evaluate_with(&settings, Purpose::Probe, |_, _| {}, || async { true });
        let outcome = pollster::block_on(done).unwrap().unwrap();
        (outcome.logits, LARGEST.with(|l| l.get()))
    };
    for texts in [
        &["fc6=drop:0.7"][..],
        &["fc7=prune:0.5"],
        &["conv2=drop:0.5"],
    ] {
        let (logits, largest) = probe(&mut session, texts);
        no_layer_sized_block(&format!("a probe of {texts:?}"), largest, layer_bytes);
        let mut fresh = cpu_session(&weights, &few);
        let expected = pollster::block_on(fresh.evaluate(&settings(7, texts), |_, _| {}));
        assert_eq!(logits, expected.unwrap().logits, "{texts:?}");
    }
    // The visitor's settings again (not remembered: another seed's draw of the same kinds).
    let again = settings(2, &["fc6=drop:0.4", "fc7=noise:0.5"]);
    pollster::block_on(session.assess_now(&again, |_, _| {})).unwrap();
    let mut fresh = cpu_session(&weights, &few);
    pollster::block_on(fresh.assess_now(&again, |_, _| {})).unwrap();
    assert_eq!(session.logits(), fresh.logits());
}
