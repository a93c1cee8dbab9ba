//! The built site in real headless Chromium (driven over WebDriver), against the native CLI.
//!
//! Needs `trunk build` output with the demo model installed, and chromedriver: `./dev test`
//! provides both and runs these with `--ignored`. `LESION_SITE` names the built site
//! (default `dist`).
#![cfg(not(target_arch = "wasm32"))]

mod browser;
mod common;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use browser::*;

/// `lesion eval --json` on the site's demo model and images, with `extra` arguments.
fn cli_eval(extra: &[&str]) -> serde_json::Value {
    cli_json(&site().join("weights/demo"), extra)
}

/// The module's exports run only themselves. Linked as a "command" (nothing calls the
/// static constructors), wasm-ld wraps every export in a `NAME.command_export` that first
/// re-runs every constructor of the module (Burn's GPU compiler registers hundreds), and
/// every call from JavaScript (each closure, each value handed in) paid for it: a slider
/// move on fc8 spent more time there than in the evaluation.
#[test]
#[ignore = "needs the built site: run by ./dev test"]
fn the_modules_exports_do_not_rerun_the_static_constructors() {
    let build: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site().join("build.json")).unwrap()).unwrap();
    let wasm = std::fs::read(site().join(build["wasm"].as_str().unwrap())).unwrap();
    let has = |needle: &str| wasm.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The test site is built without wasm-opt, so the name section is there to read.
    assert!(
        has("lesion::web::start"),
        "the module has no function names to check"
    );
    // Named `NAME.command_export` by wasm-ld, `NAME_command_export` once wasm-bindgen
    // has renamed the export.
    assert!(
        !has("command_export"),
        "exports are wrapped to run the static constructors on every call"
    );
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn page_shows_the_demo_models_top1_equal_to_the_cli_on_webgpu_and_cpu() {
    let browser = Browser::start().await;
    // Left to choose, the page passes over a software adapter (SwiftShader here) for the
    // CPU and says so; `backend=gpu` uses WebGPU all the same.
    let chosen = browser.open("?model=demo").await;
    let on_gpu = browser.attr("#backend", "data-gpu").await;
    let notices = browser.text(".notices").await;
    println!("?model=demo: loaded in {chosen:.1?} on the GPU: {on_gpu}; notices: {notices}");
    if on_gpu == "false" {
        assert!(
            notices.contains("runs in software") || notices.contains("does not offer WebGPU"),
            "the CPU was chosen without saying why: {notices}"
        );
    }
    // On SwiftShader's WebGPU, 10 of the images (it takes about a second an image).
    for (query, gpu, shot, images) in [
        (
            "?model=demo&backend=gpu&images=10",
            "true",
            "intact-webgpu",
            10,
        ),
        ("?model=demo&backend=cpu", "false", "intact-cpu", 100),
    ] {
        let subset = images.to_string();
        let expected = if images == 100 {
            cli_eval(&[])
        } else {
            cli_eval(&["--images", &subset])
        }["top1"]
            .as_f64()
            .unwrap();
        let took = browser.open(query).await;
        let state = browser.attr("main > section", "data-state").await;
        if state == "error" {
            panic!(
                "{query}: page shows an error: {}",
                browser.text("#error-message").await
            );
        }
        assert_eq!(
            browser.attr("#model", "data-kind").await,
            "demo",
            "{query}: the demo is labelled"
        );
        assert!(browser.text("#model").await.contains("DEMO"));
        assert_eq!(
            browser.attr("#backend", "data-gpu").await,
            gpu,
            "{query}: backend"
        );
        let top1: f64 = browser.attr("#top1", "data-value").await.parse().unwrap();
        println!(
            "{query}: loaded and classified {images} images in {took:.1?}; top-1 {top1} (CLI {expected}); {}",
            browser.text("#backend").await
        );
        assert_eq!(top1, expected, "{query}: page top-1 equals `lesion eval`");
        let cards = browser
            .client
            .find_all(Locator::Css("#grid figure"))
            .await
            .unwrap();
        assert_eq!(cards.len(), images);
        browser.screenshot(shot).await;
    }
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn an_unknown_model_in_the_link_is_named_and_the_default_shown() {
    let browser = Browser::start().await;
    browser
        .open("?model=imagenet-xl&backend=cpu&images=10")
        .await;
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    let notices = browser.text(".notices").await;
    assert!(
        notices.contains("\"imagenet-xl\", which is not installed"),
        "{notices}"
    );
    browser
        .open("?model=%3Cscript%3Ealert(1)%3C%2Fscript%3E&backend=cpu&images=10")
        .await;
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    let notice = browser.text(".notice").await;
    assert!(notice.contains("is not a model name"), "{notice}");
    // The link's text is shown as text, never run or parsed as HTML.
    assert!(notice.contains("<script>"), "{notice}");
    assert!(
        browser
            .client
            .find(Locator::Css(".notice script"))
            .await
            .is_err()
    );
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_share_link_shows_what_the_cli_computes_for_the_same_settings() {
    let damage = [
        "--seed",
        "3",
        "--set",
        "conv2=drop:0.5",
        "--set",
        "fc6=prune:0.7",
    ];
    let browser = Browser::start().await;
    // On SwiftShader's WebGPU, 10 of the images (it takes about a second an image).
    for (backend, images) in [
        ("&backend=gpu&images=10", Some("10")),
        ("&backend=cpu", None),
    ] {
        let mut args = damage.to_vec();
        args.extend(images.map(|n| ["--images", n]).into_iter().flatten());
        let expected = cli_numbers(&cli_eval(&args));
        let query = format!("?v=1&seed=3&conv2=drop:0.50&fc6=prune:0.70{backend}");
        let took = browser.open(&query).await;
        assert_eq!(browser.attr("main > section", "data-state").await, "ready");
        assert_eq!(
            browser.settings_in_url().await,
            "?v=1&seed=3&conv2=drop:0.5&fc6=prune:0.7"
        );
        let shown = browser.numbers().await;
        println!(
            "{query}: loaded in {took:.1?}; top-1/top-5/agreement {shown:?}, CLI {expected:?}"
        );
        assert_eq!(
            shown, expected,
            "{query}: the page equals `lesion eval --set`"
        );
        // The sliders show the link's damage.
        assert_eq!(browser.prop("#slider-conv2", "value").await, "50");
        assert_eq!(browser.prop("#kind-fc6", "value").await, "prune");
    }
    browser.screenshot("damaged").await;
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_keyboard_moves_a_slider_and_the_link_restores_it() {
    use fantoccini::key::Key;
    let browser = Browser::start().await;
    // The CPU backend: SwiftShader's WebGPU takes tens of seconds per re-run of the demo.
    let took = browser.open("?model=demo&backend=cpu").await;
    println!("first load (weights downloaded, 100 images classified, CPU): {took:.1?}");
    let intact = browser.numbers().await;
    let slider = browser
        .client
        .find(Locator::Css("#slider-conv1"))
        .await
        .unwrap();
    // A timer on the page's thread: its longest pause shows whether evaluation blocks it.
    let ticker = "window.lesionGaps = []; let last = performance.now(); \
        setInterval(() => { const now = performance.now(); window.lesionGaps.push(now - last); last = now; }, 10);";
    browser.client.execute(ticker, vec![]).await.unwrap();
    let mut latencies = Vec::new();
    let mut in_page = Vec::new();
    for (key, expected) in [
        (Key::End, "conv1=drop:1"),
        (Key::Home, ""),
        (Key::PageUp, "conv1=drop:"),
        (Key::Right, "conv1=drop:"),
        (Key::PageUp, "conv1=drop:"),
        (Key::PageUp, "conv1=drop:"),
        (Key::PageUp, "conv1=drop:"),
        (Key::PageUp, "conv1=drop:"),
        (Key::PageUp, "conv1=drop:"),
    ] {
        let start = Instant::now();
        slider.send_keys(&key.to_string()).await.unwrap();
        browser.settled().await;
        latencies.push(start.elapsed());
        in_page.push(browser.attr("#status", "data-latency-ms").await);
        let url = browser.settings_in_url().await;
        if expected.is_empty() {
            assert_eq!(url, "?v=1", "Home returns conv1 to intact");
            assert_eq!(browser.numbers().await, intact);
        } else {
            assert!(url.contains(expected), "{url} after {key:?}");
        }
    }
    println!("slider-to-numbers latency (key press to numbers on screen): {latencies:.1?}");
    println!("the same measured by the page (request to results, ms): {in_page:?}");
    let longest_pause = browser
        .client
        .execute("return Math.max(...window.lesionGaps);", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let longest_update = latencies.iter().max().unwrap().as_secs_f64() * 1e3;
    println!(
        "longest pause of the page's thread meanwhile: {longest_pause:.0} ms (longest update {longest_update:.0} ms)"
    );
    assert!(
        longest_pause < longest_update / 2.0,
        "the page's thread paused {longest_pause:.0} ms during updates of up to {longest_update:.0} ms: evaluation blocks it"
    );
    let damaged_url = browser.client.current_url().await.unwrap().to_string();
    let damaged = browser.numbers().await;
    assert!(
        browser.settings_in_url().await.contains("conv1=drop:0.6"),
        "Home, PageUp, Right and five more PageUps: 61%"
    );
    assert_ne!(
        damaged[2], 1.0,
        "61% of conv1 removed changes some predictions"
    );
    // Reloading the link restores the slider and the numbers.
    browser.reopen(&damaged_url).await;
    assert_eq!(
        browser.client.current_url().await.unwrap().to_string(),
        damaged_url
    );
    assert_eq!(browser.numbers().await, damaged);
    let value = browser.prop("#slider-conv1", "value").await;
    assert!(value != "0", "slider restored: {value}");
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn fifty_rapid_changes_end_equal_to_a_fresh_load() {
    use fantoccini::key::Key;
    let browser = Browser::start().await;
    browser.open("?backend=cpu").await;
    let start = Instant::now();
    for i in 0..50 {
        let layer = ["conv1", "conv3", "fc6", "fc7", "fc8"][i % 5];
        let slider = browser
            .client
            .find(Locator::Css(&format!("#slider-{layer}")))
            .await
            .unwrap();
        let key = if i % 7 == 6 { Key::Left } else { Key::PageUp };
        slider.send_keys(&key.to_string()).await.unwrap();
    }
    let sent = start.elapsed();
    let settle = browser.settled().await;
    println!("50 slider changes sent in {sent:.1?}; numbers settled {settle:.1?} after the last");
    let url = browser.client.current_url().await.unwrap().to_string();
    let after_storm = browser.numbers().await;
    browser.reopen(&url).await;
    assert_eq!(browser.numbers().await, after_storm, "{url}");
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn malformed_links_load_a_working_page_with_a_notice_and_run_nothing() {
    let browser = Browser::start().await;
    let junk: String = (0..10_000)
        .map(|i| (b'!' + (i % 90) as u8) as char)
        .filter(|c| *c != '#')
        .collect();
    let mut links: Vec<String> = common::MALFORMED.iter().map(|s| s.to_string()).collect();
    links.push(format!("?{junk}"));
    links.push("?conv1=drop:0.5&<script>alert(1)</script>=<script>alert(2)</script>".into());
    assert!(links.len() >= 20);
    for link in &links {
        // On the CPU backend and 10 images: this test is about the link.
        let took = browser.open(&format!("{link}&backend=cpu&images=10")).await;
        let shown: String = link.chars().take(60).collect();
        assert_eq!(
            browser.attr("main > section", "data-state").await,
            "ready",
            "{shown}: a working page"
        );
        let notices = browser
            .client
            .find_all(Locator::Css(".notice"))
            .await
            .unwrap();
        assert!(!notices.is_empty(), "{shown}: a visible notice");
        assert!(
            browser.client.get_alert_text().await.is_err(),
            "{shown}: a script from the link ran"
        );
        assert!(
            browser
                .client
                .find(Locator::Css(".notices script, .notices img"))
                .await
                .is_err(),
            "{shown}: link text became markup"
        );
        // The page still works: the numbers are there.
        browser.numbers().await;
        println!("{shown}: ok in {took:.1?}");
    }
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_second_visit_takes_the_weights_from_cache_storage() {
    let browser = Browser::start().await;
    // The CPU backend and 10 images: the cache depends on neither.
    let first = browser.open("?backend=cpu&images=10").await;
    let weights = "alexnet.safetensors";
    let shards = demo_manifest().parts().len();
    assert!(shards > 1, "the test site's weights are sharded");
    assert_eq!(
        browser.requests(weights),
        shards,
        "the first visit downloads each shard once"
    );
    let second = browser.open("?backend=cpu&images=10").await;
    assert_eq!(
        browser.requests(weights),
        shards,
        "the second visit fetches no weights"
    );
    let notices = browser.text(".notices").await;
    assert!(notices.contains("cache"), "{notices}");
    println!("first visit {first:.1?}, second visit (weights from Cache Storage) {second:.1?}");
    // The phone-sized layout, for review.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.screenshot("mobile").await;
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_built_site_works_under_a_sub_path() {
    // The site as a folder `lesion/` of a bigger static site.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        std::fs::canonicalize(site()).unwrap(),
        root.path().join("lesion"),
    )
    .unwrap();
    let expected = cli_eval(&["--seed", "1", "--set", "fc8=drop:0.5"]);
    let browser = Browser::start_in(root.path().to_path_buf(), "lesion/").await;
    browser.open("?v=1&seed=1&fc8=drop:0.5&backend=cpu").await;
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/lesion/"), "{url}");
    assert_eq!(
        browser.numbers().await[0],
        expected["top1"].as_f64().unwrap(),
        "served from /lesion/, the same numbers"
    );
    browser.client.close().await.unwrap();
}

/// A layer's curve in the figure, as the page holds it: slider step -> relative top-1.
async fn chart(browser: &Browser, layer: &str) -> Vec<(u32, f64)> {
    let values = browser
        .attr(
            &format!("#figure-svg g.curve[data-layer={layer}]"),
            "data-values",
        )
        .await;
    values
        .split_whitespace()
        .map(|pair| {
            let (step, value) = pair.split_once(':').unwrap();
            (step.parse().unwrap(), value.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_figure_fills_in_while_idle_and_equals_lesion_sweep() {
    let browser = Browser::start().await;
    browser.open("?backend=cpu").await;
    // fc8 is charted first (cheapest): wait for its ten points.
    let start = Instant::now();
    while chart(&browser, "fc8").await.len() < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "fc8's chart never filled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "fc8's chart (10 points) filled {:.1?} after load",
        start.elapsed()
    );
    // Every point equals `lesion sweep` for the same layer, kind and seed.
    let points = chart(&browser, "fc8").await;
    let out = tempfile::tempdir().unwrap();
    let weights = site().join("weights/demo");
    common::lesion_ok(&[
        "sweep",
        "--weights",
        weights.to_str().unwrap(),
        "--samples",
        "public/samples",
        "--layers",
        "fc8",
        "--kind",
        "drop",
        "--amounts",
        "0.1:1:0.1",
        "--seeds",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let mut rows = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(out.path().join("sweep.csv"))
        .unwrap();
    let headers = rows.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (amount, rel) = (column("amount"), column("top1_rel"));
    let mut swept = std::collections::BTreeMap::new();
    for row in rows.records() {
        let row = row.unwrap();
        let step = (row[amount].parse::<f64>().unwrap() * 100.0).round() as u32;
        swept.insert(step, row[rel].parse::<f64>().unwrap());
    }
    for (step, value) in &points {
        let expected = swept[step];
        assert!(
            (value - expected).abs() < 1e-12,
            "figure at {step}: {value} vs lesion sweep {expected}"
        );
    }
    // The paper's marks: conv1 near chance, the top layers keeping most.
    for layer in ["conv1", "conv5", "fc6", "fc7", "fc8"] {
        // SVG titles are not rendered text: read their content.
        let title = browser
            .prop(
                &format!("#figure-svg g.claim[data-layer={layer}] title"),
                "textContent",
            )
            .await;
        assert!(title.contains("Cheney"), "{layer}: {title}");
    }
    // Input wins over background work: a move is answered, and the charts carry on.
    page_up(&browser, "#slider-conv1").await;
    assert!(browser.settings_in_url().await.contains("conv1=drop:0.1"));
    browser.screenshot("charts").await;
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn weights_picked_from_this_computer_replace_the_model_or_are_refused() {
    let browser = Browser::start().await;
    browser.open("?backend=cpu").await;
    let intact = browser.numbers().await;
    assert_eq!(browser.attr("#model", "data-kind").await, "demo");
    let dir = tempfile::tempdir().unwrap();
    // Refused files leave the model as it was and say why.
    for (name, bytes, says) in [
        ("alexnet.pth", b"not really a pickle".to_vec(), ".pth"),
        ("junk.safetensors", vec![0xFF; 100], "safetensors"),
        ("notes.txt", b"hello".to_vec(), "not a weights file"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        browser.pick_file(&path).await;
        let start = Instant::now();
        loop {
            let status = browser.text("#file-status").await;
            if status.contains(says) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{name}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(browser.attr("#model", "data-kind").await, "demo", "{name}");
        assert_eq!(browser.numbers().await, intact, "{name}");
    }
    // A bare safetensors file loads as a custom model: the demo's own weights give the
    // demo's numbers.
    let copy = dir.path().join("my-alexnet.safetensors");
    std::fs::write(&copy, demo_bytes()).unwrap();
    browser.pick_file(&copy).await;
    let start = Instant::now();
    while browser.attr("#model", "data-kind").await != "custom" {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the picked model never loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.settled().await;
    assert!(
        browser
            .text("#model")
            .await
            .contains("my-alexnet.safetensors")
    );
    assert_eq!(browser.numbers().await, intact);
    // A manifest cannot make the user's weights Official: the page labels them itself.
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(site().join("weights/demo/manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["model"]["kind"] = json!("official");
    manifest["model"]["name"] = json!("official");
    let claimed = dir.path().join("manifest.json");
    std::fs::write(&claimed, manifest.to_string()).unwrap();
    // With every shard: a sharded install is picked whole.
    let mut all = vec![claimed.display().to_string()];
    for part in demo_manifest().parts() {
        let path = dir.path().join(&part.path);
        std::fs::copy(site().join("weights/demo").join(&part.path), &path).unwrap();
        all.push(path.display().to_string());
    }
    browser
        .pick_file(std::path::Path::new(&all.join("\n")))
        .await;
    let start = Instant::now();
    while !browser
        .text("#model")
        .await
        .contains("AlexNet: alexnet.safetensors.000")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never loaded: {}",
            browser.text("#file-status").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(browser.attr("#model", "data-kind").await, "custom");
    // A file larger than any AlexNet is refused before it is read (a sparse file: no
    // disk is used).
    let huge = dir.path().join("huge.safetensors");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    browser.pick_file(&huge).await;
    let status = browser.text("#file-status").await;
    assert!(status.contains("not read"), "{status}");
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_smaller_subset_on_the_cpu_matches_the_cli_and_is_part_of_the_link() {
    let browser = Browser::start().await;
    let query = "?v=1&seed=3&conv2=drop:0.5&backend=cpu&images=20";
    browser.open(query).await;
    assert_eq!(browser.attr("#images-20", "aria-current").await, "true");
    let cli = cli_eval(&["--images", "20", "--seed", "3", "--set", "conv2=drop:0.5"]);
    let expected = cli_numbers(&cli);
    assert_eq!(browser.numbers().await, expected);
    assert!(browser.text("#top1").await.len() > 1);
    assert!(
        browser.text(".metric-ci").await.contains("/20"),
        "{}",
        browser.text(".metric-ci").await
    );
    // "all images" is a link to the same damage on every image.
    let all = browser
        .client
        .find(Locator::Css("#images-all"))
        .await
        .unwrap();
    all.click().await.unwrap();
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(120))
        .for_element(Locator::Css("#images-all[aria-current]"))
        .await
        .unwrap();
    browser.settled().await;
    let url = browser.client.current_url().await.unwrap().to_string();
    assert!(!url.contains("images="), "{url}");
    assert!(url.contains("conv2=drop:0.5"), "{url}");
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_worker_that_cannot_start_is_an_error_within_seconds() {
    let site = site_copy();
    let rules = site.path().join("rules.json");
    // The worker's script is missing (it fires `error` before it says anything).
    write_rules(
        &rules,
        json!({"faults": [{"path": "/worker-", "status": 404}]}),
    );
    let browser = Browser::serve(site.path().to_path_buf(), "", Some(&rules)).await;
    let text = browser
        .error_within("?backend=cpu", Duration::from_secs(30))
        .await;
    assert!(text.contains("could not start"), "{text}");
    // The worker's WebAssembly fails (the page's own, fetched first, does not): the shim
    // says so in the protocol's words.
    write_rules(
        &rules,
        json!({"faults": [{"path": "/lesion_bg-", "nth": [2], "status": 500}]}),
    );
    let text = browser
        .error_within("?backend=cpu", Duration::from_secs(30))
        .await;
    assert!(text.contains("could not start"), "{text}");
    assert!(browser.requests("/lesion_bg-") >= 2);
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn network_faults_are_tried_again_or_refused_and_said() {
    let site = site_copy();
    let rules = site.path().join("rules.json");
    // One shard of several; the others load (and are kept) whatever happens to it.
    let weights = "/weights/demo/alexnet.safetensors.001";
    let first = "/weights/demo/alexnet.safetensors.000";
    // More bytes than the manifest says: refused, not tried again.
    write_rules(
        &rules,
        json!({"faults": [{"path": weights, "extra": 4096}]}),
    );
    let browser = Browser::serve(site.path().to_path_buf(), "", Some(&rules)).await;
    let text = browser
        .error_within("?backend=cpu&images=10", Duration::from_secs(60))
        .await;
    assert!(text.contains("refused"), "{text}");
    assert_eq!(browser.requests(weights), 1);
    // A server error every time: three tries with pauses, then the page says so.
    write_rules(
        &rules,
        json!({"faults": [{"path": weights, "status": 503}]}),
    );
    let text = browser
        .error_within("?backend=cpu&images=10", Duration::from_secs(60))
        .await;
    assert!(
        text.contains("503") && text.contains("tried 3 times"),
        "{text}"
    );
    assert_eq!(browser.requests(weights), 1 + 3);
    // A download that stalls once: abandoned after the stall timeout, then it loads.
    write_rules(
        &rules,
        json!({"faults": [{"path": weights, "nth": [1], "stall": 120}]}),
    );
    let took = browser.open("?backend=cpu&images=10").await;
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    assert_eq!(browser.requests(weights), 1 + 3 + 2);
    // The visits that failed kept the shards they had: they were not fetched again.
    assert_eq!(browser.requests(first), 1);
    let notices = browser.text(".notices").await;
    assert!(notices.contains("broke off"), "{notices}");
    println!("loaded after one stalled download in {took:.1?}");
    browser.client.close().await.unwrap();
}

/// The built site's demo manifest.
fn demo_manifest() -> lesion::model::manifest::Manifest {
    let path = site().join("weights/demo/manifest.json");
    lesion::model::manifest::Manifest::parse(&std::fs::read_to_string(path).unwrap(), "").unwrap()
}

/// The built site's demo weights as one safetensors file (its shards concatenated).
fn demo_bytes() -> Vec<u8> {
    let dir = site().join("weights/demo");
    demo_manifest()
        .parts()
        .iter()
        .flat_map(|p| std::fs::read(dir.join(&p.path)).unwrap())
        .collect()
}

/// The site's demo model with fc8's biases moved: other weights, other numbers.
fn redeploy_weights(site: &std::path::Path) {
    use lesion::model::manifest;
    let dir = site.join("weights/demo");
    let old = demo_manifest();
    let weights = manifest::load_verified(&old, &demo_bytes(), "weights/demo").unwrap();
    let mut tensors = weights.tensors().clone();
    let bias = tensors.get_mut("classifier.6.bias").unwrap();
    // Every image now looks like class 0 (the tench) to the model.
    let mut moved = bias.data().to_vec();
    moved[0] += 1000.0;
    *bias = bias.with_data(moved).unwrap();
    let weights = lesion::model::Weights::new(weights.info().clone(), tensors).unwrap();
    let (mut manifest, bytes) = manifest::encode(&weights, old.source_sha256.clone());
    let ranges = manifest.shard(&bytes, old.parts()[0].bytes as usize);
    for (part, range) in manifest.parts().iter().zip(ranges) {
        std::fs::write(dir.join(&part.path), &bytes[range]).unwrap();
    }
    std::fs::write(dir.join("manifest.json"), manifest.to_json()).unwrap();
}

/// A new build of the code: every file build.json names gets a new name.
fn redeploy_code(site: &std::path::Path) -> Vec<String> {
    let path = site.join("build.json");
    let mut build: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let renames: Vec<(String, String)> = build
        .iter_mut()
        .map(|(_, name)| {
            let old = name.as_str().unwrap().to_string();
            let new = old.replacen('-', "-redeployed-", 1);
            *name = new.clone().into();
            (old, new)
        })
        .collect();
    for (old, new) in &renames {
        let mut text = std::fs::read(site.join(old)).unwrap();
        if old.starts_with("worker-") {
            let mut worker = String::from_utf8(text).unwrap();
            for (o, n) in &renames {
                worker = worker.replace(o.as_str(), n);
            }
            text = worker.into_bytes();
        }
        std::fs::remove_file(site.join(old)).unwrap();
        std::fs::write(site.join(new), text).unwrap();
    }
    std::fs::write(&path, serde_json::Value::Object(build).to_string()).unwrap();
    renames.into_iter().map(|(_, new)| new).collect()
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_redeploy_is_seen_whole_and_old_cached_weights_go() {
    let site = site_copy();
    let rules = site.path().join("rules.json");
    // As GitHub Pages does: every file may be cached for ten minutes.
    write_rules(&rules, json!({"cache": "max-age=600"}));
    let browser = Browser::serve(site.path().to_path_buf(), "", Some(&rules)).await;
    browser.open("?backend=cpu&images=10").await;
    let before = browser.numbers().await;
    let cached = browser.cached_weights().await;
    let shards = demo_manifest().parts().len();
    assert_eq!(cached.len(), shards, "{cached:?}");
    // New weights under the same model name, and new code.
    redeploy_weights(site.path());
    let renamed = redeploy_code(site.path());
    browser.open("?backend=cpu&images=10").await;
    assert_eq!(
        browser.attr("main > section", "data-state").await,
        "ready",
        "{}",
        browser.text("main").await
    );
    assert_ne!(browser.numbers().await, before, "the new weights' numbers");
    for name in &renamed {
        assert_eq!(browser.requests(name), 1, "{name}: the new deploy's file");
    }
    // Only the new deploy's shards are kept (those whose bytes did not change among them).
    let now = browser.cached_weights().await;
    let text = std::fs::read_to_string(site.path().join("weights/demo/manifest.json")).unwrap();
    let deployed = lesion::model::manifest::Manifest::parse(&text, "").unwrap();
    assert_eq!(now.len(), deployed.parts().len(), "{now:?}");
    for part in deployed.parts() {
        let key = format!("{}?sha256={}", part.path, part.sha256);
        assert!(
            now.iter().any(|k| k.ends_with(&key)),
            "{key} not in {now:?}"
        );
    }
    assert_ne!(now, cached);
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_full_size_model_asks_resumes_recovers_and_equals_the_cli() {
    let (root, weights) = full_size_site();
    let text = std::fs::read_to_string(weights.join("manifest.json")).unwrap();
    let manifest = lesion::model::manifest::Manifest::parse(&text, "").unwrap();
    assert_eq!(manifest.parameters, 61_100_840);
    let parts: Vec<String> = manifest.parts().iter().map(|p| p.path.clone()).collect();
    assert!(parts.len() >= 6, "{parts:?}");
    for part in manifest.parts() {
        assert!(
            part.bytes <= 20 << 20,
            "{} is {} bytes",
            part.path,
            part.bytes
        );
    }
    let url = |part: &String| format!("/lesion/weights/demo-full/{part}");
    let shard = |i: usize| url(&parts[i]);
    // The first visit breaks off: every shard after the first three stalls for good.
    let rules = root.path().join("rules.json");
    let stalls: Vec<_> = (3..parts.len())
        .map(|i| json!({"path": shard(i), "stall": 120}))
        .collect();
    write_rules(&rules, json!({ "faults": stalls }));
    let browser = Browser::serve(root.path().to_path_buf(), "lesion/", Some(&rules)).await;
    let query = "?model=demo-full&backend=cpu&images=20";
    browser.go(query).await;
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    let question = browser.question_within(Duration::from_secs(60)).await;
    let whole = mb(manifest.total_bytes());
    assert!(
        question.contains(&format!("{whole} to download")),
        "{question}"
    );
    assert_eq!(
        browser.requests(&shard(0)),
        0,
        "nothing before the visitor agrees"
    );
    browser.click("#download").await;
    let error = browser
        .client
        .wait()
        .at_most(Duration::from_secs(120))
        .for_element(Locator::Css("[data-state=error]"))
        .await
        .expect("a stalled download ends in a message, not an endless bar");
    let message = error.text().await.unwrap();
    assert!(
        message.contains("no data for 10 s") && message.contains("tried 3 times"),
        "{message}"
    );
    assert_eq!(browser.requests(&shard(0)), 1);
    assert_eq!(browser.requests(&shard(3)), 3);
    // The network is back; "Try again" resumes: only the missing shards are fetched.
    write_rules(&rules, json!({}));
    browser.click("#retry").await;
    // What is still missing is more than the page downloads unasked: it asks again, and
    // says what it has.
    let missing: u64 = manifest.parts()[3..].iter().map(|p| p.bytes).sum();
    assert!(missing > lesion::web::protocol::ASK_ABOVE_BYTES);
    let question = browser.question_within(Duration::from_secs(60)).await;
    let kept = mb(manifest.total_bytes() - missing);
    assert!(
        question.contains(&format!("{} to download", mb(missing)))
            && question.contains(&format!("already keeps {kept} of the {whole}")),
        "{question}"
    );
    let took = browser.agree().await;
    println!("resumed and classified 20 images in {took:.1?}");
    for (i, part) in parts.iter().enumerate() {
        let expected = if i < 3 { 1 } else { 3 + 1 };
        assert_eq!(browser.requests(&url(part)), expected, "{part}");
    }
    let notices = browser.text(".notices").await;
    assert!(notices.contains("broke off"), "{notices}");
    assert_eq!(
        browser.numbers().await,
        cli_eval_with(&weights, &["--images", "20"]),
        "intact, as the CLI computes"
    );
    // A share link with two layers damaged, in the same browser: a second visit, which
    // downloads nothing and asks nothing.
    let damaged = "?v=1&seed=5&conv2=drop:0.5&fc6=noise:0.5&model=demo-full&backend=cpu&images=20";
    let took = browser.open(damaged).await;
    println!("second visit, two layers damaged: numbers after {took:.1?}");
    let expected = cli_eval_with(
        &weights,
        &[
            "--images",
            "20",
            "--seed",
            "5",
            "--set",
            "conv2=drop:0.5",
            "--set",
            "fc6=noise:0.5",
        ],
    );
    assert_eq!(browser.numbers().await, expected);
    for (i, part) in parts.iter().enumerate() {
        let before = if i < 3 { 1 } else { 3 + 1 };
        assert_eq!(browser.requests(&url(part)), before, "{part} again");
    }
    let notices = browser.text(".notices").await;
    assert!(notices.contains("nothing was downloaded"), "{notices}");
    // Forgetting them empties Cache Storage for the site; the model stays on screen.
    assert_eq!(browser.cached_weights().await.len(), parts.len());
    browser.click("#forget-weights").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !browser
        .text(".notices")
        .await
        .contains("downloaded weight file(s)")
    {
        assert!(Instant::now() < deadline, "forgetting said nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notices = browser.text(".notices").await;
    assert!(notices.contains("MB) from this browser"), "{notices}");
    assert_eq!(browser.cached_weights().await, Vec::<String>::new());
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_full_size_model_on_webgpu_fits_the_adapter_or_says_so_and_equals_the_cli() {
    let (root, weights) = full_size_site();
    let browser = Browser::start_in(root.path().to_path_buf(), "lesion/").await;
    let query = "?model=demo-full&backend=gpu&images=10";
    browser.go(query).await;
    browser.question_within(Duration::from_secs(60)).await;
    let took = browser.agree().await;
    let on_gpu = browser.attr("#backend", "data-gpu").await;
    let notices = browser.text(".notices").await;
    println!(
        "{query}: numbers after {took:.1?}; {}; notices: {notices}",
        browser.text("#backend").await
    );
    if on_gpu == "false" {
        // fc6 (151 MB in f32) did not fit what the adapter grants: said, and on the CPU.
        assert!(notices.contains("running on the CPU instead"), "{notices}");
    }
    let cli = cli_eval_with(&weights, &["--images", "10"]);
    let shown = browser.numbers().await;
    assert_eq!(shown, cli, "on the GPU: {on_gpu}");
    browser.client.close().await.unwrap();
}

/// Presses Page Up on the slider `css` names (the keyboard's way to move it) and waits
/// for the numbers.
async fn page_up(browser: &Browser, css: &str) {
    let slider = browser.client.find(Locator::Css(css)).await.unwrap();
    slider
        .send_keys(&fantoccini::key::Key::PageUp.to_string())
        .await
        .unwrap();
    browser.settled().await;
}

/// Whether the element `css` names lies wholly inside the window.
async fn in_view(browser: &Browser, css: &str) -> bool {
    let script = "const r = document.querySelector(arguments[0]).getBoundingClientRect();
        return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;";
    let seen = browser
        .client
        .execute(script, vec![json!(css)])
        .await
        .unwrap();
    seen.as_bool().unwrap()
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn the_page_teaches_and_keeps_its_numbers_in_view_at_desktop_and_phone_width() {
    let browser = Browser::start().await;
    // Windows sized so that the page itself gets 1280 x 800 (then 500 x 900) pixels.
    let frame = browser
        .client
        .execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let [dw, dh] = [0, 1].map(|i| frame[i].as_u64().unwrap() as u32);
    browser
        .client
        .set_window_size(1280 + dw, 800 + dh)
        .await
        .unwrap();
    browser.open("?backend=cpu&images=10").await;
    // Desktop, 1280 x 800: the network, the numbers and the figure without scrolling.
    browser.screenshot("desktop").await;
    for css in ["#slider-conv1", "#slider-fc8", "#top1", "#figure-svg"] {
        assert!(
            in_view(&browser, css).await,
            "{css} is not in view at 1280 x 800"
        );
    }
    // The network's blocks carry the loaded model's shapes and weight counts.
    let size = browser.text("[data-layer=conv1] .layer-size").await;
    assert!(
        size.contains("×3×11×11") && size.contains("weights"),
        "{size}"
    );
    let fc8 = browser.text("[data-layer=fc8] .layer-size").await;
    assert!(fc8.contains("1000×"), "{fc8}");
    // Numbers in words.
    let rel = browser.text("#top1-rel").await;
    assert!(
        rel.starts_with("keeps 100% of the intact model's top-1"),
        "{rel}"
    );
    // The introduction and the path through the paper.
    browser.click("#intro summary").await;
    let intro = browser.text("#intro").await;
    assert!(
        intro.contains("Cheney") && intro.contains("DEMO"),
        "{intro}"
    );
    let link = browser.attr("#intro a", "href").await;
    assert_eq!(link, "https://arxiv.org/abs/1703.08245");
    browser.click("#try-this summary").await;
    browser.screenshot("desktop-guide").await;
    browser.click("#try-3").await;
    browser.settled().await;
    assert!(browser.settings_in_url().await.contains("conv1=drop:0.7"));
    // The damaged block shows how much is gone.
    let gone = browser.attr("[data-layer=conv1] .gone-bar", "style").await;
    assert!(gone.contains("70"), "{gone}");
    browser.screenshot("desktop-conv1-damaged").await;
    browser.click("#reset").await;
    browser.settled().await;

    // Phone width: after a keyboard move of a slider far down the page, top-1 is in view.
    browser
        .client
        .set_window_size(500 + dw, 900 + dh)
        .await
        .unwrap();
    page_up(&browser, "#slider-fc7").await;
    assert!(browser.settings_in_url().await.contains("fc7=drop:0.1"));
    assert!(
        in_view(&browser, "#slider-fc7").await,
        "the slider moved is in view"
    );
    assert!(
        in_view(&browser, "#top1").await,
        "top-1 scrolled out of view at 500 px"
    );
    browser.screenshot("phone-slider-moved").await;
    browser
        .client
        .execute(
            "document.getElementById('figure-svg').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("phone-figure").await;
    // The look inside and a comparison, at phone width too.
    inside_current(&browser).await;
    scroll_into_view(&browser, "inside").await;
    browser.screenshot("phone-inside").await;
    // Centred, as a visitor scrolls it: the numbers, sticky at the top, cover what is
    // under them.
    let centre = "document.getElementById('pin').scrollIntoView({block: 'center'})";
    browser.client.execute(centre, vec![]).await.unwrap();
    browser.click("#pin").await;
    page_up(&browser, "#slider-fc7").await;
    let centre = "document.getElementById('compare').scrollIntoView({block: 'center'})";
    browser.client.execute(centre, vec![]).await.unwrap();
    browser.screenshot("phone-compare").await;
    browser.client.set_window_size(1280, 800).await.unwrap();
    browser.client.close().await.unwrap();
}

/// Scrolls the element with id `id` to the top of the window (for a screenshot).
async fn scroll_into_view(browser: &Browser, id: &str) {
    let script = format!("document.getElementById('{id}').scrollIntoView()");
    browser.client.execute(&script, vec![]).await.unwrap();
}

/// Waits until "A look inside" shows conv1 as the URL has it.
async fn inside_current(browser: &Browser) {
    let start = Instant::now();
    while browser.attr("#inside", "data-current").await != "true" {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the look inside never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until "A look inside" shows conv1 as the URL has it, then returns the pixels at
/// `points` of each picture named, read back through a canvas (RGB).
async fn inside_pixels(
    browser: &Browser,
    pictures: &[&str],
    points: &[(usize, usize)],
) -> Vec<Vec<[u8; 3]>> {
    inside_current(browser).await;
    let start = Instant::now();
    let read = "const [css, points] = arguments; const img = document.querySelector(css); \
        if (!img || !img.complete || !img.naturalWidth) return null; \
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight; \
        const g = c.getContext('2d'); g.drawImage(img, 0, 0); \
        return points.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));";
    let mut out = Vec::new();
    for css in pictures {
        loop {
            let value = browser
                .client
                .execute(read, vec![json!(css), json!(points)])
                .await
                .unwrap();
            if let Ok(pixels) = serde_json::from_value::<Vec<[u8; 3]>>(value) {
                out.push(pixels);
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{css} never loaded"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out
}

/// The grid of tiles a picture of the look inside is laid out in, as the page says.
async fn picture_grid(browser: &Browser, css: &str) -> lesion::eval::inside::Grid {
    let number = async |name: &str| browser.attr(css, name).await.parse::<usize>().unwrap();
    lesion::eval::inside::Grid {
        tiles: number("data-tiles").await,
        cols: number("data-cols").await,
        tile_w: number("data-tile-w").await,
        tile_h: number("data-tile-h").await,
    }
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn conv1s_filters_follow_conv1_and_are_drawn_from_the_damaged_weights() {
    use lesion::eval::inside::filter_pixel;
    let browser = Browser::start().await;
    let base = "?v=1&backend=cpu&images=10&seed=5";
    browser.open(base).await;
    inside_current(&browser).await;
    let grid = picture_grid(&browser, "#filters-now").await;
    // A spread of filters and positions in each.
    let taps: Vec<(usize, usize, usize)> = (0..grid.tiles)
        .step_by(3)
        .flat_map(|f| [(f, f % grid.tile_w, (f * 7) % grid.tile_h), (f, 5, 5)])
        .collect();
    let points: Vec<(usize, usize)> = taps.iter().map(|&(f, x, y)| grid.pixel(f, x, y)).collect();
    let scale: f32 = browser
        .attr(".inside-pictures", "data-filter-scale")
        .await
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let export = |name: &str, sets: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["export", "--weights"];
        let weights = site().join("weights/demo");
        args.push(weights.to_str().unwrap());
        args.extend(["--seed", "5", "--out", out.to_str().unwrap()]);
        args.extend(sets.iter().flat_map(|s| ["--set", *s]));
        common::lesion_ok(&args);
        let (shape, values) = common::read_tensor(&out, "features.0.weight");
        assert_eq!(shape[1..], [3, grid.tile_h, grid.tile_w]);
        let values: Vec<f32> = values.iter().map(|v| *v as f32).collect();
        taps.iter()
            .map(|&(f, x, y)| {
                let plane = grid.tile_h * grid.tile_w;
                let at = f * 3 * plane + y * grid.tile_w + x;
                filter_pixel(
                    [values[at], values[at + plane], values[at + 2 * plane]],
                    scale,
                )
            })
            .collect::<Vec<_>>()
    };
    let pictures = [
        "#filters-intact",
        "#filters-now",
        "#maps-intact",
        "#maps-now",
    ];
    let intact = inside_pixels(&browser, &pictures, &points).await;
    assert_eq!(
        intact[0],
        export("intact.safetensors", &[]),
        "drawn from the weights"
    );
    assert_eq!(intact[1], intact[0], "intact: the same filters");
    scroll_into_view(&browser, "inside").await;
    browser.screenshot("inside-intact").await;
    // fc8 damaged: conv1's pictures do not change.
    browser.open(&format!("{base}&fc8=drop:0.9")).await;
    let fc8 = inside_pixels(&browser, &pictures, &points).await;
    assert_eq!(
        fc8, intact,
        "fc8's damage leaves conv1's filters and maps as they were"
    );
    // conv1 damaged, each kind: the filters are the exported damaged weights.
    for set in [
        "conv1=drop:0.5",
        "conv1=prune:0.7",
        "conv1=noise:1",
        "conv1=bitflip:0.001",
        "conv1=units:0.5",
    ] {
        browser.open(&format!("{base}&{set}")).await;
        let damaged = inside_pixels(&browser, &pictures, &points).await;
        let expected = export("damaged.safetensors", &[set]);
        assert_eq!(
            damaged[1], expected,
            "{set}: drawn from the damaged weights `lesion export` writes"
        );
        assert_eq!(
            damaged[0], intact[0],
            "{set}: the intact filters stay beside them"
        );
        let changed = damaged[1]
            .iter()
            .zip(&intact[1])
            .filter(|(a, b)| a != b)
            .count();
        assert!(changed > 0, "{set}: the filters change");
        if set.starts_with("conv1=drop") {
            assert_ne!(damaged[3], intact[3], "{set}: the feature maps change");
            scroll_into_view(&browser, "inside").await;
            browser.screenshot("inside-conv1-drop").await;
        }
    }
    // Another image: its own maps, and its top-5 before and after side by side.
    let maps = picture_grid(&browser, "#maps-intact").await;
    let points: Vec<(usize, usize)> = (0..maps.tiles)
        .map(|t| maps.pixel(t, (t * 13) % maps.tile_w, (t * 29) % maps.tile_h))
        .collect();
    let before = inside_pixels(&browser, &["#maps-intact"], &points).await;
    let select = browser
        .client
        .find(Locator::Css("#inside-image"))
        .await
        .unwrap();
    select.select_by_value("3").await.unwrap();
    let start = Instant::now();
    while browser.attr(".inside-pictures", "data-image").await != "3" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "image 3 never drawn"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = inside_pixels(&browser, &["#maps-intact"], &points).await;
    assert_ne!(before, after, "another image, other maps");
    for side in ["#top5-intact", "#top5-now"] {
        let items = browser
            .client
            .find_all(Locator::Css(&format!("{side} li")))
            .await
            .unwrap();
        assert_eq!(items.len(), 5, "{side}: five classes");
    }
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn a_pinned_comparison_survives_a_reload_of_its_link() {
    use fantoccini::key::Key;
    let browser = Browser::start().await;
    let a_args = ["--images", "10", "--seed", "3", "--set", "conv1=drop:0.5"];
    let a_cli = cli_numbers(&cli_eval(&a_args));
    browser
        .open("?v=1&backend=cpu&images=10&seed=3&conv1=drop:0.5")
        .await;
    assert_eq!(browser.numbers().await, a_cli);
    browser.click("#pin").await;
    // B: conv1's slider moved on by the keyboard.
    let slider = browser
        .client
        .find(Locator::Css("#slider-conv1"))
        .await
        .unwrap();
    slider.send_keys(&Key::PageUp.to_string()).await.unwrap();
    browser.settled().await;
    let url = browser.client.current_url().await.unwrap();
    let pin: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "pin")
        .map(|(_, v)| v.into())
        .collect();
    assert_eq!(pin, vec!["seed=3 conv1=drop:0.5".to_string()], "{url}");
    let b_setting = browser.settings_in_url().await;
    let b_set = b_setting
        .split('&')
        .find(|p| p.starts_with("conv1="))
        .unwrap()
        .to_string();
    let b_cli = cli_numbers(&cli_eval(&[
        "--images", "10", "--seed", "3", "--set", &b_set,
    ]));
    let read = async |browser: &Browser| {
        let start = Instant::now();
        while browser.client.find(Locator::Css("#a-top1")).await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(120), "A never came");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut a = [0.0; 3];
        let mut b = [0.0; 3];
        for (i, id) in ["top1", "top5", "agreement"].into_iter().enumerate() {
            a[i] = browser
                .attr(&format!("#a-{id}"), "data-value")
                .await
                .parse()
                .unwrap();
            b[i] = browser
                .attr(&format!("#b-{id}"), "data-value")
                .await
                .parse()
                .unwrap();
        }
        (a, b, browser.attr("#differ", "data-count").await)
    };
    let (a, b, differ) = read(&browser).await;
    assert_eq!(a, a_cli, "A: the pinned numbers");
    assert_eq!(b, b_cli, "B: {b_set} as `lesion eval` computes it");
    scroll_into_view(&browser, "compare").await;
    browser.screenshot("compare").await;
    // The link, opened again: A is computed by the worker this time.
    browser.reopen(url.as_str()).await;
    assert_eq!(
        read(&browser).await,
        (a, b, differ),
        "the same comparison after a reload"
    );
    browser.click("#unpin").await;
    let start = Instant::now();
    while browser
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("pin=")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "unpinning leaves the link"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.client.close().await.unwrap();
}
