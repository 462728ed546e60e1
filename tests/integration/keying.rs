//! Keying at the store (issue 16): accounts, leases, and twenty keyers at once on one campaign
//! store, none getting an item another holds, none losing a value.

use crate::scratch;
use formscan::batch::BatchOptions;
use formscan::{Engine, Template};
use formscan_campaign::accounts::{self, Role};
use formscan_campaign::keying::{self, FieldValue};
use formscan_campaign::store::{SqliteStore, Store};
use formscan_campaign::{self as campaign, intake};
use formscan_print as print;
use formscan_synth::{self as synth, Degrade, SynthOptions};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

#[test]
fn accounts_log_in_by_hash_and_leases_exclude_others() {
    let dir = scratch("accounts");
    let mut store = SqliteStore::open(&dir.join("campaign.db"), Some(synth::REFERENCE_DATE)).unwrap();
    accounts::add_user(&mut store, "zhang", Role::Keyer, "a long password 1").unwrap();
    accounts::add_user(&mut store, "li", Role::Supervisor, "another password 2").unwrap();
    assert!(accounts::add_user(&mut store, "zhang", Role::Admin, "a long password 3").is_err(), "name taken");
    assert_eq!(accounts::login(&mut store, "zhang", "a long password 1").unwrap(), Some(Role::Keyer));
    assert_eq!(accounts::login(&mut store, "zhang", "a long password 2").unwrap(), None);
    assert_eq!(accounts::login(&mut store, "nobody", "a long password 1").unwrap(), None);
    store.set_account_disabled("zhang", true).unwrap();
    assert_eq!(accounts::login(&mut store, "zhang", "a long password 1").unwrap(), None, "disabled");
    // Only hashes are stored: the password's bytes are nowhere in the file.
    drop(store);
    let bytes = std::fs::read(dir.join("campaign.db")).unwrap();
    assert!(!bytes.windows(17).any(|w| w == b"a long password 1"));
    let mut store = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    let mut other = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    assert!(store.lease("7:agent_phone", "zhang", 100, 700).unwrap());
    assert!(!other.lease("7:agent_phone", "li", 200, 800).unwrap(), "held by another");
    assert!(store.lease("7:agent_phone", "zhang", 300, 900).unwrap(), "renewed by its holder");
    assert!(other.lease("7:agent_phone", "li", 900, 1500).unwrap(), "expired at 900");
    store.release("7:agent_phone", "zhang").unwrap(); // not zhang's any more: nothing happens
    assert_eq!(other.leases(1000).unwrap(), [("7:agent_phone".to_string(), "li".to_string())]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn twenty_keyers_at_once_get_no_item_twice_and_lose_no_value() {
    let dir = scratch("keyers");
    let t = Template::sbk_student();
    let persons = synth::roster(40, 19);
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();
    let pr = print::plan_run(&t, &lines, Some("RKEY"), &dir);
    let opts = SynthOptions { dpi: 200.0, degrade: Degrade::Harsh, seed: 19, ..Default::default() };
    let scans = dir.join("scans");
    let db = dir.join("campaign.db");
    let mut store = crate::store_and_scan(&pr, &db, synth::REFERENCE_DATE, &opts, &scans);
    let bopts = BatchOptions { out_dir: dir.join("read"), snippets: false };
    intake::process(&mut store, &Engine::default(), std::slice::from_ref(&scans), &bopts, &|_, _| {}).unwrap();
    let waiting: usize =
        campaign::assess(&mut store, &Default::default()).unwrap().iter().map(|a| a.keying.len()).sum();
    assert!(waiting >= 20, "only {waiting} fields wait for a value: the test proves little");
    drop(store);

    // The truth of each stored page's field, for the keyers.
    let truth_of = |path: &str, field: &str| -> Option<String> {
        let name = std::path::Path::new(path).with_extension("json");
        let truth: synth::Truth = serde_json::from_str(&std::fs::read_to_string(name).ok()?).ok()?;
        let t = truth.fields.get(field)?;
        let v = t.text.clone().or_else(|| t.cells.as_ref().map(|c| c.concat()))?;
        keying::check_value(field, &v).is_ok().then_some(v)
    };
    let paths: BTreeMap<i64, String> = {
        let mut s = SqliteStore::open(&db, None).unwrap();
        s.persons().unwrap().into_iter().flat_map(|v| v.pages).map(|p| (p.id, p.path)).collect()
    };
    // Every handout: (item, state, operator); every value keyed.
    let handed: Mutex<Vec<(String, FieldValue, String)>> = Mutex::new(Vec::new());
    let keyed = Mutex::new(0usize);
    std::thread::scope(|s| {
        for k in 0..20 {
            let (handed, keyed, paths, db) = (&handed, &keyed, &paths, &db);
            s.spawn(move || {
                let me = format!("keyer-{k:02}");
                let mut store = SqliteStore::open(db, None).unwrap();
                // Items this keyer cannot key (no valid truth) are left, and not asked for again.
                let mut skipped: HashSet<String> = HashSet::new();
                // A keyer who finds nothing asks again a few times before leaving: a field keyed
                // once waits for a second keyer, and others may still hold items.
                let mut idle = 0;
                loop {
                    // Items it skipped come first again (page order): ask for that many more.
                    let n = 3 + skipped.len();
                    let items =
                        keying::next_items(&mut store, &Default::default(), &me, false, n, keying::now()).unwrap();
                    let fresh: Vec<_> = items.into_iter().filter(|i| !skipped.contains(&i.item)).collect();
                    for i in &skipped {
                        store.release(i, &me).unwrap();
                    }
                    if fresh.is_empty() {
                        idle += 1;
                        if idle > 10 {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        continue;
                    }
                    idle = 0;
                    for item in fresh {
                        handed.lock().unwrap().push((item.item.clone(), item.state.clone(), me.clone()));
                        match truth_of(&paths[&item.page_id], &item.field) {
                            Some(v) => {
                                keying::key_item(
                                    &mut store,
                                    &Default::default(),
                                    item.page_id,
                                    &item.field,
                                    &v,
                                    keying::KeyAction::Key,
                                    &me,
                                    false,
                                    None,
                                )
                                .unwrap();
                                *keyed.lock().unwrap() += 1;
                            }
                            None => {
                                skipped.insert(item.item.clone());
                                store.release(&item.item, &me).unwrap();
                            }
                        }
                    }
                }
            });
        }
    });
    let handed = handed.into_inner().unwrap();
    let keyed = keyed.into_inner().unwrap();
    // No item in one stage went to two keyers who both keyed it.
    let mut mut_store = SqliteStore::open(&db, None).unwrap();
    let views = mut_store.persons().unwrap();
    let entries: Vec<_> = views.iter().flat_map(|v| v.pages.iter().flat_map(|p| p.keyed.iter())).collect();
    assert_eq!(entries.len(), keyed, "every value keyed is stored, none lost or doubled");
    let mut per_field: BTreeMap<(i64, &str), Vec<&str>> = BTreeMap::new();
    for e in &entries {
        per_field.entry((e.page_id, e.field.as_str())).or_default().push(e.operator.as_str());
    }
    for ((page, field), ops) in &per_field {
        let distinct: HashSet<_> = ops.iter().collect();
        assert_eq!(distinct.len(), ops.len(), "{page}:{field} keyed twice by one keyer: {ops:?}");
        let class = keying::field_class(field).unwrap();
        let most = if keying::KeyingPolicy::default().double_entry.contains(&class) { 2 } else { 1 };
        assert!(ops.len() <= most, "{page}:{field} keyed {} times: an item went to two keyers", ops.len());
    }
    let firsts = handed.iter().filter(|h| h.1 == FieldValue::None).count();
    assert!(firsts >= 20 && keyed >= 20, "{firsts} items handed out, {keyed} keyed");
    // The work is done: what is left waits for a value no keyer could give (a rule breaker).
    let left: usize = campaign::assess(&mut mut_store, &Default::default())
        .unwrap()
        .iter()
        .flat_map(|a| a.keying.iter().map(move |p| (a, p)))
        .filter(|(a, p)| truth_of(&a.view.pages[a.page.unwrap()].path, &p.field).is_some())
        .count();
    assert_eq!(left, 0, "fields with a valid value still waiting");
    let _ = std::fs::remove_dir_all(&dir);
}
