//! The station's pages: server-rendered HTML, one bundled script and one style sheet. Chinese
//! by default, English with `?lang=en`.

use crate::session::Session;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The keyboard script of the keying page (module notes of the crate).
pub const SCRIPT: &str = include_str!("station.js");
/// The style sheet.
pub const STYLE: &str = include_str!("station.css");
/// The keyboard script of the review page.
pub const REVIEW_SCRIPT: &str = include_str!("review.js");

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML response.
pub fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn page(en: bool, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/static/station.css\"></head><body>{body}</body></html>",
        if en { "en" } else { "zh-CN" },
        esc(title)
    )
}

/// The login page, with an error message when a try failed.
pub fn login(en: bool, error: Option<&str>) -> String {
    let (title, name, pass, go, other) = if en {
        ("formscan station: log in", "Name", "Password", "Log in", "<a href=\"/login\">中文</a>")
    } else {
        ("formscan 录入站：登录", "用户名", "密码", "登录", "<a href=\"/login?lang=en\">English</a>")
    };
    let action = if en { "/login?lang=en" } else { "/login" };
    let err = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
    page(
        en,
        title,
        &format!(
            "<main class=\"login\"><h1>{}</h1>{err}<form method=\"post\" action=\"{action}\">\
             <label>{name} <input name=\"name\" autocomplete=\"username\" autofocus required></label>\
             <label>{pass} <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">{go}</button></form><p>{other}</p></main>",
            esc(title)
        ),
    )
}

fn header_bar(en: bool, s: &Session) -> String {
    let q = if en { "?lang=en" } else { "" };
    let (logout, key, review, sup) =
        if en { ("Log out", "Keying", "Review", "Supervisor") } else { ("退出", "录入", "审核", "主管") };
    let mut links = format!("<a href=\"/key{q}\">{key}</a>");
    if s.role >= formscan_campaign::accounts::Role::Supervisor {
        links.push_str(&format!(" <a href=\"/review{q}\">{review}</a> <a href=\"/supervisor{q}\">{sup}</a>"));
    }
    format!(
        "<header><nav>{links}</nav><span class=\"who\">{} ({})</span>\
         <form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">{logout}</button></form></header>",
        esc(&s.name),
        s.role.as_str(),
        esc(&s.csrf)
    )
}

/// A work page: the queue's root element (holding the CSRF token and the language for its
/// script), the title and help line, the item's section, the "nothing waits" line and the
/// count of items done.
fn work_page(en: bool, s: &Session, root: &str, t: [&str; 3], section: &str, script: &str) -> String {
    let [title, help, empty] = t;
    page(
        en,
        title,
        &format!(
            "{}<main id=\"{root}\" data-csrf=\"{}\" data-lang=\"{}\"><h1>{title}</h1><p class=\"help\">{help}</p>\
             {section}<p id=\"empty\" hidden>{empty}</p><p id=\"done\" class=\"count\"></p></main>\
             <script src=\"/static/{script}\"></script>",
            header_bar(en, s),
            esc(&s.csrf),
            if en { "en" } else { "zh" },
        ),
    )
}

/// The keying page: one field at a time, keyboard first (see `station.js`).
pub fn key(en: bool, s: &Session) -> String {
    let (t, value) = if en {
        (
            [
                "Keying",
                "Enter: take the value (unchanged: confirm the reading) and go on · ↓↑: the reader's candidates \
                 · Esc: clear · F2: cannot read · relationship: 1–5",
                "Nothing waits for a value.",
            ],
            "Value",
        )
    } else {
        (
            [
                "录入",
                "回车：确认并下一项（未改动即确认识别结果）· ↓↑：识别候选 · Esc：清空 · F2：无法辨认 · 关系：按 1–5",
                "没有待录入的内容。",
            ],
            "录入值",
        )
    };
    let choices = formscan_campaign::keying::RELATIONS
        .iter()
        .enumerate()
        .map(|(i, (v, zh))| format!("<li data-value=\"{v}\"><kbd>{}</kbd> {zh}</li>", i + 1))
        .collect::<String>();
    let section = format!(
        "<section id=\"item\" hidden><p class=\"what\"><span id=\"field\"></span> <span id=\"stage\"></span> \
         <span id=\"finding\"></span></p><img id=\"snippet\" alt=\"\"><p id=\"read\"></p>\
         <ol id=\"candidates\" class=\"candidates\"></ol>\
         <ol id=\"choices\" hidden>{choices}</ol>\
         <label>{value} <input id=\"value\" autocomplete=\"off\" spellcheck=\"false\"></label>\
         <p id=\"problem\" class=\"error\" role=\"alert\"></p></section>"
    );
    work_page(en, s, "station", t, &section, "station.js")
}

/// The review page: one form at a time, its page zoomable, its findings, and the decision
/// keys (see `review.js`).
pub fn review(en: bool, s: &Session) -> String {
    let (t, reason) = if en {
        (
            [
                "Review",
                "A: accept · R: reject (type the reason, Enter) · 1–9: choose the scan that counts · Z: zoom · \
                 N: next without deciding",
                "No form waits for a decision.",
            ],
            "Reason for the school",
        )
    } else {
        (
            [
                "审核",
                "A：通过 · R：退回学校（填写原因后回车）· 1–9：选定有效扫描件 · Z：放大 · N：跳过",
                "没有待审核的表。",
            ],
            "退回原因",
        )
    };
    let section = format!(
        "<section id=\"form\" hidden><p class=\"what\" id=\"who\"></p><ol id=\"scans\"></ol>\
         <ul id=\"findings\"></ul><div id=\"photo\" hidden><img id=\"card\" alt=\"\"></div>\
         <img id=\"page\" alt=\"\" class=\"page\">\
         <label id=\"reasonbox\" hidden>{reason} <input id=\"reason\" autocomplete=\"off\" maxlength=\"200\"></label>\
         <p id=\"problem\" class=\"error\" role=\"alert\"></p></section>"
    );
    work_page(en, s, "review", t, &section, "review.js")
}

fn table(head: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let head: String = head.iter().map(|h| format!("<th>{}</th>", esc(h))).collect();
    let rows: String = rows
        .map(|r| format!("<tr>{}</tr>", r.iter().map(|c| format!("<td>{}</td>", esc(c))).collect::<String>()))
        .collect();
    format!("<table><tr>{head}</tr>{rows}</table>")
}

fn fixed(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "–".into())
}

/// The supervisor's page: queues, progress per school and class, operators, and a person
/// search. It reloads itself every 30 seconds (live, with no script).
pub fn supervisor(en: bool, s: &Session, o: &crate::supervisor::Overview) -> String {
    let l = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let queues = table(
        &[l("类别", "class"), l("阶段", "stage"), l("字段数", "fields")],
        o.queues.iter().map(|(c, st, n)| vec![c.clone(), st.clone(), n.to_string()]),
    );
    let progress = table(
        &formscan_campaign::status::HEADERS,
        o.progress.iter().map(|r| {
            vec![
                r.school.clone(),
                r.grade.clone(),
                r.class.clone(),
                r.printed.to_string(),
                r.returned.to_string(),
                r.accepted.to_string(),
                r.review.to_string(),
                r.rejected.to_string(),
                r.not_returned.to_string(),
                r.exported.to_string(),
            ]
        }),
    );
    let operators = table(
        &[
            l("操作员", "operator"),
            l("条目", "items"),
            l("确认识别", "confirmed"),
            l("无法辨认", "unreadable"),
            l("每小时条目", "items/hour"),
            l("每条按键", "keys/item"),
            l("双录字段", "double-keyed"),
            l("不一致率", "disagreement"),
        ],
        o.operators.iter().map(|x| {
            vec![
                x.operator.clone(),
                x.items.to_string(),
                x.confirmed.to_string(),
                x.unreadable.to_string(),
                fixed(x.items_per_hour, 0),
                fixed(x.keystrokes_per_item, 1),
                x.double_keyed.to_string(),
                fixed((x.double_keyed > 0).then(|| 100.0 * x.disagreements as f64 / x.double_keyed as f64), 1) + "%",
            ]
        }),
    );
    let search = format!(
        "<form method=\"get\" action=\"/supervisor/person\"><label>{} <input name=\"q\" autocomplete=\"off\"></label>{}\
         <button type=\"submit\">{}</button></form>",
        l("查询个人（身份证号或姓名）", "A person (ID number or name)"),
        if en { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
        l("查询", "Look up")
    );
    let body = format!(
        "{}<main><h1>{}</h1><h2>{}</h2>{queues}<p>{}: {}</p><h2>{}</h2>{progress}<h2>{}</h2>{operators}<h2>{}</h2>{search}</main>",
        header_bar(en, s),
        l("主管", "Supervisor"),
        l("待录入", "Waiting for keying"),
        l("待审核的表", "Forms waiting for review"),
        o.forms,
        l("进度", "Progress"),
        l("操作员", "Operators"),
        l("个人历史", "A person's history"),
    );
    page(en, l("主管", "Supervisor"), &body).replace("<head>", "<head><meta http-equiv=\"refresh\" content=\"30\">")
}

/// A person's history: forms, scans, findings, every keyed value and decision.
pub fn person(en: bool, s: &Session, q: &str, persons: &[serde_json::Value]) -> String {
    let l = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let str_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut body = String::new();
    for p in persons {
        body.push_str(&format!(
            "<section><h2>{} {}</h2><p>{} {} · {}</p>",
            esc(&str_of(&p["name"])),
            esc(&str_of(&p["id_number"])),
            esc(&str_of(&p["school"])),
            esc(&str_of(&p["class"])),
            esc(&str_of(&p["status"]))
        ));
        for pg in p["pages"].as_array().into_iter().flatten() {
            body.push_str(&format!(
                "<h3>{} {} ({})</h3>",
                l("扫描件", "Scan"),
                esc(&str_of(&pg["form"])),
                esc(&str_of(&pg["file"]))
            ));
            let findings: Vec<String> = pg["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| format!("{} ({})", str_of(&f["code"]), str_of(&f["subject"])))
                .collect();
            body.push_str(&format!("<p>{}: {}</p>", l("发现", "Findings"), esc(&findings.join(", "))));
            body.push_str(&table(
                &[
                    l("字段", "field"),
                    l("值", "value"),
                    l("来源", "source"),
                    l("操作员", "operator"),
                    l("时间", "time"),
                ],
                pg["keyed"].as_array().into_iter().flatten().map(|k| {
                    ["field", "value", "source", "operator"]
                        .iter()
                        .map(|c| str_of(&k[*c]))
                        .chain([time(&k["at"])])
                        .collect()
                }),
            ));
        }
        body.push_str(&format!("<h3>{}</h3>", l("审核决定", "Decisions")));
        body.push_str(&table(
            &[l("决定", "decision"), l("原因", "reason"), l("操作员", "operator"), l("时间", "time")],
            p["decisions"].as_array().into_iter().flatten().map(|d| {
                ["decision", "reason", "operator"].iter().map(|c| str_of(&d[*c])).chain([time(&d["at"])]).collect()
            }),
        ));
        body.push_str("</section>");
    }
    if persons.is_empty() && !q.trim().is_empty() {
        body.push_str(&format!("<p>{}</p>", l("没有找到。", "No one found.")));
    }
    page(
        en,
        l("个人历史", "A person's history"),
        &format!("{}<main><h1>{}</h1>{body}</main>", header_bar(en, s), l("个人历史", "A person's history")),
    )
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
fn time(v: &serde_json::Value) -> String {
    let Some(t) = v.as_i64() else { return String::new() };
    let secs = t.rem_euclid(86_400);
    let date = formscan::domain::Date::from_unix_days(t.div_euclid(86_400));
    format!("{date} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let s = Session::for_test("<b>", formscan_campaign::accounts::Role::Keyer);
        assert!(!key(false, &s).contains("<b>"));
        assert!(!review(false, &s).contains("<b>"));
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(time(&serde_json::json!(0)), "1970-01-01 00:00:00");
        assert_eq!(time(&serde_json::json!(1_798_675_200)), "2026-12-31 00:00:00");
        assert_eq!(time(&serde_json::json!(951_782_400 + 3661)), "2000-02-29 01:01:01");
    }
}
