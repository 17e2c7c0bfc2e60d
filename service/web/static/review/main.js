// The review page: load every item once, then poll a digest and fetch only the items that changed.
import { api, el, toast, daysFromToday, STATUS_WORDS } from "../lib.js";
import * as actions from "./actions.js";
import * as comments from "./comments.js";
import * as dialogs from "./dialogs.js";
import * as editor from "./editor.js";
import * as keys from "./keys.js";
import { filters, matches, onSelection, renderAll, select, visible } from "./list.js";
import { setItems, store } from "./state.js";
import * as why from "./why.js";

const $ = (id) => document.getElementById(id);
const FILTER_KEY = `kotae:q${store.qid}:filters`;

function progress(p, status) {
  $("progress-count").textContent = `${p.reviewed} / ${p.total}`;
  $("progress-text").replaceChildren($("progress-count"),
    ` reviewed (${Math.round(100 * p.share)}%) · ${p.approved} approved`);
  $("review-progress").max = p.total || 1;
  $("review-progress").value = p.reviewed;
  const order = ["drafted", "no_evidence", "accepted", "edited", "rejected", "needs_expert", "failed", "pending"];
  $("status-counts").replaceChildren(...order.filter((s) => p.counts[s]).map((s) =>
    el("span", { class: `pill ${s}` }, `${STATUS_WORDS[s]} ${p.counts[s]}`)));
  const drafting = status === "queued" || status === "drafting";
  $("drafting").hidden = !drafting;
  $("drafting").textContent = drafting ? `Drafting: ${p.drafted} / ${p.total} drafted so far. You can review what is ready.` : "";
}

// Progress from the items as this page knows them: right after a decision, before the next poll.
function localProgress() {
  const counts = {};
  for (const item of store.items) counts[item.status] = (counts[item.status] || 0) + 1;
  const sum = (names) => names.reduce((n, s) => n + (counts[s] || 0), 0);
  const total = store.items.length, reviewed = sum(["accepted", "edited", "rejected", "needs_expert"]);
  return { total, reviewed, approved: sum(["accepted", "edited"]), drafted: total - (counts.pending || 0), counts, share: total ? reviewed / total : 0 };
}

function due(date) {
  const box = $("due");
  const input = $("due-date");
  if (input && document.activeElement !== input) input.value = date || "";
  if (!date) { box.textContent = "No due date"; box.className = "due"; return; }
  const days = daysFromToday(date);
  const words = days === 0 ? "today" : days > 0 ? `in ${days} day${days > 1 ? "s" : ""}` : `${-days} day${days < -1 ? "s" : ""} overdue`;
  box.replaceChildren("Due ", el("time", { datetime: date }, date), ` (${words})`);
  box.className = days < 0 ? "due overdue" : days <= 3 ? "due soon" : "due";
}

let pollTimer = null;
async function poll() {
  clearTimeout(pollTimer);
  try {
    if (!document.hidden) {
      const digest = await api("GET", `/api/questionnaires/${store.qid}/desk/digest`);
      store.status = digest.status;
      progress(digest.progress, digest.status);
      due(digest.due_date);
      const stale = digest.items.filter(([id, version, count]) => {
        const item = store.byId.get(id);
        return item && (version > item.version || count !== item.comments);
      }).map(([id]) => id);
      for (let i = 0; i < stale.length; i += 200) {
        const fresh = await api("GET", `/api/questionnaires/${store.qid}/desk/items?ids=${stale.slice(i, i + 200).join(",")}`);
        for (const item of fresh) { actions.apply(item); comments.refresh(store.byId.get(item.id)); }
      }
    }
  } catch (error) {
    if (error.status === 401) { location.href = "/login"; return; }
  }
  const drafting = store.status === "queued" || store.status === "drafting";
  pollTimer = setTimeout(poll, drafting ? 1000 : 5000);
}

function readFilters() {
  filters.status = $("filter-status").value;
  filters.flag = $("filter-flag").value;
  filters.band = $("filter-band").value;
  filters.section = $("filter-section").value;
  filters.mine = $("filter-mine").checked;
  filters.mentions = $("filter-mentions").checked;
  const active = Object.values(filters).filter(Boolean).length;
  $("filter-summary").textContent = active ? `(${active} on)` : "";
  sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
}

function applyFilters() {
  readFilters();
  const keep = store.selectedId;
  store.selectedId = null;
  renderAll();
  const shown = visible();
  const still = shown.find((i) => i.id === keep);
  select(still ? still.id : shown[0]?.id ?? null);
}

function restoreFilters() {
  const saved = JSON.parse(sessionStorage.getItem(FILTER_KEY) || "null");
  if (!saved) return;
  $("filter-status").value = saved.status || "";
  $("filter-flag").value = saved.flag || "";
  $("filter-band").value = saved.band || "";
  $("filter-section").value = saved.section || "";
  $("filter-mine").checked = !!saved.mine;
  $("filter-mentions").checked = !!saved.mentions;
  if (Object.values(saved).some(Boolean)) $("filters").open = true;
}

function shown(item) {
  editor.fill(item, true);
  why.show(item);
  comments.show(item);
}

export async function review() {
  const desk = await api("GET", `/api/questionnaires/${store.qid}/desk`);
  setItems(desk.items);
  store.members = desk.members;
  store.status = desk.questionnaire.status;
  comments.setMembers(desk.members.filter((m) => m !== store.me));
  $("filter-section").append(...desk.sections.map((s) => el("option", { value: s }, s)));
  progress(desk.progress, desk.questionnaire.status);
  due(desk.due_date);
  restoreFilters();
  readFilters();
  onSelection((item) => shown(item));
  const wanted = Number((location.hash.match(/^#item-(\d+)$/) || [])[1]);
  renderAll();
  const first = store.byId.has(wanted) && matches(store.byId.get(wanted)) ? wanted : visible()[0]?.id ?? null;
  select(first);
  if (first === null) shown(null);

  for (const id of ["filter-status", "filter-flag", "filter-band", "filter-section", "filter-mine", "filter-mentions"]) {
    $(id).addEventListener("change", applyFilters);
  }
  const current = () => store.byId.get(store.selectedId);
  $("act-accept")?.addEventListener("click", () => actions.decide(current(), "accept"));
  $("act-reject")?.addEventListener("click", () => actions.decide(current(), "reject"));
  $("act-expert")?.addEventListener("click", () => actions.decide(current(), "needs-expert"));
  $("act-save")?.addEventListener("click", () => actions.save(current()));
  $("assign")?.addEventListener("change", (e) => actions.assign(current(), e.target.value));
  $("due-date")?.addEventListener("change", async (e) => {
    try {
      const result = await api("PUT", `/api/questionnaires/${store.qid}/due-date`, { due_date: e.target.value || null });
      due(result.due_date);
      toast(result.due_date ? `Due date set to ${result.due_date}` : "Due date removed");
    } catch (error) { toast(error.message); }
  });
  // On a narrow screen the answer is below the list: a tap on a question goes to it.
  $("items").addEventListener("click", () => {
    if (matchMedia("(max-width: 900px)").matches) $("editor").scrollIntoView({ block: "start" });
  });
  document.querySelector("a.skip")?.addEventListener("click", (e) => {
    const row = document.getElementById(`item-${store.selectedId}`);
    if (row) { e.preventDefault(); row.focus(); }
  });
  actions.onChange(() => progress(localProgress(), store.status));
  dialogs.onBulkChange(poll);
  dialogs.init();
  keys.init();
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  window.addEventListener("hashchange", () => {
    const id = Number((location.hash.match(/^#item-(\d+)$/) || [])[1]);
    if (store.byId.has(id) && id !== store.selectedId) select(id);
  });
  pollTimer = setTimeout(poll, store.status === "queued" || store.status === "drafting" ? 1000 : 5000);
}
