// The selected question's answer: the fields, the unsaved edit kept on this device, and the diff
// against the draft. A live update never overwrites what the reviewer is typing.
import { el, when, STATUS_WORDS } from "../lib.js";
import { diff } from "./diff.js";
import { drafts } from "./drafts.js";
import { patch } from "./list.js";
import { store } from "./state.js";

const $ = (id) => document.getElementById(id);
const answer = $("answer"), choice = $("choice"), notice = $("editor-notice"), state = $("draft-state");
let current = null;

export function shown() { return current; }

function choices(item) {
  const base = item.language === "en" ? ["Yes", "No", "N/A"] : ["はい", "いいえ", "該当なし"];
  const extra = [item.choice, item.draft_choice, drafts.get(item.id)?.choice].filter((c) => c && !base.includes(c));
  return ["", ...base, ...new Set(extra)];
}

function fillChoice(select, item, value) {
  select.replaceChildren(...choices(item).map((c) => el("option", { value: c, selected: (value || "") === c }, c || "—")));
}

// Is the reviewer in the middle of this answer? Then its fields are theirs, not the server's.
function editing() {
  return current && (drafts.has(current.id) || [answer, choice].includes(document.activeElement));
}

function meta(item) {
  return [
    el("span", { class: `pill ${item._busy ? "busy" : item.status}` }, item._busy ? `${item._busy}…` : STATUS_WORDS[item.status]),
    item.band !== "none" ? el("span", { class: `band ${item.band}` }, `${item.band} confidence ${item.confidence.toFixed(2)}`) : null,
    item.section ? el("span", { lang: item.language }, item.section) : null,
    item.assignee ? el("span", {}, `assigned to ${item.assignee}`) : null,
    item.updated_by ? el("span", {}, `last changed by ${item.updated_by} `, when(item.updated_at)) : null,
    item.error ? el("span", { class: "error" }, item.error) : null,
  ].filter(Boolean);
}

function showNotice(item) {
  const draft = drafts.get(item.id);
  if (!draft) { notice.hidden = true; notice.replaceChildren(); return; }
  const changed = draft.baseVersion !== item.version
    && (item.answer !== draft.baseAnswer || (item.choice || null) !== (draft.baseChoice || null));
  notice.hidden = false;
  notice.className = changed ? "notice warn" : "notice";
  notice.replaceChildren(
    el("p", {}, "Your unsaved edit from ", when(new Date(draft.at).toISOString()), " is kept on this device until you save it."),
    changed ? el("p", {}, `Since you began, ${item.updated_by || "someone"} changed this answer (now ${STATUS_WORDS[item.status]}). `
      + "Saving shows both versions side by side.") : "",
    store.canReview ? el("button", { type: "button", class: "link", onclick: () => discard(item) }, "Discard my edit") : "");
}

function discard(item) {
  drafts.remove(item.id);
  patch(item);
  fill(item, true);
  answer.focus();
}

function showDiff(item) {
  const box = $("diff-box");
  const text = answer.value, picked = choice.value || null;
  const same = text === (item.draft_answer || "") && (picked || null) === (item.draft_choice || null);
  if (same || item.status === "pending" || (!item.draft_answer && !item.draft_choice)) { box.hidden = true; return; }
  box.hidden = false;
  const head = (item.draft_choice || null) !== picked
    ? [el("span", { class: "key" }, "Choice: "), el("del", {}, el("span", { class: "sr-only" }, "draft "), item.draft_choice || "—"), " → ",
      el("ins", {}, el("span", { class: "sr-only" }, "now "), picked || "—"), el("br")]
    : [];
  $("diff").lang = item.language;
  $("diff").replaceChildren(...head, ...diff(item.draft_answer || "", text));
}

export function fill(item, fresh) {
  current = item;
  if (!item) return;
  $("editor-ref").textContent = item.ref;
  $("editor-question").textContent = item.question;
  $("editor-question").lang = item.language;
  $("editor-meta").replaceChildren(...meta(item));
  if (fresh || !editing()) {
    const draft = drafts.get(item.id);
    fillChoice(choice, item, draft ? draft.choice : item.choice);
    answer.value = draft ? draft.answer : item.answer;
    answer.lang = item.language;
  }
  const pending = item.status === "pending";
  answer.disabled = pending; choice.disabled = pending || !store.canReview;
  answer.placeholder = pending ? "Still being drafted…" : "";
  state.textContent = drafts.has(item.id) ? "Unsaved edit, kept on this device." : "";
  showNotice(item);
  showDiff(item);
  const assign = $("assign");
  if (assign) {
    assign.replaceChildren(el("option", { value: "" }, "nobody"),
      ...store.members.map((m) => el("option", { value: m, selected: item.assignee === m }, m)));
  }
  for (const id of ["act-accept", "act-save", "act-reject", "act-expert"]) {
    const button = $(id);
    if (button) button.disabled = pending || !!item._busy;
  }
}

// A live update of the shown item: everything but the fields being typed in.
export function refresh(item) {
  if (item === current) fill(item, false);
}

// The reviewer's current text for the shown item.
export function values() {
  return { answer: answer.value, choice: choice.value || null };
}

let diffTimer = null;
function edited() {
  const item = current;
  if (!item || !store.canReview) return;
  const had = drafts.has(item.id);
  const { answer: text, choice: picked } = values();
  if (text === item.answer && picked === (item.choice || null)) drafts.remove(item.id);
  else drafts.put(item.id, text, picked, item);
  if (had !== drafts.has(item.id)) { patch(item); showNotice(item); }
  state.textContent = drafts.has(item.id) ? "Unsaved edit, kept on this device." : "";
  clearTimeout(diffTimer);
  diffTimer = setTimeout(() => showDiff(item), 150);
}

answer.addEventListener("input", edited);
choice.addEventListener("change", edited);
