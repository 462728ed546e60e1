// The review page: one form at a time, keyboard first. A accepts, R asks for the school's
// reason and Enter rejects, 1-9 choose which scan counts (then A accepts it), Z zooms the
// page, N skips to the next form (its lease runs out and it comes back). Forms are fetched
// ahead. Every request carries the CSRF token.
"use strict";
(function () {
  const root = document.getElementById("review");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const en = root.dataset.lang === "en";
  const $ = (id) => document.getElementById(id);
  const queue = [];
  let current = null;
  let chosen = null;
  let fetching = null;
  let done = 0;
  let busy = false;
  const t = (zh, e) => (en ? e : zh);

  function fill() {
    if (fetching) return fetching;
    if (queue.length >= 2) return Promise.resolve();
    fetching = (async () => {
      try {
        const r = await fetch("/api/review/next?n=2" + (en ? "&lang=en" : ""), { credentials: "same-origin" });
        if (r.status === 401) { location.href = "/login"; return; }
        const j = await r.json();
        for (const it of j.items || []) {
          if (!queue.some((q) => q.item === it.item) && (!current || current.item !== it.item)) queue.push(it);
        }
      } finally {
        fetching = null;
      }
    })();
    return fetching;
  }

  function text(el, s) { el.textContent = s; return el; }

  function showPage(pageId) {
    chosen = pageId;
    $("page").src = "/api/page/" + pageId + "?w=1000";
    const scan = current.pages.find((p) => p.page_id === pageId);
    $("photo").hidden = !(scan && scan.photo);
    if (scan && scan.photo) $("card").src = "/api/photo/" + pageId;
    Array.from($("scans").children).forEach((li) => li.classList.toggle("chosen", +li.dataset.page === pageId));
  }

  function show() {
    current = queue.shift() || null;
    $("form").hidden = !current;
    $("empty").hidden = !!current;
    $("problem").textContent = "";
    $("reasonbox").hidden = true;
    $("reason").value = "";
    if (!current) {
      setTimeout(() => fill().then(() => { if (!current) show(); }), 5000);
      return;
    }
    text($("who"), current.name + " · " + current.id_number + " · " + current.school + " " + current.class);
    const scans = $("scans");
    scans.replaceChildren();
    current.pages.forEach((p, i) => {
      const li = text(document.createElement("li"), (i + 1) + ": " + (p.file || "") + (p.counts ? t("（有效）", " (counts)") : ""));
      li.dataset.page = p.page_id;
      scans.appendChild(li);
    });
    const list = $("findings");
    list.replaceChildren();
    const all = current.findings.concat(current.pending.map((p) => ({ code: "pending:" + p.stage, message: p.field })));
    for (const f of all) list.appendChild(text(document.createElement("li"), f.code + " — " + f.message));
    showPage(current.page_id || current.pages[0].page_id);
    document.activeElement && document.activeElement.blur();
    fill();
  }

  async function decide(body) {
    if (!current || busy) return;
    busy = true;
    try {
      body.item = current.item;
      const r = await fetch("/api/review/decide", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(body),
      });
      if (r.status === 401) { location.href = "/login"; return; }
      const j = await r.json().catch(() => ({ error: String(r.status) }));
      if (r.ok) {
        done += 1;
        text($("done"), t("已审核：", "Decided: ") + done);
        if (queue.length === 0) await fill();
        show();
      } else {
        text($("problem"), j.error);
      }
    } finally {
      busy = false;
    }
  }

  $("reason").addEventListener("keydown", (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === "Enter") { e.preventDefault(); decide({ decision: "reject", reason: $("reason").value }); }
    else if (e.key === "Escape") { e.preventDefault(); $("reasonbox").hidden = true; $("reason").blur(); }
  });
  document.addEventListener("keydown", (e) => {
    if (!current || e.target === $("reason") || e.ctrlKey || e.altKey || e.metaKey) return;
    const k = e.key.toLowerCase();
    if (k === "a") {
      e.preventDefault();
      const several = current.pages.length > 1;
      decide(several ? { decision: "accept", page_id: chosen } : { decision: "accept" });
    } else if (k === "r") {
      e.preventDefault();
      $("reasonbox").hidden = false;
      $("reason").focus();
    } else if (k === "z") {
      e.preventDefault();
      $("page").classList.toggle("zoom");
    } else if (k === "n") {
      e.preventDefault();
      show();
    } else if (/^[1-9]$/.test(k)) {
      const p = current.pages[+k - 1];
      if (p) { e.preventDefault(); showPage(p.page_id); }
    }
  });
  fill().then(show);
})();
