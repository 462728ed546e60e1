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
//! The server binds to loopback unless it speaks TLS of its own ([`StationOptions::tls`],
//! [`tls`]) or is told the LAN is trusted ([`StationOptions::trust_lan`]: plain HTTP, for a
//! station behind a TLS reverse proxy). Its log lines carry no names or ID numbers.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> formscan::Result<()> {
//! // An SQLite file, or a PostgreSQL URL that several stations share (docs/deployment.md).
//! let opts = formscan_station::StationOptions::new("campaign.db");
//! let (addr, _server) = formscan_station::start(opts).await?;
//! println!("http://{addr}/");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
// The handlers' helpers return the refusal as an axum `Response` (128 bytes): boxing it would
// only add noise on a path taken once per refused request.
#![allow(clippy::result_large_err)]

mod pages;
mod review;
pub mod session;
mod supervisor;
pub mod tls;
mod work;

pub use supervisor::{operator_stats, OperatorStats};
pub use work::{WorkLists, REFRESH};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use formscan::error::{Error, Result};
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::keying::FieldClass;
use formscan_campaign::store::{Store, StoreLocation, StorePool};
use serde::Deserialize;
use session::{Session, Sessions};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Where and how the station runs.
#[derive(Debug, Clone)]
pub struct StationOptions {
    /// The campaign store: an SQLite file, or a PostgreSQL database that several stations
    /// (and scan stations) share.
    pub db: StoreLocation,
    /// Address to listen on. Default `127.0.0.1:8080`: loopback, so that nothing on the network
    /// reaches a plain-HTTP server by accident.
    pub listen: SocketAddr,
    /// Allow a non-loopback address without TLS (a LAN the vendor trusts, or a TLS proxy in
    /// front). Default false.
    pub trust_lan: bool,
    /// Serve HTTPS with this certificate and key ([`tls`]). Default none: plain HTTP, on
    /// loopback unless [`StationOptions::trust_lan`].
    pub tls: Option<tls::TlsFiles>,
}

impl StationOptions {
    /// The defaults for a store.
    pub fn new(db: impl Into<StoreLocation>) -> StationOptions {
        StationOptions { db: db.into(), listen: SocketAddr::from(([127, 0, 0, 1], 8080)), trust_lan: false, tls: None }
    }
}

/// Connections a station holds to a PostgreSQL store: requests are short (a lease, a keyed
/// value), so 8 serve a room of keyers on 2 cores without queueing behind one another, and 4
/// stations stay far below PostgreSQL's default 100 connections.
pub const STORE_CONNECTIONS: usize = 8;

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    /// Open stores: one for an SQLite file, [`STORE_CONNECTIONS`] for PostgreSQL.
    store: Arc<StorePool>,
    sessions: Arc<Mutex<Sessions>>,
    /// The waiting fields and forms (lock it while holding the store, never the other way).
    work: Arc<Mutex<WorkLists>>,
    /// Served over TLS: the session cookie is `Secure`.
    secure: bool,
}

const COOKIE: &str = "formscan_session";

/// Binds the address and serves in a background task; returns the bound address (with port 0,
/// the one the system chose) and the task.
pub async fn start(opts: StationOptions) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    if !opts.listen.ip().is_loopback() && !opts.trust_lan && opts.tls.is_none() {
        return Err(Error::input(format!(
            "{} is not a loopback address: give the station a certificate (--tls-cert, --tls-key), \
             or put it behind a TLS proxy and pass --trust-lan, or listen on 127.0.0.1",
            opts.listen
        )));
    }
    // The certificate is checked before anything binds: a wrong file fails at once.
    let config = opts.tls.as_ref().map(tls::server_config).transpose()?;
    // Connecting blocks (the PostgreSQL client runs its own runtime): off the async threads.
    let at = opts.db.clone();
    let store = tokio::task::spawn_blocking(move || StorePool::open(&at, at.pool_size(STORE_CONNECTIONS)))
        .await
        .map_err(|e| Error::input(format!("opening the store: {e}")))??;
    let state = AppState {
        store,
        sessions: Arc::new(Mutex::new(Sessions::default())),
        work: Arc::new(Mutex::new(WorkLists::default())),
        secure: config.is_some(),
    };
    let io = |e| Error::Io { path: None, source: e };
    let listener = tokio::net::TcpListener::bind(opts.listen).await.map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let service = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = match config {
        Some(config) => {
            // axum gives `ConnectInfo<SocketAddr>` (the login throttle's client address) for
            // a TCP listener and for a tapped one of any kind: the tap does nothing else.
            let listener =
                axum::serve::ListenerExt::tap_io(tls::TlsListener::new(listener, config).map_err(io)?, |_| {});
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, service).await {
                    eprintln!("station stopped: {e}");
                }
            })
        }
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, service).await {
                eprintln!("station stopped: {e}");
            }
        }),
    };
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
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let (addr, task) = start(opts).await?;
    println!("formscan station: {scheme}://{addr}/");
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
        .route("/review", get(review_page))
        .route("/supervisor", get(supervisor::supervisor_page))
        .route("/supervisor/person", get(supervisor::person_page))
        .route("/static/station.js", get(|| async { static_file("text/javascript; charset=utf-8", pages::SCRIPT) }))
        .route(
            "/static/review.js",
            get(|| async { static_file("text/javascript; charset=utf-8", pages::REVIEW_SCRIPT) }),
        )
        .route("/static/station.css", get(|| async { static_file("text/css; charset=utf-8", pages::STYLE) }))
        .route("/api/next", get(work::api_next))
        .route("/api/key", post(work::api_key))
        .route("/api/snippet/{page}/{field}", get(work::api_snippet))
        .route("/api/queues", get(work::api_queues))
        .route("/api/review/next", get(review::api_review_next))
        .route("/api/review/decide", post(review::api_decide))
        .route("/api/page/{page}", get(review::api_page))
        .route("/api/photo/{page}", get(review::api_photo))
        .route("/api/progress", get(supervisor::api_progress))
        .route("/api/person", get(supervisor::api_person))
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
    f: impl FnOnce(&mut dyn Store) -> Result<T> + Send + 'static,
) -> std::result::Result<T, Response> {
    let store = Arc::clone(&state.store);
    let r = tokio::task::spawn_blocking(move || {
        let mut s = store.get()?;
        let r = f(&mut *s);
        // A store error other than the operator's may be a lost connection: reconnect next time.
        if matches!(r, Err(Error::Io { .. })) {
            s.mark_failed();
        }
        r
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
pub(crate) struct Lang {
    lang: Option<String>,
}

pub(crate) fn english(q: &Lang) -> bool {
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
            let secure = if state.secure { "; Secure" } else { "" };
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
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
    let secure = if state.secure { "; Secure" } else { "" };
    let gone = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}");
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&gone).expect("ascii"));
    r
}

async fn key_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Lang>) -> Response {
    match require(&state, &headers, false) {
        Ok(s) => pages::html(pages::key(english(&q), &s)),
        Err(r) => r,
    }
}

/// The API's name of a field class.
pub(crate) fn class_name(c: FieldClass) -> &'static str {
    match c {
        FieldClass::Phone => "phone",
        FieldClass::IdNumber => "id_number",
        FieldClass::Name => "name",
        FieldClass::Choice => "choice",
    }
}

/// The session of a supervisor (or admin), or the response that refuses the request: as
/// [`require`], and 403 for a keyer.
pub(crate) fn require_supervisor(
    state: &AppState,
    headers: &HeaderMap,
    api: bool,
) -> std::result::Result<Session, Response> {
    let s = require(state, headers, api)?;
    match (s.role >= Role::Supervisor, api) {
        (true, _) => Ok(s),
        (false, true) => {
            Err((StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "supervisors only"}))).into_response())
        }
        (false, false) => Err((StatusCode::FORBIDDEN, "supervisors only").into_response()),
    }
}

async fn review_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Lang>) -> Response {
    match require_supervisor(&state, &headers, false) {
        Ok(s) => pages::html(pages::review(english(&q), &s)),
        Err(r) => r,
    }
}
