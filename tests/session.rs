//! Incremental evaluation: after any change, the cached path gives exactly what a fresh
//! model built from the damaged weights gives, and it re-runs only what changed.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use burn::prelude::Device;
use common::*;
use lesion::eval::run::BATCH;
use lesion::eval::{Comparison, LogitMatrix, Purpose, Report, SampleSet, Session, evaluate};
use lesion::model::{AlexNet, Layer, Weights, manifest};
use lesion::perturb::{Kind, Settings, apply, damaged_layer};

/// The first `n` sample images.
fn first(n: usize) -> SampleSet {
    let all = SampleSet::load_dir(&data().join("images_100")).unwrap();
    SampleSet {
        samples: all.samples[..n].to_vec(),
    }
}

/// More than one batch (two full batches and a partial one where 100 images allow).
fn samples() -> SampleSet {
    first((2 * BATCH + 5).min(100))
}

fn session(weights: &Weights, samples: &SampleSet) -> Session {
    pollster::block_on(Session::new(
        weights.clone(),
        samples,
        Device::flex(),
        |_, _| {},
    ))
    .unwrap()
}

fn full(weights: &Weights, settings: &Settings, samples: &SampleSet) -> LogitMatrix {
    let device = Device::flex();
    let model = AlexNet::from_weights(&apply(weights, settings), &device).unwrap();
    pollster::block_on(evaluate(&model, samples, &device, |_, _| {})).unwrap()
}

/// Bit-for-bit equality (NaN included: damage may produce it, and it must be the same NaN).
fn assert_same(a: &LogitMatrix, b: &LogitMatrix, what: &str) {
    assert_eq!(
        (a.rows(), a.classes),
        (b.rows(), b.classes),
        "{what}: shape"
    );
    let differ = a
        .data
        .iter()
        .zip(&b.data)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differ, 0, "{what}: {differ} logits differ");
}

#[test]
fn incremental_equals_full_for_every_layer() {
    let (weights, samples) = (demo(), samples());
    let mut session = session(&weights, &samples);
    assert_same(
        session.logits(),
        &full(&weights, &Settings::default(), &samples),
        "intact",
    );
    // Damage every layer in turn, from the top down and back, on top of a fixed fc7
    // damage, so each step changes one layer and the re-run starts there.
    // Down the network and back up: the second visit of a layer uses other amounts.
    let kinds = [
        "drop:0.6",
        "prune:0.5",
        "units:0.3",
        "noise:0.8",
        "bitflip:0.001",
    ];
    let again = [
        "drop:0.2",
        "prune:0.9",
        "units:0.6",
        "noise:0.3",
        "bitflip:0.0001",
    ];
    let order: Vec<Layer> = Layer::ALL
        .into_iter()
        .rev()
        .chain(Layer::ALL.into_iter().skip(1))
        .collect();
    let mut current = settings(5, &["fc7=drop:0.3"]);
    pollster::block_on(session.evaluate(&current, |_, _| {})).unwrap();
    for (step, layer) in order.into_iter().enumerate() {
        let list = if step < 8 { &kinds } else { &again };
        let text = format!("{}={}", layer.name(), list[step % list.len()]);
        current.set(&text).unwrap();
        let outcome = pollster::block_on(session.evaluate(&current, |_, _| {})).unwrap();
        assert_eq!(
            outcome.rerun_from,
            Some(layer),
            "{text}: re-run starts at {layer:?}"
        );
        let expected = full(&weights, &current, &samples);
        assert_same(&outcome.logits, &expected, &current.to_string());
    }
}

#[test]
fn remembered_settings_are_instant_and_seeds_matter() {
    let (weights, samples) = (demo(), samples());
    let mut session = session(&weights, &samples);
    let intact = session.logits().clone();
    let a = settings(1, &["conv3=drop:0.5"]);
    let first = pollster::block_on(session.evaluate(&a, |_, _| {})).unwrap();
    assert_eq!(first.rerun_from, Some(Layer::Conv3));
    // Back to intact: remembered, no re-run, and the intact logits.
    let back = pollster::block_on(session.evaluate(&Settings::default(), |_, _| {})).unwrap();
    assert_eq!(back.rerun_from, None);
    assert_same(&back.logits, &intact, "intact");
    // A new seed is a new mask: re-run from the damaged layer, different logits.
    let b = settings(2, &["conv3=drop:0.5"]);
    let other = pollster::block_on(session.evaluate(&b, |_, _| {})).unwrap();
    assert_eq!(other.rerun_from, Some(Layer::Conv3));
    assert!(other.logits != first.logits, "another seed, other logits");
    // And the first seed again comes from memory, equal to a fresh evaluation.
    let again = pollster::block_on(session.evaluate(&a, |_, _| {})).unwrap();
    assert_eq!(again.rerun_from, None);
    assert_same(&again.logits, &full(&weights, &a, &samples), "remembered");
}

#[test]
fn a_cancelled_evaluation_leaves_the_session_correct() {
    let (weights, samples) = (demo(), samples());
    let mut session = session(&weights, &samples);
    // Cancel a conv2 change at its first check (newer settings "arrived").
    let mut batches = 0;
    let cancelled = pollster::block_on(session.evaluate_with(
        &settings(1, &["conv2=drop:0.5"]),
        Purpose::Show,
        |_, _| {},
        || {
            batches += 1;
            async { false }
        },
    ))
    .unwrap();
    assert!(cancelled.is_none());
    assert_eq!(batches, 1);
    // The next settings change only fc8, yet everything from conv2 must be recomputed.
    let next = settings(1, &["conv2=drop:0.5", "fc8=drop:0.3"]);
    let outcome = pollster::block_on(session.evaluate(&next, |_, _| {})).unwrap();
    assert_eq!(outcome.rerun_from, Some(Layer::Conv2));
    assert_same(
        &outcome.logits,
        &full(&weights, &next, &samples),
        "after cancel",
    );
    // And a return to the cancelled settings is computed, not remembered.
    let back = settings(1, &["conv2=drop:0.5"]);
    let outcome = pollster::block_on(session.evaluate(&back, |_, _| {})).unwrap();
    assert_eq!(outcome.rerun_from, Some(Layer::Fc8));
    assert_same(&outcome.logits, &full(&weights, &back, &samples), "back");
}

#[test]
fn newer_settings_interrupt_a_run_within_one_layer_of_one_batch() {
    let (weights, samples) = (demo(), samples());
    // A change to conv1 and a chart point from conv1 on (the longest runs), each told to
    // stop at its third check: after its damage and two convolutions of its first batch,
    // before that batch is through (what a slider moved meanwhile used to wait for).
    for purpose in [Purpose::Show, Purpose::Probe] {
        let mut session = session(&weights, &samples);
        let (mut asked, mut batches_through) = (0, 0);
        let stopped = pollster::block_on(session.evaluate_with(
            &settings(1, &["conv1=drop:0.5"]),
            purpose,
            |_, _| batches_through += 1,
            || {
                asked += 1;
                let go_on = asked < 3;
                async move { go_on }
            },
        ))
        .unwrap();
        assert!(stopped.is_none(), "{purpose:?}");
        assert_eq!(batches_through, 0, "{purpose:?}: a batch went through");
        // The session is still right.
        let next = settings(1, &["fc8=drop:0.3"]);
        let outcome = pollster::block_on(session.evaluate(&next, |_, _| {})).unwrap();
        assert_same(
            &outcome.logits,
            &full(&weights, &next, &samples),
            "after a stop within a batch",
        );
    }
}

#[test]
fn probes_are_exact_and_leave_the_session_as_it_was() {
    let (weights, samples) = (demo(), samples());
    let mut session = session(&weights, &samples);
    let probe = |session: &mut Session, s: &Settings, go_on: bool| {
        pollster::block_on(session.evaluate_with(
            s,
            Purpose::Probe,
            |_, _| {},
            || async move { go_on },
        ))
        .unwrap()
    };
    let show = |session: &mut Session, s: &Settings| {
        pollster::block_on(session.evaluate(s, |_, _| {})).unwrap()
    };
    let user = settings(4, &["fc8=drop:0.3"]);
    show(&mut session, &user);
    // A chart point deep in the network is exact...
    let chart_point = settings(4, &["conv1=drop:0.6"]);
    let probed = probe(&mut session, &chart_point, true).unwrap();
    assert_eq!(probed.rerun_from, Some(Layer::Conv1));
    assert_same(
        &probed.logits,
        &full(&weights, &chart_point, &samples),
        "probe",
    );
    // ...and the user's next move re-runs only what it changes, as if no probe had run.
    let next = settings(4, &["fc8=drop:0.4"]);
    let outcome = show(&mut session, &next);
    assert_eq!(outcome.rerun_from, Some(Layer::Fc8));
    assert_same(
        &outcome.logits,
        &full(&weights, &next, &samples),
        "after a probe",
    );
    // The same after a probe cancelled part-way.
    let cancelled = probe(&mut session, &settings(4, &["conv2=drop:0.2"]), false);
    assert!(cancelled.is_none());
    let next = settings(4, &["fc8=drop:0.5"]);
    let outcome = show(&mut session, &next);
    assert_eq!(outcome.rerun_from, Some(Layer::Fc8));
    assert_same(
        &outcome.logits,
        &full(&weights, &next, &samples),
        "after a cancelled probe",
    );
    // Not remembered: asking for a probed setting re-runs it.
    let again = show(&mut session, &chart_point);
    assert_eq!(again.rerun_from, Some(Layer::Conv1));
    // The user's remembered settings survive many probes.
    // (The session holds `chart_point` now; these differ from it in fc8 only, so each
    // re-runs fc8 alone.)
    for step in 1..=70 {
        let fc8 = format!("fc8=drop:{}", step as f64 / 100.0);
        probe(&mut session, &settings(4, &["conv1=drop:0.6", &fc8]), true);
    }
    let back = show(&mut session, &user);
    assert_eq!(back.rerun_from, None, "still remembered after 70 probes");
}

/// On the CPU the model's own buffers are the intact weights: the session keeps a layer's
/// intact values beside them only while that layer is damaged, and then, for damage that
/// only zeroes weights, only which weights it zeroed and what they held, and for bitflip
/// nothing; the weights and numbers it gives are the same throughout.
#[test]
fn the_model_holds_the_intact_weights_until_a_layer_is_damaged() {
    // f16 values, as the site installs them: kept values take 2 bytes each.
    let (_, bytes) = manifest::encode(&demo(), None);
    let weights = manifest::decode(&bytes, demo().info().clone(), "demo").unwrap();
    let samples = first(12);
    let biases: usize = Layer::ALL.iter().map(|l| weights.bias(*l).len()).sum();
    // What the session keeps for the layers `s` damages: a bit a weight and the values
    // zeroed for drop, prune and units; the layer's values for other damage.
    let kept = |s: &Settings| {
        let mut total = biases * 2;
        for (&layer, &damage) in &s.layers {
            let intact = weights.weight(layer).data();
            total += if damage.kind == Kind::Bitflip {
                // Flipping the same bits again gives the intact values.
                0
            } else if damage.kind.only_zeroes() {
                let (damaged, _) = damaged_layer(&weights, layer, damage, s.seed);
                let zeroed = intact
                    .iter()
                    .zip(damaged.data())
                    .filter(|(i, d)| i.to_bits() != 0 && d.to_bits() == 0)
                    .count();
                intact.len().div_ceil(64) * 8 + zeroed * 2
            } else {
                intact.len() * 2
            };
        }
        total
    };
    let mut session = session(&weights, &samples);
    assert_eq!(session.intact_bytes(), kept(&Settings::default()), "loaded");
    let show = |session: &mut Session, s: &Settings| {
        let outcome = pollster::block_on(session.evaluate(s, |_, _| {})).unwrap();
        assert_same(
            &outcome.logits,
            &full(&weights, s, &samples),
            &s.to_string(),
        );
        assert_eq!(session.weights().tensors(), weights.tensors(), "{s}");
    };
    let damaged = settings(5, &["conv1=drop:0.7", "fc6=noise:0.5"]);
    show(&mut session, &damaged);
    assert_eq!(session.intact_bytes(), kept(&damaged));
    // A probe damaging a layer the model holds intact reads it from the model, exactly.
    let probe = |session: &mut Session, s: &Settings| {
        let done = session.evaluate_with(s, Purpose::Probe, |_, _| {}, || async { true });
        let outcome = pollster::block_on(done).unwrap().unwrap();
        assert_same(
            &outcome.logits,
            &full(&weights, s, &samples),
            &s.to_string(),
        );
        assert_eq!(session.weights().tensors(), weights.tensors(), "{s}");
    };
    let three = settings(5, &["conv1=drop:0.7", "fc6=noise:0.5", "conv3=prune:0.4"]);
    probe(&mut session, &three);
    // The model holds the probe's conv3 until an evaluation needs it intact again.
    assert_eq!(session.intact_bytes(), kept(&three));
    // Other damage to a damaged layer, then the layers intact again one by one.
    let units = settings(6, &["conv1=units:0.2", "fc6=noise:0.5"]);
    show(&mut session, &units);
    assert_eq!(session.intact_bytes(), kept(&units));
    // A chart point (fc8 alone) makes conv1 and fc6 intact in the model. It keeps fc6's
    // values, which the visitor's settings damage again without taking them back; conv1's
    // zeroed values go back into the model's buffer.
    probe(&mut session, &settings(7, &["fc8=drop:0.3"]));
    assert_eq!(
        session.intact_bytes(),
        kept(&settings(7, &["fc6=noise:0.5", "fc8=drop:0.3"]))
    );
    // conv1's damage is what the visitor's last settings gave it, so this change re-runs
    // from fc6 on: the model keeps conv1 as the chart point left it, intact, until a change
    // re-runs conv1.
    show(&mut session, &settings(6, &["conv1=units:0.2"]));
    assert_eq!(session.intact_bytes(), kept(&Settings::default()));
    let fc8 = settings(7, &["fc8=prune:0.5"]);
    show(&mut session, &fc8);
    assert_eq!(session.intact_bytes(), kept(&fc8));
    let both = settings(8, &["conv1=noise:0.1", "fc8=prune:0.5"]);
    show(&mut session, &both);
    assert_eq!(session.intact_bytes(), kept(&both));
    // Values kept for noise, then bitflip on the same layer: nothing kept for it.
    let flipped = settings(8, &["conv1=bitflip:0.001", "fc8=prune:0.5"]);
    show(&mut session, &flipped);
    assert_eq!(session.intact_bytes(), kept(&flipped));
    // Then drop: only what the drop zeroed.
    let dropped = settings(8, &["conv1=drop:0.1", "fc8=prune:0.5"]);
    show(&mut session, &dropped);
    assert_eq!(session.intact_bytes(), kept(&dropped));
    // (The intact settings are remembered: showing them again runs nothing.)
    let fc7 = settings(9, &["fc7=drop:0.1"]);
    show(&mut session, &fc7);
    assert_eq!(
        session.intact_bytes(),
        kept(&fc7),
        "conv1, fc8 intact again"
    );
    // A tenth of fc7 dropped keeps less than a quarter of what a copy of fc7 in f16 took.
    let copy = weights.weight(Layer::Fc7).len() * 2;
    assert!(
        session.intact_bytes() - biases * 2 < copy / 4,
        "{} kept for a tenth of fc7 dropped; a copy is {copy}",
        session.intact_bytes() - biases * 2
    );
}

#[test]
fn an_assessment_measures_the_settings_against_the_intact_model() {
    let (weights, samples) = (demo(), samples());
    let mut session = session(&weights, &samples);
    let labels = samples.labels();
    assert_eq!(session.labels(), labels.as_slice());
    let intact = Report::new(&full(&weights, &Settings::default(), &samples), &labels);
    assert_eq!(session.intact(), &intact);
    let damaged = settings(2, &["conv2=drop:0.5"]);
    let assessment = pollster::block_on(session.assess_now(&damaged, |_, _| {})).unwrap();
    let report = Report::new(&full(&weights, &damaged, &samples), &labels);
    assert_eq!(assessment.settings, damaged);
    assert_eq!(assessment.rerun_from, Some(Layer::Conv2));
    assert_eq!(assessment.comparison, Comparison::new(&report, &intact));
    assert_eq!(assessment.report, report);
    let m = assessment.metrics();
    assert_eq!(
        (m.n, m.labelled, m.top1_count),
        (report.n, report.labelled, report.top1_count())
    );
    assert_eq!(
        (m.top5_lo, m.top5_hi),
        (report.top5_ci.lo, report.top5_ci.hi)
    );
    assert_eq!(m.agree_count, assessment.comparison.agree_count);
    // Back to the intact model: remembered, and the session's logits are what was shown.
    let back = pollster::block_on(session.assess_now(&Settings::default(), |_, _| {})).unwrap();
    assert_eq!(back.rerun_from, None);
    assert_eq!(back.report, intact);
    assert_eq!(back.comparison.agreement, 1.0);
    assert_same(
        session.logits(),
        &full(&weights, &Settings::default(), &samples),
        "shown",
    );
    // Cancelled: nothing comes back.
    let other = settings(2, &["conv4=drop:0.5"]);
    let cancelled =
        pollster::block_on(session.assess(&other, Purpose::Show, |_, _| {}, || async { false }))
            .unwrap();
    assert!(cancelled.is_none());
}
