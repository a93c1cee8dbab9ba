//! The share link: round trip, and total parsing of anything a URL can hold.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::MALFORMED;
use lesion::share::{self, Link};

fn settings_of(query: &str) -> Link {
    share::parse(query)
}

#[test]
fn links_round_trip() {
    let link = settings_of("?v=1&seed=3&conv1=drop:0.70&fc6=prune:0.9");
    assert!(link.ignored.is_empty(), "{:?}", link.ignored);
    assert_eq!(link.settings.seed, 3);
    assert_eq!(
        link.settings.to_texts(),
        vec!["conv1=drop:0.7", "fc6=prune:0.9"]
    );
    let query = share::to_query(&link.settings, &Default::default());
    assert_eq!(query, "?v=1&seed=3&conv1=drop:0.7&fc6=prune:0.9");
    assert_eq!(share::parse(&query).settings, link.settings);
    // Page keys survive too.
    let page = share::Page {
        model: Some("demo".into()),
        backend: share::BackendChoice::Cpu,
        images: Some(20),
        pinned: Some(share::parse("?seed=4&conv1=noise:0.5").settings),
    };
    let q = share::to_query(&link.settings, &page);
    assert_eq!(
        q,
        "?v=1&seed=3&conv1=drop:0.7&fc6=prune:0.9&model=demo&backend=cpu&images=20&pin=seed=4+conv1=noise:0.5"
    );
    let back = share::parse(&q);
    assert_eq!(back.page, page);
    assert!(back.ignored.is_empty(), "{:?}", back.ignored);
    // The GPU asked for (even a software one) survives; the default is left out.
    let gpu = share::Page {
        backend: share::BackendChoice::Gpu,
        ..Default::default()
    };
    let q = share::to_query(&link.settings, &gpu);
    assert!(q.ends_with("&backend=gpu"), "{q}");
    assert_eq!(share::parse(&q).page, gpu);
    let auto = share::parse("?v=1&backend=auto");
    assert_eq!(auto.page, share::Page::default());
    assert_eq!(share::to_query(&auto.settings, &auto.page), "?v=1");
    // Too few images or not a number: all images, and a notice.
    for bad in ["images=3", "images=-1", "images=many", "images="] {
        let link = share::parse(bad);
        assert_eq!(link.page.images, None, "{bad}");
        assert_eq!(link.ignored.len(), 1, "{bad}: {:?}", link.ignored);
    }
    // The intact model is just the version.
    assert_eq!(
        share::to_query(&Default::default(), &Default::default()),
        "?v=1"
    );
}

#[test]
fn malformed_links_parse_and_say_what_was_ignored() {
    for query in MALFORMED {
        let link = share::parse(query);
        assert!(!link.ignored.is_empty(), "{query}: nothing reported");
        for line in &link.ignored {
            assert!(
                line.chars().count() < 200,
                "{query}: notice too long: {line}"
            );
        }
    }
    // 10 kB of junk, binary-ish bytes, and many keys.
    let junk: String = (0..10_000)
        .map(|i| (b'!' + (i % 90) as u8) as char)
        .collect();
    let link = share::parse(&junk);
    assert!(!link.ignored.is_empty());
    let many: String = (0..500).map(|i| format!("k{i}=v&")).collect();
    let link = share::parse(&many);
    assert!(
        link.ignored.len() <= 9,
        "notices are capped: {}",
        link.ignored.len()
    );
    assert!(link.ignored.last().unwrap().contains("more"));
    // Valid parts of a partly broken link are kept.
    let link = share::parse("?seed=5&conv1=drop:0.5&conv2=melt:1&fc8=units:0.25");
    assert_eq!(link.settings.seed, 5);
    assert_eq!(
        link.settings.to_texts(),
        vec!["conv1=drop:0.5", "fc8=units:0.25"]
    );
    assert_eq!(link.ignored.len(), 1);
    assert!(link.ignored[0].contains("conv2"), "{:?}", link.ignored);
}

#[test]
fn an_image_subset_is_spread_evenly_over_the_samples() {
    use lesion::eval::spread;
    assert_eq!(
        spread(100, Some(20)),
        (0..100).step_by(5).collect::<Vec<_>>()
    );
    assert_eq!(spread(100, Some(30)).len(), 30);
    assert_eq!(spread(100, Some(30))[29], 96);
    assert_eq!(spread(8, Some(20)), (0..8).collect::<Vec<_>>());
    assert_eq!(spread(100, None).len(), 100);
}

/// Characters a notice must never carry: controls, and invisible or bidi formatting
/// characters that could reorder or hide what the page shows (checked by category here,
/// independently of the code under test).
fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

fn assert_plain_notices(query: &str, link: &Link) {
    for notice in &link.ignored {
        assert!(
            notice.chars().count() < 200,
            "{query:?}: notice of {} characters: {notice}",
            notice.chars().count()
        );
        assert!(
            !notice.chars().any(is_hidden),
            "{query:?}: notice carries a hidden character: {notice:?}"
        );
    }
}

#[test]
fn a_huge_amount_gives_a_short_notice() {
    for query in ["conv1=drop:1e308", "fc6=noise:1e300", "conv2=prune:-1e307"] {
        let link = share::parse(query);
        assert_eq!(link.ignored.len(), 1, "{query}: {:?}", link.ignored);
        assert_plain_notices(query, &link);
    }
}

#[test]
fn bidi_and_invisible_characters_never_reach_a_notice() {
    for query in [
        "model=%E2%80%AEgnp.exe",        // U+202E right-to-left override
        "%E2%81%A6conv9=drop:0.5",       // U+2066 left-to-right isolate
        "seed=1%E2%80%8B2",              // U+200B zero-width space
        "backend=%EF%BB%BFcpu%E2%80%8F", // U+FEFF, U+200F
        "conv1=drop:0.%E2%80%A85",       // U+2028 line separator
    ] {
        let link = share::parse(query);
        assert!(!link.ignored.is_empty(), "{query}");
        assert_plain_notices(query, &link);
    }
}

#[test]
fn the_seed_stays_in_the_link_when_no_layer_is_damaged() {
    let link = share::parse("?v=1&seed=7");
    assert_eq!(link.settings.seed, 7);
    let query = share::to_query(&link.settings, &link.page);
    assert_eq!(query, "?v=1&seed=7");
    assert_eq!(share::parse(&query).settings, link.settings);
}

mod fuzz {
    //! Generated and mutated links: parsing is total, a parsed link written back reads the
    //! same, and every notice is short and plain.
    use super::assert_plain_notices;
    use lesion::model::Layer;
    use lesion::perturb::Kind;
    use lesion::share::{self, BackendChoice, Page};
    use proptest::prelude::*;

    /// Links as the page writes them: any seed, any layers at any amount in range.
    fn written_link() -> impl Strategy<Value = String> {
        let damage = (0..Kind::ALL.len(), 0.0..=1.0f64)
            .prop_map(|(k, f)| (Kind::ALL[k], f * Kind::ALL[k].max_amount()));
        let layers = prop::collection::btree_map(0..Layer::ALL.len(), damage, 0..=8);
        let pinned = prop::option::of((any::<u64>(), layers.clone()))
            .prop_map(|pinned| pinned.map(|(seed, layers)| settings_of(seed, layers)));
        let page = (
            prop::option::of("[a-z0-9_-]{1,12}"),
            0..3usize,
            prop::option::of(10..5000usize),
            pinned,
        )
            .prop_map(|(model, backend, images, pinned)| Page {
                model,
                backend: [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Gpu][backend],
                images,
                pinned,
            });
        (any::<u64>(), layers, page)
            .prop_map(|(seed, layers, page)| share::to_query(&settings_of(seed, layers), &page))
    }

    fn settings_of(
        seed: u64,
        layers: std::collections::BTreeMap<usize, (Kind, f64)>,
    ) -> lesion::perturb::Settings {
        let mut settings = lesion::perturb::Settings {
            seed,
            ..Default::default()
        };
        for (layer, (kind, amount)) in layers {
            let text = format!("{}={}:{amount}", Layer::ALL[layer].name(), kind.name());
            settings.set(&text).unwrap();
        }
        settings
    }

    /// Characters links are made of, plus escapes, bidi controls and other Unicode.
    fn link_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select("=&:%.+-eE0123456789abcdefgnoprsuvx ?#;".chars().collect::<Vec<_>>()),
            1 => prop::sample::select(vec!['\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}', '\u{0}', '\n', 'é', '\u{10FFFF}']),
            1 => any::<char>(),
        ]
    }

    #[derive(Debug, Clone)]
    enum Edit {
        Insert(usize, char),
        Delete(usize, usize),
        Replace(usize, char),
        Duplicate(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), link_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
            (any::<usize>(), 1..8usize).prop_map(|(at, n)| Edit::Delete(at, n)),
            (any::<usize>(), link_char()).prop_map(|(at, c)| Edit::Replace(at, c)),
            (any::<usize>(), 1..30usize).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        ]
    }

    fn mutate(link: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = link.chars().collect();
        for edit in edits {
            let len = chars.len().max(1);
            match *edit {
                Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
                Edit::Delete(at, n) => {
                    let at = at % len;
                    chars.drain(at.min(chars.len())..(at + n).min(chars.len()));
                }
                Edit::Replace(at, c) => {
                    if !chars.is_empty() {
                        chars[at % len] = c;
                    }
                }
                Edit::Duplicate(at, n) => {
                    let at = at % len;
                    let piece: Vec<char> = chars.iter().skip(at).take(n).copied().collect();
                    chars.splice(at..at, piece);
                }
            }
        }
        chars.into_iter().collect()
    }

    fn any_link() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => (written_link(), prop::collection::vec(edit(), 1..6))
                .prop_map(|(link, edits)| mutate(&link, &edits)),
            1 => written_link(),
            1 => prop::collection::vec(link_char(), 0..80).prop_map(String::from_iter),
            1 => any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 100_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_link_parses_writes_back_and_reads_the_same(query in any_link()) {
            let first = share::parse(&query);
            assert_plain_notices(&query, &first);
            let written = share::to_query(&first.settings, &first.page);
            let second = share::parse(&written);
            prop_assert_eq!(&second.settings, &first.settings, "{:?} -> {}", query, written);
            prop_assert_eq!(&second.page, &first.page, "{:?} -> {}", query, written);
            prop_assert!(second.ignored.is_empty(), "{:?} -> {}: {:?}", query, written, second.ignored);
        }
    }
}

#[test]
fn a_link_is_capped_at_what_the_sliders_offer() {
    // bitflip:1 on every layer is about 10^9 draws: the page would freeze for many seconds.
    let every: Vec<String> = lesion::model::Layer::ALL
        .iter()
        .map(|l| format!("{}=bitflip:1", l.name()))
        .collect();
    let link = share::parse(&every.join("&"));
    for (layer, damage) in &link.settings.layers {
        assert_eq!(damage.amount, 0.01, "{layer:?}");
    }
    assert_eq!(link.settings.layers.len(), 8);
    assert!(!link.ignored.is_empty());
    assert!(link.ignored[0].contains("conv1"), "{:?}", link.ignored);
    assert_plain_notices("every layer", &link);
    let noise = share::parse("fc6=noise:5");
    assert_eq!(noise.settings.layers.values().next().unwrap().amount, 2.0);
    assert_eq!(noise.ignored.len(), 1, "{:?}", noise.ignored);
    // Within the sliders nothing changes and nothing is said.
    let fine = share::parse("fc6=noise:2&conv1=bitflip:0.01&conv2=drop:1");
    assert!(fine.ignored.is_empty(), "{:?}", fine.ignored);
}
