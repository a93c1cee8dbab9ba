//! Damage semantics: measured fractions, exact pruning, nesting, determinism, the hash's
//! golden values, and settings that must be refused.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use lesion::model::{Layer, Weights};
use lesion::perturb::hash::{self, Stream};
use lesion::perturb::{Damage, Kind, Settings, SettingsError, apply, damage_values, zero_in_place};

fn zeros(w: &Weights, layer: Layer) -> usize {
    w.weight(layer).data().iter().filter(|v| **v == 0.0).count()
}

/// Within 5 binomial standard deviations of n*p.
fn assert_binomial(count: usize, n: usize, p: f64, what: &str) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 5.0 * sd + 1.0,
        "{what}: {count} of {n}, expected about {mean:.0}"
    );
}

#[test]
fn hash_golden_values_are_pinned() {
    // Changing these changes every mask every link ever shared: do not.
    let golden = [
        hash::score(0, 0, Stream::Drop, 0),
        hash::score(1, 0, Stream::Drop, 0),
        hash::score(0, 5, Stream::Drop, 123_456),
        hash::score(3, 7, Stream::Units, 999),
    ];
    println!("golden scores: {golden:?}");
    assert_eq!(golden, GOLDEN);
    assert_eq!(hash::threshold(0.0), 0);
    assert_eq!(hash::threshold(1.0), 1 << 24);
}

// Computed by an independent Python implementation of the formula documented in
// `perturb::hash` (the same four calls).
const GOLDEN: [u32; 4] = [16656943, 7934886, 879414, 3028646];

#[test]
fn drop_units_and_prune_remove_what_they_say() {
    let w = demo();
    for (layer, p) in [(Layer::Conv1, 0.7), (Layer::Fc6, 0.3), (Layer::Fc8, 0.9)] {
        let n = w.weight(layer).data().len();
        let before = zeros(&w, layer);
        let dropped = apply(&w, &settings(3, &[&format!("{}=drop:{p}", layer.name())]));
        assert_binomial(zeros(&dropped, layer) - before, n, p, "drop");

        let pruned = apply(&w, &settings(3, &[&format!("{}=prune:{p}", layer.name())]));
        let k = (p * n as f64).round() as usize;
        // Exactly the k smallest magnitudes are gone: every survivor is at least as large.
        let mut mags: Vec<f32> = w.weight(layer).data().iter().map(|v| v.abs()).collect();
        mags.sort_by(f32::total_cmp);
        let cut = mags[k - 1];
        let survivors = pruned.weight(layer).data().iter().filter(|v| **v != 0.0);
        assert!(survivors.clone().all(|v| v.abs() >= cut));
        assert_eq!(
            pruned
                .weight(layer)
                .data()
                .iter()
                .filter(|v| **v == 0.0)
                .count(),
            k.max(before)
        );

        let units = apply(&w, &settings(3, &[&format!("{}=units:{p}", layer.name())]));
        let out = w.bias(layer).data().len();
        let per = n / out;
        let dead = (0..out)
            .filter(|j| {
                units.weight(layer).data()[j * per..(j + 1) * per]
                    .iter()
                    .all(|v| *v == 0.0)
                    && units.bias(layer).data()[*j] == 0.0
            })
            .count();
        assert_binomial(dead, out, p, "units");
        // Biases are untouched except by units.
        assert_eq!(dropped.bias(layer), w.bias(layer));
        assert_eq!(pruned.bias(layer), w.bias(layer));
    }
}

#[test]
fn masks_are_nested_deterministic_and_seeded() {
    let w = demo();
    let at = |p: f64, seed: u64| apply(&w, &settings(seed, &[&format!("fc7=drop:{p}")]));
    let (low, high) = (at(0.3, 1), at(0.6, 1));
    for (a, b) in low
        .weight(Layer::Fc7)
        .data()
        .iter()
        .zip(high.weight(Layer::Fc7).data())
    {
        assert!(*a != 0.0 || *b == 0.0, "raising p only removes more");
    }
    assert_eq!(
        at(0.3, 1).weight(Layer::Fc7),
        low.weight(Layer::Fc7),
        "same settings, same weights"
    );
    assert_ne!(
        at(0.3, 2).weight(Layer::Fc7),
        low.weight(Layer::Fc7),
        "another seed, another mask"
    );
    // p = 0 is the intact model, bit for bit, for every kind.
    for kind in ["drop", "prune", "units", "noise", "bitflip"] {
        let same = apply(&w, &settings(1, &[&format!("conv3={kind}:0")]));
        assert_eq!(same.tensors(), w.tensors(), "{kind}:0");
    }
    // Noise is fixed by the seed and only scaled by a.
    let n1 = apply(&w, &settings(4, &["conv2=noise:0.5"]));
    let n2 = apply(&w, &settings(4, &["conv2=noise:1"]));
    let (orig, a, b) = (
        w.weight(Layer::Conv2).data(),
        n1.weight(Layer::Conv2).data(),
        n2.weight(Layer::Conv2).data(),
    );
    for i in (0..orig.len()).step_by(97) {
        let (da, db) = ((a[i] - orig[i]) as f64, (b[i] - orig[i]) as f64);
        assert!(
            (db - 2.0 * da).abs() <= 1e-6 * (1.0 + db.abs()),
            "noise scales linearly at {i}"
        );
    }
}

#[test]
fn units_at_one_on_conv1_makes_every_prediction_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("logits.safetensors");
    let (weights, samples) = (reference("alexnet_demo.pth"), data().join("images_100"));
    let out = lesion_ok(&[
        "eval".as_ref(),
        "--json".as_ref(),
        "--set".as_ref(),
        "conv1=units:1".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--samples".as_ref(),
        samples.as_os_str(),
        "--dump-logits".as_ref(),
        dump.as_os_str(),
    ]);
    let (_, logits) = read_tensor(&dump, "logits");
    let first = &logits[..1000];
    for row in logits.chunks(1000) {
        assert_eq!(row, first, "with conv1 gone every image looks the same");
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["damage"][0], "conv1=units:1");
}

#[test]
fn bad_settings_are_clear_errors() {
    let mut s = Settings::default();
    assert_eq!(
        s.set("conv9=drop:0.5"),
        Err(SettingsError::Layer("conv9".into()))
    );
    assert!(matches!(
        s.set("fc6=drop:1.5"),
        Err(SettingsError::Range { .. })
    ));
    assert_eq!(
        s.set("fc6=melt:0.2"),
        Err(SettingsError::Kind("melt".into()))
    );
    assert_eq!(s.set(""), Err(SettingsError::Empty));
    assert!(matches!(
        s.set("fc6=drop:NaN"),
        Err(SettingsError::Range { .. })
    ));
    assert!(matches!(s.set("fc6"), Err(SettingsError::Shape(_))));
    assert!(matches!(
        Settings::parse_seed("99999999999999999999999"),
        Err(SettingsError::Seed(_))
    ));
    assert!(s.layers.is_empty(), "refused settings change nothing");
    // Round trip of the text form.
    s.set("conv1=drop:0.70").unwrap();
    s.set("fc6=noise:0.5").unwrap();
    let mut again = Settings::default();
    for t in s.to_texts() {
        again.set(&t).unwrap();
    }
    assert_eq!(again, s);
    assert_eq!(s.to_texts(), vec!["conv1=drop:0.7", "fc6=noise:0.5"]);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lesion"))
        .args(["eval", "--set", "conv9=drop:0.5", "--weights"])
        .arg(reference("alexnet_tiny.pth"))
        .arg("--samples")
        .arg(data().join("images_100"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("unknown layer `conv9`")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn exported_damaged_weights_reproduce_eval_with_the_same_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, samples) = (reference("alexnet_demo.pth"), data().join("images_100"));
    let exported = tmp.path().join("damaged.safetensors");
    let (direct, reloaded) = (
        tmp.path().join("direct.safetensors"),
        tmp.path().join("reloaded.safetensors"),
    );
    let set = [
        "--set",
        "conv2=drop:0.5",
        "--set",
        "fc6=noise:0.8",
        "--seed",
        "7",
    ];
    let mut export: Vec<&std::ffi::OsStr> =
        vec!["export".as_ref(), "--weights".as_ref(), weights.as_os_str()];
    export.extend(set.iter().map(std::ffi::OsStr::new));
    export.extend(["--out".as_ref(), exported.as_os_str()]);
    lesion_ok(&export);
    let mut eval: Vec<&std::ffi::OsStr> =
        vec!["eval".as_ref(), "--samples".as_ref(), samples.as_os_str()];
    eval.extend([
        "--weights".as_ref(),
        weights.as_os_str(),
        "--dump-logits".as_ref(),
        direct.as_os_str(),
    ]);
    eval.extend(set.iter().map(std::ffi::OsStr::new));
    lesion_ok(&eval);
    lesion_ok(&[
        "eval".as_ref(),
        "--samples".as_ref(),
        samples.as_os_str(),
        "--weights".as_ref(),
        exported.as_os_str(),
        "--dump-logits".as_ref(),
        reloaded.as_os_str(),
    ]);
    let (a, b) = (
        read_tensor(&direct, "logits").1,
        read_tensor(&reloaded, "logits").1,
    );
    assert_eq!(
        a, b,
        "exported f32 weights give exactly eval --set's logits"
    );
    // And the export holds torchvision's names and layout.
    let bytes = std::fs::read(&exported).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("classifier.1.weight").unwrap().shape(),
        [512, 64 * 36]
    );
    assert_eq!(
        st.tensor("features.0.weight").unwrap().dtype(),
        safetensors::Dtype::F32
    );
}

#[test]
fn bitflip_flips_bits_at_the_rate_asked() {
    let w = demo();
    let intact = w.weight(Layer::Fc6).data();
    let bits = intact.len() * 32;
    for p in [1e-4, 0.01, 0.3] {
        let d = apply(&w, &settings(9, &[&format!("fc6=bitflip:{p}")]));
        let flipped: u32 = intact
            .iter()
            .zip(d.weight(Layer::Fc6).data())
            .map(|(a, b)| (a.to_bits() ^ b.to_bits()).count_ones())
            .sum();
        assert_binomial(flipped as usize, bits, p, "bitflip");
        assert_eq!(d.bias(Layer::Fc6), w.bias(Layer::Fc6));
    }
    let all = apply(&w, &settings(9, &["fc6=bitflip:1"]));
    assert!(
        intact
            .iter()
            .zip(all.weight(Layer::Fc6).data())
            .all(|(a, b)| a.to_bits() == !b.to_bits()),
        "p = 1 flips every bit"
    );
}

#[test]
fn prune_removes_exactly_k_breaking_ties_by_index() {
    let weight = [0.5, -0.1, 0.1, 0.1, 0.0, -0.0, f32::NAN, -2.0];
    let damage = Damage::new(Kind::Prune, 0.5).unwrap();
    let (pruned, bias) = damage_values(&weight, &[1.0], 0, damage, 0);
    // k = 4: both zeros, then two of the three 0.1s, the lower indices first.
    let expected = [0.5, 0.0, 0.0, 0.1, 0.0, 0.0, f32::NAN, -2.0];
    assert_eq!(
        pruned
            .iter()
            .map(|v| v.to_bits() & 0x7FFF_FFFF)
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|v| v.to_bits() & 0x7FFF_FFFF)
            .collect::<Vec<_>>()
    );
    assert_eq!(bias, [1.0]);
}

#[test]
fn settings_text_round_trips_exactly() {
    let mut settings = Settings {
        seed: u64::MAX,
        ..Settings::default()
    };
    for text in [
        "conv1=drop:0.7",
        "fc6=noise:1.37",
        "fc8=bitflip:0.0001",
        "conv3=prune:0.33",
    ] {
        settings.set(text).unwrap();
    }
    let text = settings.to_string();
    assert_eq!(text.parse::<Settings>().unwrap(), settings, "{text}");
    assert_eq!("seed=0".parse::<Settings>().unwrap(), Settings::default());
    for bad in [
        "seed=1 conv9=drop:0.5",
        "seed=x",
        "conv1=drop:0.5 seed=3",
        "fc6=melt:0.2",
    ] {
        assert!(bad.parse::<Settings>().is_err(), "{bad}");
    }
}

/// Damage that only zeroes, as [`zero_in_place`] does it, gives exactly what the damage
/// gives, bias included, and names the weights it zeroed that were not zero, with their
/// values in order, at every amount and at sizes that are not whole words of 64; other
/// damage changes nothing there. The weights it damages are given word by word by its
/// `prepare` hook (here into a buffer of NaNs), each word once, in order.
#[test]
fn zeroing_damage_says_what_it_zeroed() {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // Repeated magnitudes (ties for prune), zeros of both signs, a NaN.
    let value = |i: usize| match i % 97 {
        0 => 0.0,
        1 => -0.0,
        2 => f32::NAN,
        k => ((k % 13) as f32 - 6.0) * 0.125,
    };
    for n in [1, 63, 64, 65, 1000, 3 << 20] {
        let weight: Vec<f32> = (0..n).map(value).collect();
        let units = if n >= 1000 { 10 } else { 1 };
        let bias: Vec<f32> = (0..units).map(|j| j as f32 + 0.5).collect();
        for kind in Kind::ALL {
            for amount in [0.0, 0.3, 0.7, 1.0] {
                let damage = Damage::new(kind, amount).unwrap();
                let mut got = if kind.only_zeroes() {
                    vec![f32::NAN; n]
                } else {
                    weight.clone()
                };
                let mut got_bias = bias.clone();
                let (mut values, mut words) = (Vec::new(), 0);
                let prepare = |k: usize, word: &mut [f32]| {
                    assert_eq!(k, words, "words in order, once each");
                    word.copy_from_slice(&weight[64 * k..(64 * k + 64).min(n)]);
                    words += 1;
                };
                let keep = |v: f32| values.push(v.to_bits());
                let zeroed = zero_in_place(&mut got, &mut got_bias, 3, damage, 9, prepare, keep);
                assert_eq!(zeroed.is_some(), kind.only_zeroes(), "{kind:?}");
                let Some(zeroed) = zeroed else {
                    assert_eq!(words, 0, "{kind:?}: nothing prepared");
                    assert_eq!(bits(&got), bits(&weight), "{kind:?}: weights untouched");
                    assert_eq!(bits(&got_bias), bits(&bias), "{kind:?}: bias untouched");
                    assert!(values.is_empty());
                    continue;
                };
                let what = format!("{kind:?} {amount} of {n}");
                assert_eq!(words, n.div_ceil(64), "{what}: every word prepared");
                let (want, want_bias) = damage_values(&weight, &bias, 3, damage, 9);
                assert_eq!(bits(&got), bits(&want), "{what}");
                assert_eq!(bits(&got_bias), bits(&want_bias), "{what}: bias");
                let mut named = Vec::new();
                zeroed.each(|i| named.push(i));
                let expected: Vec<usize> = (0..n)
                    .filter(|&i| weight[i].to_bits() != 0 && want[i].to_bits() == 0)
                    .collect();
                assert_eq!(named, expected, "{what}: the weights named");
                assert_eq!(zeroed.len(), expected.len(), "{what}");
                let held: Vec<u32> = expected.iter().map(|&i| weight[i].to_bits()).collect();
                assert_eq!(values, held, "{what}: the values kept");
            }
        }
    }
}
