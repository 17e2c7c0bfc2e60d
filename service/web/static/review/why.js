// "Why this draft": the confidence band, the flags in words, the drafter's note, and each citation with
// its sheet, row, date and product, the words it shares with the question marked.
import { api, el, day } from "../lib.js";

const body = document.getElementById("why-body");
const cache = new Map(); // "id:version" -> the server's answer
let shownId = null;

const BAND_WORDS = {
  high: "High confidence: the evidence answers the question closely.",
  medium: "Medium confidence: read the evidence before accepting.",
  low: "Low confidence: the evidence is a weak match.",
  none: "No confidence: nothing in the knowledge base answers this.",
};

function marked(text, spans) {
  const parts = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (start > at) parts.push(text.slice(at, start));
    parts.push(el("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts;
}

function citation(c, index) {
  return el("div", { class: "citation" },
    el("p", { class: "cite-head" },
      el("span", { class: "num" }, `${index + 1}.`), " ",
      el("strong", { class: "wrap" }, c.source),
      el("span", {}, ` · row ${c.locator}`),
      el("span", {}, " · ", c.date ? ["dated ", day(c.date)] : "no longer in the knowledge base"),
      c.product ? el("span", {}, ` · product ${c.product}`) : null,
      c.approved_by ? el("span", {}, ` · approved by ${c.approved_by}`) : null),
    el("blockquote", { lang: c.language || undefined }, ...marked(c.text, c.spans)));
}

function render(item, why) {
  const parts = [
    el("p", { class: `band-line ${why.band}` }, el("span", { class: `band ${why.band}` }, `${why.band} ${why.confidence.toFixed(2)}`), " ", BAND_WORDS[why.band]),
  ];
  if (why.flags.length) {
    parts.push(el("div", { class: "flags" }, el("h3", {}, "Check before accepting"),
      ...why.flags.map((f) => el("p", { class: "flag", "data-flag": f.flag }, el("span", { "aria-hidden": "true" }, "⚑ "), f.text))));
  }
  if (why.note) parts.push(el("p", { class: "note" }, el("strong", {}, "Drafter's note: "), why.note));
  if (item.draft_answer || item.draft_choice) {
    parts.push(el("p", { class: "drafted" }, el("strong", {}, "The draft: "),
      el("span", { lang: item.language }, [item.draft_choice, item.draft_answer].filter(Boolean).join(" — "))));
  }
  parts.push(why.citations.length
    ? el("div", { class: "citations" }, el("h3", {}, `Evidence (${why.citations.length})`), ...why.citations.map(citation))
    : el("p", { class: "hint" }, item.status === "pending" ? "Still being drafted." : "No evidence was found."));
  body.replaceChildren(...parts);
}

export function show(item, { quiet = false } = {}) {
  shownId = item ? item.id : null;
  if (!item) { body.replaceChildren(el("p", { class: "hint" }, "Select a question.")); return; }
  const key = `${item.id}:${item.version}`;
  if (cache.has(key)) { render(item, cache.get(key)); return; }
  if (!quiet) body.replaceChildren(el("p", { class: "hint" }, "Loading the evidence…"));
  api("GET", `/api/items/${item.id}/why`).then((why) => {
    cache.set(key, why);
    if (shownId === item.id) render(item, why);
  }).catch((error) => { if (shownId === item.id) body.replaceChildren(el("p", { class: "error" }, error.message)); });
}

// A live update of the shown item: the panel stays as it is until the new answer is in.
export function refresh(item) {
  if (item.id === shownId) show(item, { quiet: true });
}
