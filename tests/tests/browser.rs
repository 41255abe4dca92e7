//! The HTML page in a real browser: headless Chromium loads it from a
//! loopback server, with the renderer's `Content-Security-Policy`, and the
//! page renders styled, with its text.
//!
//! Styled is shown by comparing screenshots of three pages served with the
//! same headers: the page; the page without its `<style>`; and the page
//! with one byte of its style changed, which the policy's hash no longer
//! allows. The first must differ from the second (the style applied under
//! the policy); the third must equal the second (the policy is enforced,
//! so it is the hash that lets the style in).
//!
//! Needs `chromium` (Debian's package). Without it the test follows
//! `validator_missing`: it fails under CI and skips, saying so, elsewhere.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway_error::{
    Format, GatewayError, Policy, RenderContext, RetryAfter, ServiceUnavailable, render,
};
use gateway_error_tests::validators::validator_missing;
use http::{Method, Response};

/// How long one Chromium run may take.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

fn chromium_available() -> bool {
    Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The page under test: a 503 with a retry hint, an upstream name and a
/// request id, for a GET.
fn page() -> Response<Bytes> {
    let err: GatewayError = ServiceUnavailable::upstream("product-service")
        .with_retry_after(RetryAfter::from_secs(120))
        .with_request_id("req-browser-1")
        .into();
    let policy = Policy::new().with_upstream_names(true);
    let ctx = RenderContext::new()
        .with_format(Format::Html)
        .with_policy(&policy)
        .with_method(&Method::GET);
    render(&err, &ctx)
}

/// The three bodies, by path, each served with the page's own headers.
struct Site {
    head: String,
    bodies: Vec<(&'static str, String)>,
}

fn site() -> Site {
    let response = page();
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .starts_with("default-src 'none'; style-src 'sha256-")
    );
    let body = std::str::from_utf8(response.body())
        .expect("UTF-8")
        .to_owned();
    let start = body.find("<style>").expect("a style");
    let end = body.find("</style>\n").expect("its end") + "</style>\n".len();
    let unstyled = format!("{}{}", &body[..start], &body[end..]);
    // One byte of the style changed: `--bg:#f4...` becomes `--bg:#f5...`.
    let tampered = body.replacen("--bg:#f4", "--bg:#f5", 1);
    assert_ne!(tampered, body);
    let mut head = String::from("HTTP/1.1 200 OK\r\nconnection: close\r\n");
    for (name, value) in response.headers() {
        if name != "content-length" {
            head.push_str(&format!(
                "{name}: {}\r\n",
                value.to_str().expect("visible ASCII")
            ));
        }
    }
    Site {
        head,
        bodies: vec![
            ("/page", body),
            ("/unstyled", unstyled),
            ("/tampered", tampered),
        ],
    }
}

/// Serves `site` on 127.0.0.1 until the test process ends.
fn serve(site: Site) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let site = Arc::new(site);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let site = Arc::clone(&site);
            std::thread::spawn(move || {
                let _ = answer(stream, &site);
            });
        }
    });
    addr
}

fn answer(mut stream: TcpStream, site: &Site) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    match site.bodies.iter().find(|(p, _)| *p == path) {
        Some((_, body)) => write!(
            stream,
            "{}content-length: {}\r\n\r\n{body}",
            site.head,
            body.len()
        ),
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
    }
}

/// A new empty directory under the system's temporary directory.
fn fresh_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gateway-error-browser-{what}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

/// Runs headless Chromium on `url` with `args`, bounded in time; returns
/// its standard output.
fn chromium(url: &str, args: &[&str]) -> Vec<u8> {
    let profile = fresh_dir("profile");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=800,700",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "chromium {args:?} {url}: {status}");
            break;
        }
        if started.elapsed() > CHROMIUM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} {url}: took longer than {CHROMIUM_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    reader.join().expect("reader")
}

fn screenshot(url: &str, dir: &Path, name: &str) -> Vec<u8> {
    let file = dir.join(format!("{name}.png"));
    chromium(url, &[&format!("--screenshot={}", file.display())]);
    let png = std::fs::read(&file).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    png
}

#[test]
fn the_page_renders_styled_under_its_content_security_policy() {
    if !chromium_available() {
        validator_missing("chromium", "install it (apt-get install chromium)");
        return;
    }
    let addr = serve(site());
    let url = |path: &str| format!("http://{addr}{path}");

    // The text, as the browser parsed it.
    let dom = String::from_utf8(chromium(&url("/page"), &["--dump-dom"])).expect("UTF-8");
    for text in [
        "<h1>503 Service Unavailable</h1>",
        "<span class=\"n\">product-service</span><span class=\"s\">Unavailable</span>",
        "The service behind this site is not available at the moment.",
        "Try again in about 2 minutes: reload this page.",
        "<code>req-browser-1</code>",
    ] {
        assert!(dom.contains(text), "{text} not in\n{dom}");
    }

    let dir = fresh_dir("screenshots");
    let styled = screenshot(&url("/page"), &dir, "styled");
    let unstyled = screenshot(&url("/unstyled"), &dir, "unstyled");
    let tampered = screenshot(&url("/tampered"), &dir, "tampered");
    // Compared as bytes, not printed: Chromium writes the same PNG for the
    // same pixels.
    assert!(
        styled != unstyled,
        "the page looks as it does without its style: the policy blocked it"
    );
    assert!(
        tampered == unstyled,
        "a style the hash does not allow applied: the policy is not enforced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
