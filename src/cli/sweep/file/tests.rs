use super::*;

fn row() -> Row {
    Row {
        model: "m".into(),
        layer: "fc6".into(),
        kind: "drop".into(),
        amount: 0.5,
        seed: 1,
        n: 100,
        top1: 0.5,
        top1_lo: 0.4,
        top1_hi: 0.6,
        top5: 0.7,
        top5_lo: 0.6,
        top5_hi: 0.8,
        top1_rel: 0.5,
        top1_rel_lo: 0.4,
        top1_rel_hi: 0.6,
        top5_rel: 0.7,
        agreement: 0.5,
        agreement_lo: 0.4,
        agreement_hi: 0.6,
        non_finite: 0,
    }
}

#[test]
fn the_header_is_the_rows_fields() {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row()).unwrap();
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
}

#[test]
fn torn_and_foreign_files() {
    let id = Identity {
        weights: "a".repeat(64),
        samples: "b".repeat(64),
        shard: None,
    };
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row()).unwrap();
    let line = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let whole = format!("{}{HEADER}\n{line}{line}", id.line());
    let p = parse(whole.as_bytes(), "s.csv").unwrap();
    assert_eq!((p.rows.len(), p.keep, p.dropped), (2, whole.len(), None));
    let torn = &whole[..whole.len() - 3];
    let p = parse(torn.as_bytes(), "s.csv").unwrap();
    assert_eq!((p.rows.len(), p.keep), (1, whole.len() - line.len()));
    assert!(p.dropped.is_some());
    let only_identity = id.line();
    let p = parse(only_identity.as_bytes(), "s.csv").unwrap();
    assert!(p.identity.is_some() && !p.has_header && p.keep == only_identity.len());
    let old = format!("{HEADER}\n{line}");
    let err = parse(old.as_bytes(), "s.csv").unwrap_err().to_string();
    assert!(err.contains("s.csv") && err.contains("delete"), "{err}");
    let other = Identity {
        samples: "c".repeat(64),
        ..id.clone()
    };
    let err = check_identity(&id, &other, "s.csv")
        .unwrap_err()
        .to_string();
    assert!(err.contains("other sample images") && !err.contains("other weights"));
}

#[test]
fn identity_lines_read_back_with_and_without_a_shard() {
    use super::super::shard::{Grid, Shard};
    use crate::model::Layer;
    use crate::perturb::Kind;
    let plain = Identity {
        weights: "a".repeat(64),
        samples: "b".repeat(64),
        shard: None,
    };
    let line = plain.line();
    assert_eq!(
        line,
        format!(
            "# lesion-sweep weights={} samples={}\n",
            plain.weights, plain.samples
        )
    );
    assert_eq!(Identity::parse(line.trim_end()), Some(plain.clone()));
    let sharded = Identity {
        shard: Some(ShardOf {
            shard: Shard { index: 2, count: 4 },
            grid: Grid {
                kind: Kind::Noise,
                layers: vec![Layer::Fc8],
                amounts: vec![0.1, 2.5],
                seeds: 3,
            },
            model: "custom AlexNet (my model) from m.pth".into(),
        }),
        ..plain.clone()
    };
    assert_eq!(
        Identity::parse(sharded.line().trim_end()),
        Some(sharded.clone())
    );
    for bad in [
        "weights=a",
        "weights=a samples=b extra=c",
        "weights=a samples=b shard=1/2",
    ] {
        assert_eq!(
            Identity::parse(&format!("# lesion-sweep {bad}")),
            None,
            "{bad}"
        );
    }
    let err = check_identity(&plain, &sharded, "s.csv")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another shard or grid") && !err.contains("other weights"),
        "{err}"
    );
}
