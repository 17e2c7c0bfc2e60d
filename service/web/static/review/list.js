// The list of questions: one row per question, in questionnaire order, only those the filters let
// through. Rows are patched in place (one row per change), never redrawn wholesale by a live update.
import { el, STATUS_WORDS } from "../lib.js";
import { drafts } from "./drafts.js";
import { NEEDS_REVIEW, store } from "./state.js";

const box = document.getElementById("items");
const rows = new Map(); // item id -> its row, for the rows in the DOM
export const filters = { status: "", flag: "", band: "", section: "", mine: false, mentions: false };
let onSelect = () => {};

export function onSelection(callback) { onSelect = callback; }

export function matches(item) {
  const f = filters;
  if (f.status === "open" ? !NEEDS_REVIEW.has(item.status) : f.status && item.status !== f.status) return false;
  if (f.flag && !item.flags.includes(f.flag)) return false;
  if (f.band && item.band !== f.band) return false;
  if (f.section && item.section !== f.section) return false;
  if (f.mine && item.assignee !== store.me) return false;
  if (f.mentions && !item.mentions_me) return false;
  return true;
}

function shortRef(ref) {
  return ref.includes("!") ? ref.slice(ref.indexOf("!") + 1) : ref;
}

function content(item) {
  const flags = item.flags.length;
  return [
    el("span", { role: "gridcell", class: "ref" }, shortRef(item.ref)),
    el("span", { role: "gridcell", class: "q", lang: item.language }, item.question),
    el("span", { role: "gridcell", class: "meta" },
      el("span", { class: `pill ${item._busy ? "busy" : item.status}` }, item._busy ? `${item._busy}…` : STATUS_WORDS[item.status]),
      item.band !== "none" ? el("span", { class: `band ${item.band}` }, `${item.band} ${item.confidence.toFixed(2)}`) : null,
      flags ? el("span", { class: "flagged" }, `⚑ ${flags} flag${flags > 1 ? "s" : ""}`) : null,
      item.comments ? el("span", { class: "count" }, `${item.comments} comment${item.comments > 1 ? "s" : ""}`) : null,
      item.assignee ? el("span", { class: "assignee" }, `→ ${item.assignee}`) : null,
      drafts.has(item.id) ? el("span", { class: "unsaved" }, "unsaved edit") : null),
  ];
}

function makeRow(item) {
  const row = el("div", {
    role: "row", id: `item-${item.id}`, class: "item", "data-id": item.id,
    "aria-selected": item.id === store.selectedId ? "true" : "false", tabindex: item.id === store.selectedId ? "0" : "-1",
  });
  row.append(...content(item));
  rows.set(item.id, row);
  return row;
}

function updateCount() {
  const shown = rows.size, total = store.items.length;
  document.getElementById("list-count").textContent = shown === total ? `${total} questions` : `Showing ${shown} of ${total} questions`;
  document.getElementById("list-empty").hidden = shown > 0;
}

// Every row anew: at load and when the filters change, never for a live update.
export function renderAll() {
  rows.clear();
  const fragment = document.createDocumentFragment();
  for (const item of store.items) if (matches(item) || item.id === store.selectedId) fragment.append(makeRow(item));
  box.replaceChildren(fragment);
  updateCount();
}

// One item changed: its row alone is updated, added where it belongs, or taken out. The selected
// row stays (its reviewer is reading it) until the selection moves on.
export function patch(item) {
  const row = rows.get(item.id);
  const keep = matches(item) || item.id === store.selectedId;
  if (row && keep) row.replaceChildren(...content(item));
  else if (row) { row.remove(); rows.delete(item.id); }
  else if (keep) {
    const after = store.items.slice(store.items.indexOf(item) + 1).find((i) => rows.has(i.id));
    box.insertBefore(makeRow(item), after ? rows.get(after.id) : null);
  }
  if (!!row !== keep) updateCount();
}

// The shown rows' items, in order.
export function visible() {
  return store.items.filter((i) => rows.has(i.id));
}

export function listHasFocus() {
  return box.contains(document.activeElement);
}

export function select(id, { focus = false } = {}) {
  const before = store.selectedId;
  if (before !== null && before !== id) {
    const old = rows.get(before);
    if (old) {
      old.setAttribute("aria-selected", "false");
      old.tabIndex = -1;
      if (!matches(store.byId.get(before))) { old.remove(); rows.delete(before); updateCount(); }
    }
  }
  store.selectedId = id;
  const row = id === null ? null : rows.get(id) || patchIn(id);
  if (row) {
    row.setAttribute("aria-selected", "true");
    row.tabIndex = 0;
    if (focus) row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    history.replaceState(null, "", `#item-${id}`);
  }
  if (before !== id) onSelect(id === null ? null : store.byId.get(id));
}

function patchIn(id) {
  const item = store.byId.get(id);
  if (!item) return null;
  patch(item);
  return rows.get(id);
}

// The next question after `id` that waits for a person (wrapping round), else the next row.
export function nextOpen(id) {
  const order = visible();
  const at = order.findIndex((i) => i.id === id);
  for (let k = 1; k < order.length; k++) {
    const item = order[(at + k) % order.length];
    if (NEEDS_REVIEW.has(item.status) && !item._busy) return item.id;
  }
  return order[at + 1]?.id ?? order[at - 1]?.id ?? id;
}

export function step(delta) {
  const order = visible();
  if (!order.length) return;
  const at = order.findIndex((i) => i.id === store.selectedId);
  const next = at < 0 ? 0 : Math.max(0, Math.min(order.length - 1, at + delta));
  select(order[next].id, { focus: listHasFocus() });
}

export function edge(last) {
  const order = visible();
  if (order.length) select(order[last ? order.length - 1 : 0].id, { focus: listHasFocus() });
}

box.addEventListener("click", (e) => {
  const row = e.target.closest("[role=row]");
  if (row) select(Number(row.dataset.id), { focus: true });
});
