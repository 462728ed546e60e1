//! The keying station (录入): a web app on the campaign store where operators key what the
//! reader could not read. `formscan serve --db campaign.db` runs it.
//!
//! # Overview
//!
//! * [`StationOptions`] says which store and address; [`start`] binds and serves in the
//!   background and returns the address, [`serve`] serves until the process is stopped.
//! * Pages are rendered on the server, with one small script (bundled: the station works with
//!   no internet) for the keyboard: Enter takes the value and shows the next item, and the
//!   next items are fetched ahead.
//! * The pages use a JSON API behind the same login (`docs/station.md` in the repository):
//!   `GET /api/next` leases the next items to the operator, `POST /api/key` keys one,
//!   `GET /api/snippet/{page}/{field}` is the field's image, `GET /api/queues` (supervisors)
//!   counts what waits.
//! * Logins are checked against the store's Argon2id hashes
//!   ([`formscan_campaign::accounts`]); sessions, CSRF tokens and login throttling are in
//!   [`session`]. Every route but the login page needs a session, every request that changes
//!   state needs the session's CSRF token, and supervisor routes need a supervisor.
//! * The keying itself is [`formscan_campaign::keying`]: leases, double entry, checks.
//!
//! The server binds to loopback unless told the LAN is trusted ([`StationOptions::trust_lan`]):
//! it speaks plain HTTP, so on a network it belongs behind a TLS reverse proxy. Its log lines
//! carry no names or ID numbers.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> formscan::Result<()> {
//! let opts = formscan_station::StationOptions::new("campaign.db".into());
//! let (addr, _server) = formscan_station::start(opts).await?;
//! println!("http://{addr}/");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
// The handlers' helpers return the refusal as an axum `Response` (128 bytes): boxing it would
// only add noise on a path taken once per refused request.
#![allow(clippy::result_large_err)]

mod pages;
pub mod session;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use formscan::error::{Error, Result};
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::keying::{self, FieldClass, FieldValue, KeySource, WorkItem};
use formscan_campaign::store::{SqliteStore, Store};
use serde::{Deserialize, Serialize};
use session::{Session, Sessions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where and how the station runs.
#[derive(Debug, Clone)]
pub struct StationOptions {
    /// The campaign store.
    pub db: PathBuf,
    /// Address to listen on. Default `127.0.0.1:8080`: loopback, so that nothing on the network
    /// reaches a plain-HTTP server by accident.
    pub listen: SocketAddr,
    /// Allow a non-loopback address without TLS (a LAN the vendor trusts, or a TLS proxy in
    /// front). Default false.
    pub trust_lan: bool,
}

impl StationOptions {
    /// The defaults for a store.
    pub fn new(db: PathBuf) -> StationOptions {
        StationOptions { db, listen: SocketAddr::from(([127, 0, 0, 1], 8080)), trust_lan: false }
    }
}

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    store: Arc<Mutex<SqliteStore>>,
    sessions: Arc<Mutex<Sessions>>,
}

const COOKIE: &str = "formscan_session";

/// Binds the address and serves in a background task; returns the bound address (with port 0,
/// the one the system chose) and the task.
pub async fn start(opts: StationOptions) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    if !opts.listen.ip().is_loopback() && !opts.trust_lan {
        return Err(Error::input(format!(
            "{} is not a loopback address: the station speaks plain HTTP; put it behind a TLS proxy \
             and pass --trust-lan, or listen on 127.0.0.1",
            opts.listen
        )));
    }
    let store = SqliteStore::open(&opts.db, None)?;
    let state = AppState { store: Arc::new(Mutex::new(store)), sessions: Arc::new(Mutex::new(Sessions::default())) };
    let listener = tokio::net::TcpListener::bind(opts.listen).await.map_err(|e| Error::Io { path: None, source: e })?;
    let addr = listener.local_addr().map_err(|e| Error::Io { path: None, source: e })?;
    let app = router(state);
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("station stopped: {e}");
        }
    });
    Ok((addr, task))
}

/// [`serve`] on a runtime of its own, for callers without one (the CLI).
pub fn serve_blocking(opts: StationOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io { path: None, source: e })?;
    rt.block_on(serve(opts))
}

/// Serves until the process is stopped (Ctrl-C).
pub async fn serve(opts: StationOptions) -> Result<()> {
    let (addr, task) = start(opts).await?;
    println!("formscan station: http://{addr}/");
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/key") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/key", get(key_page))
        .route("/supervisor", get(supervisor_page))
        .route("/static/station.js", get(|| async { static_file("text/javascript; charset=utf-8", pages::SCRIPT) }))
        .route("/static/station.css", get(|| async { static_file("text/css; charset=utf-8", pages::STYLE) }))
        .route("/api/next", get(api_next))
        .route("/api/key", post(api_key))
        .route("/api/snippet/{page}/{field}", get(api_snippet))
        .route("/api/queues", get(api_queues))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every response: no caching of personal data, no framing, scripts and styles
/// from the station only (Content-Security-Policy Level 3).
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

fn static_file(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The session of a request's cookie.
fn session_of(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let token = cookies.split(';').filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}="))).next()?;
    let s = state.sessions.lock().ok()?.get(token)?;
    Some((token.to_string(), s))
}

/// The session, or the response that refuses the request: 401 for the API, a redirect to the
/// login page for pages.
fn require(state: &AppState, headers: &HeaderMap, api: bool) -> std::result::Result<Session, Response> {
    match session_of(state, headers) {
        Some((_, s)) => Ok(s),
        None if api => {
            Err((StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "login needed"}))).into_response())
        }
        None => Err(Redirect::to("/login").into_response()),
    }
}

/// Refuses a state-changing request whose CSRF token is not the session's.
fn check_csrf(s: &Session, given: Option<&str>) -> std::result::Result<(), Response> {
    match given {
        Some(t) if session::same(t, &s.csrf) => Ok(()),
        _ => {
            Err((StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "missing or wrong CSRF token"})))
                .into_response())
        }
    }
}

/// Runs store work off the async threads.
async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut SqliteStore) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    let store = Arc::clone(&state.store);
    let r = tokio::task::spawn_blocking(move || {
        let mut s = store.lock().map_err(|_| Error::input("store lock poisoned"))?;
        f(&mut s)
    })
    .await;
    match r {
        Ok(Ok(v)) => Ok(v),
        // Input errors are the operator's (a value that fails its check): say why.
        Ok(Err(e @ Error::Input { .. })) => {
            Err((StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({"error": e.to_string()}))).into_response())
        }
        Ok(Err(e)) => {
            eprintln!("station: store error: {e}");
            Err((StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"error": "store error"}))).into_response())
        }
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

#[derive(Deserialize)]
struct Lang {
    lang: Option<String>,
}

fn english(q: &Lang) -> bool {
    q.lang.as_deref() == Some("en")
}

async fn login_page(Query(q): Query<Lang>) -> Response {
    pages::html(pages::login(english(&q), None))
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    Query(q): Query<Lang>,
    Form(f): Form<LoginForm>,
) -> Response {
    let addr = peer.ip().to_string();
    let keys = [f.name.as_str(), addr.as_str()];
    if !state.sessions.lock().is_ok_and(|mut s| s.may_try(&keys)) {
        let msg = if english(&q) {
            "Too many failed logins: wait 15 minutes."
        } else {
            "登录失败次数过多，请15分钟后再试。"
        };
        return (StatusCode::TOO_MANY_REQUESTS, pages::html(pages::login(english(&q), Some(msg)))).into_response();
    }
    let (name, password) = (f.name.clone(), f.password);
    let role = match with_store(&state, move |s| accounts::login(s, &name, &password)).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Ok(mut sessions) = state.sessions.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    match role {
        Some(role) => {
            sessions.succeeded(&keys);
            let (token, _) = sessions.start(&f.name, role);
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            let mut r = Redirect::to(if english(&q) { "/key?lang=en" } else { "/key" }).into_response();
            r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("hex token"));
            r
        }
        None => {
            sessions.failed(&keys);
            let msg = if english(&q) { "Wrong name or password." } else { "用户名或密码错误。" };
            (StatusCode::UNAUTHORIZED, pages::html(pages::login(english(&q), Some(msg)))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let Some((token, s)) = session_of(&state, &headers) else { return Redirect::to("/login").into_response() };
    if let Err(r) = check_csrf(&s, f.csrf.as_deref()) {
        return r;
    }
    if let Ok(mut sessions) = state.sessions.lock() {
        sessions.end(&token);
    }
    let mut r = Redirect::to("/login").into_response();
    let gone = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&gone).expect("ascii"));
    r
}

async fn key_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Lang>) -> Response {
    match require(&state, &headers, false) {
        Ok(s) => pages::html(pages::key(english(&q), &s)),
        Err(r) => r,
    }
}

async fn supervisor_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Lang>) -> Response {
    let s = match require(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.role < Role::Supervisor {
        return (StatusCode::FORBIDDEN, "supervisors only").into_response();
    }
    match with_store(&state, queue_counts).await {
        Ok(q2) => pages::html(pages::supervisor(english(&q), &s, &q2)),
        Err(r) => r,
    }
}

/// One item as the API hands it out.
#[derive(Debug, Serialize)]
struct ItemJson {
    item: String,
    page_id: i64,
    field: String,
    class: &'static str,
    stage: &'static str,
    finding: String,
    /// The reader's reading, when it read something (to confirm or correct).
    read: Option<String>,
}

fn class_name(c: FieldClass) -> &'static str {
    match c {
        FieldClass::Phone => "phone",
        FieldClass::IdNumber => "id_number",
        FieldClass::Name => "name",
    }
}

fn stage_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::AwaitingSecond => "second",
        FieldValue::Mismatch => "supervisor",
        _ => "first",
    }
}

#[derive(Deserialize)]
struct NextQuery {
    n: Option<usize>,
}

async fn api_next(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let s = match require(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = q.n.unwrap_or(3).clamp(1, 20);
    let r = with_store(&state, move |store| {
        let items =
            keying::next_items(store, &Default::default(), &s.name, s.role >= Role::Supervisor, n, keying::now())?;
        Ok(items
            .into_iter()
            .map(|i| ItemJson {
                item: i.item,
                page_id: i.page_id,
                field: i.field,
                class: class_name(i.class),
                stage: stage_name(&i.state),
                finding: i.code.to_string(),
                read: i.read,
            })
            .collect::<Vec<_>>())
    })
    .await;
    match r {
        Ok(items) => Json(serde_json::json!({ "items": items })).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct KeyRequest {
    item: String,
    value: String,
    /// The value is the reader's reading, confirmed.
    #[serde(default)]
    confirm: bool,
}

async fn api_key(State(state): State<AppState>, headers: HeaderMap, Json(k): Json<KeyRequest>) -> Response {
    let s = match require(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, headers.get("x-csrf-token").and_then(|v| v.to_str().ok())) {
        return r;
    }
    let r = with_store(&state, move |store| {
        let Some((page, field)) = k.item.split_once(':') else { return Err(Error::input("item is PAGE:FIELD")) };
        let page_id: i64 = page.parse().map_err(|_| Error::input("item is PAGE:FIELD"))?;
        let class = keying::field_class(field).ok_or_else(|| Error::input("not a keyed field"))?;
        let source = if s.role >= Role::Supervisor && !k.confirm {
            // A supervisor's value settles a mismatch; on a first or second entry it counts
            // as a keyer's, so that double entry still holds.
            let keyed = store.keyed_on_page(page_id)?;
            let mismatch = keying::keyed_value(&keyed, field, &Default::default()) == Some(FieldValue::Mismatch);
            if mismatch {
                KeySource::Supervisor
            } else {
                KeySource::Keyed
            }
        } else if k.confirm {
            KeySource::Confirmed
        } else {
            KeySource::Keyed
        };
        let item = WorkItem {
            item: k.item.clone(),
            page_id,
            person_key: 0,
            field: field.to_string(),
            class,
            state: FieldValue::None,
            code: formscan::finding::FindingCode::FieldUnclear,
            read: None,
        };
        keying::key_item(store, &item, &k.value, source, &s.name)
    })
    .await;
    match r {
        Ok(v) => Json(serde_json::json!({ "value": v })).into_response(),
        Err(r) => r,
    }
}

async fn api_snippet(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath((page_id, field)): UrlPath<(i64, String)>,
) -> Response {
    if let Err(r) = require(&state, &headers, true) {
        return r;
    }
    if keying::field_class(&field).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let r = with_store(&state, move |store| {
        let page = store.persons()?.into_iter().flat_map(|v| v.pages).find(|p| p.id == page_id);
        let Some(page) = page else { return Ok(None) };
        // Where `process` saved it: snippets/<run>-<serial>-p<page>/<field>.png.
        let dir = std::path::Path::new(&page.out_dir).join("snippets");
        for p in 1..=4 {
            let folder = formscan::output::unique_file_name(&format!("{}-{}-p{p}", page.run, page.serial));
            let f = dir.join(folder).join(format!("{}.png", formscan::output::unique_file_name(&field)));
            if let Ok(bytes) = std::fs::read(&f) {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    })
    .await;
    match r {
        Ok(Some(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => r,
    }
}

/// Fields waiting, by class and stage: (class, stage, count).
fn queue_counts(store: &mut SqliteStore) -> Result<Vec<(String, String, usize)>> {
    let mut counts: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for a in formscan_campaign::assess(store, &Default::default())? {
        for p in &a.keying {
            *counts.entry((class_name(p.class).to_string(), stage_name(&p.state).to_string())).or_default() += 1;
        }
    }
    Ok(counts.into_iter().map(|((c, s), n)| (c, s, n)).collect())
}

async fn api_queues(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match require(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.role < Role::Supervisor {
        return (StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "supervisors only"}))).into_response();
    }
    match with_store(&state, queue_counts).await {
        Ok(q) => Json(serde_json::json!({
            "queues": q.iter().map(|(c, s, n)| serde_json::json!({"class": c, "stage": s, "count": n})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(r) => r,
    }
}
