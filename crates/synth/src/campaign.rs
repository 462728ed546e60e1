//! Synthetic input lists for data cleaning ([`formscan_print::clean`]): an insured-residents list, a
//! school roll, a card-holder list and an already-submitted list with known drop-outs, so
//! demos and end-to-end tests can run clean → print → synth → process.

use super::{rng_for, roster};
use formscan::domain::{make_id, parse_id, Sex};
use formscan::error::{Error, Result};
use formscan_print::roster::Person;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The four lists as file bytes, and what cleaning them must give.
#[derive(Debug, Clone, Default)]
pub struct CampaignLists {
    /// Insured residents: GBK, Chinese headers (`姓名,性别,出生日期,公民身份号码,民族,参保状态`),
    /// as a Chinese Windows export would be.
    pub insured: Vec<u8>,
    /// School roll: UTF-8 with a byte-order mark, English headers
    /// (`name,id_number,school,grade,class`).
    pub roll: Vec<u8>,
    /// Card holders: UTF-8, header `身份证号`.
    pub holders: Vec<u8>,
    /// Already submitted: UTF-8, header `id_number`.
    pub submitted: Vec<u8>,
    /// What cleaning must give.
    pub expected: CampaignExpected,
}

/// The cleaning outcome the lists were built to produce (synthetic ID numbers only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignExpected {
    /// ID numbers of the pending persons.
    pub pending: Vec<String>,
    /// Dropped ID numbers (as written) and their reason code ([`formscan_print::clean::Reason::as_str`]).
    pub dropped: BTreeMap<String, String>,
    /// Flagged (kept) ID numbers and their reason code.
    pub flagged: BTreeMap<String, String>,
    /// Rows ignored (exact repeats): ID number and reason code.
    pub ignored: BTreeMap<String, String>,
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writing to memory");
    for r in rows {
        w.write_record(r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// Builds the lists for a roll of `n` synthetic students ([`super::roster`]`(n, seed)`), with,
/// chosen by the seed: about 5 % card holders, 5 % already submitted, 2.5 % not insured (each at
/// least one), one name that differs between the lists (flagged, kept), one sex in the insured
/// list contradicting the ID number, one mistyped ID number on the roll (that roll row is
/// `id_invalid` and the insured row `not_on_roll`), one roll row repeated exactly, one ID
/// number given twice with different names in the insured list, and about 5 % insured
/// residents on no roll. With fewer than about ten students some of these are left out.
pub fn campaign_lists(seed: u64, n: usize) -> CampaignLists {
    let students = roster(n, seed);
    let mut rng = rng_for(seed, u64::MAX - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let mut take = |k: usize| -> Vec<usize> { order.drain(..k.min(order.len())).collect() };
    let k = (n / 20).max(1);
    let holders = take(k);
    let submitted = take(k);
    let uninsured = take((n / 40).max(1));
    let [renamed, wrong_sex, mistyped, repeated, conflicting] = [(); 5].map(|_| take(1).first().copied());

    let mut exp = CampaignExpected::default();
    let mut insured_rows = Vec::new();
    let mut roll_rows = Vec::new();
    let sex_zh = |s: Option<Sex>| s.map(|s| s.as_zh().to_string()).unwrap_or_default();
    let ins_row = |p: &Person, name: &str, sex: Option<Sex>| {
        let status = if p.id_number.ends_with('7') { "正常参保" } else { "" };
        vec![
            name.to_string(),
            sex_zh(sex),
            p.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            p.id_number.clone(),
            p.ethnicity.clone(),
            status.to_string(),
        ]
    };
    for (i, p) in students.iter().enumerate() {
        let is = |v: Option<usize>| v == Some(i);
        let mut roll_id = p.id_number.clone();
        if !uninsured.contains(&i) {
            let mut name = p.name.clone();
            let mut sex = p.sex;
            if is(renamed) {
                name.push('儿');
            }
            if is(wrong_sex) {
                sex = sex.map(|s| if s == Sex::Male { Sex::Female } else { Sex::Male });
            }
            insured_rows.push(ins_row(p, &name, sex));
            if is(conflicting) {
                insured_rows.push(ins_row(p, &format!("{}明", p.name), p.sex));
            }
        }
        if is(mistyped) {
            // Swap two adjacent unequal digits of the sequence code: the check character
            // catches every such swap (GB 11643-1999, ISO 7064 MOD 11-2).
            let mut b = roll_id.into_bytes();
            let j = (14..16).find(|&j| b[j] != b[j + 1]).unwrap_or(14);
            if b[j] == b[j + 1] {
                b[j] = if b[j] == b'9' { b'8' } else { b[j] + 1 };
            } else {
                b.swap(j, j + 1);
            }
            roll_id = String::from_utf8(b).expect("ASCII digits");
        }
        let row = vec![p.name.clone(), roll_id.clone(), p.school.clone(), p.grade.clone(), p.class.clone()];
        roll_rows.push(row.clone());
        if is(repeated) {
            roll_rows.push(row);
            exp.ignored.insert(p.id_number.clone(), "duplicate_row".into());
        }
        let id = p.id_number.clone();
        let reason = if is(conflicting) {
            Some("duplicate_conflict")
        } else if holders.contains(&i) {
            Some("holds_card")
        } else if submitted.contains(&i) {
            Some("already_submitted")
        } else if is(mistyped) {
            exp.dropped.insert(roll_id.clone(), "id_invalid".into());
            Some("not_on_roll")
        } else if uninsured.contains(&i) {
            Some("not_insured")
        } else if is(wrong_sex) {
            Some("data_conflict")
        } else {
            None
        };
        match reason {
            Some(r) => {
                exp.dropped.insert(id, r.into());
            }
            None => {
                if is(renamed) {
                    exp.flagged.insert(id.clone(), "name_mismatch".into());
                }
                exp.pending.push(id);
            }
        }
    }
    // Insured residents on no roll: school leavers and pre-school children.
    let extra = roster((n / 20).max(1), seed ^ 0xA5A5_5A5A);
    for p in extra {
        let fresh = make_id("450321", p.birth_date.expect("synthetic birth date"), rng.gen_range(0..500) * 2);
        if parse_id(&fresh).is_ok() && !exp.dropped.contains_key(&fresh) && !exp.pending.contains(&fresh) {
            let p = Person { id_number: fresh.clone(), sex: Some(Sex::Female), ..p };
            insured_rows.push(ins_row(&p, &p.name, p.sex));
            exp.dropped.insert(fresh, "not_on_roll".into());
        }
    }
    let insured_text =
        String::from_utf8(csv_bytes(&["姓名", "性别", "出生日期", "公民身份号码", "民族", "参保状态"], &insured_rows))
            .expect("csv of strings is UTF-8");
    let (insured, _, _) = encoding_rs::GBK.encode(&insured_text);
    let mut roll = "\u{FEFF}".as_bytes().to_vec();
    roll.extend(csv_bytes(&["name", "id_number", "school", "grade", "class"], &roll_rows));
    let ids = |v: &[usize]| v.iter().map(|&i| vec![students[i].id_number.clone()]).collect::<Vec<_>>();
    CampaignLists {
        insured: insured.into_owned(),
        roll,
        holders: csv_bytes(&["身份证号"], &ids(&holders)),
        submitted: csv_bytes(&["id_number"], &ids(&submitted)),
        expected: exp,
    }
}

/// Writes `insured.csv`, `roll.csv`, `holders.csv`, `submitted.csv` and `expected.json` into
/// `dir` (created mode 0700, files 0600).
pub fn write_campaign_lists(lists: &CampaignLists, dir: &Path) -> Result<()> {
    formscan::output::private_dir(dir)?;
    let exp = serde_json::to_vec_pretty(&lists.expected).map_err(|e| Error::input(e.to_string()))?;
    for (name, bytes) in [
        ("insured.csv", &lists.insured),
        ("roll.csv", &lists.roll),
        ("holders.csv", &lists.holders),
        ("submitted.csv", &lists.submitted),
        ("expected.json", &exp),
    ] {
        let path = dir.join(name);
        let mut f = formscan::output::private_file(&path)?;
        std::io::Write::write_all(&mut f, bytes).map_err(|e| Error::io_at(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use formscan_print::clean::{clean, Action, CleanInputs};

    #[test]
    fn cleaning_the_lists_gives_the_expected_outcome() {
        for (seed, n) in [(3u64, 120usize), (9, 12)] {
            let l = campaign_lists(seed, n);
            let holders = [l.holders.as_slice()];
            let submitted = [l.submitted.as_slice()];
            let r =
                clean(&CleanInputs { insured: &l.insured, roll: &l.roll, holders: &holders, submitted: &submitted })
                    .unwrap();
            let mut pending: Vec<String> = r.pending.iter().map(|p| p.id_number.clone()).collect();
            let mut want = l.expected.pending.clone();
            pending.sort();
            want.sort();
            assert_eq!(pending, want, "seed {seed}");
            let of = |a: Action| -> BTreeMap<String, String> {
                r.report
                    .iter()
                    .filter(|e| e.action == a)
                    .map(|e| (e.id_number.clone(), e.reason.as_str().to_string()))
                    .collect()
            };
            assert_eq!(of(Action::Dropped), l.expected.dropped, "seed {seed}");
            assert_eq!(of(Action::Flagged), l.expected.flagged, "seed {seed}");
            assert_eq!(of(Action::RowIgnored), l.expected.ignored, "seed {seed}");
            assert!(l.expected.dropped.values().filter(|v| *v == "not_on_roll").count() >= 2);
        }
        assert_eq!(campaign_lists(5, 40).roll, campaign_lists(5, 40).roll);
    }
}
