// Sign-in, the questionnaires of a workspace (upload, progress), and the knowledge base.
import { api, el, when, STATUS_WORDS } from "./lib.js";

const workspace = document.body.dataset.workspace;

export function login() {
  document.getElementById("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      await api("POST", "/api/auth/login", { email: form.get("email"), password: form.get("password") });
      location.href = "/";
    } catch (error) {
      document.getElementById("login-error").textContent = error.message;
    }
  });
}

function bar(done, total) {
  const fill = el("span");
  fill.style.width = `${total ? (100 * done) / total : 0}%`;  // CSSOM, not a style attribute: the CSP allows no inline style
  return el("div", { class: "bar", "aria-hidden": "true" }, fill);
}

export function dashboard() {
  if (!workspace) return;
  const tbody = document.querySelector("#questionnaires tbody");
  const counts = (c) => Object.entries(c).map(([k, v]) => `${STATUS_WORDS[k] || k} ${v}`).join(" · ");
  async function refresh() {
    const list = await api("GET", `/api/workspaces/${encodeURIComponent(workspace)}/questionnaires`);
    tbody.replaceChildren(...list.map((q) => el("tr", { "data-id": q.id },
      el("td", {}, el("a", { href: `/q/${q.id}` }, q.name)),
      el("td", {}, el("span", { class: "pill" }, q.status)),
      el("td", {}, bar(q.done, q.total), ` ${q.done} / ${q.total} drafted`),
      el("td", {}, counts(q.counts)),
      el("td", {}, when(q.created_at)))));
    if (list.some((q) => q.status === "queued" || q.status === "drafting")) setTimeout(refresh, 1500);
  }
  refresh();
  const form = document.getElementById("upload-form");
  form?.addEventListener("submit", (e) => {
    e.preventDefault();
    const progress = document.getElementById("upload-progress"), status = document.getElementById("upload-status");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/workspaces/${encodeURIComponent(workspace)}/questionnaires`);
    progress.hidden = false; progress.value = 0; status.textContent = "Uploading…";
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) progress.value = (100 * p.loaded) / p.total; };
    xhr.onload = () => {
      const data = JSON.parse(xhr.responseText || "{}");
      if (xhr.status >= 400) { status.textContent = data.detail || "Upload failed"; status.className = "error"; return; }
      status.className = ""; status.textContent = "Drafting…"; form.reset(); refresh();
      const poll = async () => {
        const q = await api("GET", `/api/questionnaires/${data.id}`);
        progress.value = q.total ? (100 * q.done) / q.total : 100;
        status.replaceChildren(`Drafting ${q.done} / ${q.total} · `, el("a", { href: `/q/${q.id}` }, "review while it drafts"));
        if (q.status === "queued" || q.status === "drafting") setTimeout(poll, 1000);
        else { status.replaceChildren("Drafted: ", el("a", { href: `/q/${q.id}`, id: "open-review" }, "open the review")); refresh(); }
      };
      poll();
    };
    xhr.send(new FormData(form));
  });
}

export function kb() {
  if (!workspace) return;
  const ws = encodeURIComponent(workspace);
  const sources = async () => {
    const list = await api("GET", `/api/workspaces/${ws}/kb/sources`);
    document.querySelector("#sources tbody").replaceChildren(...list.map((s) =>
      el("tr", {}, el("td", { class: "wrap" }, s.name), el("td", {}, s.kind), el("td", {}, s.entries), el("td", {}, s.sheet_date || ""))));
  };
  sources();
  document.getElementById("kb-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = new FormData(e.target).get("q");
    const entries = await api("GET", `/api/workspaces/${ws}/kb/entries?limit=20&q=${encodeURIComponent(q)}`);
    document.getElementById("entries-wrap").hidden = false;
    document.getElementById("results-title").hidden = false;
    document.querySelector("#entries tbody").replaceChildren(...entries.map((x) => el("tr", {},
      el("td", { class: "wrap" }, x.source, el("br"), el("small", {}, x.locator + (x.product ? ` [${x.product}]` : "")),
        x.provenance ? el("div", { class: "hint" }, `approved by ${x.provenance.reviewer}`) : null),
      el("td", { lang: x.language }, x.question),
      el("td", { class: "a", lang: x.language }, el("div", { class: "text" }, (x.choice ? `(${x.choice}) ` : "") + x.answer)))));
  });
  document.getElementById("kb-upload")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = document.getElementById("kb-upload-status");
    status.textContent = "Ingesting…";
    const results = await api("POST", `/api/workspaces/${ws}/kb/files`, new FormData(e.target));
    status.textContent = results.map((r) => r.error ? `${r.file}: ${r.error}` : `${r.file}: ${r.entries} entries`).join(" · ");
    sources();
  });
}
