//! The browser tests' harness: the built site served by `tests/fixtures/serve.py` (with
//! faults when asked), headless Chromium driven over WebDriver, and the page read back.
//! Shared by `page.rs` (the tests) and `page_bench.rs` (the page's benchmark).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::common;

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn site() -> PathBuf {
    let site = PathBuf::from(std::env::var("LESION_SITE").unwrap_or_else(|_| "dist".into()));
    assert!(
        site.join("index.html").is_file(),
        "no built site at {} (run trunk build)",
        site.display()
    );
    site
}

pub async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A static file server over the site, and Chromium with WebGPU (SwiftShader when no GPU).
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub log: tempfile::NamedTempFile,
    _server: Killed,
    _driver: Killed,
}

impl Browser {
    pub async fn start() -> Self {
        Self::start_in(site(), "").await
    }

    /// Serves `dir` and opens pages under `http://127.0.0.1:PORT/{prefix}`.
    pub async fn start_in(dir: PathBuf, prefix: &str) -> Self {
        Self::serve(dir, prefix, None).await
    }

    /// As `start_in`, with the faults and caching that `rules` (a JSON file the test may
    /// change while serving) asks of `tests/fixtures/serve.py`.
    pub async fn serve(dir: PathBuf, prefix: &str, rules: Option<&std::path::Path>) -> Self {
        let http = free_port();
        // The server's request log: what the browser fetched, wherever it fetched it from
        // (the page or its worker).
        let log = tempfile::NamedTempFile::new().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/serve.py");
        let server = Command::new("python3")
            .arg(script)
            .arg(http.to_string())
            .arg(&dir)
            .args(rules)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("python3 serves the site");
        let driver_port = free_port();
        let driver =
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver runs");
        let (server, driver) = (Killed(server), Killed(driver));
        wait_for_port(http).await;
        wait_for_port(driver_port).await;
        let mut caps = serde_json::Map::new();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--enable-unsafe-webgpu",
            "--window-size=1280,800",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .map(String::from)
        .into();
        // More arguments, space-separated: e.g. a trace of the page and its worker with
        // `--trace-startup=devtools.timeline,disabled-by-default-v8.cpu_profiler
        // --trace-startup-format=json --trace-startup-file=PATH` (see the README).
        if let Ok(more) = std::env::var("LESION_CHROME_ARGS") {
            args.extend(more.split_whitespace().map(String::from));
        }
        caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
        // WebDriver here is plain HTTP on loopback.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            base: format!("http://127.0.0.1:{http}/{prefix}"),
            log,
            _server: server,
            _driver: driver,
        }
    }

    /// Hands `path` to the page's weights file picker.
    pub async fn pick_file(&self, path: &std::path::Path) {
        let input = self
            .client
            .find(Locator::Css("#weights-file"))
            .await
            .unwrap();
        input.send_keys(path.to_str().unwrap()).await.unwrap();
    }

    /// How many GET requests for paths containing `needle` the server has answered.
    pub fn requests(&self, needle: &str) -> usize {
        std::fs::read_to_string(self.log.path())
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"GET ") && l.contains(needle))
            .count()
    }

    /// Waits (at most ten minutes) until the page shows numbers or an error.
    pub async fn loaded(&self) {
        self.client
            .wait()
            .at_most(Duration::from_secs(600))
            .for_element(Locator::Css("#metrics, [data-state=error]"))
            .await
            .expect("the page finishes loading");
    }

    /// Clicks the element `css` names.
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css} in the page"));
        element.click().await.unwrap();
    }

    /// Navigates to `query` under the site's address, without waiting for anything.
    pub async fn go(&self, query: &str) {
        self.client
            .goto(&format!("{}{query}", self.base))
            .await
            .unwrap();
    }

    /// Opens `query` and waits until the page shows results (or an error).
    pub async fn open(&self, query: &str) -> Duration {
        let start = Instant::now();
        self.go(query).await;
        self.loaded().await;
        if self.attr("main > section", "data-state").await == "ready" {
            self.settled().await;
        }
        start.elapsed()
    }

    /// Opens a full URL (e.g. one the page wrote) and waits until it has settled.
    pub async fn reopen(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.client
            .wait()
            .at_most(Duration::from_secs(600))
            .for_element(Locator::Css("#metrics"))
            .await
            .unwrap();
        self.settled().await;
    }

    /// Waits until the numbers on screen belong to the settings in the URL and nothing
    /// is being computed; returns how long that took.
    pub async fn settled(&self) -> Duration {
        let start = Instant::now();
        loop {
            let computing = self.attr("#status", "data-computing").await;
            // No numbers yet (e.g. a new model is loading) is not settled either.
            let shown = match self.client.find(Locator::Css("#metrics")).await {
                Ok(metrics) => metrics
                    .attr("data-settings")
                    .await
                    .unwrap()
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            let url = self.settings_in_url().await;
            if computing == "false" && shown == url {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "the page never settled: shows {shown}, URL says {url}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The damage part of the current URL (`?v=1&seed=..&conv1=..`), page keys and the pin
    /// removed.
    pub async fn settings_in_url(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        let pairs: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| !["model", "backend", "images", "pin"].contains(&k.as_ref()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("?{}", pairs.join("&"))
    }

    /// top-1, top-5 and agreement as shown.
    pub async fn numbers(&self) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (i, id) in ["#top1", "#top5", "#agreement"].into_iter().enumerate() {
            out[i] = self.attr(id, "data-value").await.parse().unwrap();
        }
        out
    }

    pub async fn attr(&self, css: &str, name: &str) -> String {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css} in the page"));
        el.attr(name).await.unwrap().unwrap_or_default()
    }

    pub async fn prop(&self, css: &str, name: &str) -> String {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css} in the page"));
        el.prop(name).await.unwrap().unwrap_or_default()
    }

    /// Saves a screenshot of the page under `target/screenshots/`, for review.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Copies the built site's files into the folder `dir`.
fn copy_site_into(dir: &std::path::Path) {
    let status = Command::new("cp")
        .arg("-rL")
        .arg(format!("{}/.", site().display()))
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A copy of the built site that a test may change (a redeploy) and serve with faults.
pub fn site_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_site_into(dir.path());
    dir
}

pub fn write_rules(path: &std::path::Path, rules: serde_json::Value) {
    std::fs::write(path, rules.to_string()).unwrap();
}

impl Browser {
    /// Opens `query` and waits (at most `limit`) for the error view; returns its text.
    pub async fn error_within(&self, query: &str, limit: Duration) -> String {
        let start = Instant::now();
        self.go(query).await;
        let error = self
            .client
            .wait()
            .at_most(limit)
            .for_element(Locator::Css("[data-state=error]"))
            .await
            .unwrap_or_else(|_| panic!("{query}: no error view within {limit:?}"));
        let text = error.text().await.unwrap();
        println!("{query}: error view after {:.1?}: {text}", start.elapsed());
        text
    }

    /// The URLs this origin keeps in Cache Storage for weights.
    pub async fn cached_weights(&self) -> Vec<String> {
        let script = "const done = arguments[arguments.length - 1];
            caches.open('lesion-weights-v1').then((c) => c.keys())
                .then((keys) => done(keys.map((r) => r.url)), (e) => done(['error: ' + e]));";
        let keys = self.client.execute_async(script, vec![]).await.unwrap();
        serde_json::from_value(keys).unwrap()
    }
}
/// `lesion eval --json` on the sample images with the weights in `dir`, and `extra`.
pub fn cli_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["eval", "--json", "--samples", "public/samples", "--weights"];
    args.push(dir.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = common::lesion_ok(&args);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// top-1, top-5 and agreement from `lesion eval --json`, as `Browser::numbers` reads them.
pub fn cli_numbers(json: &serde_json::Value) -> [f64; 3] {
    ["top1", "top5", "agreement"].map(|k| json[k].as_f64().unwrap())
}

/// [`cli_json`]'s top-1, top-5 and agreement.
pub fn cli_eval_with(dir: &std::path::Path, extra: &[&str]) -> [f64; 3] {
    cli_numbers(&cli_json(dir, extra))
}

/// A copy of the built site as the folder `lesion/` of a bigger static site, with the
/// full-size model (the demo zero-padded to torchvision's widths, `demo-full`) installed
/// beside the demo in 20 MiB shards, as a deploy of the official weights would be.
pub fn full_size_site() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("lesion");
    std::fs::create_dir(&copy).unwrap();
    copy_site_into(&copy);
    let weights = copy.join("weights");
    common::lesion_ok(&[
        "weights",
        "install",
        "--padded-demo",
        "--dir",
        weights.to_str().unwrap(),
    ]);
    (root, weights.join("demo-full"))
}

impl Browser {
    /// Waits (at most `limit`) for the page to ask before downloading; returns the question.
    pub async fn question_within(&self, limit: Duration) -> String {
        let ask = self
            .client
            .wait()
            .at_most(limit)
            .for_element(Locator::Css("[data-state=ask]"))
            .await
            .expect("the page asks before a large download");
        ask.text().await.unwrap()
    }

    /// Agrees to the download and waits until the page has settled on its numbers.
    pub async fn agree(&self) -> Duration {
        let start = Instant::now();
        self.click("#download").await;
        self.loaded().await;
        assert_eq!(
            self.attr("main > section", "data-state").await,
            "ready",
            "{}",
            self.text("main").await
        );
        self.settled().await;
        start.elapsed()
    }
}
