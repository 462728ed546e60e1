//! Store tests on tiny synthetic data: migrations, idempotent intake, decisions, exports.

use super::*;
use formscan::domain::{make_id, Date};

fn person(i: u16, class: &str) -> Person {
    Person {
        name: format!("学生{i}"),
        id_number: make_id("450302", Date::new(2015, 1, 1 + (i % 28) as u8), i * 2 + 1),
        school: "第一小学".into(),
        grade: "一年级".into(),
        class: class.into(),
        ethnicity: "汉族".into(),
        ..Default::default()
    }
}

/// One fresh, empty store per backend for test `name`: an SQLite file, and a new database on
/// the PostgreSQL test server when there is one (`postgres::scratch_database`). Each test runs
/// its body against every one: one suite for both backends.
fn backends(name: &str) -> Backends {
    let d = std::env::temp_dir().join(format!("formscan-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let mut at = vec![StoreLocation::Sqlite(d.join("campaign.db"))];
    if let Some(url) = crate::store::postgres::scratch_database(name).unwrap() {
        at.push(StoreLocation::Postgres(url));
    }
    Backends { dir: d, at }
}

/// A test's stores ([`backends`]): its SQLite folder is removed when they are done with (the
/// loop over them ends, or the test returns), unless the test failed, so that a failure's
/// store can be looked at.
struct Backends {
    dir: std::path::PathBuf,
    at: Vec<StoreLocation>,
}

impl std::ops::Deref for Backends {
    type Target = Vec<StoreLocation>;
    fn deref(&self) -> &Vec<StoreLocation> {
        &self.at
    }
}

impl std::ops::DerefMut for Backends {
    fn deref_mut(&mut self) -> &mut Vec<StoreLocation> {
        &mut self.at
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl IntoIterator for Backends {
    type Item = StoreLocation;
    type IntoIter = BackendsIter;
    fn into_iter(mut self) -> BackendsIter {
        BackendsIter { at: std::mem::take(&mut self.at).into_iter(), _folder: self }
    }
}

/// The locations of [`Backends`], holding its folder until the loop ends.
struct BackendsIter {
    at: std::vec::IntoIter<StoreLocation>,
    _folder: Backends,
}

impl Iterator for BackendsIter {
    type Item = StoreLocation;
    fn next(&mut self) -> Option<StoreLocation> {
        self.at.next()
    }
}

fn print_run(s: &mut dyn Store, n: u16, photo_first: bool) -> Vec<PrintedForm> {
    let forms: Vec<PrintedForm> = (0..n)
        .map(|i| PrintedForm {
            serial: format!("{i:06}"),
            person: person(i, "1班"),
            photo_printed: photo_first && i == 0,
        })
        .collect();
    s.record_print_run("R1", "sbk-student", &forms).unwrap();
    forms
}

fn key_of(s: &mut dyn Store, serial: &str) -> i64 {
    match s.lookup_form("R1", serial).unwrap() {
        FormMatch::Known { person, .. } => person.key,
        other => panic!("{other:?}"),
    }
}

fn page(file: u8, idx: usize, key: Option<i64>, serial: &str, phone: Option<&str>) -> IntakeItem {
    IntakeItem::Page(Box::new(PageEntry {
        file: [file; 32],
        page_index: idx,
        path: format!("scan{file}.jpg"),
        out_dir: "/nonexistent".into(),
        outcome: Outcome::Read,
        reject_reason: None,
        form: Some(("R1".into(), serial.into())),
        matched: if key.is_some() { PageMatch::Form } else { PageMatch::UnknownSerial },
        person_key: key,
        fields: BTreeMap::from([(
            "applicant_phone".to_string(),
            StoredField {
                state: "ink".into(),
                value: phone.map(str::to_string),
                status: Some("accepted".into()),
                candidates: phone.iter().map(|p| p.to_string()).chain(["13812345679".to_string()]).collect(),
            },
        )]),
        findings: Vec::new(),
        phone: phone.map(str::to_string),
    }))
}

fn decide(s: &mut dyn Store, person: i64, d: Decision) {
    s.decide(&crate::store::DecisionEntry::new(person, d, "tester")).unwrap();
}

#[test]
fn migrations_settings_and_print_runs() {
    for at in backends("mig") {
        let mut s = at.open(Some(Date::new(2026, 9, 1))).unwrap();
        assert_eq!(s.schema_version().unwrap(), copy::SCHEMA_VERSION, "{at}");
        #[cfg(unix)]
        if let StoreLocation::Sqlite(path) = &at {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let forms = print_run(&mut *s, 3, true);
        print_run(&mut *s, 3, true); // idempotent
        drop(s);
        let mut s = at.open(None).unwrap();
        assert_eq!(s.reference_date().unwrap(), Date::new(2026, 9, 1), "{at}");
        let c = s.counts().unwrap();
        assert_eq!((c.persons, c.forms), (3, 3), "{at}");
        match s.lookup_form("R1", "000000").unwrap() {
            FormMatch::Known { person: p, photo_printed } => {
                assert!(photo_printed);
                assert_eq!(p.person, forms[0].person);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.lookup_form("R1", "000009").unwrap(), FormMatch::UnknownSerial);
        assert_eq!(s.lookup_form("R2", "000000").unwrap(), FormMatch::UnknownRun);
        assert_eq!(s.check().unwrap(), Vec::<String>::new(), "{at}");
    }
}

#[test]
fn pages_commit_once_and_status_follows() {
    for at in backends("pages") {
        let mut s = at.open(Some(Date::new(2026, 9, 1))).unwrap();
        pages_commit_once_and_status_follows_on(&mut *s);
        assert_eq!(s.check().unwrap(), Vec::<String>::new(), "{at}");
    }
}

fn pages_commit_once_and_status_follows_on(s: &mut dyn Store) {
    print_run(s, 4, false);
    let keys: Vec<i64> = s.persons().unwrap().iter().map(|p| p.person.key).collect();
    let k0 = key_of(s, "000000");
    let k1 = key_of(s, "000001");
    let k2 = key_of(s, "000002");
    let k3 = key_of(s, "000003");
    assert!(keys.contains(&k0));
    let phone = Some("13812345678");
    let batch = vec![
        page(1, 0, Some(k0), "000000", phone),
        page(2, 0, Some(k1), "000001", phone),
        page(3, 0, Some(k2), "000002", phone),
        page(4, 0, Some(k2), "000002", phone), // a rescan of form 2
        page(6, 0, Some(k3), "000003", phone),
        page(5, 0, None, "000099", None),
        IntakeItem::FileSeen { file: [1; 32], path: "scan1.jpg".into() },
        IntakeItem::FileSeen { file: [1; 32], path: "copy-of-scan1.jpg".into() },
        IntakeItem::FileDone { file: [1; 32], pages: 1, out_dir: "/nonexistent".into() },
    ];
    s.commit(&batch).unwrap();
    s.commit(&batch).unwrap(); // a rerun after a kill: nothing doubles
                               // A field comes back as it went in, candidates and all, from the whole store and alone.
    let stored = s.persons().unwrap().into_iter().flat_map(|p| p.pages).next().unwrap();
    let field = &stored.fields["applicant_phone"];
    assert_eq!(field.candidates, ["13812345678", "13812345679"]);
    assert_eq!(s.page_field(stored.id, "applicant_phone").unwrap().as_ref(), Some(field));
    assert_eq!(s.page(stored.id).unwrap().map(|(_, p)| p), Some(stored));
    assert_eq!(s.counts().unwrap().pages, 6);
    assert_eq!(s.completed_files().unwrap(), HashSet::from([[1u8; 32]]));
    let flagged = s.flagged_pages().unwrap();
    let reasons: Vec<&str> = flagged.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(reasons, ["duplicate_file", "unknown_serial"]);
    let a = crate::assess(s, &Default::default()).unwrap();
    let status = |a: &[crate::Assessed], k: i64| a.iter().find(|x| x.view.person.key == k).unwrap().clone();
    // Three forms with one phone in the class: every one goes to review.
    let x = status(&a, k0);
    assert_eq!(x.status, crate::FormStatus::Review);
    assert_eq!(x.findings[0].code.as_str(), "class_shared_phone");
    let x = status(&a, k2);
    assert_eq!(x.findings.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["duplicate_serial"]);
    // Choosing one of the rescans ends the duplicate; the class still shares one phone.
    let chosen = x.view.pages[1].id;
    decide(s, k2, Decision::Choose(chosen));
    decide(s, k1, Decision::Reject);
    let a = crate::assess(s, &Default::default()).unwrap();
    assert_eq!(status(&a, k1).status, crate::FormStatus::Rejected);
    let x = status(&a, k2);
    assert_eq!(x.page, Some(1));
    assert_eq!(x.findings.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["class_shared_phone"]);
    // A reviewer checked the number with the family.
    decide(s, k2, Decision::Accept);
    let history = s.decisions(k2).unwrap();
    assert_eq!(history.iter().map(|d| d.decision).collect::<Vec<_>>(), [Decision::Choose(chosen), Decision::Accept]);
    assert!(history.iter().all(|d| d.operator == "tester"));
    let a = crate::assess(s, &Default::default()).unwrap();
    assert_eq!(status(&a, k2).status, crate::FormStatus::Accepted);
    let rows = crate::status::rows(&a);
    let total = rows.last().unwrap();
    assert_eq!((total.printed, total.returned, total.accepted, total.review, total.rejected), (4, 4, 1, 2, 1));
    assert!(crate::status::table(&rows).contains("第一小学"));
    let id = s.record_export("all", &[(k2, chosen)]).unwrap();
    assert!(s.record_export("all", &[(k2, chosen)]).is_err(), "a person is exported once");
    assert_eq!(s.export_batch(id).unwrap(), ("all".to_string(), vec![(k2, chosen)]));
}

/// Two intakes on one store: SQLite refuses the second outright; a server store lets both run
/// and hands each file to one of them, and a dead station's claims end with its connection.
#[test]
fn two_intakes_never_read_one_file_twice() {
    for at in backends("claims") {
        let mut a = at.open(None).unwrap();
        let mut b = at.open(None).unwrap();
        a.claim_writer("process").unwrap();
        let file = [7u8; 32];
        match at {
            StoreLocation::Sqlite(_) => {
                let e = b.claim_writer("process").unwrap_err().to_string();
                assert!(e.contains("process"), "{e}");
                assert_eq!(a.claim_file(&file).unwrap(), FileClaim::Claimed);
            }
            StoreLocation::Postgres(_) => {
                b.claim_writer("process").unwrap();
                assert_eq!(a.claim_file(&file).unwrap(), FileClaim::Claimed);
                assert_eq!(a.claim_file(&file).unwrap(), FileClaim::Claimed, "a claim is this connection's");
                assert_eq!(b.claim_file(&file).unwrap(), FileClaim::Elsewhere);
                // A dies without committing: its claim goes with its connection, once the
                // server has ended A's session, which happens after the socket closes, not with
                // it (asking at once found it still held in one run of the suite).
                drop(a);
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                let claim = loop {
                    let claim = b.claim_file(&file).unwrap();
                    if claim != FileClaim::Elsewhere || std::time::Instant::now() > deadline {
                        break claim;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                };
                assert_eq!(claim, FileClaim::Claimed);
                let mut c = at.open(None).unwrap();
                assert_eq!(c.claim_file(&file).unwrap(), FileClaim::Elsewhere);
                // B finishes the file and lets it go: C now finds it done.
                b.commit(&[
                    page(7, 0, None, "000001", None),
                    IntakeItem::FileSeen { file, path: "scan7.jpg".into() },
                    IntakeItem::FileDone { file, pages: 1, out_dir: "/nonexistent".into() },
                ])
                .unwrap();
                // Done as soon as committed, before B lets the lock go, and after.
                assert_eq!(c.claim_file(&file).unwrap(), FileClaim::Done);
                b.release_file(&file).unwrap();
                assert_eq!(c.claim_file(&file).unwrap(), FileClaim::Done);
                assert_eq!(b.claim_file(&file).unwrap(), FileClaim::Done);
                assert_eq!(c.check().unwrap(), Vec::<String>::new());
            }
        }
    }
}

/// Keyers on several connections at once: every item goes to exactly one of them.
#[test]
fn leases_go_to_one_keyer_each() {
    for at in backends("leases") {
        let items: Vec<String> = (0..40).map(|i| format!("{i}:applicant_phone")).collect();
        let won = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for k in 0..4 {
                let (at, items, won) = (&at, &items, &won);
                scope.spawn(move || {
                    let mut s = at.open(None).unwrap();
                    let me = format!("keyer{k}");
                    for item in items {
                        // SQLite's writers queue on its lock; a busy moment is a refusal here.
                        if s.lease(item, &me, 1000, 1600).unwrap_or(false) {
                            won.lock().unwrap().push((item.clone(), me.clone()));
                        }
                    }
                });
            }
        });
        let mut won = won.into_inner().unwrap();
        won.sort();
        let mut taken: Vec<&String> = won.iter().map(|w| &w.0).collect();
        taken.dedup();
        assert_eq!(taken.len(), won.len(), "{at}: an item leased twice");
        let mut s = at.open(None).unwrap();
        let held = s.leases(1000).unwrap();
        assert_eq!(held.len(), won.len(), "{at}");
        // An expired lease is free again; a live one is its holder's only.
        let (item, holder) = held[0].clone();
        assert_ne!(holder, "late");
        assert!(!s.lease(&item, "late", 1100, 1700).unwrap(), "{at}: a live lease is its holder's");
        assert!(s.lease(&item, "late", 1600, 2200).unwrap());
        s.release(&item, "late").unwrap();
        assert_eq!(s.leases(1600).unwrap().len(), 0, "{at}");
    }
}

/// Export batches started together on two connections: numbered 1 and 2, no person twice.
#[test]
fn concurrent_exports_are_numbered_without_gaps() {
    for at in backends("exports") {
        let mut s = at.open(Some(Date::new(2026, 9, 1))).unwrap();
        print_run(&mut *s, 6, false);
        let keys: Vec<i64> = (0..6).map(|i| key_of(&mut *s, &format!("{i:06}"))).collect();
        // A page per person to export.
        let items: Vec<IntakeItem> =
            (0..6).map(|i| page(10 + i as u8, 0, Some(keys[i]), &format!("{i:06}"), None)).collect();
        s.commit(&items).unwrap();
        let page_of: BTreeMap<i64, i64> = s.persons().unwrap().iter().map(|p| (p.person.key, p.pages[0].id)).collect();
        let halves = [keys[..3].to_vec(), keys[3..].to_vec()];
        let ids = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for half in &halves {
                let (at, ids, page_of) = (&at, &ids, &page_of);
                scope.spawn(move || {
                    let mut s = at.open(None).unwrap();
                    let batch: Vec<(i64, i64)> = half.iter().map(|k| (*k, page_of[k])).collect();
                    ids.lock().unwrap().push(s.record_export("all", &batch).unwrap());
                });
            }
        });
        let mut ids = ids.into_inner().unwrap();
        ids.sort();
        assert_eq!(ids, [1, 2], "{at}");
        // A failed batch (a person exported already) takes no number.
        assert!(s.record_export("all", &[(keys[0], page_of[&keys[0]])]).is_err());
        assert_eq!(s.record_export("all", &[]).unwrap(), 3, "{at}");
        assert_eq!(s.check().unwrap(), Vec::<String>::new(), "{at}");
    }
}

/// A campaign copied SQLite → PostgreSQL → SQLite keeps every row and key; a copy into a
/// store that holds a campaign is refused.
#[test]
fn copy_keeps_every_row() {
    let mut at = backends("copy");
    let Some(pg) = at.pop().filter(|l| matches!(l, StoreLocation::Postgres(_))) else {
        return; // without a server, only the copy's checksum unit test runs
    };
    let sqlite = at.pop().unwrap();
    let mut s = sqlite.open(Some(Date::new(2026, 9, 1))).unwrap();
    pages_commit_once_and_status_follows_on(&mut *s);
    s.add_account(&Account {
        name: "王老师".into(),
        role: "keyer".parse().unwrap(),
        password_hash: "x".into(),
        disabled: true,
    })
    .unwrap();
    let mut p = pg.open(None).unwrap();
    let sums = copy::copy(&mut *s, &mut *p).unwrap();
    assert!(sums.iter().any(|(t, sum)| *t == "fields" && sum.rows == 6));
    assert_eq!(copy::sums(&mut *p).unwrap(), sums);
    assert_eq!(p.persons().unwrap(), s.persons().unwrap());
    assert_eq!(p.flagged_pages().unwrap(), s.flagged_pages().unwrap());
    assert_eq!(p.accounts().unwrap(), s.accounts().unwrap());
    assert_eq!(p.reference_date().unwrap(), Date::new(2026, 9, 1));
    // New rows after the copy take keys past the copied ones.
    let before = p.counts().unwrap().pages;
    p.commit(&[page(99, 0, None, "000098", None)]).unwrap();
    assert_eq!(p.counts().unwrap().pages, before + 1);
    assert!(copy::copy(&mut *s, &mut *p).unwrap_err().to_string().contains("already holds"));
    let back_path = sqlite.to_string().replace("campaign.db", "back.db");
    let mut back = StoreLocation::Sqlite(back_path.into()).open(None).unwrap();
    let mut p = pg.open(None).unwrap();
    copy::copy(&mut *p, &mut *back).unwrap();
    assert_eq!(copy::sums(&mut *back).unwrap(), copy::sums(&mut *p).unwrap());
    assert_eq!(back.check().unwrap(), Vec::<String>::new());
}

/// A file whose pages two output folders committed (a run killed part way, another that
/// finished it) belongs to the folder that finished it: only that one keeps its records.
#[test]
fn a_file_belongs_to_the_folder_that_finished_it() {
    for at in backends("owner") {
        let mut s = at.open(None).unwrap();
        let file = [9u8; 32];
        let at_page = |idx: usize, out: &str, path: &str| {
            let IntakeItem::Page(mut p) = page(9, idx, None, "000001", None) else { unreachable!() };
            (p.out_dir, p.path) = (out.to_string(), path.to_string());
            IntakeItem::Page(p)
        };
        // Station A commits the first page of a two-page file, then dies.
        s.commit(&[IntakeItem::FileSeen { file, path: "/a/batch.pdf".into() }, at_page(0, "/out/a", "/a/batch.pdf")])
            .unwrap();
        assert!(s.completed_paths("/out/a").unwrap().is_empty(), "{at}");
        // Station B reads the whole file (page 0 is kept as A committed it) and finishes it.
        s.commit(&[
            IntakeItem::FileSeen { file, path: "/b/batch.pdf".into() },
            at_page(0, "/out/b", "/b/batch.pdf"),
            at_page(1, "/out/b", "/b/batch.pdf"),
            IntakeItem::FileDone { file, pages: 2, out_dir: "/out/b".into() },
        ])
        .unwrap();
        assert!(s.completed_paths("/out/a").unwrap().is_empty(), "{at}: A's partial records must go");
        assert!(s.completed_paths("/out/b").unwrap().contains("/b/batch.pdf"), "{at}");
        assert_eq!(s.counts().unwrap().pages, 2, "{at}");
        assert_eq!(s.check().unwrap(), Vec::<String>::new(), "{at}");
    }
}
