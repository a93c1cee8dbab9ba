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
    };
    let q = share::to_query(&link.settings, &page);
    assert_eq!(
        q,
        "?v=1&seed=3&conv1=drop:0.7&fc6=prune:0.9&model=demo&backend=cpu&images=20"
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
