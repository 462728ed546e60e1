//! A whole campaign finished through the station alone: 200 printed forms, harsh scans with
//! missing forms, rescans, duplicates, rule breakers and a class sharing one phone, read by
//! intake; then two keyers and a supervisor work only through the station's JSON API (keying
//! what the scans' truth says was written, saying "cannot read" where it is no valid value,
//! deciding forms in the review queue) until no form is left in review. The export then has
//! no empty required value, and its persons are exactly the accepted ones.

use formscan::domain::parse_id;
use formscan_campaign::store::SqliteStore;
use formscan_campaign::{assess, export, keying, FormStatus};
use formscan_station::{start, StationOptions};
use formscan_synth::{self as synth, Degrade, SynthOptions};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
mod common;

use common::{log_in, request};

/// What was written for a field, per the simulator's truth: the text or the comb's cells;
/// for the relationship, the one box ticked.
fn truth_value(scan: &Path, field: &str) -> Option<String> {
    let t: synth::Truth = serde_json::from_str(&std::fs::read_to_string(scan.with_extension("json")).ok()?).ok()?;
    if field == "agent_relation" {
        let ticked: Vec<&str> = keying::RELATIONS
            .iter()
            .filter(|(v, _)| t.fields.get(&format!("relation_{v}")).is_some_and(|f| f.state == "checked"))
            .map(|(v, _)| *v)
            .collect();
        return (ticked.len() == 1).then(|| ticked[0].to_string());
    }
    let f = t.fields.get(field)?;
    f.text.clone().or_else(|| f.cells.as_ref().map(|c| c.concat())).filter(|v| !v.is_empty())
}

fn rule_breaker(scan: &Path) -> bool {
    std::fs::read_to_string(scan.with_extension("json"))
        .ok()
        .and_then(|s| serde_json::from_str::<synth::Truth>(&s).ok())
        .is_some_and(|t| t.scenario.iter().any(|s| s.starts_with("rule:")))
}

struct Operator {
    cookie: String,
    csrf: String,
    /// Items this operator leaves (a supervisor leaves unreadable fields to the review).
    left: HashSet<String>,
}

impl Operator {
    async fn log_in(addr: SocketAddr, name: &str, password: &str) -> Operator {
        let (cookie, csrf) = log_in(addr, name, password).await;
        Operator { cookie, csrf, left: HashSet::new() }
    }

    async fn get(&self, addr: SocketAddr, path: &str) -> serde_json::Value {
        let r = request(addr, "GET", path, &[("Cookie", &self.cookie)], "").await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    async fn post(&self, addr: SocketAddr, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let h = [
            ("Cookie", self.cookie.as_str()),
            ("Content-Type", "application/json"),
            ("x-csrf-token", self.csrf.as_str()),
        ];
        let r = request(addr, "POST", path, &h, &body.to_string()).await;
        (r.status, serde_json::from_slice(&r.body).unwrap_or_default())
    }

    /// Keys what the station hands out until it hands out nothing new; returns the items done.
    async fn key_all(&mut self, addr: SocketAddr, paths: &HashMap<i64, PathBuf>) -> usize {
        let mut done = 0;
        loop {
            let j = self.get(addr, &format!("/api/next?n={}", 10 + self.left.len())).await;
            let items: Vec<&serde_json::Value> = j["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| !self.left.contains(i["item"].as_str().unwrap()))
                .collect();
            if items.is_empty() {
                return done;
            }
            for it in items {
                let item = it["item"].as_str().unwrap().to_string();
                let stage = it["stage"].as_str().unwrap();
                let field = it["field"].as_str().unwrap();
                if stage == "unreadable" {
                    self.left.insert(item);
                    continue;
                }
                let page = it["page_id"].as_i64().unwrap();
                let truth = truth_value(&paths[&page], field).filter(|v| keying::check_value(field, v).is_ok());
                let body = match truth {
                    // A right reading is confirmed; anything else is typed.
                    Some(v) if it["read"].as_str() == Some(v.as_str()) => {
                        serde_json::json!({"item": item, "value": v, "action": "confirm", "keystrokes": 1})
                    }
                    Some(v) => {
                        serde_json::json!({"item": item, "value": v, "action": "key", "keystrokes": v.chars().count() + 1})
                    }
                    None => serde_json::json!({"item": item, "action": "unreadable", "keystrokes": 1}),
                };
                let (status, r) = self.post(addr, "/api/key", body).await;
                assert_eq!(status, 200, "{item} ({stage}): {r}");
                done += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_form_campaign_is_finished_through_the_station_alone() {
    let dir = std::env::temp_dir().join(format!("formscan-station-campaign-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = synth::scenario::Scenarios {
        missing: 0.05,
        duplicates: 0.03,
        rescans: 0.05,
        rule_breaking: 0.08,
        shared_phone_class: Some(1),
    };
    let opts = SynthOptions { dpi: 150.0, degrade: Degrade::Harsh, seed: 41, scenario, ..Default::default() };
    let db = common::simulated_campaign(&dir, 200, "RCAMPAIGN", &opts);
    let mut store = SqliteStore::open(&db, None).unwrap();
    let before = assess(&mut store, &Default::default()).unwrap();
    let count = |a: &[formscan_campaign::Assessed], s: FormStatus| a.iter().filter(|x| x.status == s).count();
    let (returned, review0) =
        (before.iter().filter(|a| !a.view.pages.is_empty()).count(), count(&before, FormStatus::Review));
    assert!(review0 >= 40, "only {review0} of {returned} returned forms in review: the test proves little");
    assert!(count(&before, FormStatus::NotReturned) >= 5, "no missing forms");
    let paths: HashMap<i64, PathBuf> =
        before.iter().flat_map(|a| a.view.pages.iter()).map(|p| (p.id, PathBuf::from(&p.path))).collect();

    let mut opts = StationOptions::new(db.clone());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let (addr, _task) = start(opts).await.unwrap();
    let mut keyers = vec![
        Operator::log_in(addr, "keyer1", "keyer password 1").await,
        Operator::log_in(addr, "keyer2", "keyer password 2").await,
    ];
    let mut boss = Operator::log_in(addr, "boss", "supervisor password").await;
    let (mut keyed, mut decided, mut rejected) = (0, 0, 0);
    let started = std::time::Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > 12 {
            let a = assess(&mut store, &Default::default()).unwrap();
            for x in a.iter().filter(|x| x.status == FormStatus::Review) {
                eprintln!(
                    "left in review: pages {} decision {:?} findings {:?} keying {:?}",
                    x.view.pages.len(),
                    x.view.decision,
                    x.findings.iter().map(|f| format!("{}:{}", f.code, f.subject)).collect::<Vec<_>>(),
                    x.keying.iter().map(|k| format!("{}:{:?}", k.field, k.state)).collect::<Vec<_>>()
                );
            }
            panic!("the campaign did not finish through the station");
        }
        let mut work = 0;
        for k in &mut keyers {
            work += k.key_all(addr, &paths).await;
        }
        work += boss.key_all(addr, &paths).await;
        keyed += work;
        // The review queue: a rule breaker or a field no one could read goes back to the school;
        // a rescanned form counts with its latest scan; the rest the supervisor accepts.
        loop {
            let j = boss.get(addr, "/api/review/next?n=5").await;
            let forms = j["items"].as_array().unwrap().clone();
            if forms.is_empty() {
                break;
            }
            for f in forms {
                let pages = f["pages"].as_array().unwrap();
                let latest = pages.iter().map(|p| p["page_id"].as_i64().unwrap()).max().unwrap();
                let breaker = pages.iter().any(|p| rule_breaker(&paths[&p["page_id"].as_i64().unwrap()]));
                let unreadable = !f["pending"].as_array().unwrap().is_empty();
                if std::env::var("CAMPAIGN_DEBUG").is_ok() {
                    eprintln!("review: breaker {breaker} pending {} findings {}", f["pending"], f["findings"]);
                }
                let body = if breaker || unreadable {
                    rejected += 1;
                    serde_json::json!({"item": f["item"], "decision": "reject", "reason": "请学校核实后重新填写"})
                } else if pages.len() > 1 {
                    serde_json::json!({"item": f["item"], "decision": "accept", "page_id": latest})
                } else {
                    serde_json::json!({"item": f["item"], "decision": "accept"})
                };
                let (status, r) = boss.post(addr, "/api/review/decide", body).await;
                assert_eq!(status, 200, "{r}");
                decided += 1;
                work += 1;
            }
        }
        let a = assess(&mut store, &Default::default()).unwrap();
        if count(&a, FormStatus::Review) == 0 {
            break;
        }
        if work == 0 {
            // The station's lists catch up with a dry queue after 2 s.
            tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = assess(&mut store, &Default::default()).unwrap();
    let accepted: BTreeSet<String> = after
        .iter()
        .filter(|a| a.status == FormStatus::Accepted)
        .map(|a| a.view.person.person.id_number.clone())
        .collect();
    assert_eq!(accepted.len() + count(&after, FormStatus::Rejected), returned, "every returned form is decided");
    assert!(rejected >= 5 && keyed >= 50 && decided >= 20, "keyed {keyed}, decided {decided}, rejected {rejected}");
    drop(store);

    // The export: exactly the accepted persons, no required value empty.
    let mut store = SqliteStore::open(&db, None).unwrap();
    let out = dir.join("export");
    let summary = export::export(&mut store, &out, &Default::default()).unwrap();
    assert_eq!(summary.held_back, 0);
    let mut exported = BTreeSet::new();
    for school in std::fs::read_dir(&out).unwrap() {
        let csv_path = school.unwrap().path().join("card-data.csv");
        if !csv_path.is_file() {
            continue;
        }
        let mut r = csv::Reader::from_path(&csv_path).unwrap();
        let header: Vec<String> =
            r.headers().unwrap().iter().map(|h| h.trim_start_matches('\u{feff}').to_string()).collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        for row in r.records() {
            let row = row.unwrap();
            for c in ["姓名", "公民身份号码", "性别", "出生日期", "学校", "班级"] {
                assert!(!row[col(c)].is_empty(), "{c} empty in {csv_path:?}");
            }
            let id = parse_id(&row[col("公民身份号码")]).unwrap();
            if id.birth_date.age_on(synth::REFERENCE_DATE) < formscan::domain::AGENT_UNDER {
                for c in ["代理人公民身份号码", "代理人手机号码", "代理人关系"] {
                    assert!(!row[col(c)].is_empty(), "{c} empty for a pupil under 16");
                }
            }
            exported.insert(row[col("公民身份号码")].to_string());
        }
    }
    // A keyed ID correction changes the exported number: compare by the store's export record.
    assert_eq!(summary.persons, accepted.len());
    assert_eq!(exported.len(), accepted.len());
    eprintln!(
        "campaign: {returned} returned, {review0} in review after intake; {keyed} items keyed, {decided} decisions \
         ({rejected} rejections) in {rounds} rounds, {seconds:.1} s through the station; {} accepted and exported",
        accepted.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}
