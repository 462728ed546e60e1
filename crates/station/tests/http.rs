//! The station over real HTTP on loopback: every route refuses a request without a session,
//! state-changing requests need the CSRF token, keyers cannot reach supervisor routes, logins
//! are throttled, and the responses carry the security headers.

use formscan::domain::Date;
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::store::SqliteStore;
use formscan_station::{start, StationOptions};
mod common;

use common::{log_in, request};
use std::net::SocketAddr;

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("Content-Type", "application/json");

async fn station(name: &str) -> (SocketAddr, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("formscan-station-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("campaign.db");
    let mut store = SqliteStore::open(&db, Some(Date::new(2026, 9, 1))).unwrap();
    accounts::add_user(&mut store, "keyer1", Role::Keyer, "keyer password 1").unwrap();
    accounts::add_user(&mut store, "boss", Role::Supervisor, "supervisor password").unwrap();
    drop(store);
    let mut opts = StationOptions::new(db);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let (addr, _task) = start(opts).await.unwrap();
    (addr, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_a_request_without_a_session() {
    let (addr, dir) = station("nosession").await;
    for (method, path, body) in [
        ("GET", "/key", ""),
        ("GET", "/supervisor", ""),
        ("GET", "/api/next", ""),
        ("POST", "/api/key", "{\"item\":\"1:agent_phone\",\"value\":\"13812345678\"}"),
        ("GET", "/api/snippet/1/agent_phone", ""),
        ("GET", "/api/queues", ""),
        ("GET", "/review", ""),
        ("GET", "/supervisor/person?q=x", ""),
        ("GET", "/api/review/next", ""),
        ("POST", "/api/review/decide", "{\"item\":\"form:1\",\"decision\":\"accept\"}"),
        ("GET", "/api/page/1", ""),
        ("GET", "/api/photo/1", ""),
        ("GET", "/api/progress", ""),
        ("GET", "/api/person?q=x", ""),
        ("POST", "/logout", "csrf=x"),
    ] {
        let h: &[(&str, &str)] = if body.starts_with('{') { &[JSON] } else { &[FORM] };
        let r = request(addr, method, path, h, body).await;
        let refused = r.status == 401 || (r.status == 303 && r.header("location") == Some("/login"));
        assert!(refused, "{method} {path}: {}", r.status);
        // A forged cookie is no session either.
        let r = request(addr, method, path, &[h[0], ("Cookie", "formscan_session=00ff")], body).await;
        assert!(r.status == 401 || r.status == 303, "{method} {path} with a forged cookie: {}", r.status);
    }
    let login = request(addr, "GET", "/login", &[], "").await;
    assert_eq!(login.status, 200);
    assert!(login.text().contains("登录"));
    assert!(request(addr, "GET", "/login?lang=en", &[], "").await.text().contains("Log in"));
    for h in ["content-security-policy", "x-frame-options", "cache-control", "referrer-policy"] {
        assert!(login.header(h).is_some(), "{h} missing");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_the_csrf_token_and_roles_are_enforced() {
    let (addr, dir) = station("csrf").await;
    let (cookie, csrf) = log_in(addr, "keyer1", "keyer password 1").await;
    let c = ("Cookie", cookie.as_str());
    let next = request(addr, "GET", "/api/next", &[c], "").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.text(), "{\"items\":[]}");
    let body = "{\"item\":\"1:agent_phone\",\"value\":\"13812345678\"}";
    assert_eq!(request(addr, "POST", "/api/key", &[JSON, c], body).await.status, 403, "no token");
    assert_eq!(request(addr, "POST", "/api/key", &[JSON, c, ("x-csrf-token", "0000")], body).await.status, 403);
    // With the token the request gets through to the store, which has no such page.
    let r = request(addr, "POST", "/api/key", &[JSON, c, ("x-csrf-token", &csrf)], body).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // A keyer is not a supervisor.
    assert_eq!(request(addr, "GET", "/supervisor", &[c], "").await.status, 403);
    assert_eq!(request(addr, "GET", "/api/queues", &[c], "").await.status, 403);
    for path in [
        "/review",
        "/supervisor/person?q=x",
        "/api/review/next",
        "/api/page/1",
        "/api/photo/1",
        "/api/progress",
        "/api/person?q=x",
    ] {
        assert_eq!(request(addr, "GET", path, &[c], "").await.status, 403, "{path}");
    }
    let decide = "{\"item\":\"form:1\",\"decision\":\"accept\"}";
    let r = request(addr, "POST", "/api/review/decide", &[JSON, c, ("x-csrf-token", &csrf)], decide).await;
    assert_eq!(r.status, 403, "a keyer decides no form");
    let (boss, _) = log_in(addr, "boss", "supervisor password").await;
    assert_eq!(request(addr, "GET", "/supervisor", &[("Cookie", &boss)], "").await.status, 200);
    assert_eq!(request(addr, "GET", "/api/queues", &[("Cookie", &boss)], "").await.status, 200);
    let decide = "{\"item\":\"form:1\",\"decision\":\"accept\"}";
    let r = request(addr, "POST", "/api/review/decide", &[JSON, ("Cookie", &boss)], decide).await;
    assert_eq!(r.status, 403, "a decision without the CSRF token");
    // Logging out needs the token too, and ends the session.
    assert_eq!(request(addr, "POST", "/logout", &[FORM, c], "csrf=bad").await.status, 403);
    assert_eq!(request(addr, "POST", "/logout", &[FORM, c], &format!("csrf={csrf}")).await.status, 303);
    assert_eq!(request(addr, "GET", "/api/next", &[c], "").await.status, 401);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_throttled_and_a_lan_address_needs_consent() {
    let (addr, dir) = station("throttle").await;
    for _ in 0..5 {
        let r = request(addr, "POST", "/login", &[FORM], "name=keyer1&password=wrong+password").await;
        assert_eq!(r.status, 401);
    }
    // The right password too is refused now: the name is throttled.
    let r = request(addr, "POST", "/login", &[FORM], "name=keyer1&password=keyer+password+1").await;
    assert_eq!(r.status, 429);
    let mut opts = StationOptions::new(dir.join("campaign.db"));
    opts.listen = "0.0.0.0:0".parse().unwrap();
    assert!(start(opts).await.is_err(), "a non-loopback address without --trust-lan");
    let _ = std::fs::remove_dir_all(dir);
}
