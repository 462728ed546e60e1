//! The review queue (审核): forms whose fields are keyed but which still have findings a
//! person must judge (a checkbox or photo problem, a correction without a pasted copy, a
//! duplicate serial, a class that shares one phone, a field no keyer could read). A
//! supervisor sees the page, zoomable, with its findings and, for a photo problem, the card
//! photo the reader cut, and accepts, rejects (back to the school, with a reason) or chooses
//! which scan of the form counts. Every decision is kept with its operator, time and reason
//! ([`formscan_campaign::store::DecisionEntry`]).

use crate::{require_supervisor, with_store, AppState};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use formscan::error::{Error, Result};
use formscan_campaign::keying::{self, LEASE_SECONDS};
use formscan_campaign::store::{Decision, DecisionEntry, Store};
use formscan_campaign::Assessed;
use serde::Deserialize;
use std::path::{Component, Path};

/// A form as the review API hands it out.
fn form_json(a: &Assessed, en: bool) -> serde_json::Value {
    let p = &a.view.person.person;
    let finding = |f: &formscan::finding::Finding| {
        serde_json::json!({
            "code": f.code.to_string(),
            "subject": f.subject,
            "message": if en { &f.message } else { &f.message_zh },
        })
    };
    let counts = a.page.map(|i| a.view.pages[i].id);
    let pages: Vec<_> = a
        .view
        .pages
        .iter()
        .map(|pg| {
            let photo = pg.fields.get("photo").and_then(|f| f.value.as_deref()).is_some_and(photo_path_ok);
            serde_json::json!({
                "page_id": pg.id,
                "file": Path::new(&pg.path).file_name().map(|f| f.to_string_lossy().to_string()),
                "page_index": pg.page_index,
                "counts": Some(pg.id) == counts,
                "photo": photo,
                "findings": pg.findings.iter().map(finding).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "item": format!("form:{}", a.view.person.key),
        "person_key": a.view.person.key,
        "name": p.name,
        "id_number": p.id_number,
        "school": p.school,
        "class": format!("{}{}", p.grade, p.class),
        "pages": pages,
        "page_id": counts,
        "findings": a.findings.iter().map(finding).collect::<Vec<_>>(),
        "pending": a.keying.iter().map(|k| serde_json::json!({"field": k.field, "stage": crate::work::stage_name(&k.state)})).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
pub struct ReviewQuery {
    n: Option<usize>,
    lang: Option<String>,
}

pub async fn api_review_next(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> Response {
    let s = match require_supervisor(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = q.n.unwrap_or(2).clamp(1, 10);
    let en = q.lang.as_deref() == Some("en");
    let lists = state.work.clone();
    let r = with_store(&state, move |store| {
        let mut lists = lists.lock().map_err(|_| Error::input("work lists poisoned"))?;
        lists.take(store, |lists, store| lease_forms(store, &mut lists.forms, lists.built_at, &s.name, n, en))
    })
    .await;
    match r {
        Ok(items) => Json(serde_json::json!({ "items": items })).into_response(),
        Err(r) => r,
    }
}

/// Leases up to `n` forms of the list to `operator`; forms decided since the list was built
/// leave it.
fn lease_forms(
    store: &mut dyn Store,
    forms: &mut Vec<Assessed>,
    built_at: i64,
    operator: &str,
    n: usize,
    en: bool,
) -> Result<Vec<serde_json::Value>> {
    let now = keying::now();
    let held: std::collections::HashMap<String, String> = store.leases(now)?.into_iter().collect();
    let mut out = Vec::new();
    let mut gone = Vec::new();
    for (at, a) in forms.iter().enumerate() {
        if out.len() >= n {
            break;
        }
        let item = format!("form:{}", a.view.person.key);
        if held.get(&item).is_some_and(|o| o != operator) || !store.lease(&item, operator, now, now + LEASE_SECONDS)? {
            continue;
        }
        // Decided (here or from the terminal) since the list was built: its verdict stands.
        let decided = store.decisions(a.view.person.key)?;
        if decided.last().is_some_and(|d| d.at >= built_at) {
            store.release(&item, operator)?;
            gone.push(at);
            continue;
        }
        out.push(form_json(a, en));
    }
    for at in gone.into_iter().rev() {
        forms.remove(at);
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct DecideRequest {
    item: String,
    /// `accept`, `reject` or `choose`.
    decision: String,
    /// The scan that counts (with `choose`, or with `accept` to choose and accept at once).
    page_id: Option<i64>,
    /// Why a form is rejected: told to the school.
    reason: Option<String>,
}

/// The longest rejection reason taken, in characters.
const MAX_REASON: usize = 200;

pub async fn api_decide(State(state): State<AppState>, headers: HeaderMap, Json(d): Json<DecideRequest>) -> Response {
    let s = match require_supervisor(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = crate::check_csrf(&s, headers.get("x-csrf-token").and_then(|v| v.to_str().ok())) {
        return r;
    }
    let lists = state.work.clone();
    let r = with_store(&state, move |store| {
        let key: i64 = d
            .item
            .strip_prefix("form:")
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| Error::input("item is form:PERSON"))?;
        let mut lists = lists.lock().map_err(|_| Error::input("work lists poisoned"))?;
        // Only a form of the review queue is decided here (the terminal's `review` decides any).
        let Some(form) = lists.forms.iter().find(|a| a.view.person.key == key).cloned() else {
            return Err(Error::input("that form is not in the review queue (any more)"));
        };
        let now = keying::now();
        if !store.lease(&d.item, &s.name, now, now + LEASE_SECONDS)? {
            return Err(Error::input(format!("another operator holds {}", d.item)));
        }
        let result = decide(store, &form, &d, &s.name);
        store.release(&d.item, &s.name)?;
        let outcome = result?;
        lists.forms.retain(|a| a.view.person.key != key);
        if d.page_id.is_some() {
            // Another scan counts now: its fields may need keying, so the lists are rebuilt.
            lists.rebuild(store)?;
        }
        Ok(outcome)
    })
    .await;
    match r {
        Ok(outcome) => Json(serde_json::json!({ "recorded": outcome })).into_response(),
        Err(r) => r,
    }
}

/// Records a decision; returns what was recorded (`accept`, `reject`, `choose`, or
/// `choose_then_keying` when the chosen scan has fields to key before it can be accepted).
fn decide(store: &mut dyn Store, form: &Assessed, d: &DecideRequest, operator: &str) -> Result<&'static str> {
    let person = &form.view;
    let entry = |decision| DecisionEntry::new(person.person.key, decision, operator);
    if let Some(page) = d.page_id {
        if !person.pages.iter().any(|p| p.id == page) {
            return Err(Error::input("that scan is not one of this person's"));
        }
    }
    match d.decision.as_str() {
        "reject" => {
            let reason = d.reason.as_deref().map(str::trim).unwrap_or("");
            if reason.is_empty() || reason.chars().count() > MAX_REASON {
                return Err(Error::input(format!(
                    "a rejection needs a reason for the school (1 to {MAX_REASON} characters)"
                )));
            }
            let mut e = entry(Decision::Reject);
            e.reason = Some(reason.to_string());
            store.decide(&e)?;
            Ok("reject")
        }
        "choose" => {
            let page = d.page_id.ok_or_else(|| Error::input("choose needs page_id"))?;
            store.decide(&entry(Decision::Choose(page)))?;
            Ok("choose")
        }
        "accept" => {
            // The scan that counts: the one given, else the only or chosen one.
            let page = match d.page_id {
                Some(p) => p,
                None => match (person.chosen_page, person.pages.as_slice()) {
                    (Some(p), _) => p,
                    (None, [only]) => only.id,
                    _ => return Err(Error::input("several scans of this form: choose the one that counts")),
                },
            };
            if d.page_id.is_some() && person.chosen_page != d.page_id {
                store.decide(&entry(Decision::Choose(page)))?;
            }
            // A value the export needs is settled by keying, not by an accept.
            let Some((_, view)) = store.page(page)? else { return Err(Error::input("no such scan")) };
            let (_, pending) = keying::open_findings(&view, &view.findings, &Default::default());
            if !pending.is_empty() {
                if d.page_id.is_some() {
                    return Ok("choose_then_keying");
                }
                return Err(Error::input("fields of this form wait for a value: key them, or reject the form"));
            }
            store.decide(&entry(Decision::Accept))?;
            Ok("accept")
        }
        _ => Err(Error::input("decision is accept, reject or choose")),
    }
}

/// Whether a stored photo path is one `process` wrote: under `photos/` or `photos-review/`,
/// with no way out of the output folder.
fn photo_path_ok(rel: &str) -> bool {
    let p = Path::new(rel);
    (rel.starts_with("photos/") || rel.starts_with("photos-review/"))
        && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The card photo the reader cut from a scan.
pub async fn api_photo(State(state): State<AppState>, headers: HeaderMap, UrlPath(page_id): UrlPath<i64>) -> Response {
    if let Err(r) = require_supervisor(&state, &headers, true) {
        return r;
    }
    let r = with_store(&state, move |store| {
        let Some((_, page)) = store.page(page_id)? else { return Ok(None) };
        let Some(rel) = page.fields.get("photo").and_then(|f| f.value.clone()).filter(|r| photo_path_ok(r)) else {
            return Ok(None);
        };
        Ok(std::fs::read(Path::new(&page.out_dir).join(rel)).ok())
    })
    .await;
    match r {
        Ok(Some(jpeg)) => ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    w: Option<u32>,
}

/// A scanned page as a JPEG, `w` pixels wide (default 1000, at most 2500): decoded from the
/// scan file with the reader's own decoder and limits.
pub async fn api_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath(page_id): UrlPath<i64>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Err(r) = require_supervisor(&state, &headers, true) {
        return r;
    }
    let width = q.w.unwrap_or(1000).clamp(200, 2500);
    let r = with_store(&state, move |store| Ok(store.page(page_id)?.map(|(_, p)| (p.path, p.page_index)))).await;
    let (path, index) = match r {
        Ok(Some(x)) => x,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    // Decoding takes a while: off the async threads, without the store.
    let jpeg = tokio::task::spawn_blocking(move || page_jpeg(Path::new(&path), index, width)).await;
    match jpeg {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        Ok(Err(e)) => {
            // The kind only: a scan's path or a decoder's message may name a person.
            let kind = match e {
                Error::Input { .. } => "unreadable scan",
                Error::Limits { .. } => "scan over the limits",
                Error::Io { .. } => "scan file not found or not readable",
                _ => "other error",
            };
            eprintln!("station: page {page_id}: no page image ({kind})");
            StatusCode::NOT_FOUND.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn page_jpeg(path: &Path, index: usize, width: u32) -> Result<Vec<u8>> {
    let limits = formscan::decode::DecodeLimits::default();
    let pages = formscan::decode::open_file(path, &limits)?;
    let page = pages.get(index).ok_or_else(|| Error::input("the scan has fewer pages than stored"))?;
    let img = formscan::decode::decode_page(page, &limits)?;
    let height = ((img.height() as u64 * width as u64) / img.width().max(1) as u64).max(1) as u32;
    let small = img.resize_exact(width, height, image::imageops::FilterType::Triangle).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(|e| Error::input(format!("page image: {e}")))?;
    Ok(out)
}
