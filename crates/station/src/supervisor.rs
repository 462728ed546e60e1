//! What a supervisor watches: progress per school and class (the `status` table, live),
//! queue sizes, each operator's throughput, and the history of any person's form.
//!
//! Operator figures come from the keyed values the store keeps (every entry has its operator,
//! time, source and the keys pressed):
//!
//! * **items per hour**: entries after the operator's first, over the time between their
//!   entries, counting no gap longer than [`IDLE_GAP`] (a break is not keying time);
//! * **keystrokes per item**: the mean over entries the station counted;
//! * **disagreement rate**: of the fields two operators keyed blind, the share where this
//!   operator's value differs from the other's (queXF's and the census's double-keying
//!   measure of a keyer's accuracy).

use crate::{pages, require_supervisor, with_store, AppState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use formscan::error::Result;
use formscan_campaign::keying::KeySource;
use formscan_campaign::status::StatusRow;
use formscan_campaign::store::{Decision, Store};
use formscan_campaign::Assessed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A gap between two entries longer than this is a break, not keying time. Default 5 minutes.
pub const IDLE_GAP: i64 = 300;

/// One operator's figures.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OperatorStats {
    /// The operator.
    pub operator: String,
    /// Entries (values keyed, confirmed, ruled, or marked unreadable).
    pub items: usize,
    /// Of them, confirmations of the reader's reading.
    pub confirmed: usize,
    /// Of them, marked unreadable.
    pub unreadable: usize,
    /// Items per hour of keying time (module notes); `None` with fewer than two entries.
    pub items_per_hour: Option<f64>,
    /// Mean keys pressed per item, over the items the station counted.
    pub keystrokes_per_item: Option<f64>,
    /// Fields keyed blind by this operator and another.
    pub double_keyed: usize,
    /// Of them, where the two values differ.
    pub disagreements: usize,
}

/// Every operator's figures, from the keyed values of the assessed persons.
pub fn operator_stats(assessed: &[Assessed]) -> Vec<OperatorStats> {
    let mut by: BTreeMap<&str, OperatorStats> = BTreeMap::new();
    let mut times: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut strokes: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for page in assessed.iter().flat_map(|a| a.view.pages.iter()) {
        let mut typed: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for k in &page.keyed {
            let s = by
                .entry(&k.operator)
                .or_insert_with(|| OperatorStats { operator: k.operator.clone(), ..Default::default() });
            s.items += 1;
            s.confirmed += usize::from(k.source == KeySource::Confirmed);
            s.unreadable += usize::from(k.source == KeySource::Unreadable);
            times.entry(&k.operator).or_default().push(k.at);
            if let Some(n) = k.keystrokes {
                let e = strokes.entry(&k.operator).or_default();
                e.0 += u64::from(n);
                e.1 += 1;
            }
            if k.source == KeySource::Keyed {
                let v = typed.entry(&k.field).or_default();
                // Each operator's first value of the field: the blind entry.
                if !v.iter().any(|(o, _)| *o == k.operator) {
                    v.push((&k.operator, &k.value));
                }
            }
        }
        for entries in typed.values() {
            if let [(a, va), (b, vb), ..] = entries.as_slice() {
                for op in [a, b] {
                    let s = by.get_mut(op).expect("counted above");
                    s.double_keyed += 1;
                    s.disagreements += usize::from(va != vb);
                }
            }
        }
    }
    for (op, mut t) in times {
        t.sort_unstable();
        let active: i64 = t.windows(2).map(|w| (w[1] - w[0]).min(IDLE_GAP)).sum();
        let s = by.get_mut(op).expect("counted above");
        // Whole seconds: an operator keying faster than one item a second is rated by one.
        s.items_per_hour = (t.len() > 1).then(|| 3600.0 * (t.len() - 1) as f64 / active.max(1) as f64);
    }
    for (op, (sum, n)) in strokes {
        by.get_mut(op).expect("counted above").keystrokes_per_item = Some(sum as f64 / n as f64);
    }
    by.into_values().collect()
}

/// What the supervisor's page shows.
pub struct Overview {
    /// Fields waiting, by class and stage.
    pub queues: Vec<(String, String, usize)>,
    /// Forms waiting for a review decision.
    pub forms: usize,
    /// The status table's rows (per class, per school, total).
    pub progress: Vec<StatusRow>,
    /// Operators.
    pub operators: Vec<OperatorStats>,
}

/// Everything the supervisor's page shows, from one assessment.
pub fn overview(store: &mut dyn Store) -> Result<Overview> {
    let assessed = formscan_campaign::assess(store, &Default::default())?;
    let (queues, forms) = crate::work::queue_counts(&assessed);
    Ok(Overview {
        queues,
        forms,
        progress: formscan_campaign::status::rows(&assessed),
        operators: operator_stats(&assessed),
    })
}

pub async fn supervisor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<crate::Lang>,
) -> Response {
    let s = match require_supervisor(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match with_store(&state, overview).await {
        Ok(o) => pages::html(pages::supervisor(crate::english(&q), &s, &o)),
        Err(r) => r,
    }
}

pub async fn api_progress(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = require_supervisor(&state, &headers, true) {
        return r;
    }
    match with_store(&state, overview).await {
        Ok(o) => Json(serde_json::json!({
            "progress": o.progress.iter().map(|r| serde_json::json!({
                "school": r.school, "class": r.class, "printed": r.printed, "returned": r.returned,
                "accepted": r.accepted, "review": r.review, "rejected": r.rejected,
                "not_returned": r.not_returned, "exported": r.exported,
            })).collect::<Vec<_>>(),
            "operators": o.operators,
            "queues": o.queues.iter().map(|(c, s, n)| serde_json::json!({"class": c, "stage": s, "count": n})).collect::<Vec<_>>(),
            "forms": o.forms,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct PersonQuery {
    q: Option<String>,
    lang: Option<String>,
}

/// The persons whose ID number or name is `q` (exactly), with their forms' whole history.
pub fn person_history(store: &mut dyn Store, q: &str) -> Result<Vec<serde_json::Value>> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let assessed = formscan_campaign::assess(store, &Default::default())?;
    let mut out = Vec::new();
    for a in assessed.iter().filter(|a| {
        let p = &a.view.person.person;
        p.id_number.eq_ignore_ascii_case(q) || p.name == q
    }) {
        let p = &a.view.person.person;
        let decisions = store.decisions(a.view.person.key)?;
        out.push(serde_json::json!({
            "person_key": a.view.person.key,
            "name": p.name,
            "id_number": p.id_number,
            "school": p.school,
            "class": format!("{}{}", p.grade, p.class),
            "status": format!("{:?}", a.status).to_lowercase(),
            "exported": a.view.exported,
            "forms": a.view.forms.iter().map(|(r, s, _)| format!("{r}-{s}")).collect::<Vec<_>>(),
            "pages": a.view.pages.iter().map(|pg| serde_json::json!({
                "page_id": pg.id,
                "form": format!("{}-{}", pg.run, pg.serial),
                "file": std::path::Path::new(&pg.path).file_name().map(|f| f.to_string_lossy().to_string()),
                "findings": pg.findings.iter().map(|f| serde_json::json!({"code": f.code.to_string(), "subject": f.subject})).collect::<Vec<_>>(),
                "keyed": pg.keyed.iter().map(|k| serde_json::json!({
                    "field": k.field, "value": k.value, "source": k.source.as_str(), "operator": k.operator, "at": k.at,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "decisions": decisions.iter().map(|d| serde_json::json!({
                "decision": match d.decision { Decision::Accept => "accept".to_string(), Decision::Reject => "reject".to_string(), Decision::Choose(p) => format!("choose:{p}") },
                "reason": d.reason, "operator": d.operator, "at": d.at,
            })).collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

pub async fn api_person(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PersonQuery>) -> Response {
    if let Err(r) = require_supervisor(&state, &headers, true) {
        return r;
    }
    let query = q.q.unwrap_or_default();
    match with_store(&state, move |s| person_history(s, &query)).await {
        Ok(v) => Json(serde_json::json!({ "persons": v })).into_response(),
        Err(r) => r,
    }
}

pub async fn person_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PersonQuery>) -> Response {
    let s = match require_supervisor(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let en = q.lang.as_deref() == Some("en");
    let query = q.q.clone().unwrap_or_default();
    let query2 = query.clone();
    match with_store(&state, move |st| person_history(st, &query2)).await {
        Ok(v) => pages::html(pages::person(en, &s, &query, &v)),
        Err(r) => r,
    }
}
