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

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("formscan-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d.join("campaign.db")
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
    let path = tmp("mig");
    let mut s = SqliteStore::open(&path, Some(Date::new(2026, 9, 1))).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let forms: Vec<PrintedForm> = (0..3)
        .map(|i| PrintedForm { serial: format!("{i:06}"), person: person(i, "1班"), photo_printed: i == 0 })
        .collect();
    s.record_print_run("R1", "sbk-student", &forms).unwrap();
    s.record_print_run("R1", "sbk-student", &forms).unwrap(); // idempotent
    drop(s);
    let mut s = SqliteStore::open(&path, None).unwrap();
    assert_eq!(s.reference_date().unwrap(), Date::new(2026, 9, 1));
    let c = s.counts().unwrap();
    assert_eq!((c.persons, c.forms), (3, 3));
    match s.lookup_form("R1", "000000").unwrap() {
        FormMatch::Known { person: p, photo_printed } => {
            assert!(photo_printed);
            assert_eq!(p.person, forms[0].person);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.lookup_form("R1", "000009").unwrap(), FormMatch::UnknownSerial);
    assert_eq!(s.lookup_form("R2", "000000").unwrap(), FormMatch::UnknownRun);
}

#[test]
fn pages_commit_once_and_status_follows() {
    let path = tmp("pages");
    let mut s = SqliteStore::open(&path, Some(Date::new(2026, 9, 1))).unwrap();
    let forms: Vec<PrintedForm> = (0..4)
        .map(|i| PrintedForm { serial: format!("{i:06}"), person: person(i, "1班"), photo_printed: false })
        .collect();
    s.record_print_run("R1", "sbk-student", &forms).unwrap();
    let keys: Vec<i64> = s.persons().unwrap().iter().map(|p| p.person.key).collect();
    let key_of = |s: &mut SqliteStore, serial: &str| match s.lookup_form("R1", serial).unwrap() {
        FormMatch::Known { person, .. } => person.key,
        _ => unreachable!(),
    };
    let k0 = key_of(&mut s, "000000");
    let k1 = key_of(&mut s, "000001");
    let k2 = key_of(&mut s, "000002");
    let k3 = key_of(&mut s, "000003");
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
        IntakeItem::FileDone { file: [1; 32], pages: 1 },
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
    let a = crate::assess(&mut s, &Default::default()).unwrap();
    let status = |a: &[crate::Assessed], k: i64| a.iter().find(|x| x.view.person.key == k).unwrap().clone();
    // Three forms with one phone in the class: every one goes to review.
    let x = status(&a, k0);
    assert_eq!(x.status, crate::FormStatus::Review);
    assert_eq!(x.findings[0].code.as_str(), "class_shared_phone");
    let x = status(&a, k2);
    assert_eq!(x.findings.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["duplicate_serial"]);
    // Choosing one of the rescans ends the duplicate; the class still shares one phone.
    let chosen = x.view.pages[1].id;
    decide(&mut s, k2, Decision::Choose(chosen));
    decide(&mut s, k1, Decision::Reject);
    let a = crate::assess(&mut s, &Default::default()).unwrap();
    assert_eq!(status(&a, k1).status, crate::FormStatus::Rejected);
    let x = status(&a, k2);
    assert_eq!(x.page, Some(1));
    assert_eq!(x.findings.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["class_shared_phone"]);
    // A reviewer checked the number with the family.
    decide(&mut s, k2, Decision::Accept);
    let history = s.decisions(k2).unwrap();
    assert_eq!(history.iter().map(|d| d.decision).collect::<Vec<_>>(), [Decision::Choose(chosen), Decision::Accept]);
    assert!(history.iter().all(|d| d.operator == "tester"));
    let a = crate::assess(&mut s, &Default::default()).unwrap();
    assert_eq!(status(&a, k2).status, crate::FormStatus::Accepted);
    let rows = crate::status::rows(&a);
    let total = rows.last().unwrap();
    assert_eq!((total.printed, total.returned, total.accepted, total.review, total.rejected), (4, 4, 1, 2, 1));
    assert!(crate::status::table(&rows).contains("第一小学"));
    let id = s.record_export("all", &[(k2, chosen)]).unwrap();
    assert!(s.record_export("all", &[(k2, chosen)]).is_err(), "a person is exported once");
    assert_eq!(s.export_batch(id).unwrap(), ("all".to_string(), vec![(k2, chosen)]));
}
