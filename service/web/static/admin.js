// Admin: members and roles, the user's API tokens, the workspace's activity; a questionnaire's audit log.
import { api, el, toast, when, STATUS_WORDS } from "./lib.js";

const body = document.body;
const workspace = body.dataset.workspace;
const isAdmin = body.dataset.isAdmin === "yes";

const ACTIONS = {
  "item.accept": "accepted", "item.edit": "edited and approved", "item.reject": "rejected",
  "item.needs_expert": "sent to an expert", "item.assign": "assigned", "item.comment": "commented on",
  "item.undo_accept": "undid the bulk accept of", "questionnaire.upload": "uploaded",
  "questionnaire.drafted": "finished drafting", "questionnaire.export": "exported",
  "questionnaire.bulk_accept": "bulk accepted drafts of", "questionnaire.bulk_undo": "undid a bulk accept of",
  "questionnaire.due_date": "set the due date of", "workspace.member": "changed the membership of",
  "workspace.create": "created the workspace", "kb.ingest": "added to the knowledge base",
  "kb.delete_source": "removed from the knowledge base",
};

function shown(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (key === "status") return STATUS_WORDS[value] || value;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 160 ? text.slice(0, 159) + "…" : text;
}

// What changed, one line per field: "status: drafted → accepted".
function changes(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])].filter((k) => k !== "version");
  return keys
    .filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]))
    .map((k) => el("p", { class: "change" }, el("span", { class: "key" }, `${k.replace(/_/g, " ")}: `),
      before && k in before ? [el("del", {}, shown(k, before[k])), " → "] : null,
      after && k in after ? el("ins", {}, shown(k, after[k])) : "removed"));
}

// What an event is about: the question, the member, the file, or the questionnaire.
function subject(e, item, questionnaireLink) {
  const link = questionnaireLink || (e.questionnaire_id ? `/q/${e.questionnaire_id}` : null);
  if (e.item_id && link) return el("a", { href: `${link}#item-${e.item_id}` }, item ? item.ref : `question ${e.item_id}`);
  const about = e.after || e.before || {};
  if (e.action.startsWith("workspace.member")) return about.email || "";
  if (e.action.startsWith("kb.")) return about.file || about.source || "";
  if (e.action.startsWith("questionnaire.")) {
    return questionnaireLink ? "this questionnaire" : link ? el("a", { href: link }, about.name || `questionnaire ${e.questionnaire_id}`) : "";
  }
  return "";
}

export function timeline(list, events, refs = new Map(), questionnaireLink = null) {
  list.replaceChildren(...events.map((e) => {
    const item = e.item_id ? refs.get(e.item_id) : null;
    const target = subject(e, item, questionnaireLink);
    return el("li", { class: "event" },
      el("p", { class: "what" }, when(e.at), " ", el("strong", {}, e.user || "Kotae"), " ", ACTIONS[e.action] || e.action, " ",
        target, " ", el("code", { class: "action" }, e.action)),
      item ? el("p", { class: "hint", lang: item.language }, item.question) : null,
      ...changes(e.before, e.after));
  }));
  if (!events.length) list.replaceChildren(el("li", { class: "hint" }, "Nothing yet."));
}

export async function audit() {
  const qid = document.getElementById("audit").dataset.questionnaire;
  const [events, items] = await Promise.all([
    api("GET", `/api/questionnaires/${qid}/audit`), api("GET", `/api/questionnaires/${qid}/items`)]);
  timeline(document.getElementById("audit-log"), events, new Map(items.map((i) => [i.id, i])), `/q/${qid}`);
}

async function members() {
  const ws = encodeURIComponent(workspace);
  const list = await api("GET", `/api/workspaces/${ws}/members`);
  const me = body.dataset.me;
  const change = async (email, role) => {
    try { await api("PUT", `/api/workspaces/${ws}/members`, { email, role }); toast(`${email} is now ${role}`); }
    catch (error) { toast(error.message); }
    members();
  };
  const remove = async (email) => {
    if (!confirm(`Take ${email} out of ${workspace}?`)) return;
    try { await api("DELETE", `/api/workspaces/${ws}/members?email=${encodeURIComponent(email)}`); toast(`${email} removed`); }
    catch (error) { toast(error.message); }
    members();
  };
  document.querySelector("#members tbody").replaceChildren(...list.map((m) => el("tr", {},
    el("td", { class: "wrap" }, m.email, m.email === me ? el("span", { class: "hint" }, " (you)") : null),
    el("td", {}, isAdmin
      ? el("select", { "aria-label": `Role of ${m.email}`, onchange: (e) => change(m.email, e.target.value) },
        ...["viewer", "reviewer", "admin"].map((r) => el("option", { value: r, selected: r === m.role }, r)))
      : m.role),
    isAdmin ? el("td", {}, el("button", { type: "button", class: "danger", onclick: () => remove(m.email) }, "Remove",
      el("span", { class: "sr-only" }, ` ${m.email}`))) : null)));
}

async function tokens() {
  const box = document.getElementById("tokens-list");
  let list;
  try { list = await api("GET", "/api/auth/tokens"); }
  catch (error) {
    box.replaceChildren(el("p", { class: "hint" }, "Listing tokens is not available on this server; you can still create one."));
    return;
  }
  if (!list.length) { box.replaceChildren(el("p", { class: "hint" }, "You have no API tokens.")); return; }
  const revoke = async (t) => {
    if (!confirm(`Revoke the token “${t.name || t.id}”? Scripts using it stop working at once.`)) return;
    await api("DELETE", `/api/auth/tokens/${t.id}`); toast("Token revoked"); tokens();
  };
  box.replaceChildren(el("div", { class: "table-wrap", role: "region", "aria-label": "API tokens", tabindex: "0" },
    el("table", { class: "list", id: "tokens" },
      el("thead", {}, el("tr", {}, ...["Name", "Created", "Last used", "Expires", "Revoke"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...list.map((t) => el("tr", {},
        el("td", {}, t.name || "(unnamed)"), el("td", {}, when(t.created_at)),
        el("td", {}, t.last_used_at ? when(t.last_used_at) : "never"),
        el("td", {}, t.expires_at ? [when(t.expires_at), t.expired ? " (expired)" : ""] : "never"),
        el("td", {}, el("button", { type: "button", class: "danger", onclick: () => revoke(t) }, "Revoke",
          el("span", { class: "sr-only" }, ` ${t.name}`)))))))));
}

export function admin() {
  if (workspace) members();
  tokens();
  document.getElementById("member-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const status = document.getElementById("member-status");
    try {
      await api("PUT", `/api/workspaces/${encodeURIComponent(workspace)}/members`, { email: form.get("email"), role: form.get("role") });
      status.textContent = `${form.get("email")} added as ${form.get("role")}`; e.target.reset(); members();
    } catch (error) { status.textContent = error.message; }
  });
  document.getElementById("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const days = parseInt(form.get("days"), 10);
    const made = await api("POST", "/api/auth/tokens", { name: form.get("name"), ...(days ? { expires_in_days: days } : {}) });
    document.getElementById("new-token").hidden = false;
    const value = document.getElementById("new-token-value");
    value.value = made.token; value.focus(); value.select();
    e.target.reset(); tokens();
  });
  const activity = document.getElementById("activity");
  if (activity && isAdmin) {
    api("GET", `/api/workspaces/${encodeURIComponent(workspace)}/audit?limit=200`).then((events) => timeline(activity, events));
  }
}
