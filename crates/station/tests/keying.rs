//! Keying through the station's JSON API on a simulated campaign: two keyers log in, take the
//! items the API leases them, key the values written on the forms (the simulator's truth), and
//! the store ends with every such field settled; snippets are served to a session only.

use formscan_campaign::assess;
use formscan_campaign::store::{SqliteStore, Store};
use formscan_station::{start, StationOptions};
use formscan_synth::{Degrade, SynthOptions};
mod common;

use common::{log_in, next_items, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_keyers_settle_the_campaigns_fields_through_the_api() {
    let dir = std::env::temp_dir().join(format!("formscan-station-keying-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = SynthOptions { dpi: 200.0, degrade: Degrade::Harsh, seed: 23, ..Default::default() };
    let db = common::simulated_campaign(&dir, 16, "RSTATION", &opts);
    let waiting = {
        let mut store = SqliteStore::open(&db, None).unwrap();
        assess(&mut store, &Default::default()).unwrap().iter().map(|a| a.keying.len()).sum::<usize>()
    };
    assert!(waiting >= 5, "only {waiting} fields wait: the test proves little");
    // Scan path of each stored page, to find its truth.
    let paths: std::collections::HashMap<i64, String> = {
        let mut store = SqliteStore::open(&db, None).unwrap();
        store.persons().unwrap().into_iter().flat_map(|v| v.pages).map(|p| (p.id, p.path)).collect()
    };
    let truth = |page: i64, field: &str| common::truth_value(&paths[&page], field);

    let mut opts = StationOptions::new(db.clone());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let (addr, _task) = start(opts).await.unwrap();
    let mut keyed = 0;
    let mut snippets = 0;
    let mut confirms_refused = 0;
    for (name, password) in [("keyer1", "keyer password 1"), ("keyer2", "keyer password 2")] {
        let (cookie, csrf) = log_in(addr, name, password).await;
        // Fields whose written value is no valid value (a rule breaker's) are not keyed; they stay
        // leased to this keyer, so each request hands them again beside the new items.
        let mut skipped = std::collections::HashSet::new();
        let h = [("Cookie", cookie.as_str()), ("Content-Type", "application/json"), ("x-csrf-token", csrf.as_str())];
        loop {
            let items = next_items(addr, &cookie, 20, &skipped).await;
            if items.is_empty() {
                break;
            }
            for it in items {
                let (page, field) = (it["page_id"].as_i64().unwrap(), it["field"].as_str().unwrap());
                if it["stage"] == "second" {
                    assert!(it["read"].is_null(), "a second keyer keys blind");
                }
                let r = request(addr, "GET", &format!("/api/snippet/{page}/{field}"), &[("Cookie", &cookie)], "").await;
                if r.status == 200 {
                    assert!(r.header("content-type") == Some("image/png") && r.body.starts_with(b"\x89PNG"));
                    snippets += 1;
                }
                // Confirming skips double entry, so only the reader's own reading can be confirmed.
                if let (Some(read), "phone") = (it["read"].as_str(), it["class"].as_str().unwrap()) {
                    let other = if read == "13912345678" { "13812345678" } else { "13912345678" };
                    let body = serde_json::json!({"item": it["item"], "value": other, "action": "confirm"}).to_string();
                    let r = request(addr, "POST", "/api/key", &h, &body).await;
                    assert_eq!(r.status, 422, "{}", r.text());
                    assert!(r.text().contains("confirmed"), "{}", r.text());
                    confirms_refused += 1;
                }
                let Some(value) = truth(page, field) else {
                    skipped.insert(it["item"].as_str().unwrap().to_string());
                    continue;
                };
                let body = serde_json::json!({"item": it["item"], "value": value}).to_string();
                let r = request(addr, "POST", "/api/key", &h, &body).await;
                assert_eq!(r.status, 200, "{}", r.text());
                keyed += 1;
            }
        }
    }
    assert!(keyed >= waiting.min(5), "{keyed} keyed of {waiting}");
    assert!(snippets >= 1, "no snippet served");
    assert!(confirms_refused >= 1, "no confirmation of a wrong value tried");
    // Every field with a valid written value is settled; names and IDs by two keyers.
    let mut store = SqliteStore::open(&db, None).unwrap();
    let left: Vec<_> = assess(&mut store, &Default::default())
        .unwrap()
        .into_iter()
        .flat_map(|a| {
            let page = a.view.pages[a.page.unwrap()].id;
            a.keying.into_iter().map(move |p| (page, p.field))
        })
        .filter(|(page, field)| truth(*page, field).is_some())
        .collect();
    assert!(left.is_empty(), "still waiting: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
