// The keying page: keyboard first. Enter takes the value and shows the next item (a reading
// taken unchanged is confirmed: one key); the arrow keys down and up put the reader's
// candidates in the box, one key each; F2 says the field cannot be read; Esc clears; on a
// relationship item the keys 1-5 choose. The reading's uncertain cells are marked. Items are fetched ahead (a small queue), so the keyer
// never waits for the server between items. Every request carries the CSRF token, and each
// value carries the keys pressed for it (the supervisor's keystrokes per item).
"use strict";
(function () {
  const root = document.getElementById("station");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const en = root.dataset.lang === "en";
  const $ = (id) => document.getElementById(id);
  const queue = [];
  let current = null;
  let fetching = null;
  let done = 0;
  let keys = 0;
  let busy = false;
  let pick = -1; // the candidate in the box; -1: the reading
  const names = {
    applicant_phone: ["申领人手机号码", "applicant's phone"],
    agent_phone: ["代理人手机号码", "agent's phone"],
    agent_id: ["代理人公民身份号码", "agent's ID number"],
    applicant_id_fix: ["更正公民身份号码", "corrected ID number"],
    agent_name: ["代理人姓名", "agent's name"],
    applicant_name_fix: ["更正姓名", "corrected name"],
    agent_relation: ["代理人与申领人关系", "agent's relationship"],
  };
  const stages = {
    first: ["", ""],
    second: ["（第二次录入）", "(second entry)"],
    supervisor: ["（两次不一致，主管裁定）", "(mismatch: supervisor)"],
    unreadable: ["（录入员无法辨认，主管处理）", "(a keyer could not read it: supervisor)"],
  };
  const t = (pair) => (en ? pair[1] : pair[0]);
  const choices = Array.from($("choices").querySelectorAll("li")).map((li) => li.dataset.value);

  // Live checks before a value is sent: the server checks again (GB 11643, the mobile
  // pattern), these only save a round trip.
  const idWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function idOk(v) {
    if (!/^\d{17}[\dX]$/.test(v)) return false;
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += idWeights[i] * (v.charCodeAt(i) - 48);
    if ("10X98765432"[sum % 11] !== v[17]) return false;
    const y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14);
    const date = new Date(Date.UTC(y, m - 1, d));
    return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  }
  function problem(cls, v) {
    if (cls === "phone" && !/^1[3-9]\d{9}$/.test(v.replace(/[\s-]/g, ""))) return t(["不是11位手机号码", "not an 11-digit mobile number"]);
    if (cls === "id_number" && !idOk(v.trim().toUpperCase())) return t(["身份证号码校验不通过", "the ID number fails its check"]);
    return "";
  }

  function fill() {
    if (fetching) return fetching;
    if (queue.length >= 3) return Promise.resolve();
    fetching = (async () => {
      try {
        const r = await fetch("/api/next?n=3", { credentials: "same-origin" });
        if (r.status === 401) { location.href = "/login"; return; }
        const j = await r.json();
        for (const it of j.items) {
          if (!queue.some((q) => q.item === it.item) && (!current || current.item !== it.item)) queue.push(it);
        }
      } finally {
        fetching = null;
      }
    })();
    return fetching;
  }

  function show() {
    current = queue.shift() || null;
    keys = 0;
    $("item").hidden = !current;
    $("empty").hidden = !!current;
    $("problem").textContent = "";
    if (!current) {
      // Nothing now: look again in a while (new scans, leases that ran out).
      setTimeout(() => fill().then(() => { if (!current) show(); }), 5000);
      return;
    }
    $("field").textContent = names[current.field] ? t(names[current.field]) : current.field;
    $("stage").textContent = t(stages[current.stage] || ["", ""]);
    $("finding").textContent = current.finding;
    $("snippet").src = "/api/snippet/" + current.page_id + "/" + current.field;
    showReading();
    pick = -1;
    const list = $("candidates");
    list.replaceChildren();
    for (const c of current.candidates || []) {
      const li = document.createElement("li");
      li.textContent = c;
      list.appendChild(li);
    }
    $("choices").hidden = current.class !== "choice";
    $("value").value = current.stage === "first" && current.read ? current.read : "";
    $("value").focus();
    $("value").select();
    fill();
  }

  // The reading, its uncertain cells marked (built as text nodes: values never become HTML).
  function showReading() {
    const p = $("read");
    p.replaceChildren();
    if (!current.read) return;
    p.appendChild(document.createTextNode(en ? "Reader: " : "识别结果："));
    const marked = new Set(current.uncertain || []);
    Array.from(current.read).forEach((ch, i) => {
      const span = document.createElement("span");
      span.textContent = ch;
      if (marked.has(i)) span.className = "uncertain";
      p.appendChild(span);
    });
  }

  // Moves through the candidates (step +1 or -1); past either end, back to the reading.
  function cycle(step) {
    const list = current.candidates || [];
    if (list.length === 0) return;
    pick += step;
    if (pick >= list.length || pick < -1) pick = -1;
    $("value").value = pick === -1 ? (current.stage === "first" && current.read ? current.read : "") : list[pick];
    Array.from($("candidates").children).forEach((li, i) => li.classList.toggle("chosen", i === pick));
    $("value").select();
  }

  async function submit(action) {
    if (!current || busy) return;
    let value = $("value").value;
    if (action === "key") {
      const p = problem(current.class, value);
      if (p) { $("problem").textContent = p; $("value").select(); return; }
      // The reading taken as it stands is a confirmation (no second keyer needed).
      if (current.stage === "first" && current.read && value === current.read) action = "confirm";
    }
    busy = true;
    try {
      const r = await fetch("/api/key", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ item: current.item, value: value, action: action, keystrokes: keys }),
      });
      if (r.status === 401) { location.href = "/login"; return; }
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
    } finally {
      busy = false;
    }
  }

  $("value").addEventListener("keydown", (e) => {
    if (!current) return;
    if (!["Shift", "Control", "Alt", "Meta"].includes(e.key)) keys += 1;
    // An input method's Enter picks its characters; it is not the keyer's Enter.
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === "Enter") { e.preventDefault(); submit("key"); }
    else if (e.key === "F2") { e.preventDefault(); submit("unreadable"); }
    else if (e.key === "ArrowDown") { e.preventDefault(); cycle(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); cycle(-1); }
    else if (e.key === "Escape") { e.preventDefault(); $("value").value = ""; }
    else if (current.class === "choice" && /^[1-9]$/.test(e.key)) {
      e.preventDefault();
      const v = choices[+e.key - 1];
      if (v) { $("value").value = v; submit("key"); }
    }
  });
  fill().then(show);
})();
