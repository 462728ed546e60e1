//! Two keying stations (`serve` processes on two servers, as docs/deployment.md sets them up)
//! on one PostgreSQL campaign: a keyer on each keys at the same time through the JSON API. No
//! item is handed to both at once, double entry spans the two stations (the second entry of a
//! field keyed first on the other station), and every field with a valid written value ends
//! settled in the shared store.
//!
//! The campaign is read into SQLite by intake and copied to PostgreSQL (`db migrate`'s copy).
//! Needs a PostgreSQL server (`FORMSCAN_TEST_PG`); skipped with a message without one, except
//! under CI.

use formscan_campaign::assess;
use formscan_campaign::store::{copy, PostgresStore, SqliteStore, Store, StoreLocation};
use formscan_station::{start, StationOptions};
use formscan_synth::{Degrade, SynthOptions};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;
mod common;

use common::{log_in, next_items, request, truth_value as truth};

/// One keyer on one station: keys what it is handed until it is handed nothing new. Returns
/// (values keyed, second entries among them).
async fn keyer(
    addr: SocketAddr,
    name: &str,
    password: &str,
    paths: &HashMap<i64, String>,
    held: &Mutex<HashMap<String, String>>,
) -> (usize, usize) {
    let (cookie, csrf) = log_in(addr, name, password).await;
    let h = [("Cookie", cookie.as_str()), ("Content-Type", "application/json"), ("x-csrf-token", csrf.as_str())];
    let mut skipped = HashSet::new();
    let (mut keyed, mut seconds) = (0, 0);
    loop {
        // Items left unkeyed stay leased to this keyer and come back each time: ask for more.
        let n = (4 + skipped.len()).min(20);
        let items = next_items(addr, &cookie, n, &skipped).await;
        if items.is_empty() {
            return (keyed, seconds);
        }
        for it in &items {
            let item = it["item"].as_str().unwrap().to_string();
            if let Some(other) = held.lock().unwrap().insert(item.clone(), name.to_string()) {
                panic!("{item} handed to {name} while {other} holds it");
            }
        }
        for it in items {
            let item = it["item"].as_str().unwrap().to_string();
            let (page, field) = (it["page_id"].as_i64().unwrap(), it["field"].as_str().unwrap());
            // Out of `held` while the lease is still this keyer's (the key request ends it).
            held.lock().unwrap().remove(&item);
            let Some(value) = truth(&paths[&page], field) else {
                skipped.insert(item);
                continue;
            };
            let body = serde_json::json!({"item": item, "value": value}).to_string();
            let r = request(addr, "POST", "/api/key", &h, &body).await;
            assert_eq!(r.status, 200, "{}", r.text());
            keyed += 1;
            seconds += usize::from(it["stage"] == "second");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stations_on_one_postgres_campaign_share_the_keying() {
    // The PostgreSQL client blocks: off the async threads.
    let scratch = || formscan_campaign::store::postgres::scratch_database("two_stations").unwrap();
    let Some(url) = tokio::task::block_in_place(scratch) else { return };
    let dir = std::env::temp_dir().join(format!("formscan-station-postgres-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = SynthOptions { dpi: 200.0, degrade: Degrade::Harsh, seed: 23, ..Default::default() };
    let db = common::simulated_campaign(&dir, 16, "RPGSTATION", &opts);
    let (waiting, paths) = tokio::task::spawn_blocking({
        let (db, url) = (db.clone(), url.clone());
        move || {
            let mut sqlite = SqliteStore::open(&db, None).unwrap();
            let mut pg = PostgresStore::open(&url, None).unwrap();
            copy::copy(&mut sqlite, &mut pg).unwrap();
            let a = assess(&mut pg, &Default::default()).unwrap();
            let waiting: usize = a.iter().map(|a| a.keying.len()).sum();
            let paths: HashMap<i64, String> =
                a.into_iter().flat_map(|a| a.view.pages).map(|p| (p.id, p.path)).collect();
            (waiting, paths)
        }
    })
    .await
    .unwrap();
    assert!(waiting >= 5, "only {waiting} fields wait: the test proves little");

    let mut stations = Vec::new();
    for _ in 0..2 {
        let mut o = StationOptions::new(StoreLocation::Postgres(url.clone()));
        o.listen = "127.0.0.1:0".parse().unwrap();
        stations.push(start(o).await.unwrap().0);
    }
    let held = Mutex::new(HashMap::new());
    let (a, b) = tokio::join!(
        keyer(stations[0], "keyer1", "keyer password 1", &paths, &held),
        keyer(stations[1], "keyer2", "keyer password 2", &paths, &held)
    );
    // Second entries of what one keyed after the other stopped: rounds until both are done.
    let (mut keyed, mut seconds) = (a.0 + b.0, a.1 + b.1);
    for _ in 0..6 {
        // A station's lists catch up with a dry queue after 2 s (crates/station/src/work.rs).
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let c = keyer(stations[0], "keyer1", "keyer password 1", &paths, &held).await;
        let d = keyer(stations[1], "keyer2", "keyer password 2", &paths, &held).await;
        (keyed, seconds) = (keyed + c.0 + d.0, seconds + c.1 + d.1);
        if c.0 + d.0 == 0 {
            break;
        }
    }
    assert!(a.0 >= 1 && b.0 >= 1, "both stations handed out work: {a:?} {b:?}");
    assert!(seconds >= 1, "no second entry across the stations ({keyed} keyed)");
    let left: Vec<(i64, String)> = tokio::task::spawn_blocking(move || {
        let mut pg = PostgresStore::open(&url, None).unwrap();
        assert_eq!(pg.check().unwrap(), Vec::<String>::new());
        assess(&mut pg, &Default::default())
            .unwrap()
            .into_iter()
            .flat_map(|a| {
                let page = a.view.pages[a.page.unwrap()].id;
                a.keying.into_iter().map(move |p| (page, p.field))
            })
            .filter(|(page, field)| truth(&paths[page], field).is_some())
            .collect()
    })
    .await
    .unwrap();
    assert!(left.is_empty(), "still waiting: {left:?}");
    eprintln!("two stations on PostgreSQL: {waiting} fields waited, {keyed} values keyed ({seconds} second entries)");
    let _ = std::fs::remove_dir_all(&dir);
}
