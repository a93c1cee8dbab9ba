use super::*;
use crate::model::ModelKind;
use crate::perturb::{Kind, damaged_layer};
use half::f16;

fn weights(values: impl Fn(usize) -> f32) -> Weights {
    let mut tensors = crate::model::weights::tests::tiny();
    let mut i = 0;
    for t in tensors.values_mut() {
        let data = (0..t.len())
            .map(|_| {
                i += 1;
                values(i)
            })
            .collect();
        *t = t.with_data(data).unwrap();
    }
    let info = ModelInfo {
        kind: ModelKind::Custom,
        name: "tiny".into(),
        source: "test".into(),
    };
    Weights::new(info, tensors).unwrap()
}

#[test]
fn values_come_back_exactly_in_f16_or_f32() {
    let halves = weights(|i| f16::from_f32(i as f32 * 0.37 - 3.0).to_f32());
    let kept = Intact::keep(&halves);
    assert_eq!(kept.bytes(), halves.num_parameters() * 2);
    assert_eq!(kept.weights(|_| unreachable!()).tensors(), halves.tensors());
    // Values f16 holds but not as normal numbers (its subnormals, zeros of both signs,
    // infinities, NaN) stay in f16 too.
    let odd = weights(|i| match i % 6 {
        0 => 0.0,
        1 => -0.0,
        2 => (i % 1023 + 1) as f32 * (-24f32).exp2() * if i % 4 == 0 { -1.0 } else { 1.0 },
        3 => f32::NEG_INFINITY,
        4 => f32::NAN,
        _ => f16::from_f32(i as f32 * 0.37 - 3.0).to_f32(),
    });
    let kept = Intact::keep(&odd);
    assert_eq!(kept.bytes(), odd.num_parameters() * 2);
    let back = kept.weights(|_| unreachable!());
    for (name, t) in odd.tensors() {
        let bits = |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.tensors()[name]), bits(t), "{name}");
    }
    // One value f16 cannot hold keeps that tensor in f32, exactly.
    let fine = weights(|i| i as f32 * 0.1 + 1e-7);
    let kept = Intact::keep(&fine);
    assert!(kept.bytes() > fine.num_parameters() * 2);
    assert_eq!(kept.weights(|_| unreachable!()).tensors(), fine.tensors());
}

#[test]
fn damage_equals_damage_of_the_f32_weights() {
    let w = weights(|i| f16::from_f32((i % 17) as f32 * 0.25 - 2.0).to_f32());
    let kept = Intact::keep(&w);
    for kind in [
        Kind::Drop,
        Kind::Units,
        Kind::Prune,
        Kind::Noise,
        Kind::Bitflip,
    ] {
        let amount = if kind == Kind::Bitflip { 0.01 } else { 0.5 };
        let damage = Damage::new(kind, amount).unwrap();
        for layer in Layer::ALL {
            let bits = |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let (a, ab) = kept.damaged(layer, damage, 3);
            let (b, bb) = damaged_layer(&w, layer, damage, 3);
            assert_eq!(bits(&a), bits(&b), "{kind:?} {layer:?}");
            assert_eq!(bits(&ab), bits(&bb), "{kind:?} {layer:?} bias");
            // The same in a buffer that held other values (the layer's last version),
            // without a new one.
            let used = vec![f32::NAN; a.len()];
            let at = used.as_ptr();
            let (c, _) = kept.damaged_in(layer, damage, 3, used);
            assert_eq!(bits(&c), bits(&b), "{kind:?} {layer:?} reused");
            assert_eq!(c.data().as_ptr(), at, "{kind:?} {layer:?}: a new buffer");
        }
    }
}

/// Lent layers go from any version to any other in the model's buffer, each exactly
/// what damaging the intact weights gives, and back to the intact values; a layer
/// keeps what zeroing damage zeroed, nothing for bitflip, its values for noise.
#[test]
fn lent_layers_move_between_versions_exactly() {
    // Some zeros, so that zeroing damage meets weights that are zero already.
    let w = weights(|i| f16::from_f32((i % 17) as f32 * 0.25 - 2.0).to_f32());
    let mut lent = Intact::lend(&w);
    let biases = lent.bytes();
    let bits = |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let states = [
        // Zeroing after zeroing: the earlier one undone word by word as the next goes.
        Some((Damage::new(Kind::Drop, 0.5).unwrap(), 3)),
        Some((Damage::new(Kind::Drop, 0.7).unwrap(), 4)),
        Some((Damage::new(Kind::Prune, 0.3).unwrap(), 3)),
        Some((Damage::new(Kind::Units, 0.5).unwrap(), 3)),
        Some((Damage::new(Kind::Drop, 0.2).unwrap(), 5)),
        Some((Damage::new(Kind::Bitflip, 0.01).unwrap(), 3)),
        Some((Damage::new(Kind::Units, 0.5).unwrap(), 3)),
        None,
        Some((Damage::new(Kind::Noise, 0.5).unwrap(), 3)),
        Some((Damage::new(Kind::Prune, 0.4).unwrap(), 3)),
        Some((Damage::new(Kind::Bitflip, 0.02).unwrap(), 5)),
        Some((Damage::new(Kind::Noise, 0.5).unwrap(), 6)),
        None,
    ];
    for layer in Layer::ALL {
        let mut model = w.weight(layer).data().to_vec();
        let mut copy_kept = false;
        for state in states {
            let at = model.as_ptr();
            let (weight, bias) = lent.next_version(layer, model, state);
            let (want, want_bias) = match state {
                Some((damage, seed)) => damaged_layer(&w, layer, damage, seed),
                None => (w.weight(layer).clone(), w.bias(layer).clone()),
            };
            let what = format!("{layer:?} {state:?}");
            assert_eq!(bits(&weight), bits(&want), "{what}");
            assert_eq!(bits(&bias), bits(&want_bias), "{what}: bias");
            assert_eq!(weight.data().as_ptr(), at, "{what}: a new buffer");
            let n = want.len();
            let kept = lent.bytes() - biases;
            match state.map(|(d, _)| d.kind) {
                // Values kept for noise stay until the layer is lent again.
                None => assert_eq!(kept, if copy_kept { n * 2 } else { 0 }, "{what}"),
                Some(Kind::Bitflip) => assert_eq!(kept, 0, "{what}"),
                Some(Kind::Noise) => assert_eq!(kept, n * 2, "{what}"),
                Some(_) => {
                    let zeroed = (w.weight(layer).data().iter())
                        .zip(want.data())
                        .filter(|(i, d)| i.to_bits() != 0 && d.to_bits() == 0)
                        .count();
                    assert_eq!(kept, n.div_ceil(64) * 8 + zeroed * 2, "{what}");
                }
            }
            // The intact weights, read from the model's version.
            let intact = lent.weights(|l| {
                if l == layer {
                    weight.data().to_vec()
                } else {
                    w.weight(l).data().to_vec()
                }
            });
            assert_eq!(intact.tensors(), w.tensors(), "{what}: intact");
            model = weight.into_parts().1;
            let kind = state.map(|(d, _)| d.kind);
            copy_kept = kind == Some(Kind::Noise) || (kind.is_none() && copy_kept);
        }
        lent.lend_layer(layer);
        assert_eq!(lent.bytes(), biases, "{layer:?} lent again");
    }
}

/// The fast conversion gives what the general one does: f16 for exactly the f32 values f16
/// holds (every f16 value of both signs, NaNs included, and their f32 neighbours), none
/// for the rest.
#[test]
fn exact_f16_is_the_general_conversion_checked() {
    let general = |v: f32| {
        let h = f16::from_f32(v);
        (h.to_f32().to_bits() == v.to_bits()).then_some(h.to_bits())
    };
    let mut tried = 0;
    for h in 0..=u16::MAX {
        let bits = f16::from_bits(h).to_f32().to_bits();
        for v in [
            bits,
            bits.wrapping_add(1),
            bits.wrapping_sub(1),
            bits ^ 1 << 12,
        ] {
            let v = f32::from_bits(v);
            assert_eq!(values::exact_f16(v).map(f16::to_bits), general(v), "{v:e}");
            tried += 1;
        }
    }
    for v in [
        1e-9f32,
        65504.0,
        65520.0,
        1e6,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::INFINITY,
    ] {
        for v in [v, -v] {
            assert_eq!(values::exact_f16(v).map(f16::to_bits), general(v), "{v:e}");
        }
    }
    assert_eq!(tried, 4 << 16);
    assert_eq!(values::exact_f16(0.5), Some(f16::from_f32(0.5)));
    assert_eq!(values::exact_f16(0.1), None);
}
