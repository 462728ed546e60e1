//! End to end through the campaign store: roster clean → print → synth (missing forms, a
//! duplicate file, a rescan, a page of a foreign run, rule-breaking forms, a class that shares
//! one phone number) → intake killed with SIGKILL
//! part-way, then rerun → status → export. Every person is accounted for exactly once, rule
//! breakers carry the right finding codes (expected from the simulator's truth), and the
//! export holds exactly the accepted forms.
//!
//! The kill needs a second process: the test binary runs itself, filtered to this test, with
//! `FORMSCAN_E2E_CHILD` set to the scratch folder; that child only runs intake.

use crate::scratch;
use formscan::batch::BatchOptions;
use formscan::domain::parse_id;
use formscan::finding::FindingCode;
use formscan::{Engine, Template};
use formscan_campaign::store::{Decision, DecisionEntry, PrintedForm, SqliteStore, Store};
use formscan_campaign::{self as campaign, export, intake, FormStatus};
use formscan_print as print;
use formscan_synth::{self as synth, Degrade, SynthOptions, Truth};
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

const CHILD: &str = "FORMSCAN_E2E_CHILD";

fn intake_run(dir: &Path) -> intake::IntakeSummary {
    let mut store = SqliteStore::open(&dir.join("campaign.db"), None).unwrap();
    let opts = BatchOptions { out_dir: dir.join("read"), snippets: false };
    intake::process(&mut store, &Engine::default(), &[dir.join("scans")], &opts, &|_, _| {}).unwrap()
}

/// The notice's rules applied to the simulator's truth: the codes a form must carry. A
/// printed but unconfirmed photo may be reported as `photo_unconfirmed` instead.
fn expected_codes(truth: &Truth, id: &str, photo_printed: bool) -> BTreeSet<&'static str> {
    let f = |n: &str| truth.fields.get(n).map(|t| t.state.as_str()).unwrap_or("");
    let age = parse_id(id).unwrap().birth_date.age_on(synth::REFERENCE_DATE);
    let mut out = BTreeSet::new();
    let confirmed = photo_printed && f("photo_yes") == "checked";
    let pasted = truth.fields.get("photo").and_then(|t| t.photo.as_deref()) == Some("pasted");
    if age >= 6 && !confirmed && !pasted {
        out.insert("photo_missing");
    }
    if (f("applicant_name_fix") == "ink" || f("applicant_id_fix") == "ink") && f("paste") == "empty" {
        out.insert("fix_without_paste");
    }
    if age < 16 {
        for (field, code) in [
            ("agent_id", "agent_id_missing"),
            ("agent_phone", "agent_phone_missing"),
            ("agent_signature", "agent_signature_missing"),
        ] {
            if f(field) == "empty" {
                out.insert(code);
            }
        }
        let relations = ["father", "mother", "paternal_grandparent", "maternal_grandparent", "other"];
        if relations.iter().all(|r| f(&format!("relation_{r}")) != "checked") {
            out.insert("agent_relation_missing");
        }
    } else if f("applicant_signature") == "empty" {
        out.insert("applicant_signature_missing");
    }
    out
}

#[test]
fn campaign_end_to_end() {
    if let Some(dir) = std::env::var_os(CHILD) {
        intake_run(Path::new(&dir));
        return;
    }
    let dir = scratch("campaign");
    let t = Template::sbk_student();
    // Three students from each of ten classes across grades 小班 … 高三 (ages 3–17).
    let all = synth::roster(1200, 2031);
    let mut persons = Vec::new();
    for class_no in (0..30).step_by(3) {
        for k in 0..3 {
            let mut p = all[class_no * 40 + k].clone();
            if (class_no + k) % 3 == 0 {
                p.photo = Some(format!("face:{k}"));
            }
            persons.push(p);
        }
    }

    // roster clean: the insured list and the school roll hold these 30 pupils and two more,
    // one who already holds a card and one whose data is already submitted; the pending list
    // must be exactly the 30.
    let (holder, submitted) = (all[5].clone(), all[6].clone());
    let mut listed = persons.clone();
    listed.extend([holder.clone(), submitted.clone()]);
    let mut lists = Vec::new();
    formscan_print::roster::write_roster_csv(&listed, &mut lists).unwrap();
    let holders = format!("id_number\n{}\n", holder.id_number);
    let done = format!("公民身份号码\n{}\n", submitted.id_number);
    let cleaned = formscan_print::clean::clean(&formscan_print::clean::CleanInputs {
        insured: &lists,
        roll: &lists,
        holders: &[holders.as_bytes()],
        submitted: &[done.as_bytes()],
    })
    .unwrap();
    let mut reasons: Vec<&str> = cleaned.report.iter().map(|r| r.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons, ["already_submitted", "holds_card"]);
    let ids = |v: &[formscan_print::roster::Person]| v.iter().map(|p| p.id_number.clone()).collect::<BTreeSet<_>>();
    assert_eq!(ids(&cleaned.pending), ids(&persons));
    // The pending list carries no photos; the bureau's photos go back on by ID number.
    let photo_of: std::collections::HashMap<String, Option<String>> =
        persons.iter().map(|p| (p.id_number.clone(), p.photo.clone())).collect();
    let persons: Vec<_> = cleaned
        .pending
        .into_iter()
        .map(|mut p| {
            p.photo = photo_of[&p.id_number].clone();
            p
        })
        .collect();
    let lines: Vec<(usize, _)> = persons.into_iter().enumerate().map(|(i, p)| (i + 2, p)).collect();

    // print --db
    let pr = print::print_run(&t, &lines, Some("RE2E"), &dir, &dir.join("print")).unwrap();
    let mut store = SqliteStore::open(&dir.join("campaign.db"), Some(synth::REFERENCE_DATE)).unwrap();
    let forms: Vec<PrintedForm> = pr
        .pages
        .iter()
        .map(|p| PrintedForm { serial: p.serial.clone(), person: p.person.clone(), photo_printed: p.photo.is_some() })
        .collect();
    store.record_print_run(&pr.run, &t.id, &forms).unwrap();
    let n = pr.pages.len();
    assert_eq!(n, 30);

    // synth, then the batch's accidents.
    let scans = dir.join("scans");
    let persons: Vec<_> = pr.pages.iter().map(|p| p.person.clone()).collect();
    let serials: Vec<_> = pr.pages.iter().map(|p| p.serial.clone()).collect();
    let photos: Vec<_> = pr.pages.iter().map(|p| p.photo.clone()).collect();
    // The last class (forms 27–29) all write one phone number: a teacher's (notice 三.3).
    let shared_class = 9usize;
    let scenario = synth::scenario::Scenarios { shared_phone_class: Some(shared_class), ..Default::default() };
    let opts =
        SynthOptions { dpi: 200.0, degrade: Degrade::Mild, seed: 5, blank_backs: 0.1, scenario, ..Default::default() };
    synth::run(&t, &persons, &serials, &photos, &pr.run, &opts, &scans).unwrap();
    let missing = [3usize, 17];
    for i in missing {
        std::fs::remove_file(scans.join(format!("page-{i:05}a.jpg"))).unwrap();
    }
    std::fs::copy(scans.join("page-00005a.jpg"), scans.join("copy-00005a.jpg")).unwrap();
    std::fs::copy(scans.join("page-00005a.json"), scans.join("copy-00005a.json")).unwrap();
    let rescanned = 8usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let payload = pr.pages[rescanned].payload(&t, &pr.run);
    let page =
        synth::simulate_form(&t, &persons[rescanned], &payload, photos[rescanned].clone(), &opts, &mut rng).unwrap();
    page.image.to_rgb8().save(scans.join("rescan-00008.jpg")).unwrap();
    std::fs::write(scans.join("rescan-00008.json"), serde_json::to_string(&page.truth).unwrap()).unwrap();
    let mut foreign = payload.clone();
    foreign.run = "RFOREIGN".into();
    let page = synth::simulate_form(&t, &persons[9], &foreign, None, &opts, &mut rng).unwrap();
    page.image.to_rgb8().save(scans.join("foreign.jpg")).unwrap();
    let jpgs = std::fs::read_dir(&scans).unwrap().filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "jpg");
    let files = jpgs.count();

    // process --db, killed part-way (one worker thread, so the kill lands mid-batch).
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "campaign::campaign_end_to_end", "--test-threads=1", "--nocapture"])
        .env(CHILD, &dir)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let at_kill = loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let pages = store.counts().unwrap().pages;
        if pages >= 6 || child.try_wait().unwrap().is_some() {
            break pages;
        }
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(at_kill < files - 1, "the kill came after the batch ended ({at_kill} pages)");
    let done_before = store.completed_files().unwrap().len();

    // Rerun: the rest is read, nothing twice.
    let rerun = intake_run(&dir);
    assert!(rerun.already_done >= done_before.min(1), "{} files were done, none skipped", done_before);
    let read_now = rerun.batch.pages_in - rerun.batch.earlier_pages;
    assert_eq!(read_now + rerun.already_done + rerun.duplicate_files, files);
    let counts = store.counts().unwrap();
    assert_eq!(counts.pages, files - 1, "each distinct file's page once");
    assert_eq!(counts.duplicate_paths, 1);
    // The output folder describes every page once, not just the rerun's (issue 14, defect 1).
    assert_eq!(rerun.batch.pages_in, files - 1);
    assert_eq!(crate::record_keys(&dir.join("read")).len(), files - 1);
    let third = intake_run(&dir).batch;
    assert_eq!((third.pages_in, third.earlier_pages), (files - 1, files - 1), "a third run does no work");
    assert_eq!(crate::record_keys(&dir.join("read")).len(), files - 1);
    let flagged: Vec<String> = store.flagged_pages().unwrap().into_iter().map(|f| f.reason).collect();
    assert!(flagged.contains(&"unknown_run".to_string()) && flagged.contains(&"duplicate_file".to_string()));

    // status: every person once, the right findings.
    let a = campaign::assess(&mut store, &Default::default()).unwrap();
    assert_eq!(a.len(), n);
    let mut rule_breakers = 0;
    for (i, x) in a.iter().enumerate() {
        let serial = &x.view.forms[0].1;
        let k = pr.pages.iter().position(|p| &p.serial == serial).unwrap();
        let codes: BTreeSet<&str> = x.findings.iter().map(|f| f.code.as_str()).collect();
        if missing.contains(&k) {
            assert_eq!(x.status, FormStatus::NotReturned, "person {i}");
            continue;
        }
        if k == rescanned {
            assert_eq!(x.status, FormStatus::Review);
            assert!(codes.contains("duplicate_serial"));
            continue;
        }
        let truth: Truth =
            serde_json::from_str(&std::fs::read_to_string(scans.join(format!("page-{k:05}a.json"))).unwrap()).unwrap();
        let want = expected_codes(&truth, &persons[k].id_number, photos[k].is_some());
        for w in &want {
            let ok = codes.contains(w) || (*w == "photo_missing" && codes.contains("photo_unconfirmed"));
            assert!(ok, "form {k}: expected {w}, got {codes:?}");
        }
        assert_eq!(codes.contains("class_shared_phone"), k / 3 == shared_class, "form {k}: {codes:?}");
        if !want.is_empty() {
            rule_breakers += 1;
            assert_eq!(x.status, FormStatus::Review, "form {k}");
        }
    }
    assert!(rule_breakers >= 5, "only {rule_breakers} rule-breaking forms: the test proves little");
    let rows = campaign::status::rows(&a);
    let total = rows.last().unwrap();
    assert_eq!(total.printed, n);
    assert_eq!(total.not_returned, missing.len());
    assert_eq!(total.returned, total.accepted + total.review + total.rejected);
    campaign::status::write_xlsx(&rows, &dir.join("status.xlsx")).unwrap();
    assert!(std::fs::read(dir.join("status.xlsx")).unwrap().starts_with(b"PK"));

    // Keying (录入): two keyers key what the reader could not read, from the scans' truth;
    // before it, no form that waits for a value can be accepted, not even by a reviewer.
    for x in &a {
        if x.status == FormStatus::Review && x.findings.iter().all(|f| f.code == FindingCode::FieldUnclear) {
            store.decide(&DecisionEntry::new(x.view.person.key, Decision::Accept, "tester")).unwrap();
        }
    }
    let before = campaign::assess(&mut store, &Default::default()).unwrap();
    assert!(before.iter().all(|x| x.status != FormStatus::Accepted || x.keying.is_empty()));
    let waiting = before.iter().filter(|x| !x.keying.is_empty()).count();
    assert!(waiting >= 3, "only {waiting} forms wait for keying: the test proves little");
    let keyed = crate::key_from_truth(&mut store, &scans);
    assert!(keyed >= waiting, "{keyed} values keyed for {waiting} forms");
    // Review: a reviewer confirms forms whose only findings are unclear numbers (now keyed).
    let a = campaign::assess(&mut store, &Default::default()).unwrap();
    for x in &a {
        if x.status == FormStatus::Review && x.findings.iter().all(|f| f.code == FindingCode::FieldUnclear) {
            store.decide(&DecisionEntry::new(x.view.person.key, Decision::Accept, "tester")).unwrap();
        }
    }
    let a = campaign::assess(&mut store, &Default::default()).unwrap();
    // Exported under the ID number that counts: an accepted or keyed valid correction wins.
    let policy = campaign::keying::KeyingPolicy::default();
    let effective_id = |x: &campaign::Assessed| {
        let page = &x.view.pages[x.page.unwrap()];
        campaign::keying::field_value(page, "applicant_id_fix", &policy)
            .value()
            .map(str::to_string)
            .filter(|v| parse_id(v).is_ok())
            .unwrap_or_else(|| x.view.person.person.id_number.clone())
    };
    let accepted: HashSet<String> = a.iter().filter(|x| x.status == FormStatus::Accepted).map(effective_id).collect();
    assert!(!accepted.is_empty());

    // export: exactly the accepted, once, reproducibly.
    let s = export::export(&mut store, &dir.join("export"), &Default::default()).unwrap();
    assert_eq!(s.persons, accepted.len());
    let mut exported = HashSet::new();
    let mut rows_by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files_a = BTreeMap::new();
    for school in std::fs::read_dir(dir.join("export")).unwrap() {
        let p = school.unwrap().path().join("card-data.csv");
        let bytes = std::fs::read(&p).unwrap();
        let mut r = csv::Reader::from_reader(&bytes[3..]);
        for rec in r.records() {
            let rec = rec.unwrap();
            assert!(exported.insert(rec[1].to_string()), "a person exported twice");
            rows_by_id.insert(rec[1].to_string(), rec.iter().map(str::to_string).collect::<Vec<_>>());
        }
        files_a.insert(p.strip_prefix(dir.join("export")).unwrap().to_path_buf(), bytes);
    }
    assert_eq!(exported, accepted);
    // Every value written on an exported form is in its row, as written: the phones, the agent's
    // ID number and name (keyed from the scans' truth where the reader could not read them).
    let mut checked_names = 0;
    for x in a.iter().filter(|x| x.status == FormStatus::Accepted) {
        let page = &x.view.pages[x.page.unwrap()];
        let name = std::path::Path::new(&page.path).with_extension("json");
        let truth: Truth = serde_json::from_str(&std::fs::read_to_string(&name).unwrap()).unwrap();
        let row = rows_by_id.get(&effective_id(x)).expect("an accepted person's row");
        for (field, col) in [("applicant_phone", 5), ("agent_name", 6), ("agent_id", 7), ("agent_phone", 8)] {
            let Some(t) = truth.fields.get(field).filter(|t| t.state == "ink") else { continue };
            let want = t.text.clone().unwrap_or_else(|| t.cells.as_ref().unwrap().concat());
            assert_eq!(row[col], want, "{field} of an exported form");
            checked_names += usize::from(field == "agent_name");
        }
    }
    assert!(checked_names >= 3, "only {checked_names} agents' names checked in the export");
    let again = export::export(&mut store, &dir.join("export-again"), &Default::default()).unwrap();
    assert_eq!(again.persons, 0, "no one is exported twice");
    let redo = export::ExportOptions { batch: s.batch, ..Default::default() };
    export::export(&mut store, &dir.join("export-redo"), &redo).unwrap();
    for (rel, bytes) in &files_a {
        assert_eq!(&std::fs::read(dir.join("export-redo").join(rel)).unwrap(), bytes, "re-export differs");
    }
    let gbk = export::ExportOptions { batch: s.batch, encoding: export::CsvEncoding::Gbk, ..Default::default() };
    export::export(&mut store, &dir.join("export-gbk"), &gbk).unwrap();
    for (rel, bytes) in &files_a {
        let g = std::fs::read(dir.join("export-gbk").join(rel)).unwrap();
        assert_eq!(encoding_rs::GBK.decode(&g).0, std::str::from_utf8(&bytes[3..]).unwrap());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
