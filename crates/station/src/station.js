// The keying page: keyboard first. Enter keys the value and shows the next item; Ctrl+Enter
// confirms the reader's reading; Esc clears. Items are fetched ahead (a small queue), so the
// keyer never waits for the server between items. Every request carries the CSRF token.
"use strict";
(function () {
  const root = document.getElementById("station");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const en = root.dataset.lang === "en";
  const $ = (id) => document.getElementById(id);
  const queue = [];
  let current = null;
  let fetching = false;
  let done = 0;
  const names = {
    applicant_phone: ["申领人手机号码", "applicant's phone"],
    agent_phone: ["代理人手机号码", "agent's phone"],
    agent_id: ["代理人公民身份号码", "agent's ID number"],
    applicant_id_fix: ["更正公民身份号码", "corrected ID number"],
    agent_name: ["代理人姓名", "agent's name"],
    applicant_name_fix: ["更正姓名", "corrected name"],
  };
  const stages = { first: ["", ""], second: ["（第二次录入）", "(second entry)"], supervisor: ["（两次不一致，主管裁定）", "(mismatch: supervisor)"] };
  const t = (pair) => (en ? pair[1] : pair[0]);

  async function fill() {
    if (fetching || queue.length >= 3) return;
    fetching = true;
    try {
      const r = await fetch("/api/next?n=3", { credentials: "same-origin" });
      if (r.status === 401) { location.href = "/login"; return; }
      const j = await r.json();
      for (const it of j.items) {
        if (!queue.some((q) => q.item === it.item) && (!current || current.item !== it.item)) queue.push(it);
      }
    } finally {
      fetching = false;
    }
  }

  function show() {
    current = queue.shift() || null;
    $("item").hidden = !current;
    $("empty").hidden = !!current;
    $("problem").textContent = "";
    if (!current) return;
    $("field").textContent = names[current.field] ? t(names[current.field]) : current.field;
    $("stage").textContent = t(stages[current.stage] || ["", ""]);
    $("finding").textContent = current.finding;
    $("snippet").src = "/api/snippet/" + current.page_id + "/" + current.field;
    $("read").textContent = current.read ? (en ? "Reader: " : "识别结果：") + current.read : "";
    $("value").value = current.stage === "first" && current.read ? current.read : "";
    $("value").focus();
    $("value").select();
    fill();
  }

  async function submit(confirm) {
    if (!current) return;
    const value = $("value").value;
    const r = await fetch("/api/key", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ item: current.item, value: value, confirm: confirm }),
    });
    if (r.ok) {
      done += 1;
      $("done").textContent = (en ? "Keyed: " : "已录入：") + done;
      if (queue.length === 0) await fill();
      show();
    } else {
      const j = await r.json().catch(() => ({ error: String(r.status) }));
      $("problem").textContent = j.error;
      $("value").select();
    }
  }

  $("value").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); submit(e.ctrlKey && current && current.stage === "first" && !!current.read); }
    else if (e.key === "Escape") { e.preventDefault(); $("value").value = ""; }
  });
  fill().then(show);
})();
