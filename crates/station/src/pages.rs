//! The station's pages: server-rendered HTML, one bundled script and one style sheet. Chinese
//! by default, English with `?lang=en`.

use crate::session::Session;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The keyboard script of the keying page (module notes of the crate).
pub const SCRIPT: &str = include_str!("station.js");
/// The style sheet.
pub const STYLE: &str = include_str!("station.css");

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
    let (logout, sup) = if en { ("Log out", "Supervisor") } else { ("退出", "主管") };
    let sup_link = if s.role >= formscan_campaign::accounts::Role::Supervisor {
        format!("<a href=\"/supervisor{}\">{sup}</a>", if en { "?lang=en" } else { "" })
    } else {
        String::new()
    };
    format!(
        "<header><span class=\"who\">{} ({})</span> {sup_link}\
         <form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">{logout}</button></form></header>",
        esc(&s.name),
        s.role.as_str(),
        esc(&s.csrf)
    )
}

/// The keying page: one field at a time, keyboard first (see `station.js`).
pub fn key(en: bool, s: &Session) -> String {
    let t = if en {
        [
            "Keying",
            "Enter: take the value and go on · Esc: clear · Ctrl+Enter: confirm the reading",
            "Nothing waits for a value.",
            "Value",
        ]
    } else {
        ["录入", "回车：确认并下一项 · Esc：清空 · Ctrl+回车：确认识别结果", "没有待录入的内容。", "录入值"]
    };
    page(
        en,
        t[0],
        &format!(
            "{}<main id=\"station\" data-csrf=\"{}\" data-lang=\"{}\"><h1>{}</h1><p class=\"help\">{}</p>\
             <section id=\"item\" hidden><p class=\"what\"><span id=\"field\"></span> <span id=\"stage\"></span> \
             <span id=\"finding\"></span></p><img id=\"snippet\" alt=\"\"><p id=\"read\"></p>\
             <label>{} <input id=\"value\" autocomplete=\"off\" spellcheck=\"false\"></label>\
             <p id=\"problem\" class=\"error\" role=\"alert\"></p></section>\
             <p id=\"empty\" hidden>{}</p><p id=\"done\" class=\"count\"></p></main>\
             <script src=\"/static/station.js\"></script>",
            header_bar(en, s),
            esc(&s.csrf),
            if en { "en" } else { "zh" },
            t[0],
            t[1],
            t[3],
            t[2]
        ),
    )
}

/// The supervisor's page: what waits, by class and stage.
pub fn supervisor(en: bool, s: &Session, queues: &[(String, String, usize)]) -> String {
    let rows: String = queues
        .iter()
        .map(|(c, st, n)| format!("<tr><td>{}</td><td>{}</td><td>{n}</td></tr>", esc(c), esc(st)))
        .collect();
    let (title, head) = if en {
        ("Queues", "<tr><th>class</th><th>stage</th><th>fields</th></tr>")
    } else {
        ("队列", "<tr><th>类别</th><th>阶段</th><th>字段数</th></tr>")
    };
    page(en, title, &format!("{}<main><h1>{title}</h1><table>{head}{rows}</table></main>", header_bar(en, s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let s = Session::for_test("<b>", formscan_campaign::accounts::Role::Keyer);
        assert!(!key(false, &s).contains("<b>"));
    }
}
