//! Batch-workflow scenarios for end-to-end tests: forms that never come back, files scanned
//! twice, sheets rescanned, forms that break the notice's audit rules, and a class whose
//! teacher wrote one phone number for every pupil.
//!
//! Every choice is made from the seed alone, on a stream of its own, and exact counts are
//! drawn (a fraction `f` of `n` forms is `round(f·n)` forms), so a test can rely on them. A form
//! page is filled from the same per-page stream as without scenarios; a rule-breaking form only
//! replaces the drawn values it must break (see [`RuleBreak`]). With [`Scenarios::is_active`]
//! false, [`super::run`] does not come here and its output is unchanged.
//!
//! Extra output of [`run`], beside `page-NNNNNa.jpg/.json` (and `b` blank backs; `.png` with
//! [`super::ScanFormat::Png`]):
//! * `page-NNNNNd.jpg` + `.json`: a duplicate, byte for byte the `a` scan under another name;
//! * `page-NNNNNr.jpg` + `.json`: a rescan, the same filled-in sheet through the scanner again
//!   (different skew, noise and perhaps orientation), so the same form serial with another image;
//! * no files at all for a missing form;
//! * `scenario.json`: a [`ScenarioTruth`] listing every person, whether their form is in the
//!   scans, which files hold it, its tags and its expected finding codes.

use super::{age, fill_form, mobile, rng_for, scan_filled, simulate_blank, write_page, FieldTruth};
use super::{SynthOptions, SynthSummary};
use formscan::domain::parse_id;
use formscan::error::{Error, Result};
use formscan::payload::PagePayload;
use formscan::template::Template;
use formscan_print::render::JpegImage;
use formscan_print::roster::Person;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Scenario settings; all off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenarios {
    /// Share of forms never scanned (not returned by the family). Default 0.
    pub missing: f64,
    /// Share of scanned forms whose file appears twice, under another name. Default 0.
    pub duplicates: f64,
    /// Share of scanned forms scanned a second time (a new image of the same sheet). Default 0.
    pub rescans: f64,
    /// Share of scanned forms made to break one audit rule ([`RuleBreak`]). Default 0.
    pub rule_breaking: f64,
    /// 0-based index, in print order, of the class in which every pupil writes the same
    /// applicant phone number. Default none.
    pub shared_phone_class: Option<usize>,
}

impl Scenarios {
    /// True when any scenario is switched on.
    pub fn is_active(&self) -> bool {
        self.missing > 0.0
            || self.duplicates > 0.0
            || self.rescans > 0.0
            || self.rule_breaking > 0.0
            || self.shared_phone_class.is_some()
    }
}

/// The rule a rule-breaking form breaks. Each is applied only where the rule applies: the agent
/// rules to applicants under 16, the photo rule to applicants aged 6 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleBreak {
    /// Under 16, and no agent data at all (name, ID, phone, relationship, signature).
    NoAgent,
    /// Under 16, agent data written but the agent did not sign.
    NoAgentSignature,
    /// A photo is needed (none printed, or the printed one is marked "not the applicant") and
    /// none is pasted.
    PhotoMissing,
    /// The name is corrected in the correction column but no ID copy is pasted.
    FixWithoutPaste,
    /// A corrected ID number is written with a wrong check character (the copy is pasted).
    InvalidId,
}

impl RuleBreak {
    /// Tag name: `no_agent`, `no_agent_signature`, `photo_missing`, `fix_without_paste`,
    /// `id_invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleBreak::NoAgent => "no_agent",
            RuleBreak::NoAgentSignature => "no_agent_signature",
            RuleBreak::PhotoMissing => "photo_missing",
            RuleBreak::FixWithoutPaste => "fix_without_paste",
            RuleBreak::InvalidId => "id_invalid",
        }
    }

    fn overrides(self) -> Overrides {
        let mut o = Overrides::default();
        match self {
            RuleBreak::NoAgent => o.agent = Some(false),
            RuleBreak::NoAgentSignature => {
                o.agent = Some(true);
                o.agent_signature = Some(false);
            }
            RuleBreak::PhotoMissing => o.no_photo = true,
            RuleBreak::FixWithoutPaste => {
                o.fix_name = Some(true);
                o.paste = Some(false);
            }
            RuleBreak::InvalidId => {
                o.invalid_fix_id = true;
                o.paste = Some(true);
            }
        }
        o
    }
}

/// Values [`super::fill_form`] must use instead of its random draws; the default changes
/// nothing.
#[derive(Debug, Clone, Default)]
pub(super) struct Overrides {
    pub agent: Option<bool>,
    pub agent_signature: Option<bool>,
    pub no_photo: bool,
    pub fix_name: Option<bool>,
    pub paste: Option<bool>,
    pub invalid_fix_id: bool,
    pub phone: Option<String>,
}

/// `id` with its check character replaced by a wrong one.
pub(super) fn corrupt_check(id: &str) -> String {
    let mut s: String = id.chars().take(17).collect();
    let good = id.chars().nth(17).unwrap_or('0');
    s.push(if good == '1' { '2' } else { '1' });
    s
}

/// Ground truth of one person's form across the scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonTruth {
    /// Form serial.
    pub serial: String,
    /// ID number (synthetic).
    pub id_number: String,
    /// School.
    pub school: String,
    /// Grade.
    pub grade: String,
    /// Class.
    pub class: String,
    /// The form is in the scans (false: it never came back).
    pub scanned: bool,
    /// Image files holding it (file names in the output folder).
    pub files: Vec<String>,
    /// Tags: `missing`, `duplicate`, `rescan`, `rule:<kind>`, `shared_phone`.
    pub scenario: Vec<String>,
    /// Finding codes the form must raise ([`expected_findings`]); empty when missing.
    pub expected_findings: Vec<String>,
}

/// `scenario.json`: the scenario ground truth of a [`run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioTruth {
    /// Print run.
    pub run: String,
    /// Seed.
    pub seed: u64,
    /// Every person, in print order.
    pub persons: Vec<PersonTruth>,
}

struct PagePlan {
    missing: bool,
    duplicate: bool,
    rescan: bool,
    rule: Option<RuleBreak>,
    phone: Option<String>,
}

impl PagePlan {
    fn form_tags(&self) -> Vec<String> {
        let mut t: Vec<String> = self.rule.iter().map(|r| format!("rule:{}", r.as_str())).collect();
        if self.phone.is_some() {
            t.push("shared_phone".into());
        }
        t
    }
}

/// Separates the scenario stream from the page streams.
const SALT: u64 = 0x5CE7_A210_D00D_F00D;

fn count(frac: f64, n: usize) -> usize {
    ((frac.clamp(0.0, 1.0) * n as f64).round() as usize).min(n)
}

fn plan(persons: &[Person], opts: &SynthOptions) -> Vec<PagePlan> {
    let sc = &opts.scenario;
    let n = persons.len();
    let mut rng = rng_for(opts.seed ^ SALT, u64::MAX - 2);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let missing: Vec<usize> = order[..count(sc.missing, n)].to_vec();
    let present: Vec<usize> = (0..n).filter(|i| !missing.contains(i)).collect();
    let mut pick = |frac: f64| -> Vec<usize> {
        let mut p = present.clone();
        p.shuffle(&mut rng);
        p.truncate(count(frac, n).min(present.len()));
        p
    };
    let (dups, rescans, rules) = (pick(sc.duplicates), pick(sc.rescans), pick(sc.rule_breaking));
    // Classes in print order.
    let mut classes: Vec<(&str, &str, &str)> = Vec::new();
    let class_of: Vec<usize> = persons
        .iter()
        .map(|p| {
            let key = (p.school.as_str(), p.grade.as_str(), p.class.as_str());
            classes.iter().position(|c| *c == key).unwrap_or_else(|| {
                classes.push(key);
                classes.len() - 1
            })
        })
        .collect();
    let phone = sc.shared_phone_class.map(|c| mobile(&mut rng_for(opts.seed ^ SALT, c as u64)));
    (0..n)
        .map(|i| {
            let rule = rules.contains(&i).then(|| {
                let a = age(&persons[i]);
                let mut kinds = vec![RuleBreak::FixWithoutPaste, RuleBreak::InvalidId];
                if a < 16 {
                    kinds.extend([RuleBreak::NoAgent, RuleBreak::NoAgentSignature]);
                }
                if a >= 6 {
                    kinds.push(RuleBreak::PhotoMissing);
                }
                kinds[rng_for(opts.seed ^ SALT, i as u64).gen_range(0..kinds.len())]
            });
            PagePlan {
                missing: missing.contains(&i),
                duplicate: dups.contains(&i),
                rescan: rescans.contains(&i),
                rule,
                phone: phone.clone().filter(|_| Some(class_of[i]) == sc.shared_phone_class),
            }
        })
        .collect()
}

/// The audit finding codes a filled-in form must raise, from its field truths, by the notice's
/// rules (section 三), with ages in completed years on [`super::REFERENCE_DATE`]:
/// * `photo_missing`: aged 6 or more, no photo pasted, and no printed photo confirmed by a tick
///   in "是" (a printed photo left unanswered is not confirmed);
/// * `class_shared_phone`: `shared_phone` (every pupil of the class wrote the same applicant
///   phone);
/// * `fix_without_paste`: a corrected name or ID number written and the paste area empty;
/// * `agent_id_missing`, `agent_phone_missing`, `agent_relation_missing` (no relationship box
///   ticked), `agent_signature_missing`: under 16 and that agent item empty;
/// * `applicant_signature_missing`: aged 16 or more and the applicant's signature empty (a
///   younger child's agent signs for them);
/// * `id_invalid`: a written agent or corrected ID number (complete or not) that fails
///   GB 11643-1999.
///
/// Codes are sorted and each appears once. Findings about reading quality (`ambiguous_mark`,
/// `choice_conflict`, digit review) are not predicted.
pub fn expected_findings(
    person: &Person,
    photo_printed: bool,
    fields: &BTreeMap<String, FieldTruth>,
    shared_phone: bool,
) -> Vec<String> {
    let state = |n: &str| fields.get(n).map_or("empty", |f| f.state.as_str());
    let ink = |n: &str| state(n) == "ink";
    let a = age(person);
    let mut out = Vec::new();
    let pasted = fields.get("photo").and_then(|f| f.photo.as_deref()) == Some("pasted");
    if a >= 6 && !pasted && !(photo_printed && state("photo_yes") == "checked") {
        out.push("photo_missing");
    }
    if shared_phone {
        out.push("class_shared_phone");
    }
    if (ink("applicant_name_fix") || ink("applicant_id_fix")) && !ink("paste") {
        out.push("fix_without_paste");
    }
    if a < 16 {
        let relation = fields.iter().any(|(k, f)| k.starts_with("relation_") && f.state == "checked");
        for (missing, code) in [
            (!ink("agent_id"), "agent_id_missing"),
            (!ink("agent_phone"), "agent_phone_missing"),
            (!relation, "agent_relation_missing"),
            (!ink("agent_signature"), "agent_signature_missing"),
        ] {
            if missing {
                out.push(code);
            }
        }
    } else if !ink("applicant_signature") {
        out.push("applicant_signature_missing");
    }
    for f in ["agent_id", "applicant_id_fix"] {
        let written: String = fields.get(f).and_then(|t| t.cells.as_ref()).map(|c| c.concat()).unwrap_or_default();
        if !written.is_empty() && parse_id(&written).is_err() {
            out.push("id_invalid");
        }
    }
    let mut out: Vec<String> = out.into_iter().map(String::from).collect();
    out.sort();
    out.dedup();
    out
}

/// [`super::run`] with scenarios: see the module documentation for the files written.
pub fn run(
    t: &Template,
    persons: &[Person],
    serials: &[String],
    photos: &[Option<JpegImage>],
    run: &str,
    opts: &SynthOptions,
    out: &Path,
) -> Result<SynthSummary> {
    use rayon::prelude::*;
    std::fs::create_dir_all(out).map_err(|e| Error::io_at(out, e))?;
    let plans = plan(persons, opts);
    let results: Vec<Result<(PersonTruth, SynthSummary)>> = persons
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let plan = &plans[i];
            let mut s = SynthSummary::default();
            let mut tags = plan.form_tags();
            for (on, tag) in [(plan.missing, "missing"), (plan.duplicate, "duplicate"), (plan.rescan, "rescan")] {
                if on {
                    tags.push(tag.into());
                }
            }
            let mut truth = PersonTruth {
                serial: serials[i].clone(),
                id_number: p.id_number.clone(),
                school: p.school.clone(),
                grade: p.grade.clone(),
                class: p.class.clone(),
                scanned: !plan.missing,
                files: Vec::new(),
                scenario: tags,
                expected_findings: Vec::new(),
            };
            if plan.missing {
                s.missing = 1;
                return Ok((truth, s));
            }
            let mut rng = rng_for(opts.seed, i as u64);
            let payload = PagePayload {
                template: t.id.clone(),
                version: t.version,
                run: run.to_string(),
                serial: serials[i].clone(),
                page: 1,
                photo_printed: photos[i].is_some(),
            };
            let mut ov = plan.rule.map(RuleBreak::overrides).unwrap_or_default();
            ov.phone = plan.phone.clone();
            let (clean, fields) = fill_form(t, p, &payload, photos[i].clone(), opts, &ov, &mut rng)?;
            let expected = expected_findings(p, photos[i].is_some(), &fields, plan.phone.is_some());
            truth.expected_findings = expected.clone();
            let second = plan.rescan.then(|| (clean.clone(), fields.clone()));
            let mut page = scan_filled(t, p, &payload, clean, fields, opts, &mut rng);
            page.truth.scenario = plan.form_tags();
            page.truth.expected_findings = expected.clone();
            let stem = format!("page-{i:05}a");
            truth.files.push(write_page(out, &stem, &page, opts.format)?);
            s.forms = 1;
            if opts.blank_backs > 0.0 && rng.gen_bool(opts.blank_backs.min(1.0)) {
                let b = simulate_blank(t, opts, &mut rng);
                write_page(out, &format!("page-{i:05}b"), &b, opts.format)?;
                s.blanks = 1;
            }
            if plan.duplicate {
                let dup = format!("page-{i:05}d");
                let ext = opts.format.extension();
                let (from, to) = (out.join(format!("{stem}.{ext}")), out.join(format!("{dup}.{ext}")));
                std::fs::copy(&from, &to).map_err(|e| Error::io_at(&to, e))?;
                let mut tr = page.truth.clone();
                tr.scenario.push("duplicate".into());
                write_json(out, &dup, &tr)?;
                truth.files.push(format!("{dup}.{ext}"));
                s.duplicates = 1;
            }
            if let Some((clean, fields)) = second {
                let mut r2 = rng_for(opts.seed ^ SALT ^ 0xFFFF, i as u64);
                let mut again = scan_filled(t, p, &payload, clean, fields, opts, &mut r2);
                again.truth.scenario = plan.form_tags();
                again.truth.scenario.push("rescan".into());
                again.truth.expected_findings = expected;
                let stem = format!("page-{i:05}r");
                truth.files.push(write_page(out, &stem, &again, opts.format)?);
                s.rescans = 1;
            }
            Ok((truth, s))
        })
        .collect();
    let mut sum = SynthSummary::default();
    let mut persons_truth = Vec::with_capacity(persons.len());
    for r in results {
        let (p, s) = r?;
        persons_truth.push(p);
        sum.forms += s.forms;
        sum.blanks += s.blanks;
        sum.missing += s.missing;
        sum.duplicates += s.duplicates;
        sum.rescans += s.rescans;
    }
    let st = ScenarioTruth { run: run.to_string(), seed: opts.seed, persons: persons_truth };
    write_json(out, "scenario", &st)?;
    Ok(sum)
}

fn write_json<T: Serialize>(dir: &Path, stem: &str, v: &T) -> Result<()> {
    let path = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::input(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io_at(&path, e))
}

#[cfg(test)]
mod tests;
