//! The keying API: the next items under a lease, keying one, the field's snippet.
//!
//! The station keeps the list of waiting fields ([`keying::candidates`]) and the forms waiting
//! for a review decision between requests, in [`WorkLists`]: building them means assessing the
//! whole store (every person, page and finding: about a second for 10,000 forms on the
//! development machine), which a request for the next item cannot afford. The lists are
//! rebuilt when older than [`REFRESH`] or when a queue runs dry, and every item handed out is
//! checked again against the store under its lease ([`keying::lease_next`]), so a stale list
//! never hands out a settled field: at worst a new scan's fields wait up to [`REFRESH`].

use crate::{class_name, require, require_supervisor, with_store, AppState};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use formscan::error::{Error, Result};
use formscan_campaign::accounts::Role;
use formscan_campaign::keying::{self, Candidate, FieldValue, KeyAction};
use formscan_campaign::store::Store;
use formscan_campaign::{Assessed, FormStatus};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How old the lists may get before a request rebuilds them. Default 30 s: new scans reach the
/// keyers within half a minute, and a 10,000-form store is assessed at most twice a minute.
pub const REFRESH: Duration = Duration::from_secs(30);

/// A queue that ran dry is rebuilt at once, but not more often than this. Default 2 s: twenty
/// keyers finding nothing do not assess the store twenty times a second.
const DRY_REFRESH: Duration = Duration::from_secs(2);

/// The waiting fields and forms, as of `built`.
#[derive(Default)]
pub struct WorkLists {
    built: Option<Instant>,
    /// When the lists were built, seconds since the epoch (to tell decisions made since).
    pub built_at: i64,
    /// Fields waiting for a value.
    pub keying: Vec<Candidate>,
    /// Persons in review whose fields are all keyed (or only a supervisor can key them): a
    /// decision on the form is what is left.
    pub forms: Vec<Assessed>,
}

impl WorkLists {
    fn stale(&self, dry: bool) -> bool {
        match self.built {
            None => true,
            Some(t) => t.elapsed() > REFRESH || (dry && t.elapsed() > DRY_REFRESH),
        }
    }

    /// Rebuilds the lists from a fresh assessment of the store.
    pub fn rebuild(&mut self, store: &mut dyn Store) -> Result<()> {
        let assessed = formscan_campaign::assess(store, &Default::default())?;
        self.keying = keying::candidates(&assessed);
        self.forms = assessed.into_iter().filter(waits_for_decision).collect();
        self.built = Some(Instant::now());
        self.built_at = keying::now();
        Ok(())
    }

    /// Rebuilds the lists when they are stale, or when `dry` (a queue found nothing) and they
    /// were not just built.
    fn refresh(&mut self, store: &mut dyn Store, dry: bool) -> Result<bool> {
        if self.stale(dry) {
            self.rebuild(store)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Takes items from the lists with `take`, on lists no older than [`REFRESH`]; when it
    /// finds nothing, once more on lists rebuilt (unless they were just built).
    pub fn take<T>(
        &mut self,
        store: &mut dyn Store,
        mut take: impl FnMut(&mut WorkLists, &mut dyn Store) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        self.refresh(store, false)?;
        let items = take(self, store)?;
        if items.is_empty() && self.refresh(store, true)? {
            return take(self, store);
        }
        Ok(items)
    }
}

/// A form for the review queue: in review, not exported, with no field left for a keyer (a
/// field only a supervisor can settle may remain: the reviewer may reject the form instead).
fn waits_for_decision(a: &Assessed) -> bool {
    a.status == FormStatus::Review
        && a.view.exported.is_none()
        && a.keying.iter().all(|p| matches!(p.state, FieldValue::Unreadable | FieldValue::Mismatch))
}

/// One item as the API hands it out.
#[derive(Debug, Serialize)]
struct ItemJson {
    item: String,
    page_id: i64,
    field: String,
    class: &'static str,
    stage: &'static str,
    finding: String,
    /// The reader's reading, when it read something (to confirm or correct).
    read: Option<String>,
    /// The reader's candidates, best first (one key away on the keying page).
    candidates: Vec<String>,
    /// Positions (in characters) of the reading's uncertain cells: unread, or where a
    /// candidate differs.
    uncertain: Vec<usize>,
}

/// The cells of `read` a keyer should look at twice: `?` (unread), or where a candidate has
/// another character.
fn uncertain_cells(read: Option<&str>, candidates: &[String]) -> Vec<usize> {
    let Some(read) = read else { return Vec::new() };
    let others: Vec<Vec<char>> = candidates.iter().map(|c| c.chars().collect()).collect();
    read.chars()
        .enumerate()
        .filter(|&(i, c)| c == '?' || others.iter().any(|o| o.get(i) != Some(&c)))
        .map(|(i, _)| i)
        .collect()
}

/// The API's name of the stage an item is in.
pub fn stage_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::AwaitingSecond => "second",
        FieldValue::Mismatch => "supervisor",
        FieldValue::Unreadable => "unreadable",
        _ => "first",
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    n: Option<usize>,
}

pub async fn api_next(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let s = match require(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = q.n.unwrap_or(3).clamp(1, 20);
    let lists = state.work.clone();
    let r = with_store(&state, move |store| {
        let mut lists = lists.lock().map_err(|_| Error::input("work lists poisoned"))?;
        let supervisor = s.role >= Role::Supervisor;
        let items = lists.take(store, |lists, store| {
            keying::lease_next(store, &Default::default(), &mut lists.keying, &s.name, supervisor, n, keying::now())
        })?;
        Ok(items
            .into_iter()
            .map(|i| ItemJson {
                item: i.item,
                page_id: i.page_id,
                field: i.field,
                class: class_name(i.class),
                stage: stage_name(&i.state),
                finding: i.code.to_string(),
                uncertain: uncertain_cells(i.read.as_deref(), &i.candidates),
                read: i.read,
                candidates: i.candidates,
            })
            .collect::<Vec<_>>())
    })
    .await;
    match r {
        Ok(items) => Json(serde_json::json!({ "items": items })).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct KeyRequest {
    item: String,
    #[serde(default)]
    value: String,
    /// `key` (default), `confirm` (the reader's reading) or `unreadable`.
    #[serde(default)]
    action: Option<String>,
    /// Keys pressed for this item, counted by the page.
    #[serde(default)]
    keystrokes: Option<u32>,
}

pub async fn api_key(State(state): State<AppState>, headers: HeaderMap, Json(k): Json<KeyRequest>) -> Response {
    let s = match require(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = crate::check_csrf(&s, headers.get("x-csrf-token").and_then(|v| v.to_str().ok())) {
        return r;
    }
    let lists = state.work.clone();
    let r = with_store(&state, move |store| {
        let Some((page, field)) = k.item.split_once(':') else { return Err(Error::input("item is PAGE:FIELD")) };
        let page_id: i64 = page.parse().map_err(|_| Error::input("item is PAGE:FIELD"))?;
        let action = match k.action.as_deref().unwrap_or("key") {
            "key" => KeyAction::Key,
            "confirm" => KeyAction::Confirm,
            "unreadable" => KeyAction::Unreadable,
            _ => return Err(Error::input("action is key, confirm or unreadable")),
        };
        let supervisor = s.role >= Role::Supervisor;
        let policy = Default::default();
        let (value, after) =
            keying::key_item(store, &policy, page_id, field, &k.value, action, &s.name, supervisor, k.keystrokes)?;
        // The list follows at once: a settled field leaves it, one waiting for a second keyer
        // or a supervisor shows its new stage.
        let mut lists = lists.lock().map_err(|_| Error::input("work lists poisoned"))?;
        if let Some(at) = lists.keying.iter().position(|c| c.work.item == k.item) {
            if after.is_final() {
                lists.keying.remove(at);
            } else {
                let c = &mut lists.keying[at];
                c.work.state = after.clone();
                c.keyed_by.push(s.name.clone());
            }
        }
        Ok((value, stage_name(&after), after.is_final()))
    })
    .await;
    match r {
        Ok((v, stage, settled)) => {
            Json(serde_json::json!({ "value": v, "settled": settled, "stage": stage })).into_response()
        }
        Err(r) => r,
    }
}

pub async fn api_snippet(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlPath((page_id, field)): UrlPath<(i64, String)>,
) -> Response {
    if let Err(r) = require(&state, &headers, true) {
        return r;
    }
    if keying::field_class(&field).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let r = with_store(&state, move |store| {
        let Some((_, page)) = store.page(page_id)? else { return Ok(None) };
        // Where `process` saved it: the folder of this page's own scan
        // (`formscan::batch::snippet_folder`), so that a form scanned twice shows each keyer the
        // scan whose reading they key. Output written before snippets were kept per scan has
        // one folder per form page, `snippets/<run>-<serial>-p<page>`: read there when the
        // scan's own folder has no image of the field.
        let out = std::path::Path::new(&page.out_dir);
        let source = formscan::record::SourceRef { file: page.path.clone(), page: page.page_index };
        let file = format!("{}.png", formscan::output::unique_file_name(&field));
        for p in 1..=4 {
            let own = formscan::batch::snippet_folder(&page.run, &page.serial, p, &source);
            // The older folder is the same name without the scan tag (its last nine characters).
            let legacy = &own[..own.len() - 9];
            for folder in [own.as_str(), legacy] {
                if let Ok(bytes) = std::fs::read(out.join(folder).join(&file)) {
                    return Ok(Some(bytes));
                }
            }
        }
        Ok(None)
    })
    .await;
    match r {
        Ok(Some(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(r) => r,
    }
}

/// Fields waiting: (class, stage, count).
pub type FieldQueues = Vec<(String, String, usize)>;

/// Fields waiting, by class and stage, and the forms waiting for a decision.
pub fn queue_counts(assessed: &[Assessed]) -> (FieldQueues, usize) {
    let mut counts: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for a in assessed.iter().filter(|a| a.view.exported.is_none()) {
        for p in &a.keying {
            *counts.entry((class_name(p.class).to_string(), stage_name(&p.state).to_string())).or_default() += 1;
        }
    }
    let forms = assessed.iter().filter(|a| waits_for_decision(a)).count();
    (counts.into_iter().map(|((c, s), n)| (c, s, n)).collect(), forms)
}

pub async fn api_queues(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = require_supervisor(&state, &headers, true) {
        return r;
    }
    let counts = |store: &mut dyn Store| Ok(queue_counts(&formscan_campaign::assess(store, &Default::default())?));
    match with_store(&state, counts).await {
        Ok((q, forms)) => Json(serde_json::json!({
            "queues": q.iter().map(|(c, s, n)| serde_json::json!({"class": c, "stage": s, "count": n})).collect::<Vec<_>>(),
            "forms": forms,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::uncertain_cells;

    #[test]
    fn uncertain_cells_are_unread_or_disputed() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(uncertain_cells(Some("1398765432?"), &c(&["13987654321", "13987654327"])), [10]);
        assert_eq!(uncertain_cells(Some("13987654321"), &c(&["13987654321", "13981654321"])), [4]);
        assert_eq!(uncertain_cells(Some("13987654321"), &[]), Vec::<usize>::new());
        assert_eq!(uncertain_cells(None, &c(&["1"])), Vec::<usize>::new());
    }
}
