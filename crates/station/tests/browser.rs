//! The station in a real browser: Debian's headless Chromium, driven over WebDriver by
//! Debian's `chromedriver` (started here; `.ci/run` installs both). Two keyers log in and key
//! with the keyboard only: a right reading confirmed with one key, a phone taken from the
//! reader's candidates (its unread cell marked), and the agent's name keyed twice, blind
//! (double entry); the values are then in the export, and the keys pressed per item are what
//! the store recorded. A supervisor's review and overview pages
//! render. With `REGENERATE=1` the screenshots in `docs/` are written again.
//!
//! Outside CI the test is skipped, with a message, when `chromedriver` is not installed.

use formscan::domain::{make_id, Date, Person};
use formscan::finding::{Finding, FindingCode};
use formscan::record::Outcome;
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::keying::KeySource;
use formscan_campaign::store::{
    FormMatch, IntakeItem, PageEntry, PageMatch, PrintedForm, SqliteStore, Store, StoredField,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
mod common;

use common::request;

const ENTER: &str = "\u{E007}";
const DOWN: &str = "\u{E015}";
const TAB: &str = "\u{E004}";

/// A WebDriver session (W3C WebDriver, the JSON wire protocol over HTTP).
struct Browser {
    driver: SocketAddr,
    session: String,
    child: std::process::Child,
}

impl Browser {
    async fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}{path}", self.session);
        let body = if method == "GET" { String::new() } else { body.to_string() };
        let r = request(self.driver, method, &path, &[("Content-Type", "application/json")], &body).await;
        let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(r.status, 200, "{method} {path}: {j}");
        j["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url })).await;
    }

    async fn element(&self, css: &str) -> String {
        let v = self.call("POST", "/element", serde_json::json!({"using": "css selector", "value": css})).await;
        v["element-6066-11e4-a52e-4f735466cecf"].as_str().unwrap_or_else(|| panic!("{css}: {v}")).to_string()
    }

    /// Types into an element (it takes the focus first), as a keyboard would.
    async fn keys(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.call("POST", &format!("/element/{e}/value"), serde_json::json!({ "text": text })).await;
    }

    /// Presses keys on whatever has the focus (WebDriver actions: key down and up per
    /// character), as a keyboard would.
    async fn press(&self, text: &str) {
        let actions: Vec<serde_json::Value> = text
            .chars()
            .flat_map(|c| {
                [
                    serde_json::json!({"type": "keyDown", "value": c.to_string()}),
                    serde_json::json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        let body = serde_json::json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.call("POST", "/actions", body).await;
    }

    async fn script(&self, js: &str) -> serde_json::Value {
        self.call("POST", "/execute/sync", serde_json::json!({"script": js, "args": []})).await
    }

    /// Waits until a script returns true.
    async fn until(&self, what: &str, js: &str) {
        let t = Instant::now();
        while self.script(js).await != serde_json::json!(true) {
            assert!(t.elapsed() < Duration::from_secs(15), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, to: &Path) {
        let b64 = self.call("GET", "/screenshot", serde_json::Value::Null).await;
        std::fs::write(to, base64(b64.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session first, which closes chromium: killing chromedriver alone
    /// left the browser running (and writing into its profile folder) after the test.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&self.driver, Duration::from_secs(2)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session, self.driver
            );
            if s.write_all(request.as_bytes()).is_ok() {
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (the screenshot), RFC 4648 §4.
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (u32::from(val(c)) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn open_browser(profile: &Path) -> Option<Browser> {
    let exe = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = match std::process::Command::new(&exe)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(std::env::var("CI").is_err(), "CI must have chromedriver ({exe}: {e})");
            eprintln!("browser test skipped: {exe} not found ({e}); install Debian's chromium and chromium-driver");
            return None;
        }
    };
    let driver = SocketAddr::from(([127, 0, 0, 1], port));
    let t = Instant::now();
    while tokio::net::TcpStream::connect(driver).await.is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": binary,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900",
                 format!("--user-data-dir={}", profile.display())],
    }}}});
    let r = request(driver, "POST", "/session", &[("Content-Type", "application/json")], &caps.to_string()).await;
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.status, 200, "new session: {j}");
    let session = j["value"]["sessionId"].as_str().unwrap().to_string();
    Some(Browser { driver, session, child })
}

const READ_RIGHT: &str = "13812345678";
const PICKED: &str = "13987654321";
const AGENT: &str = "王小红";

/// A store with one pupil's read form: the applicant's phone read but unclear (the reading is
/// right), the agent's phone unclear (the reading is wrong), the agent's name written; and a
/// second pupil's form with a form-level finding for the review page.
fn build_store(dir: &Path) -> PathBuf {
    let db = dir.join("campaign.db");
    let mut store = SqliteStore::open(&db, Some(Date::new(2026, 9, 1))).unwrap();
    let pupil = |name: &str, n: u16| Person {
        name: name.into(),
        id_number: make_id("450305", Date::new(2016, 3, 7), n),
        school: "示例小学".into(),
        grade: "三年级".into(),
        class: "1班".into(),
        ..Default::default()
    };
    let forms = vec![
        PrintedForm { serial: "000001".into(), person: pupil("测试甲", 1), photo_printed: false },
        PrintedForm { serial: "000002".into(), person: pupil("测试乙", 2), photo_printed: false },
    ];
    store.record_print_run("RBROWSER", "sbk-student", &forms).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples");
    let out = dir.join("read");
    let field = |state: &str, value: Option<&str>, status: Option<&str>| StoredField {
        state: state.into(),
        value: value.map(str::to_string),
        status: status.map(str::to_string),
        ..Default::default()
    };
    for (i, f) in forms.iter().enumerate() {
        let FormMatch::Known { person, .. } = store.lookup_form("RBROWSER", &f.serial).unwrap() else { panic!() };
        let mut fields = BTreeMap::new();
        fields.insert(
            "agent_id".to_string(),
            field("ink", Some(&make_id("450305", Date::new(1985, 5, 5), 3)), Some("accepted")),
        );
        fields.insert("group:agent_relation".to_string(), field("one", Some("mother"), None));
        let mut findings = Vec::new();
        if i == 0 {
            fields.insert("applicant_phone".to_string(), field("ink", Some(READ_RIGHT), Some("needs_review")));
            // The last cell unclear; the reader's candidates, the right one first.
            let mut phone = field("ink", Some("1398765432?"), Some("needs_review"));
            phone.candidates = vec![PICKED.into(), "13987654327".into(), "13987654324".into()];
            fields.insert("agent_phone".to_string(), phone);
            fields.insert("agent_name".to_string(), field("ink", None, None));
            findings.push(Finding::new(FindingCode::FieldUnclear, "applicant_phone"));
            findings.push(Finding::new(FindingCode::FieldUnclear, "agent_phone"));
            findings.push(Finding::new(FindingCode::ValueToKey, "agent_name"));
        } else {
            fields.insert("agent_phone".to_string(), field("ink", Some("13700001111"), Some("accepted")));
            findings.push(Finding::new(FindingCode::FixWithoutPaste, "paste"));
        }
        // The snippets the keyers look at, in the layout of output written before snippets were
        // kept per scan (one folder per form page), which the station still reads.
        let snippets = out.join("snippets").join(format!("RBROWSER-{}-p1", f.serial));
        std::fs::create_dir_all(&snippets).unwrap();
        for name in ["applicant_phone", "agent_phone", "agent_name"] {
            let img = image::GrayImage::from_fn(240, 40, |x, y| {
                image::Luma([if (x / 12 + y / 10) % 2 == 0 { 230 } else { 40 }])
            });
            img.save(snippets.join(format!("{name}.png"))).unwrap();
        }
        let mut hash = [0u8; 32];
        hash[0] = i as u8 + 1;
        store
            .commit(&[IntakeItem::Page(Box::new(PageEntry {
                file: hash,
                page_index: 0,
                path: samples.join("form-1.jpg").display().to_string(),
                out_dir: out.display().to_string(),
                outcome: Outcome::Read,
                reject_reason: None,
                form: Some(("RBROWSER".into(), f.serial.clone())),
                matched: PageMatch::Form,
                person_key: Some(person.key),
                fields,
                findings,
                phone: None,
            }))])
            .unwrap();
    }
    accounts::add_user(&mut store, "keyer1", Role::Keyer, "keyer password 1").unwrap();
    accounts::add_user(&mut store, "keyer2", Role::Keyer, "keyer password 2").unwrap();
    accounts::add_user(&mut store, "boss", Role::Supervisor, "supervisor password").unwrap();
    db
}

/// Logs in with the keyboard: the name field has the focus, Tab, the password, Enter.
async fn log_in(b: &Browser, base: &str, name: &str, password: &str) {
    b.go(&format!("{base}/login")).await;
    b.keys("input[name=name]", &format!("{name}{TAB}{password}{ENTER}")).await;
    b.until("the keying page", "return location.pathname === '/key'").await;
}

async fn log_out(b: &Browser) {
    b.script("document.querySelector('header form').submit(); return true").await;
    b.until("the login page", "return location.pathname === '/login'").await;
}

/// Waits for the keying page to show `field`, then types `text` into the value box.
async fn key(b: &Browser, field: &str, text: &str) {
    let js = format!(
        "const s = document.getElementById('item'); return !s.hidden && document.getElementById('field').textContent === '{field}'"
    );
    b.until(field, &js).await;
    b.until("the focus on the value", "return document.activeElement === document.getElementById('value')").await;
    b.press(text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyers_key_with_the_keyboard_in_chromium() {
    let dir = std::env::temp_dir().join(format!("formscan-station-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let Some(b) = open_browser(&dir.join("profile")).await else { return };
    let db = build_store(&dir);
    let mut opts = formscan_station::StationOptions::new(db.clone());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let (addr, _task) = formscan_station::start(opts).await.unwrap();
    let base = format!("http://{addr}");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let regenerate = std::env::var("REGENERATE").is_ok();

    // Keyer 1, items grouped by kind (phones first): the agent's phone is taken from the
    // reader's candidates, the applicant's phone is read right (Enter confirms it: one key), the
    // agent's name is typed (first entry).
    log_in(&b, &base, "keyer1", "keyer password 1").await;
    b.until("the first item", "return !document.getElementById('item').hidden").await;
    if regenerate {
        b.screenshot(&docs.join("station-key.png")).await;
    }
    // The agent's phone: its unread last cell is marked, and the right value is the reader's
    // first candidate: one key down, Enter.
    key(&b, "代理人手机号码", "").await;
    // Its snippet shows (served from the older per-form-page folder the test wrote).
    b.until("the snippet", "const i = document.getElementById('snippet'); return i.complete && i.naturalWidth === 240")
        .await;
    let marked =
        b.script("return Array.from(document.querySelectorAll('#read .uncertain')).map(s => s.textContent)").await;
    assert_eq!(marked, serde_json::json!(["?"]));
    b.press(&format!("{DOWN}{ENTER}")).await;
    key(&b, "申领人手机号码", ENTER).await;
    key(&b, "代理人姓名", &format!("{AGENT}{ENTER}")).await;
    b.until("an empty queue", "return !document.getElementById('empty').hidden").await;
    log_out(&b).await;
    // Keyer 2 keys the name blind: no reading, no first value shown.
    log_in(&b, &base, "keyer2", "keyer password 2").await;
    key(&b, "代理人姓名", "").await;
    assert_eq!(b.script("return document.getElementById('value').value").await, "");
    assert!(b.script("return document.getElementById('stage').textContent").await.as_str().unwrap().contains("第二次"));
    b.press(&format!("{AGENT}{ENTER}")).await;
    b.until("an empty queue", "return !document.getElementById('empty').hidden").await;
    log_out(&b).await;

    // The supervisor's pages render, with the second form in the review queue.
    log_in(&b, &base, "boss", "supervisor password").await;
    b.go(&format!("{base}/review")).await;
    b.until("a form to review", "return !document.getElementById('form').hidden").await;
    b.until("the page image", "const i = document.getElementById('page'); return i.complete && i.naturalWidth > 0")
        .await;
    if regenerate {
        b.screenshot(&docs.join("station-review.png")).await;
    }
    b.go(&format!("{base}/supervisor")).await;
    let text = b.script("return document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("keyer2"), "operators table");
    if regenerate {
        b.screenshot(&docs.join("station-supervisor.png")).await;
    }
    drop(b);

    // The store has what the keyboard keyed, with the keys pressed; the export has the values.
    let mut store = SqliteStore::open(&db, None).unwrap();
    let views = store.persons().unwrap();
    let keyed: Vec<_> = views.iter().flat_map(|v| v.pages.iter().flat_map(|p| p.keyed.iter())).collect();
    let entry = |field: &str, op: &str| keyed.iter().find(|k| k.field == field && k.operator == op).copied().unwrap();
    let confirm = entry("applicant_phone", "keyer1");
    assert_eq!((confirm.source, confirm.keystrokes), (KeySource::Confirmed, Some(1)), "a right reading takes one key");
    let picked = entry("agent_phone", "keyer1");
    assert_eq!((picked.value.as_str(), picked.keystrokes), (PICKED, Some(2)), "a candidate is one key away");
    assert_eq!(entry("agent_name", "keyer2").value, AGENT);
    eprintln!(
        "browser: keys per item: confirm {:?}, candidate {:?}, name {:?} / {:?}",
        confirm.keystrokes,
        picked.keystrokes,
        entry("agent_name", "keyer1").keystrokes,
        entry("agent_name", "keyer2").keystrokes
    );
    let out = dir.join("export");
    let summary = formscan_campaign::export::export(&mut store, &out, &Default::default()).unwrap();
    assert_eq!(summary.persons, 1, "the keyed form is exported; the other waits for review");
    let school = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let csv = std::fs::read_to_string(school.join("card-data.csv")).unwrap();
    for v in [READ_RIGHT, PICKED, AGENT, "母亲"] {
        assert!(csv.contains(v), "{v} not in the export:\n{csv}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
