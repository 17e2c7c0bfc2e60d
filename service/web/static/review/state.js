// The review page's one source of truth: the items as last read from the server, and the selection.

export const store = {
  qid: Number(document.getElementById("review")?.dataset.questionnaire),
  me: document.body.dataset.me,
  canReview: document.body.dataset.canReview === "yes",
  members: [],
  items: [], // in questionnaire order
  byId: new Map(),
  selectedId: null,
  status: "done",
};

// Waiting for a person: where the selection goes after a decision.
export const NEEDS_REVIEW = new Set(["drafted", "no_evidence", "failed"]);

// Take a newer copy of an item from the server; an older copy (a late poll) changes nothing.
export function take(fresh) {
  const item = store.byId.get(fresh.id);
  if (!item) return null;
  if (fresh.version < item.version) return item;
  for (const [key, value] of Object.entries(fresh)) item[key] = value;
  return item;
}

export function setItems(items) {
  store.items = items;
  store.byId = new Map(items.map((i) => [i.id, i]));
}
