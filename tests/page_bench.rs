//! The page's benchmark at full size: memory and speed of the built site in headless
//! Chromium, on the CPU backend, with the full-size stand-in model (`demo-full`: the demo
//! AlexNet zero-padded to torchvision's 61.1 M parameters, in 20 MiB shards). Run by
//! `./dev bench-page`; it prints figures and checks only that the page works.
//!
//! Speed is given as milliseconds and as ratios against the page's own full evaluation of
//! the same images, measured in the same run. Memory: the worker's and the page's
//! WebAssembly memory (as they report it), the page's JS heap, and the resident memory of
//! Chromium's renderer processes (page and worker live there) and of all of Chromium.
#![cfg(not(target_arch = "wasm32"))]

mod browser;
mod common;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::key::Key;

use browser::*;
use lesion::model::Layer;

/// Kilobytes from a `/proc/PID/status` or `smaps_rollup` line such as `VmRSS:  1234 kB`.
fn kb(text: &str, key: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident bytes of a process's anonymous executable mappings: code compiled at run time
/// (WebAssembly and JavaScript).
fn compiled_code(pid_dir: &std::path::Path) -> u64 {
    let smaps = std::fs::read_to_string(pid_dir.join("smaps")).unwrap_or_default();
    let mut total = 0;
    let mut counting = false;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            // A mapping's header: range, permissions, offset, device, inode, path.
            let (perms, inode) = (fields.get(1), fields.get(4));
            counting = perms.is_some_and(|p| p.contains('x'))
                && inode == Some(&"0")
                && fields.get(5).is_none_or(|p| p.starts_with("[anon"));
        } else if counting && line.starts_with("Rss:") {
            total += kb(line, "Rss:") * 1024;
        }
    }
    total
}

/// Resident memory of Chromium's processes: (largest renderer RSS, its file-backed part
/// (Chromium's own code and data, mapped from disk and shared with the other processes),
/// its compiled code, all renderers' RSS, all of Chromium's proportional set size), in
/// bytes.
fn chromium_memory() -> (u64, u64, u64, u64, u64) {
    let (mut largest, mut file, mut code, mut renderers, mut all) = (0, 0, 0, 0, 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains("chrom") || cmdline.contains("chromedriver") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let rollup = std::fs::read_to_string(dir.join("smaps_rollup")).unwrap_or_default();
        all += kb(&rollup, "Pss:") * 1024;
        if cmdline.contains("--type=renderer") {
            let rss = kb(&status, "VmRSS:") * 1024;
            if rss > largest {
                largest = rss;
                file = kb(&status, "RssFile:") * 1024;
                code = compiled_code(&dir);
            }
            renderers += rss;
        }
    }
    (largest, file, code, renderers, all)
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// Prints one line of memory figures, under `case`; returns the renderer's RSS.
async fn memory(browser: &Browser, case: &str) -> u64 {
    // Settle the garbage collector's view as far as a page can: wait a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let worker: u64 = browser
        .attr("#status", "data-worker-memory")
        .await
        .parse()
        .unwrap_or(0);
    let page: u64 = browser
        .attr("#status", "data-page-memory")
        .await
        .parse()
        .unwrap_or(0);
    let heap = browser
        .client
        .execute(
            "return performance.memory ? performance.memory.usedJSHeapSize : 0;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(0.0) as u64;
    let (renderer, file, code, renderers, all) = chromium_memory();
    println!(
        "memory  {case:<44} worker wasm {:>7}  page wasm {:>6}  page JS heap {:>6}  renderer RSS {:>7} (file-backed {:>6}, compiled code {:>6}; all renderers {:>7})  Chromium PSS {:>7}",
        mb(worker),
        mb(page),
        mb(heap),
        mb(renderer),
        mb(file),
        mb(code),
        mb(renderers),
        mb(all)
    );
    renderer
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The page's own figure for the intact evaluation of every image (ms).
async fn full_evaluation_ms(browser: &Browser) -> f64 {
    let line = browser.text("#backend").await;
    let ms = line
        .rsplit_once(" in ")
        .and_then(|(_, t)| t.trim_end_matches(" ms").parse().ok())
        .unwrap_or(f64::NAN);
    assert!(ms.is_finite(), "no evaluation time in {line:?}");
    ms
}

/// Presses `key` on `layer`'s slider and waits until the page has settled.
async fn press(browser: &Browser, layer: Layer, key: Key) {
    let slider = browser
        .client
        .find(Locator::Css(&format!("#slider-{}", layer.name())))
        .await
        .unwrap();
    slider.send_keys(&key.to_string()).await.unwrap();
    browser.settled().await;
}

/// The worker's own time for the settings on screen: "Updated in N ms" in the status line
/// (NaN for a remembered result).
async fn worker_ms(browser: &Browser) -> f64 {
    let status = browser.text("#status").await;
    status
        .strip_prefix("Updated in ")
        .and_then(|rest| rest.split_once(" ms"))
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or(f64::NAN)
}

/// One layer's slider-to-numbers latency, as the page measures it (request to results),
/// and its parts: the request's way to the worker (measured across the page's and the
/// worker's clocks), its wait there (for work already running, a chart point, to reach a
/// break), the worker's evaluation; the rest is the answer's way back. Medians, in ms.
struct Latency {
    layer: Layer,
    ms: f64,
    worker: f64,
    waited: f64,
    to_worker: f64,
    /// Between one press and the next (the benchmark reads the page in between): chart
    /// points start once the settings have been left alone for the worker's `QUIET_MS`.
    apart: f64,
}

/// [`Latency`] for `moves` PageUp presses on each layer's slider, fc8 first (so no move
/// restores an earlier layer).
async fn latencies(browser: &Browser, moves: usize) -> Vec<Latency> {
    let mut out = Vec::new();
    for layer in Layer::ALL.iter().rev() {
        let (mut times, mut own, mut waited, mut to) = (vec![], vec![], vec![], vec![]);
        let (mut apart, mut last) = (Vec::new(), None::<Instant>);
        for _ in 0..moves {
            let now = Instant::now();
            if let Some(last) = last {
                apart.push((now - last).as_secs_f64() * 1e3);
            }
            last = Some(now);
            press(browser, *layer, Key::PageUp).await;
            let ms = |name: &'static str| async move {
                let value = browser.attr("#status", name).await;
                value.parse::<f64>().unwrap()
            };
            times.push(ms("data-latency-ms").await);
            waited.push(ms("data-waited-ms").await);
            to.push(ms("data-to-worker-ms").await);
            own.push(worker_ms(browser).await);
        }
        out.push(Latency {
            layer: *layer,
            ms: median(times),
            worker: median(own),
            waited: median(waited),
            to_worker: median(to),
            apart: median(apart),
        });
    }
    out.reverse();
    out
}

fn print_latencies(images: &str, full: f64, times: &[Latency]) {
    println!("speed   slider to numbers, {images} (the page's full evaluation: {full:.0} ms)");
    for (i, t) in times.iter().enumerate() {
        // A change to layer k re-runs k..fc8: the difference to the next layer's time is
        // what layer k itself costs (its damage, upload and run).
        let own = t.ms - times.get(i + 1).map_or(0.0, |next| next.ms);
        println!(
            "speed     {:<5} {:>8.0} ms  (full / this = {:>5.1}x; this layer's own part {own:>6.0} ms, {:>4.1}% of a conv1 change; to the worker {:>4.0} ms, waiting there {:>4.0} ms, its evaluation {:>6.0} ms, the rest {:>4.0} ms; presses {:>4.0} ms apart)",
            t.layer.name(),
            t.ms,
            full / t.ms,
            100.0 * own / times[0].ms,
            t.to_worker,
            t.waited,
            t.worker,
            t.ms - t.to_worker - t.waited - t.worker,
            t.apart
        );
    }
}

#[tokio::test]
#[ignore = "a benchmark, run by ./dev bench-page"]
async fn full_size_page_memory_and_speed() {
    let (root, _weights) = full_size_site();
    let browser = Browser::start_in(root.path().to_path_buf(), "lesion/").await;
    let all = "?model=demo-full&backend=cpu";
    let subset = "?model=demo-full&backend=cpu&images=20";

    // First visit: the page asks, then downloads 122 MB from loopback.
    let start = Instant::now();
    browser.go(all).await;
    browser.question_within(Duration::from_secs(60)).await;
    browser.agree().await;
    println!(
        "speed   first visit (ask, download from loopback, 100 images): {:.1?}",
        start.elapsed()
    );
    let loaded = memory(&browser, "after loading the full-size model").await;

    // Later visits: the weights come from Cache Storage.
    for (query, what) in [(all, "100 images"), (subset, "20 images")] {
        let mut times = Vec::new();
        for _ in 0..3 {
            times.push(browser.open(query).await.as_secs_f64() * 1e3);
        }
        println!(
            "speed   time to first numbers, weights cached, {what}: {:.0} ms (median of 3: {times:.0?})",
            median(times.clone())
        );
    }

    // Slider moves, every layer, on all images and on 20.
    browser.open(all).await;
    let full = full_evaluation_ms(&browser).await;
    let times = latencies(&browser, 3).await;
    print_latencies("100 images", full, &times);
    let after_24 = memory(&browser, "after 24 slider moves (100 images)").await;
    // 26 more, across all layers: memory must not grow with the number of moves.
    for i in 0..26 {
        press(&browser, Layer::ALL[i % 8], Key::Left).await;
    }
    let after_50 = memory(&browser, "after 50 slider moves (100 images)").await;
    println!(
        "memory  renderer RSS: loaded {}, after 24 moves {}, after 50 moves {}",
        mb(loaded),
        mb(after_24),
        mb(after_50)
    );

    browser.open(subset).await;
    let full = full_evaluation_ms(&browser).await;
    let times = latencies(&browser, 3).await;
    print_latencies("20 images", full, &times);

    // Ten share links, one after another in the same tab.
    let mut renderer = Vec::new();
    for i in 1..=10 {
        let link = format!("?v=1&seed={i}&fc7=drop:0.{i:02}&model=demo-full&backend=cpu");
        browser.open(&link).await;
        assert_eq!(browser.attr("main > section", "data-state").await, "ready");
        renderer.push(memory(&browser, &format!("after share link {i} of 10")).await);
    }
    println!(
        "memory  renderer RSS over ten share links: {:?}",
        renderer.iter().map(|b| mb(*b)).collect::<Vec<_>>()
    );
    let (_, _, _, _, chromium) = chromium_memory();
    println!("memory  all of Chromium at the end (PSS): {}", mb(chromium));
    browser.client.close().await.unwrap();
}
