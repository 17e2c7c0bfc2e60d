// Kotae web UI: small helpers and one init function per page, over the JSON API.
"use strict";

async function api(method, url, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(url, options);
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) { const error = new Error((data && data.detail) || response.statusText); error.status = response.status; error.data = data; throw error; }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message; box.classList.add("show");
  clearTimeout(toast.timer); toast.timer = setTimeout(() => box.classList.remove("show"), 2500);
}

const body = document.body;
const workspace = body.dataset.workspace;
const canReview = body.dataset.canReview === "yes";

document.getElementById("workspace-switcher")?.addEventListener("change", (e) => {
  const url = new URL(location.href); url.pathname = location.pathname.startsWith("/kb") ? "/kb" : "/";
  url.search = "?ws=" + encodeURIComponent(e.target.value); location.href = url;
});
document.getElementById("logout")?.addEventListener("click", async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; });

const pages = {
  login() {
    document.getElementById("login-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = new FormData(e.target);
      try { await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") }); location.href = "/"; }
      catch (error) { document.getElementById("login-error").textContent = error.message; }
    });
  },

  dashboard() {
    if (!workspace) return;
    const tbody = document.querySelector("#questionnaires tbody");
    const counts = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(" · ");
    async function refresh() {
      const list = await api("GET", `/api/workspaces/${encodeURIComponent(workspace)}/questionnaires`);
      tbody.replaceChildren(...list.map((q) => el("tr", { "data-id": q.id },
        el("td", {}, el("a", { href: `/q/${q.id}` }, q.name)),
        el("td", {}, el("span", { class: "pill" }, q.status)),
        el("td", {}, el("div", { class: "bar", title: `${q.done}/${q.total}` }, el("span", { style: `width:${q.total ? (100 * q.done / q.total) : 0}%` })), ` ${q.done}/${q.total}`),
        el("td", {}, counts(q.counts)),
        el("td", {}, new Date(q.created_at).toLocaleString()))));
      if (list.some((q) => q.status === "queued" || q.status === "drafting")) setTimeout(refresh, 1000);
    }
    refresh();
    const form = document.getElementById("upload-form");
    form?.addEventListener("submit", (e) => {
      e.preventDefault();
      const bar = document.getElementById("upload-progress"), status = document.getElementById("upload-status");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/workspaces/${encodeURIComponent(workspace)}/questionnaires`);
      bar.hidden = false; bar.value = 0; status.textContent = "Uploading…";
      xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = (100 * p.loaded) / p.total; };
      xhr.onload = () => {
        const data = JSON.parse(xhr.responseText || "{}");
        if (xhr.status >= 400) { status.textContent = data.detail || "Upload failed"; status.className = "error"; return; }
        status.className = ""; status.textContent = "Drafting…"; form.reset(); refresh();
        const poll = async () => {
          const q = await api("GET", `/api/questionnaires/${data.id}`);
          bar.value = q.total ? (100 * q.done) / q.total : 100;
          status.textContent = `Drafting ${q.done}/${q.total}`;
          if (q.status === "queued" || q.status === "drafting") setTimeout(poll, 700);
          else { status.replaceChildren("Drafted: ", el("a", { href: `/q/${q.id}`, id: "open-review" }, "open the review")); refresh(); }
        };
        poll();
      };
      xhr.send(new FormData(form));
    });
  },

  kb() {
    if (!workspace) return;
    const ws = encodeURIComponent(workspace);
    const sources = async () => {
      const list = await api("GET", `/api/workspaces/${ws}/kb/sources`);
      document.querySelector("#sources tbody").replaceChildren(...list.map((s) =>
        el("tr", {}, el("td", {}, s.name), el("td", {}, s.kind), el("td", {}, s.entries), el("td", {}, s.sheet_date || ""))));
    };
    sources();
    document.getElementById("kb-search").addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = new FormData(e.target).get("q");
      const entries = await api("GET", `/api/workspaces/${ws}/kb/entries?limit=20&q=${encodeURIComponent(q)}`);
      const table = document.getElementById("entries");
      table.hidden = false; document.getElementById("results-title").hidden = false;
      table.querySelector("tbody").replaceChildren(...entries.map((x) => el("tr", {},
        el("td", {}, x.source, el("br"), el("small", {}, x.locator + (x.product ? ` [${x.product}]` : "")),
          x.provenance ? el("div", { class: "hint" }, `approved by ${x.provenance.reviewer}`) : null),
        el("td", {}, x.question), el("td", { class: "a" }, el("div", { class: "text" }, (x.choice ? `(${x.choice}) ` : "") + x.answer)))));
    });
    document.getElementById("kb-upload")?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = document.getElementById("kb-upload-status");
      status.textContent = "Ingesting…";
      const results = await api("POST", `/api/workspaces/${ws}/kb/files`, new FormData(e.target));
      status.textContent = results.map((r) => r.error ? `${r.file}: ${r.error}` : `${r.file}: ${r.entries} entries`).join(" · ");
      sources();
    });
  },

  review() {
    const section = document.getElementById("review");
    const qid = section.dataset.questionnaire;
    const tbody = document.querySelector("#items tbody");
    let items = [], selected = 0, members = [];
    const badge = (item) => {
      const level = item.status === "no_evidence" ? "low" : item.confidence >= 0.8 ? "high" : item.confidence >= 0.6 ? "mid" : "low";
      return el("span", { class: `badge ${level}`, title: "confidence" }, item.confidence.toFixed(2));
    };
    const choices = (item) => item.language === "en" ? ["", "Yes", "No", "N/A"] : ["", "はい", "いいえ", "該当なし"];

    function showCitation(c) {
      const panel = document.getElementById("citation");
      panel.hidden = false;
      document.getElementById("citation-title").textContent = `${c.source} · ${c.locator}${c.product ? " · " + c.product : ""}`;
      document.getElementById("citation-text").textContent = c.text;
    }

    async function act(item, action, extra = {}) {
      try {
        const updated = await api("POST", `/api/items/${item.id}/${action}`, { version: item.version, ...extra });
        Object.assign(item, updated); render(); toast(`${item.ref}: ${updated.status}`);
      } catch (error) {
        if (error.status === 409 && error.data?.current) { Object.assign(item, error.data.current); render(); }
        toast(error.message);
      }
    }

    function row(item, index) {
      const answerCell = canReview && item.status !== "pending"
        ? el("td", { class: "a" },
            el("select", { class: "choice", "aria-label": "Choice" }, ...choices(item).map((c) => el("option", { value: c, selected: (item.choice || "") === c }, c || "—"))),
            el("textarea", { class: "answer", "aria-label": "Answer" }, item.answer))
        : el("td", { class: "a" }, el("div", { class: "text" }, (item.choice ? `${item.choice} ` : "") + item.answer));
      const tr = el("tr", { "data-id": item.id, class: index === selected ? "selected" : "", onclick: () => { selected = index; mark(); } },
        el("td", {}, item.ref),
        el("td", { class: "q" }, item.question, item.error ? el("div", { class: "error" }, item.error) : null),
        answerCell,
        el("td", {}, badge(item)),
        el("td", {}, el("span", { class: `pill ${item.status}` }, item.status), item.assignee ? el("div", { class: "hint" }, "→ " + item.assignee) : null),
        el("td", {}, ...item.citations.map((c) => el("button", { class: "link cite", onclick: (e) => { e.stopPropagation(); showCitation(c); } }, `${c.source} ${c.locator}`))),
        canReview ? el("td", { class: "actions" },
          el("button", { class: "accept", disabled: !(item.answer || item.choice) || item.status === "pending", title: "a",
            onclick: () => act(item, "accept") }, "Accept"),
          el("button", { class: "save secondary", onclick: () => save(item, tr) }, "Save edit"),
          el("button", { class: "reject danger", onclick: () => act(item, "reject") }, "Reject"),
          el("button", { class: "expert secondary", onclick: () => act(item, "needs-expert") }, "Needs expert"),
          el("select", { class: "assign", "aria-label": "Assign", onchange: (e) => act(item, "assign", { assignee: e.target.value || null }) },
            el("option", { value: "" }, "Assign…"), ...members.map((m) => el("option", { value: m, selected: item.assignee === m }, m))),
          el("input", { class: "comment", placeholder: "Comment, Enter to add", "aria-label": "Comment",
            onkeydown: async (e) => { if (e.key === "Enter" && e.target.value.trim()) { await api("POST", `/api/items/${item.id}/comments`, { text: e.target.value }); e.target.value = ""; toast("Comment added"); } } }))
        : null);
      return tr;
    }

    function save(item, tr) {
      return act(item, "edit", { choice: tr.querySelector(".choice").value || null, answer: tr.querySelector(".answer").value });
    }
    function render() { tbody.replaceChildren(...items.map(row)); }
    function mark() { [...tbody.children].forEach((tr, i) => tr.classList.toggle("selected", i === selected)); tbody.children[selected]?.scrollIntoView({ block: "nearest" }); }

    async function load() {
      const q = await api("GET", `/api/questionnaires/${qid}`);
      document.getElementById("progress-text").textContent = `${q.status} · ${q.done}/${q.total}`;
      const bar = document.getElementById("draft-progress"); bar.max = q.total || 1; bar.value = q.done;
      const status = document.getElementById("filter-status").value;
      const min = document.getElementById("filter-confidence").value;
      const params = new URLSearchParams(); if (status) params.set("status", status); if (min > 0) params.set("min_confidence", min);
      items = await api("GET", `/api/questionnaires/${qid}/items?${params}`);
      selected = Math.min(selected, Math.max(0, items.length - 1)); render();
      if (q.status === "queued" || q.status === "drafting") setTimeout(load, 1000);
    }
    document.getElementById("filter-status").addEventListener("change", load);
    document.getElementById("filter-confidence").addEventListener("change", load);
    document.getElementById("citation-close").addEventListener("click", () => { document.getElementById("citation").hidden = true; });
    document.getElementById("bulk-accept")?.addEventListener("click", async () => {
      const threshold = parseFloat(document.getElementById("bulk-threshold").value);
      const result = await api("POST", `/api/questionnaires/${qid}/bulk-accept`, { min_confidence: threshold });
      toast(`Accepted ${result.accepted}`); load();
    });
    document.addEventListener("keydown", (e) => {
      const typing = ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement?.tagName);
      const item = items[selected]; const tr = tbody.children[selected];
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && item && canReview) { e.preventDefault(); save(item, tr); return; }
      if (typing) { if (e.key === "Escape") document.activeElement.blur(); return; }
      if (e.key === "j") { selected = Math.min(items.length - 1, selected + 1); mark(); }
      else if (e.key === "k") { selected = Math.max(0, selected - 1); mark(); }
      else if (!canReview || !item) return;
      else if (e.key === "a") act(item, "accept");
      else if (e.key === "r") act(item, "reject");
      else if (e.key === "x") act(item, "needs-expert");
      else if (e.key === "e") { e.preventDefault(); tr.querySelector(".answer")?.focus(); }
    });
    if (canReview) api("GET", `/api/workspaces/${encodeURIComponent(workspace)}/members`).then((list) => { members = list.map((m) => m.email); render(); }).catch(() => {});
    load();
  },

  async audit() {
    const qid = document.getElementById("audit").dataset.questionnaire;
    const events = await api("GET", `/api/questionnaires/${qid}/audit`);
    const show = (value) => value ? JSON.stringify(value, null, 0) : "";
    document.querySelector("#audit-log tbody").replaceChildren(...events.map((e) => el("tr", {},
      el("td", {}, new Date(e.at).toLocaleString()), el("td", {}, e.user || "system"), el("td", {}, e.action),
      el("td", {}, e.item_id || ""), el("td", {}, el("small", {}, show(e.before))), el("td", {}, el("small", {}, show(e.after))))));
  },
};

pages[body.dataset.page]?.();
