use super::*;
use formscan::domain::make_id;

fn id(y: u16, m: u8, d: u8, seq: u16) -> String {
    make_id("450305", Date::new(y, m, d), seq)
}

fn run(insured: &str, roll: &str, holders: &[&str], submitted: &[&str]) -> CleanResult {
    let h: Vec<&[u8]> = holders.iter().map(|s| s.as_bytes()).collect();
    let s: Vec<&[u8]> = submitted.iter().map(|s| s.as_bytes()).collect();
    clean(&CleanInputs { insured: insured.as_bytes(), roll: roll.as_bytes(), holders: &h, submitted: &s }).unwrap()
}

fn reasons(r: &CleanResult, action: Action) -> Vec<(&str, &str)> {
    r.report.iter().filter(|e| e.action == action).map(|e| (e.reason.as_str(), e.id_number.as_str())).collect()
}

/// Every valid ID of the insured list and the roll is pending or dropped exactly once, every
/// invalid or incomplete row is dropped once, and nothing else is dropped.
fn assert_accounted(r: &CleanResult, all_ids: &[&str], bad_rows: usize) {
    let pending: Vec<&str> = r.pending.iter().map(|p| p.id_number.as_str()).collect();
    let dropped: Vec<&ReportEntry> = r.report.iter().filter(|e| e.action == Action::Dropped).collect();
    let row_drops = dropped.iter().filter(|e| matches!(e.reason, Reason::IdInvalid | Reason::MissingData)).count();
    assert_eq!(row_drops, bad_rows);
    let person_drops: Vec<&str> = dropped
        .iter()
        .filter(|e| !matches!(e.reason, Reason::IdInvalid | Reason::MissingData))
        .map(|e| e.id_number.as_str())
        .collect();
    for id in all_ids {
        let n = pending.iter().filter(|p| *p == id).count() + person_drops.iter().filter(|p| *p == id).count();
        assert_eq!(n, 1, "{id} accounted for {n} times");
    }
    assert_eq!(pending.len() + person_drops.len(), all_ids.len());
}

#[test]
fn joins_removes_and_reports_every_person_once() {
    let [a, b, c, d, e, f, g, h, k] =
        [1, 3, 5, 7, 9, 11, 13, 15, 17].map(|s| id(2014, 3, (s % 28) as u8 + 1, s as u16));
    let mut bad = id(2014, 4, 1, 19);
    bad.pop();
    bad.push('0');
    if parse_id(&bad).is_ok() {
        bad.pop();
        bad.push('1');
    }
    // a: pending; b: holds a card; c: submitted; d: not on roll; e: not insured; f: name
    // mismatch (kept, flagged); g: suspended; h: birth date contradicts the ID; k: conflicting
    // duplicate on the roll; `bad`: invalid ID on the roll; an exact repeat of a's roll row.
    let insured = format!(
        "姓名,性别,出生日期,身份证号,民族,参保状态\n\
         学生A,男,,{a},汉族,正常参保\n学生B,,,{b},,\n学生C,,,{c},,\n学生D,,,{d},,\n\
         学生F,,,{f},瑶族,参保\n学生G,,,{g},,停保\n学生H,,2010-01-01,{h},,\n学生K,,,{k},,\n"
    );
    let roll = format!(
        "学生姓名,公民身份号码,学校,年级,班级\n\
         学生A,{a},示例小学,二年级,1班\n学生A,{a},示例小学,二年级,1班\n学生B,{b},示例小学,二年级,1班\n\
         学生C,{c},示例小学,二年级,2班\n学生E,{e},示例小学,二年级,2班\n学生 F・,{f},示例小学,一年级,1班\n\
         学生G,{g},示例小学,一年级,1班\n学生H,{h},示例小学,一年级,1班\n学生K,{k},示例小学,一年级,1班\n\
         学生K2,{k},示例小学,一年级,2班\n学生X,{bad},示例小学,一年级,1班\n学生Y,,示例小学,一年级,1班\n"
    );
    let holders = format!("身份证号\n{b}\nnot-an-id\n");
    let submitted = format!("id_number\n{c}\n");
    let r = run(&insured, &roll, &[&holders], &[&submitted]);
    assert_eq!(r.pending.iter().map(|p| p.id_number.as_str()).collect::<Vec<_>>(), [f.as_str(), a.as_str()]);
    let p = &r.pending[1];
    assert_eq!((p.name.as_str(), p.ethnicity.as_str(), p.class.as_str()), ("学生A", "汉族", "1班"));
    assert_eq!(p.sex, parse_id(&a).ok().map(|i| i.sex));
    let mut dropped = reasons(&r, Action::Dropped);
    dropped.sort();
    let mut want = vec![
        ("already_submitted", c.as_str()),
        ("data_conflict", h.as_str()),
        ("duplicate_conflict", k.as_str()),
        ("holds_card", b.as_str()),
        ("id_invalid", bad.as_str()),
        ("id_invalid", ""),
        ("not_insured", e.as_str()),
        ("not_insured", g.as_str()),
        ("not_on_roll", d.as_str()),
    ];
    want.sort();
    assert_eq!(dropped, want);
    assert_eq!(reasons(&r, Action::Flagged), [("name_mismatch", f.as_str())]);
    let mut ignored = reasons(&r, Action::RowIgnored);
    ignored.sort();
    assert_eq!(ignored, [("duplicate_row", a.as_str()), ("id_invalid", "NOT-AN-ID")]);
    assert_accounted(&r, &[&a, &b, &c, &d, &e, &f, &g, &h, &k], 2);
    // The conflict entry names both roll rows and the insured row.
    let conflict = r.report.iter().find(|e| e.reason == Reason::DuplicateConflict).unwrap();
    assert_eq!(conflict.rows.len(), 3);
    assert!(conflict.message.contains("roll:10, roll:11"), "{}", conflict.message);
    let c = r.counts();
    assert_eq!((c.pending, c.dropped, c.flagged, c.ignored), (2, 9, 1, 2));
}

#[test]
fn gbk_english_headers_and_tabs() {
    let a = id(2012, 6, 1, 21);
    let insured = format!("Name\tGender\tID Number\tNation\n学生甲\t女\t{a}\t壮族\n");
    let roll =
        format!("Student Name,ID,School Name,Grade,Class Name\n学生甲,{},桂林示例中学,初一,3班\n", a.to_lowercase());
    let (ins, _, _) = encoding_rs::GBK.encode(&insured);
    let (rol, _, _) = encoding_rs::GBK.encode(&roll);
    assert!(std::str::from_utf8(&rol).is_err());
    let r = clean(&CleanInputs { insured: &ins, roll: &rol, holders: &[], submitted: &[] }).unwrap();
    let sex = parse_id(&a).unwrap().sex;
    // The written sex 女 only counts if it agrees with the ID; pick whichever case applies.
    if sex == Sex::Female {
        assert_eq!(r.pending.len(), 1, "{:?}", r.report);
        assert_eq!((r.pending[0].school.as_str(), r.pending[0].ethnicity.as_str()), ("桂林示例中学", "壮族"));
    } else {
        assert_eq!(reasons(&r, Action::Dropped), [("data_conflict", a.as_str())]);
    }
}

#[test]
fn pending_is_sorted_by_school_grade_class_name_and_reads_back_as_a_roster() {
    let ids: Vec<String> = (0..4).map(|i| id(2013, 1, 1 + i, 31 + 2 * i as u16)).collect();
    let insured = format!("name,id\n丙,{}\n乙,{}\n甲,{}\n丁,{}\n", ids[0], ids[1], ids[2], ids[3]);
    let roll = format!(
        "name,id,school,grade,class\n丙,{},B校,一,1\n乙,{},A校,二,1\n甲,{},A校,一,2\n丁,{},A校,一,2\n",
        ids[0], ids[1], ids[2], ids[3]
    );
    let r = run(&insured, &roll, &[], &[]);
    let order: Vec<(&str, &str)> = r.pending.iter().map(|p| (p.school.as_str(), p.name.as_str())).collect();
    let mut sorted = r.pending.clone();
    sorted.sort_by(|a, b| (&a.school, &a.grade, &a.class, &a.name).cmp(&(&b.school, &b.grade, &b.class, &b.name)));
    assert_eq!(r.pending, sorted);
    assert_eq!(order.last(), Some(&("B校", "丙")));
    let mut out = Vec::new();
    roster::write_roster_csv(&r.pending, &mut out).unwrap();
    let back = roster::parse_roster(&out).unwrap();
    assert!(back.problems.is_empty());
    assert_eq!(back.persons.into_iter().map(|p| p.1).collect::<Vec<_>>(), r.pending);
}

#[test]
fn missing_columns_are_input_errors_naming_the_list() {
    let e = clean(&CleanInputs { insured: b"name,id\n", roll: b"name,id,school\n", holders: &[], submitted: &[] });
    match e {
        Err(Error::Input { reason, .. }) => assert!(reason.contains("roll list has no class"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn report_csv_has_bom_and_stable_columns() {
    let a = id(2013, 1, 1, 1);
    let r = run(&format!("name,id\n甲,{a}\n"), "name,id,school,class\n", &[], &[]);
    let mut out = Vec::new();
    write_report_csv(&r.report, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("\u{FEFF}action,reason,rows,id_number,name,school,grade,class,message\n"));
    assert!(text.contains(&format!("dropped,not_on_roll,insured:2,{a},甲")), "{text}");
}

#[test]
fn names_compare_after_folding() {
    assert_eq!(name_key(" 买买提•艾力 "), name_key("买买提·艾力"));
    assert_ne!(name_key("张三"), name_key("张四"));
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_lists(s in "[a-z0-9X,\n 男女１]{0,120}", t in "[a-z0-9X,\n]{0,80}") {
        let ins = format!("姓名,身份证号,性别\n{s}");
        let roll = format!("name,id,school,class\n{t}");
        let _ = clean(&CleanInputs { insured: ins.as_bytes(), roll: roll.as_bytes(), holders: &[t.as_bytes()], submitted: &[] });
    }
}
