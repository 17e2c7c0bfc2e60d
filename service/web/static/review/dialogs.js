// Dialogs: bulk accept (preview, confirm, undo for a while), export (what is still blank), shortcut help.
import { api, el, toast, STATUS_WORDS } from "../lib.js";
import { store } from "./state.js";

const $ = (id) => document.getElementById(id);
const UNDO_KEY = `kotae:q${store.qid}:undo`;
let refreshAll = async () => {};
let preview = null;

export function onBulkChange(callback) { refreshAll = callback; }

function line(item) {
  return el("p", { class: "bulk-item" }, el("span", { class: "ref" }, item.ref), " ",
    el("span", { lang: /[\u3040-\u30ff\u4e00-\u9fff]/.test(item.question) ? "ja" : "en" }, item.question), " ",
    el("span", { class: "hint" }, item.confidence.toFixed(2)));
}

async function showPreview() {
  $("bulk-confirm").disabled = true;
  const threshold = parseFloat($("bulk-threshold").value);
  if (!(threshold >= 0 && threshold <= 1)) { $("bulk-summary").textContent = "Give a confidence between 0 and 1."; return; }
  const asked = ++showPreview.asked; // a slower answer to an earlier threshold must not win
  const answer = await api("GET", `/api/questionnaires/${store.qid}/bulk-accept/preview?min_confidence=${threshold}`);
  if (asked !== showPreview.asked || !$("bulk-dialog").open) return;
  preview = answer;
  const n = preview.count;
  $("bulk-summary").textContent = n
    ? `${n} draft${n > 1 ? "s" : ""} would be accepted:`
    : "No untouched, unflagged draft has that confidence.";
  $("bulk-summary").dataset.threshold = String(threshold);
  $("bulk-list").replaceChildren(...preview.items.map(line));
  const flagged = preview.flagged.length;
  $("bulk-flagged-box").hidden = !flagged;
  $("bulk-flagged-summary").textContent = `${flagged} flagged draft${flagged > 1 ? "s are" : " is"} skipped: they need a person's eye`;
  $("bulk-flagged").replaceChildren(...preview.flagged.map(line));
  $("bulk-confirm").textContent = `Accept ${n} draft${n === 1 ? "" : "s"}`;
  $("bulk-confirm").disabled = !n;
}

showPreview.asked = 0;

function closeBulk() {
  $("bulk-dialog").close(); // the close listener clears it
}

async function confirmBulk() {
  if (!preview?.count) return;
  $("bulk-confirm").disabled = true;
  try {
    const result = await api("POST", `/api/questionnaires/${store.qid}/bulk-accept`, {
      min_confidence: preview.min_confidence, items: preview.items.map((i) => ({ id: i.id, version: i.version })),
    });
    closeBulk();
    sessionStorage.setItem(UNDO_KEY, JSON.stringify(result));
    showUndo();
    await refreshAll();
  } catch (error) {
    toast(error.message);
    $("bulk-confirm").disabled = false;
  }
}

// The last bulk accept, undoable until its window closes (kept across a reload of this tab).
function showUndo() {
  const bar = $("undo-bar");
  const batch = JSON.parse(sessionStorage.getItem(UNDO_KEY) || "null");
  clearTimeout(showUndo.timer);
  if (!batch || new Date(batch.undo_until) <= new Date()) { bar.hidden = true; bar.replaceChildren(); return; }
  const until = new Date(batch.undo_until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  bar.hidden = false;
  bar.replaceChildren(
    el("span", {}, `Bulk accepted ${batch.accepted} draft${batch.accepted === 1 ? "" : "s"}. You can undo it until ${until}. `),
    el("button", { type: "button", id: "bulk-undo", onclick: undo }, "Undo bulk accept"),
    el("button", { type: "button", class: "link", onclick: () => { sessionStorage.removeItem(UNDO_KEY); showUndo(); } }, "Dismiss"));
  showUndo.timer = setTimeout(showUndo, Math.min(new Date(batch.undo_until) - new Date() + 500, 60_000));
}

async function undo() {
  const batch = JSON.parse(sessionStorage.getItem(UNDO_KEY) || "null");
  if (!batch) return;
  try {
    const result = await api("POST", `/api/questionnaires/${store.qid}/bulk-accept/undo`, { batch_id: batch.batch_id });
    sessionStorage.removeItem(UNDO_KEY);
    showUndo();
    const kept = result.kept.length;
    toast(`Undone: ${result.restored.length} back to drafted${kept ? `; ${kept} changed since, left as they are` : ""}`);
    await refreshAll();
  } catch (error) {
    sessionStorage.removeItem(UNDO_KEY);
    showUndo();
    toast(error.message);
  }
}

async function openExport() {
  $("export-result").textContent = "";
  const s = await api("GET", `/api/questionnaires/${store.qid}/export/summary`);
  const waiting = Object.entries(s.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${STATUS_WORDS[k]}`);
  $("export-summary").replaceChildren(
    el("strong", {}, `${s.approved} of ${s.total} questions have an approved answer.`), " ",
    s.blank ? `${s.blank} row${s.blank === 1 ? " stays" : "s stay"} blank in an approved-only export` : "Nothing stays blank.",
    s.unapproved ? ` (not approved: ${waiting.join(", ")}).` : ".");
  $("export-dialog").showModal();
}

async function download() {
  const include = document.querySelector("input[name=include]:checked").value;
  const params = new URLSearchParams({ format: $("export-format").value, include });
  if ($("export-cite").checked) params.set("cite", "true");
  const button = $("export-download");
  button.disabled = true;
  try {
    const response = await fetch(`/api/questionnaires/${store.qid}/export?${params}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
    const name = decodeURIComponent((response.headers.get("content-disposition") || "").match(/filename\*=UTF-8''([^;]+)/)?.[1] || "export");
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    const rows = response.headers.get("x-exported-rows"), blank = response.headers.get("x-blank-rows");
    $("export-result").textContent = `Exported ${name}: ${rows} row${rows === "1" ? "" : "s"} answered, ${blank} blank row${blank === "1" ? "" : "s"}.`;
  } catch (error) {
    $("export-result").textContent = `Export failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

export function openHelp() {
  if (!$("help").open) $("help").showModal();
}

export function anyOpen() {
  return [...document.querySelectorAll("dialog")].some((d) => d.open);
}

export function init() {
  $("help-open").addEventListener("click", openHelp);
  if (!store.canReview) return;
  $("bulk-open").addEventListener("click", async () => { $("bulk-dialog").showModal(); await showPreview(); });
  $("bulk-threshold").addEventListener("change", showPreview);
  $("bulk-cancel").addEventListener("click", closeBulk);
  $("bulk-dialog").addEventListener("close", () => {
    delete $("bulk-summary").dataset.threshold;
    $("bulk-list").replaceChildren();
    $("bulk-flagged").replaceChildren();
    preview = null;
  });
  $("bulk-confirm").addEventListener("click", confirmBulk);
  $("export-open").addEventListener("click", openExport);
  $("export-close").addEventListener("click", () => $("export-dialog").close());
  $("export-download").addEventListener("click", download);
  showUndo();
}
