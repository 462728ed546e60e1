use super::*;
use crate::{roster, Degrade};

fn truth(state: &str) -> FieldTruth {
    FieldTruth { state: state.into(), ..Default::default() }
}

fn comb(v: &str) -> FieldTruth {
    FieldTruth {
        cells: Some(v.chars().map(String::from).collect()),
        ..truth(if v.is_empty() { "empty" } else { "ink" })
    }
}

fn person_aged(years: u16) -> Person {
    let mut p = roster(1, 3).pop().unwrap();
    p.birth_date = Some(formscan::domain::Date::new(super::super::REFERENCE_DATE.year - years, 1, 1));
    p
}

#[test]
fn expected_findings_follow_the_notice() {
    let valid = formscan::domain::make_id("450305", formscan::domain::Date::new(1985, 5, 5), 12);
    let mut f: BTreeMap<String, FieldTruth> = BTreeMap::new();
    f.insert("photo".into(), FieldTruth { photo: Some("pasted".into()), ..truth("ink") });
    f.insert("agent_id".into(), comb(&valid));
    f.insert("agent_phone".into(), comb("13812345678"));
    f.insert("relation_mother".into(), truth("checked"));
    f.insert("agent_signature".into(), truth("ink"));
    f.insert("applicant_signature".into(), truth("empty"));
    f.insert("paste".into(), truth("empty"));
    // A complete form of a 10-year-old: nothing to find (the applicant need not sign).
    assert!(expected_findings(&person_aged(10), false, &f, false).is_empty());
    // The same at 17 needs the applicant's signature.
    assert_eq!(expected_findings(&person_aged(17), false, &f, false), ["applicant_signature_missing"]);
    f.insert("photo".into(), FieldTruth { photo: Some("none".into()), ..truth("empty") });
    f.insert("agent_id".into(), comb(&corrupt_check(&valid)));
    f.insert("agent_signature".into(), truth("empty"));
    f.insert("applicant_name_fix".into(), truth("ink"));
    let got = expected_findings(&person_aged(10), false, &f, true);
    assert_eq!(
        got,
        ["agent_signature_missing", "class_shared_phone", "fix_without_paste", "id_invalid", "photo_missing"]
    );
    // Under 6 no photo is needed; a printed photo confirmed by 是 needs none either.
    assert!(!expected_findings(&person_aged(4), false, &f, false).contains(&"photo_missing".to_string()));
    f.insert("photo_yes".into(), truth("checked"));
    assert!(!expected_findings(&person_aged(10), true, &f, false).contains(&"photo_missing".to_string()));
    f.remove("relation_mother");
    assert!(expected_findings(&person_aged(10), true, &f, false).contains(&"agent_relation_missing".to_string()));
}

#[test]
fn scenario_run_writes_what_the_truth_says() {
    let t = Template::sbk_student();
    let persons = roster(10, 5);
    let serials: Vec<String> = (1..=10).map(|i| format!("{i:06}")).collect();
    let photos = vec![None; 10];
    let opts = SynthOptions {
        dpi: 100.0,
        degrade: Degrade::Mild,
        seed: 4,
        blank_backs: 0.0,
        scenario: Scenarios {
            missing: 0.2,
            duplicates: 0.2,
            rescans: 0.1,
            rule_breaking: 0.5,
            shared_phone_class: Some(0),
        },
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("formscan-scenario-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = run(&t, &persons, &serials, &photos, "RTEST", &opts, &dir).unwrap();
    assert_eq!((s.forms, s.missing, s.duplicates, s.rescans), (8, 2, 2, 1));
    let st: ScenarioTruth = serde_json::from_slice(&std::fs::read(dir.join("scenario.json")).unwrap()).unwrap();
    assert_eq!(st.persons.len(), 10);
    let jpgs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("jpg".as_ref()))
        .count();
    assert_eq!(jpgs, st.persons.iter().map(|p| p.files.len()).sum::<usize>());
    assert_eq!(jpgs, 8 + 2 + 1);
    let rules = st.persons.iter().filter(|p| p.scenario.iter().any(|t| t.starts_with("rule:"))).count();
    assert_eq!(rules, 5);
    for p in &st.persons {
        assert_eq!(p.scanned, !p.scenario.contains(&"missing".to_string()));
        assert_eq!(p.scanned, !p.files.is_empty());
        for f in &p.files {
            assert!(dir.join(f).exists());
        }
        // Every rule-breaking form raises the finding of its rule.
        let want = p.scenario.iter().find_map(|t| t.strip_prefix("rule:")).map(|r| match r {
            "no_agent" => "agent_id_missing",
            "no_agent_signature" => "agent_signature_missing",
            other => other,
        });
        if let (Some(w), true) = (want, p.scanned) {
            assert!(p.expected_findings.iter().any(|c| c == w), "{:?}", p);
        }
        // The first class (all ten pupils here are in it) shares one phone.
        assert_eq!(p.scanned, p.expected_findings.contains(&"class_shared_phone".to_string()), "{p:?}");
    }
    let dup = st.persons.iter().find(|p| p.scenario.contains(&"duplicate".to_string())).unwrap();
    let bytes: Vec<Vec<u8>> = dup.files.iter().take(2).map(|f| std::fs::read(dir.join(f)).unwrap()).collect();
    assert!(bytes[0] == bytes[1]);
    let re = st.persons.iter().find(|p| p.scenario.contains(&"rescan".to_string())).unwrap();
    let r = re.files.iter().find(|f| f.ends_with("r.jpg")).unwrap();
    assert!(std::fs::read(dir.join(r)).unwrap() != std::fs::read(dir.join(&re.files[0])).unwrap());
    // The shared phone is written in full on every scanned page.
    let phones: Vec<Vec<String>> = st
        .persons
        .iter()
        .filter(|p| p.scanned)
        .map(|p| {
            let js = dir.join(p.files[0].replace(".jpg", ".json"));
            let tr: crate::Truth = serde_json::from_slice(&std::fs::read(js).unwrap()).unwrap();
            tr.fields["applicant_phone"].cells.clone().unwrap()
        })
        .collect();
    assert!(phones.iter().all(|c| *c == phones[0] && c.iter().all(|d| !d.is_empty())));
    // Same seed, same plan.
    let again = plan(&persons, &opts);
    let first = plan(&persons, &opts);
    assert!(again
        .iter()
        .zip(&first)
        .all(|(a, b)| (a.missing, a.duplicate, a.rescan, a.rule) == (b.missing, b.duplicate, b.rescan, b.rule)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_options_are_inactive() {
    assert!(!SynthOptions::default().scenario.is_active());
    assert!(Scenarios { shared_phone_class: Some(0), ..Default::default() }.is_active());
}
