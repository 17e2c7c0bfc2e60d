// Unsaved edits kept in localStorage until saved: they survive a reload, a crash and live updates.
// A draft remembers the version (and answer) it started from, so a save can tell a real conflict.
import { storage } from "../lib.js";
import { store } from "./state.js";

const kept = storage(`kotae:q${store.qid}:`);
const index = new Set(JSON.parse(localStorage.getItem(`kotae:q${store.qid}:index`) || "[]"));

function saveIndex() {
  try { localStorage.setItem(`kotae:q${store.qid}:index`, JSON.stringify([...index])); } catch { /* disabled */ }
}

export const drafts = {
  has: (id) => index.has(id),
  get: (id) => (index.has(id) ? kept.get(`draft:${id}`) : null),
  // The reviewer's text for an item; `item` is what the server had when the edit began.
  put(id, answer, choice, item) {
    const before = this.get(id);
    kept.set(`draft:${id}`, {
      answer, choice,
      baseVersion: before ? before.baseVersion : item.version,
      baseAnswer: before ? before.baseAnswer : item.answer,
      baseChoice: before ? before.baseChoice : item.choice,
      at: before ? before.at : Date.now(),
    });
    if (!index.has(id)) { index.add(id); saveIndex(); }
  },
  rebase(id, item) {
    const draft = this.get(id);
    if (draft) kept.set(`draft:${id}`, { ...draft, baseVersion: item.version, baseAnswer: item.answer, baseChoice: item.choice });
  },
  remove(id) {
    kept.remove(`draft:${id}`);
    if (index.delete(id)) saveIndex();
  },
  comment: {
    get: (id) => kept.get(`comment:${id}`) || "",
    set: (id, text) => (text ? kept.set(`comment:${id}`, text) : kept.remove(`comment:${id}`)),
  },
};
