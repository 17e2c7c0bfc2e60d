// Decisions on one question. The row updates at once and the selection moves on to the next question
// that needs review while the server confirms; a stale version (409) never loses the reviewer's text.
import { api, el, toast, STATUS_WORDS } from "../lib.js";
import { drafts } from "./drafts.js";
import * as editor from "./editor.js";
import { listHasFocus, nextOpen, patch, select } from "./list.js";
import { store, take } from "./state.js";
import * as why from "./why.js";

const BUSY = { accept: "accepting", reject: "rejecting", "needs-expert": "sending to an expert", edit: "saving" };
const $ = (id) => document.getElementById(id);
let changed = () => {};

export function onChange(callback) { changed = callback; }

// A newer copy of an item: the store, its row, and the panels when it is the selected one.
export function apply(fresh) {
  const item = take(fresh);
  if (!item) return null;
  patch(item);
  if (item.id === store.selectedId) { editor.refresh(item); why.refresh(item); }
  changed();
  return item;
}

// After a 409: the item as the desk shows it (who changed it, when), fetched anew.
async function reread(id) {
  try {
    const [fresh] = await api("GET", `/api/questionnaires/${store.qid}/desk/items?ids=${id}`);
    return fresh ? apply(fresh) : store.byId.get(id);
  } catch {
    return store.byId.get(id);
  }
}

function advance(id) {
  if (store.selectedId === id) select(nextOpen(id), { focus: listHasFocus() });
}

export function decide(item, action) {
  if (!item || !store.canReview || item.status === "pending" || item._busy) return;
  if (action === "accept" && drafts.has(item.id)) { save(item, { advance: true }); return; }
  if (action === "accept" && !(item.answer || item.choice)) {
    toast(`${item.ref}: nothing to accept yet; write an answer and save it`);
    return;
  }
  item._busy = BUSY[action];
  patch(item);
  advance(item.id);
  if (item.id === store.selectedId) editor.refresh(item); // nowhere to go: it stays shown, busy
  api("POST", `/api/items/${item.id}/${action}`, { version: item.version })
    .then((updated) => { delete item._busy; apply(updated); toast(`${item.ref}: ${STATUS_WORDS[updated.status]}`); })
    .catch((error) => {
      delete item._busy;
      if (error.status === 409 && error.data?.current) {
        apply(error.data.current);
        reread(item.id).then((fresh) =>
          toast(`${item.ref} was changed by ${fresh.updated_by || "someone else"} meanwhile: nothing done. Check it again.`));
      } else {
        apply(item);
        toast(`${item.ref}: ${error.message}`);
      }
    });
}

// Save the reviewer's text (an edit approves it). A 409 whose only change was elsewhere (an assignment)
// is retried on the new version; a real conflict opens both texts side by side.
export async function save(item, { advance: move = false, text = null } = {}) {
  if (!item || !store.canReview || item._busy) return;
  const mine = text || (item.id === store.selectedId ? editor.values() : drafts.get(item.id));
  if (!mine) return;
  if (!mine.answer.trim() && !mine.choice) { toast("An answer needs a text or a choice"); return; }
  const draft = drafts.get(item.id);
  const version = draft ? draft.baseVersion : item.version;
  item._busy = BUSY.edit;
  patch(item);
  try {
    const updated = await api("POST", `/api/items/${item.id}/edit`, { version, choice: mine.choice, answer: mine.answer });
    delete item._busy;
    drafts.remove(item.id);
    apply(updated);
    if (item.id === store.selectedId) editor.fill(item, true);
    toast(`${item.ref}: saved (${STATUS_WORDS[updated.status]})`);
    if (move) advance(item.id);
  } catch (error) {
    delete item._busy;
    if (error.status !== 409 || !error.data?.current) { apply(item); toast(`${item.ref}: ${error.message}`); return; }
    apply(error.data.current);
    const current = await reread(item.id);
    const base = draft || { baseAnswer: item.answer, baseChoice: item.choice };
    if (current.answer === base.baseAnswer && (current.choice || null) === (base.baseChoice || null) && !text) {
      drafts.put(item.id, mine.answer, mine.choice, current);
      drafts.rebase(item.id, current);
      return save(item, { advance: move });
    }
    drafts.put(item.id, mine.answer, mine.choice, item);
    patch(item);
    conflict(item, mine, current);
  }
}

function conflict(item, mine, theirs) {
  const dialog = $("conflict-dialog");
  const choices = item.language === "en" ? ["", "Yes", "No", "N/A"] : ["", "はい", "いいえ", "該当なし"];
  for (const c of [mine.choice, theirs.choice]) if (c && !choices.includes(c)) choices.push(c);
  $("conflict-choice").replaceChildren(...choices.map((c) => el("option", { value: c, selected: (mine.choice || "") === c }, c || "—")));
  $("conflict-mine").value = mine.answer;
  $("conflict-mine").lang = item.language;
  $("conflict-who").textContent = `${STATUS_WORDS[theirs.status]} by ${theirs.updated_by || "someone else"} · choice ${theirs.choice || "—"}`;
  $("conflict-theirs").textContent = theirs.answer || "(no text)";
  $("conflict-theirs").lang = item.language;
  const close = () => { dialog.close(); if (item.id === store.selectedId) editor.fill(item, true); };
  $("conflict-keep").onclick = () => {
    const text = { answer: $("conflict-mine").value, choice: $("conflict-choice").value || null };
    drafts.put(item.id, text.answer, text.choice, item);
    drafts.rebase(item.id, store.byId.get(item.id));
    close();
    save(item, { text });
  };
  $("conflict-take").onclick = () => { drafts.remove(item.id); patch(item); close(); toast(`${item.ref}: their version kept`); };
  $("conflict-later").onclick = () => { close(); toast(`${item.ref}: your edit stays on this device`); };
  $("conflict-append").onclick = () => {
    const box = $("conflict-mine");
    box.value = `${box.value}${box.value ? "\n" : ""}${theirs.answer}`;
    box.focus();
  };
  dialog.showModal();
  $("conflict-mine").focus();
}

export async function assign(item, email) {
  try {
    apply(await api("POST", `/api/items/${item.id}/assign`, { version: item.version, assignee: email || null }));
    toast(email ? `${item.ref}: assigned to ${email}` : `${item.ref}: unassigned`);
  } catch (error) {
    if (error.status === 409 && error.data?.current) {
      apply(error.data.current);
      return assign(store.byId.get(item.id), email);
    }
    toast(error.message);
  }
}
