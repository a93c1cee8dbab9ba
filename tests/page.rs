//! The built site in real headless Chromium (driven over WebDriver), against the native CLI.
//!
//! Needs `trunk build` output with the demo model installed, and chromedriver: `./dev test`
//! provides both and runs these with `--ignored`. `LESION_SITE` names the built site
//! (default `dist`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn site() -> PathBuf {
    let site = PathBuf::from(std::env::var("LESION_SITE").unwrap_or_else(|_| "dist".into()));
    assert!(
        site.join("index.html").is_file(),
        "no built site at {} (run trunk build)",
        site.display()
    );
    site
}

async fn wait_for_port(port: u16) {
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
struct Browser {
    client: Client,
    base: String,
    _server: Killed,
    _driver: Killed,
}

impl Browser {
    async fn start() -> Self {
        // Two TLS backends are linked (ureq's and fantoccini's): name one. WebDriver here is
        // plain HTTP on loopback, so it only has to exist.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let site = site();
        let http = free_port();
        let server = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &http.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&site)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--window-size=1280,800",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"
            ]}),
        );
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            base: format!("http://127.0.0.1:{http}/"),
            _server: server,
            _driver: driver,
        }
    }

    /// Opens `query` and waits until the page shows results (or an error).
    async fn open(&self, query: &str) -> Duration {
        let start = Instant::now();
        self.client
            .goto(&format!("{}{query}", self.base))
            .await
            .unwrap();
        self.client
            .wait()
            .at_most(Duration::from_secs(600))
            .for_element(Locator::Css("[data-state=ready], [data-state=error]"))
            .await
            .expect("the page finishes loading");
        start.elapsed()
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css} in the page"));
        el.attr(name).await.unwrap().unwrap_or_default()
    }

    /// Saves a screenshot of the page under `target/screenshots/`, for review.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn cli_top1(weights: &std::path::Path) -> f64 {
    let out = common::lesion_ok(&[
        "eval".as_ref(),
        "--json".as_ref(),
        "--samples".as_ref(),
        "public/samples".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["top1"].as_f64().unwrap()
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn page_shows_the_demo_models_top1_equal_to_the_cli_on_webgpu_and_cpu() {
    let expected = cli_top1(&site().join("weights/demo"));
    let browser = Browser::start().await;
    for (query, gpu, shot) in [
        ("?model=demo", "true", "intact-webgpu"),
        ("?model=demo&backend=cpu", "false", "intact-cpu"),
    ] {
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
            "{query}: loaded and classified 100 images in {took:.1?}; top-1 {top1} (CLI {expected}); {}",
            browser.text("#backend").await
        );
        assert_eq!(top1, expected, "{query}: page top-1 equals `lesion eval`");
        let cards = browser
            .client
            .find_all(Locator::Css("#grid figure"))
            .await
            .unwrap();
        assert_eq!(cards.len(), 100);
        browser.screenshot(shot).await;
    }
    browser.client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs the built site and chromedriver: run by ./dev test"]
async fn an_unknown_model_in_the_link_is_named_and_the_default_shown() {
    let browser = Browser::start().await;
    browser
        .open("?model=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(browser.attr("main > section", "data-state").await, "ready");
    let notice = browser.text(".notice").await;
    assert!(notice.contains("not installed"), "{notice}");
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
