//! A minimal HTTP/1.1 client for the station's tests (and for chromedriver in the browser
//! test): one request per connection (`Connection: close`), the body read by its
//! Content-Length, or to the end. No client library: the tests see the bytes the station sends.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// Sends one request and reads the whole response.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    request_on(s, &addr.to_string(), method, path, headers, body).await
}

/// [`request`] on a connection already open (a TLS stream, say), to `host`.
pub async fn request_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    // Read the head, then the body by its Content-Length when it has one (a server may keep the
    // connection open despite `Connection: close`: chromedriver does), else to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let at = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the end of the head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..at]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[at + 4..].to_vec();
    let length =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok());
    match length {
        Some(len) => {
            while body.len() < len {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed before the end of the body");
                body.extend_from_slice(&buf[..n]);
            }
            body.truncate(len);
        }
        None => {
            s.read_to_end(&mut body).await.unwrap();
        }
    }
    Reply { status, headers, body }
}

/// `GET /api/next?n=n` as the keyer of `cookie`, less the items in `skipped` (ones the keyer
/// left unkeyed stay leased to them and come back each time). Asserts a 200.
pub async fn next_items(
    addr: SocketAddr,
    cookie: &str,
    n: usize,
    skipped: &std::collections::HashSet<String>,
) -> Vec<serde_json::Value> {
    let r = request(addr, "GET", &format!("/api/next?n={n}"), &[("Cookie", cookie)], "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    j["items"].as_array().unwrap().iter().filter(|i| !skipped.contains(i["item"].as_str().unwrap())).cloned().collect()
}

/// Logs in with a form post; returns the session cookie (`name=value`) and the page's CSRF
/// token. Checks the cookie's flags on the way.
pub async fn log_in(addr: SocketAddr, name: &str, password: &str) -> (String, String) {
    let body = format!("name={name}&password={}", password.replace(' ', "+"));
    let r = request(addr, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], &body).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let page = request(addr, "GET", "/key", &[("Cookie", &cookie)], "").await;
    assert_eq!(page.status, 200);
    let csrf = page.text().split("data-csrf=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (cookie, csrf)
}

/// A simulated campaign read into a new store at `dir/campaign.db`: `n` pupils printed in run
/// `run`, their filled-in forms scanned by the simulator into `dir/scans` with `opts`, read by
/// intake into `dir/read` (snippets on), and the keyers `keyer1`, `keyer2` (passwords `keyer
/// password 1`, `keyer password 2`) and the supervisor `boss` (`supervisor password`).
/// Returns the store's path.
pub fn simulated_campaign(
    dir: &std::path::Path,
    n: usize,
    run: &str,
    opts: &formscan_synth::SynthOptions,
) -> std::path::PathBuf {
    use formscan_campaign::accounts::{self, Role};
    use formscan_campaign::store::{PrintedForm, SqliteStore, Store};
    use formscan_synth as synth;
    let t = formscan::Template::sbk_student();
    let persons: Vec<(usize, _)> =
        synth::roster(n, opts.seed).into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = formscan_print::plan_run(&t, &persons, Some(run), dir);
    let db = dir.join("campaign.db");
    let scans = dir.join("scans");
    let mut store = SqliteStore::open(&db, Some(synth::REFERENCE_DATE)).unwrap();
    let forms: Vec<PrintedForm> = pr
        .pages
        .iter()
        .map(|p| PrintedForm { serial: p.serial.clone(), person: p.person.clone(), photo_printed: false })
        .collect();
    store.record_print_run(&pr.run, &t.id, &forms).unwrap();
    let people: Vec<_> = pr.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = pr.pages.iter().map(|p| p.serial.clone()).collect();
    synth::run(&t, &people, &serials, &vec![None; people.len()], &pr.run, opts, &scans).unwrap();
    let bopts = formscan::batch::BatchOptions { out_dir: dir.join("read"), snippets: true };
    let engine = formscan::Engine::default();
    formscan_campaign::intake::process(&mut store, &engine, std::slice::from_ref(&scans), &bopts, &|_, _| {}).unwrap();
    accounts::add_user(&mut store, "keyer1", Role::Keyer, "keyer password 1").unwrap();
    accounts::add_user(&mut store, "keyer2", Role::Keyer, "keyer password 2").unwrap();
    accounts::add_user(&mut store, "boss", Role::Supervisor, "supervisor password").unwrap();
    db
}

/// The value the simulator wrote in `field` of the scan at `scan_path` (its truth, the `.json`
/// beside it), when that is a valid value for the field: what a keyer types.
pub fn truth_value(scan_path: &str, field: &str) -> Option<String> {
    let name = std::path::Path::new(scan_path).with_extension("json");
    let t: formscan_synth::Truth = serde_json::from_str(&std::fs::read_to_string(name).ok()?).ok()?;
    let f = t.fields.get(field)?;
    let v = f.text.clone().or_else(|| f.cells.as_ref().map(|c| c.concat()))?;
    formscan_campaign::keying::check_value(field, &v).is_ok().then_some(v)
}
