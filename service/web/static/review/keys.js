// Keyboard shortcuts: they act on the selected question, and never while focus is in a field
// (typed letters are text, not commands) or while an input method is composing.
import * as actions from "./actions.js";
import * as comments from "./comments.js";
import { anyOpen, openHelp } from "./dialogs.js";
import { edge, nextOpen, select, step } from "./list.js";
import { store } from "./state.js";

const FIELDS = "input, textarea, select, [contenteditable]:not([contenteditable=false])";

function selectedRow() {
  return document.getElementById(`item-${store.selectedId}`);
}

function onKey(e) {
  if (e.defaultPrevented || e.isComposing || e.keyCode === 229) return;
  const target = e.target instanceof Element ? e.target : null;
  const inField = !!target?.closest(FIELDS);
  const item = store.byId.get(store.selectedId);
  if (anyOpen()) return; // a dialog has the keyboard
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && inField) {
    if (target.id === "answer" || target.id === "choice") { e.preventDefault(); actions.save(item); }
    else if (target.id === "comment") { e.preventDefault(); comments.add(); }
    return;
  }
  if (inField) {
    if (e.key === "Escape") { target.blur(); selectedRow()?.focus(); }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const inList = !!target?.closest("#items");
  switch (e.key) {
    case "j": step(1); break;
    case "k": step(-1); break;
    case "ArrowDown": if (!inList) return; step(1); break;
    case "ArrowUp": if (!inList) return; step(-1); break;
    case "Home": if (!inList) return; edge(false); break;
    case "End": if (!inList) return; edge(true); break;
    case "n": if (item) select(nextOpen(item.id), { focus: inList }); break;
    case "a": actions.decide(item, "accept"); break;
    case "r": actions.decide(item, "reject"); break;
    case "x": actions.decide(item, "needs-expert"); break;
    case "e": document.getElementById("answer")?.focus(); break;
    case "c": document.getElementById("comment")?.focus(); break;
    case "?": openHelp(); break;
    default: return;
  }
  e.preventDefault();
}

export function init() {
  document.addEventListener("keydown", onKey);
}
