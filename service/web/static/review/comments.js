// The selected question's conversation: every comment with its author and time, @-mentions marked.
import { api, el, toast, when } from "../lib.js";
import { drafts } from "./drafts.js";
import { patch } from "./list.js";
import { store } from "./state.js";

const thread = document.getElementById("thread");
const field = document.getElementById("comment");
const mention = document.getElementById("mention");
let shownId = null;
let loadedCount = -1;

function text(comment) {
  const names = new Set(comment.mentions.flatMap((m) => [m, m.split("@")[0]]));
  return comment.text.split(/(@[\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)/).map((part) =>
    part.startsWith("@") && names.has(part.slice(1).replace(/\.$/, "")) ? el("span", { class: "mention" }, part) : part);
}

function render(list) {
  thread.replaceChildren(...(list.length ? list.map((c) => el("div", { class: "comment" },
    el("p", { class: "comment-head" }, el("strong", {}, c.user || "a removed user"), " ", when(c.created_at)),
    el("p", { class: "comment-text" }, ...text(c)))) : [el("p", { class: "hint" }, "No comments yet.")]));
}

async function load(item) {
  const list = await api("GET", `/api/items/${item.id}/comments`);
  if (shownId !== item.id) return;
  loadedCount = list.length;
  render(list);
}

export function show(item) {
  shownId = item ? item.id : null;
  loadedCount = -1;
  thread.replaceChildren();
  if (!item) return;
  if (field) field.value = drafts.comment.get(item.id);
  if (item.comments) { thread.replaceChildren(el("p", { class: "hint" }, "Loading comments…")); load(item); }
  else { loadedCount = 0; render([]); }
}

// A live update: someone commented on the shown question.
export function refresh(item) {
  if (item.id === shownId && loadedCount !== -1 && item.comments !== loadedCount) load(item);
}

export async function add() {
  const item = store.byId.get(shownId);
  const words = field?.value.trim();
  if (!item || !words) return;
  try {
    await api("POST", `/api/items/${item.id}/comments`, { text: words });
    field.value = "";
    drafts.comment.set(item.id, "");
    item.comments += 1;
    patch(item);
    await load(item);
    toast("Comment added");
  } catch (error) {
    toast(error.message);
  }
}

export function setMembers(members) {
  if (!mention) return;
  mention.replaceChildren(el("option", { value: "" }, "a member…"), ...members.map((m) => el("option", { value: m }, m)));
}

if (field) {
  field.addEventListener("input", () => { if (shownId !== null) drafts.comment.set(shownId, field.value); });
  document.getElementById("comment-add").addEventListener("click", add);
  mention.addEventListener("change", () => {
    if (!mention.value) return;
    const at = field.selectionStart ?? field.value.length;
    const before = field.value.slice(0, at), after = field.value.slice(at);
    const insert = `${before && !/\s$/.test(before) ? " " : ""}@${mention.value} `;
    field.value = before + insert + after;
    drafts.comment.set(shownId, field.value);
    mention.value = "";
    field.focus();
    field.setSelectionRange(before.length + insert.length, before.length + insert.length);
  });
}
