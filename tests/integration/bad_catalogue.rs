//! The bad-input catalogue of `tests/bad/`: its README holds one table row per committed file,
//! with the outcome that file must give, and a second table of cases made at run time, each
//! naming the test that checks it. These tests read the README, so a file without a row, a row
//! without a file, a changed outcome or a renamed test fails here.

use crate::scratch;
use formscan::batch::{self, BatchOptions};
use formscan::payload::{PagePayload, PayloadError, SheetPayload};
use formscan::record::{Outcome, PageRecord, RejectReason};
use formscan::{Engine, Template};
use formscan_synth::{self as synth, eval};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad")
}

/// One row of the table of committed files.
#[derive(Debug)]
struct Row {
    file: String,
    kind: String,
    outcome: String,
    /// `None` for "—": nothing to check.
    detail: Option<String>,
}

/// The cells of the markdown table whose header line starts with `header`, one `Vec` per row,
/// each cell trimmed and stripped of one pair of enclosing backticks.
fn table(readme: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(header));
    let head = lines.next().unwrap_or_else(|| panic!("tests/bad/README.md has no table `{header}`"));
    let columns = head.matches('|').count() - 1;
    let separator = lines.next().unwrap_or_default();
    assert!(separator.starts_with("|---"), "`{header}`: no separator line under the header");
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<String> = l
                .trim()
                .trim_start_matches('|')
                .trim_end_matches('|')
                .split('|')
                .map(|c| {
                    let c = c.trim();
                    c.strip_prefix('`').and_then(|c| c.strip_suffix('`')).filter(|c| !c.contains('`')).unwrap_or(c)
                })
                .map(str::to_string)
                .collect();
            assert_eq!(cells.len(), columns, "a row with {} cells, not {columns} (a `|` in a cell?): {l}", cells.len());
            cells
        })
        .collect()
}

fn readme() -> String {
    std::fs::read_to_string(bad_dir().join("README.md")).expect("tests/bad/README.md")
}

fn file_rows(readme: &str) -> Vec<Row> {
    table(readme, "| File | Input kind |")
        .into_iter()
        .map(|c| Row {
            file: c[0].clone(),
            kind: c[1].clone(),
            outcome: c[3].clone(),
            detail: Some(c[4].clone()).filter(|d| d != "—"),
        })
        .collect()
}

/// The outcome a record states, as written in `records.jsonl`: the reason code for a
/// rejection, else the outcome.
fn outcome_code(rec: &PageRecord) -> String {
    match (&rec.outcome, &rec.reject) {
        (Outcome::Rejected, Some(r)) => r.reason.as_str().to_string(),
        (outcome, _) => serde_json::to_value(outcome).unwrap().as_str().unwrap().to_string(),
    }
}

/// Whether `text` holds anything that looks like a roster's personal data: a synthetic name
/// (they all start with 测试) or a run of 15 or more digits (an ID number).
fn has_personal_data(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 15 {
            return true;
        }
    }
    text.contains("测试")
}

/// Checks one text row (roster, template, page code); `Err` says how it differs.
fn check_text_row(row: &Row, path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).unwrap();
    let want = row.detail.as_deref().unwrap_or("");
    let contains = |got: &str| if got.contains(want) { Ok(()) } else { Err(format!("`{got}` lacks `{want}`")) };
    match row.kind.as_str() {
        "roster" => match (formscan_print::roster::parse_roster(&bytes), row.outcome.as_str()) {
            (Err(e), "error") => {
                let msg = e.to_string();
                if has_personal_data(&msg) {
                    return Err(format!("the error carries the roster's data: {msg}"));
                }
                contains(&msg)
            }
            (Ok(r), want_counts) => {
                let got = format!("rows {}, problems {}", r.persons.len(), r.problems.len());
                if got != want_counts {
                    return Err(format!("{got}; problems: {:?}", r.problems));
                }
                if r.problems.iter().any(|p| p.to_string().contains(want)) {
                    Ok(())
                } else {
                    Err(format!("no problem contains `{want}`: {:?}", r.problems))
                }
            }
            (Err(e), _) => Err(format!("error: {e}")),
        },
        "template" => {
            let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            match Template::from_toml(&text, &row.file) {
                Err(e) if row.outcome == "error" => contains(&e.to_string()),
                Err(e) => Err(format!("error: {e}")),
                Ok(t) => Err(format!("parsed as template {} with {} fields", t.id, t.fields.len())),
            }
        }
        "payload" => {
            let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            let line = text.strip_suffix('\n').unwrap_or(&text);
            if line.contains('\n') {
                return Err("a page-code file holds one line".into());
            }
            let got = if line.starts_with("FSC1|") {
                SheetPayload::decode(line).map(|p| format!("{p:?}"))
            } else {
                PagePayload::decode(line).map(|p| format!("{p:?}"))
            };
            match (got, row.outcome.as_str()) {
                (Err(e @ PayloadError::Foreign), "Foreign") | (Err(e @ PayloadError::Corrupt(_)), "Corrupt") => {
                    contains(&e.to_string())
                }
                (got, _) => Err(format!("{got:?}")),
            }
        }
        other => Err(format!("unknown input kind `{other}`")),
    }
}

/// Every committed file of `tests/bad/` has exactly one row and gives the outcome it states.
/// The scan files go through one batch, with three run-time cases beside them: a name that is
/// not UTF-8, a symbolic link that loops back to the scan folder and one that leads nowhere.
#[test]
fn every_bad_input_gives_the_outcome_its_catalogue_row_states() {
    let readme = readme();
    let rows = file_rows(&readme);
    let runtime = table(&readme, "| Case | How the test makes it |");
    assert!(rows.len() >= 30, "{} committed cases, at least 30 wanted", rows.len());
    assert!(rows.len() + runtime.len() >= 40, "{} cases in all, at least 40 wanted", rows.len() + runtime.len());

    // The table and the folder agree: one row a file (README.md aside, and the fuzzer's
    // `fuzz-*` files unless they have a row).
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *listed.entry(r.file.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = listed.iter().filter(|(_, &n)| n > 1).map(|(f, _)| *f).collect();
    assert!(twice.is_empty(), "rows listed twice: {twice:?}");
    let mut on_disk: Vec<String> = std::fs::read_dir(bad_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().expect("UTF-8 names in tests/bad"))
        .filter(|n| n != "README.md")
        .collect();
    on_disk.sort();
    let unlisted: Vec<_> =
        on_disk.iter().filter(|n| !listed.contains_key(n.as_str()) && !n.starts_with("fuzz-")).collect();
    assert!(unlisted.is_empty(), "files in tests/bad without a row in its README: {unlisted:?}");
    let missing: Vec<_> = listed.keys().filter(|f| !on_disk.iter().any(|n| n == *f)).collect();
    assert!(missing.is_empty(), "rows in tests/bad/README.md without a file: {missing:?}");

    let mut wrong = Vec::new();
    // Text inputs, directly.
    for row in rows.iter().filter(|r| r.kind != "scan") {
        if let Err(e) = check_text_row(row, &bad_dir().join(&row.file)) {
            wrong.push(format!("{} ({}, expected {}): {e}", row.file, row.kind, row.outcome));
        }
    }

    // Scans, through one batch.
    let dir = scratch("bad-catalogue");
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let scans: Vec<&Row> = rows.iter().filter(|r| r.kind == "scan").collect();
    for row in &scans {
        std::fs::copy(bad_dir().join(&row.file), inputs.join(&row.file)).unwrap();
    }
    #[cfg(unix)]
    let not_utf8 = {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"\xB2\xE2-empty.jpg");
        std::fs::write(inputs.join(name), b"").unwrap();
        std::os::unix::fs::symlink(&inputs, inputs.join("loop")).unwrap();
        std::os::unix::fs::symlink(inputs.join("gone.jpg"), inputs.join("dangling.jpg")).unwrap();
        1
    };
    #[cfg(not(unix))]
    let not_utf8 = 0;
    let out = dir.join("out");
    let summary = batch::run(
        &Engine::default(),
        std::slice::from_ref(&inputs),
        &BatchOptions { out_dir: out.clone(), snippets: false },
        &|_, _| {},
    )
    .unwrap();
    // Each file once: the loop is not followed, the dangling link not listed.
    let keys = crate::record_keys(&out);
    assert_eq!(keys.len(), scans.len() + not_utf8, "{keys:?}");
    assert_eq!(summary.files, scans.len() + not_utf8);
    let recs = eval::read_records(&out.join("records.jsonl")).unwrap();
    for row in &scans {
        let label = formscan::decode::path_label(&inputs.join(&row.file));
        let mine: Vec<&PageRecord> = recs.iter().filter(|r| r.source.file == label).collect();
        let [rec] = mine.as_slice() else {
            wrong.push(format!("{} (scan): {} records, not one", row.file, mine.len()));
            continue;
        };
        let got = outcome_code(rec);
        let detail = rec.reject.as_ref().map_or("", |r| r.detail.as_str());
        if got != row.outcome {
            wrong.push(format!("{} (scan): {got} ({detail}), expected {}", row.file, row.outcome));
        } else if !row.detail.as_ref().is_none_or(|d| detail.contains(d.as_str())) {
            wrong.push(format!("{} (scan): detail `{detail}` lacks `{}`", row.file, row.detail.as_ref().unwrap()));
        } else if row.detail.is_none() && rec.reject.is_some() {
            wrong.push(format!("{} (scan): a rejection needs a detail to check: `{detail}`", row.file));
        }
    }
    #[cfg(unix)]
    {
        let rec = recs.iter().find(|r| r.source.file.ends_with("/\\xB2\\xE2-empty.jpg")).expect("the non-UTF-8 name");
        assert_eq!(rec.reject.as_ref().map(|r| r.reason), Some(RejectReason::UnreadableFile));
        assert!(rec.reject.as_ref().unwrap().detail.contains("empty file"));
    }
    assert!(wrong.is_empty(), "{} of {} catalogued outcomes differ:\n{}", wrong.len(), rows.len(), wrong.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every run-time case names a test that exists.
#[test]
fn every_run_time_case_names_a_test_that_exists() {
    let readme = readme();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for cells in table(&readme, "| Case | How the test makes it |") {
        let checked_by = cells.last().unwrap();
        let (module, name) = checked_by.rsplit_once("::").unwrap_or_else(|| panic!("`{checked_by}`: no module"));
        // `decode::tests` is src/decode/tests.rs (or the same path under a crate of crates/,
        // e.g. `roster::tests` in crates/print/src/roster.rs); an integration module is
        // tests/integration/M.rs.
        let path = module.replace("::", "/");
        let mut candidates = vec![root.join(format!("tests/integration/{path}.rs"))];
        for src in ["src", "crates/print/src", "crates/campaign/src", "crates/synth/src"] {
            candidates.push(root.join(format!("{src}/{path}.rs")));
            candidates.push(root.join(format!("{src}/{}.rs", path.trim_end_matches("/tests"))));
        }
        let found = candidates.iter().filter_map(|p| std::fs::read_to_string(p).ok()).any(|source| {
            source.lines().collect::<Vec<_>>().windows(3).any(|w| {
                w.iter().any(|l| l.trim() == "#[test]")
                    && w.iter().any(|l| l.trim().starts_with(&format!("fn {name}(")))
            })
        });
        assert!(found, "run-time case `{}`: no test `{checked_by}`", cells[0]);
    }
}

/// A pixel rectangle around template rectangle `r` grown by `grow` mm, on a page registered
/// with `reg`.
fn scan_box(reg: &formscan::register::Registration, r: formscan::geometry::Rect, grow: f64) -> (u32, u32, u32, u32) {
    let r = r.inflate(grow);
    let corners = [(r.x, r.y), (r.right(), r.y), (r.x, r.bottom()), (r.right(), r.bottom())]
        .map(|(x, y)| reg.to_scan.apply(formscan::geometry::Point::new(x, y)));
    let xs = corners.map(|p| p.x.max(0.0) as u32);
    let ys = corners.map(|p| p.y.max(0.0) as u32);
    let (x0, y0) = (*xs.iter().min().unwrap(), *ys.iter().min().unwrap());
    (x0, y0, xs.iter().max().unwrap() - x0, ys.iter().max().unwrap() - y0)
}

fn whiteout(image: &mut image::DynamicImage, (x, y, w, h): (u32, u32, u32, u32)) {
    let white = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([250; 3])));
    image::imageops::replace(image, &white, i64::from(x), i64::from(y));
}

/// A form whose page codes are covered, one with half its registration marks covered, and one
/// printed from a template version the engine does not have: each gets its own reason.
#[test]
fn forms_that_cannot_be_identified_are_rejected_with_reasons() {
    let engine = Engine::default();
    let t = Template::sbk_student();
    let person = synth::sample_person(7);
    let page = synth::simulate_one(&t, &person, 7, 150.0).image;
    let (_, reg) = engine.register(&formscan::Scan::new(page.clone())).expect("the clean page registers");
    let reason = |image: &image::DynamicImage| {
        let rec = engine.process_image(image);
        (rec.reject.as_ref().map(|r| r.reason), rec.reject.map(|r| r.detail).unwrap_or_default())
    };

    let mut covered_codes = page.clone();
    for f in t.fields.iter().filter(|f| f.kind == formscan::template::FieldKind::Barcode) {
        whiteout(&mut covered_codes, scan_box(&reg, f.rect, 2.0));
    }
    let (got, detail) = reason(&covered_codes);
    assert_eq!(got, Some(RejectReason::BarcodeUnreadable), "{detail}");
    assert!(detail.contains("neither page code could be read"), "{detail}");

    // Five of the ten marks stay: enough to find the page, too few for a trusted fit.
    let mut covered_marks = page.clone();
    for m in t
        .marks
        .iter()
        .filter(|m| ["top_middle", "middle_right", "bottom_middle", "tag_top", "tag_left"].contains(&m.name.as_str()))
    {
        whiteout(&mut covered_marks, scan_box(&reg, m.rect, 1.5));
    }
    let (got, detail) = reason(&covered_marks);
    assert_eq!(got, Some(RejectReason::MarksNotFound), "{detail}");
    assert!(detail.contains("only 5 registration marks found"), "{detail}");

    let mut newer = t.clone();
    newer.version = 2;
    let (got, detail) = reason(&synth::simulate_one(&newer, &person, 7, 150.0).image);
    assert_eq!(got, Some(RejectReason::UnknownTemplate), "{detail}");
    assert!(detail.contains("sbk-student version 2"), "{detail}");
}
