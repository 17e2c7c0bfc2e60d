// A word diff (a character diff for Japanese): what the reviewer changed in the draft.
import { el } from "../lib.js";

const TOKEN = /[A-Za-z0-9_]+|\s+|[^]/gu;
const LIMIT = 400_000; // cells of the table; past it, the whole text counts as replaced

function lcsOps(a, b) {
  const n = a.length, m = b.length;
  if (n * m > LIMIT) return [["del", a.join("")], ["ins", b.join("")]];
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const ops = [];
  const push = (kind, text) => {
    const last = ops[ops.length - 1];
    if (last && last[0] === kind) last[1] += text; else ops.push([kind, text]);
  };
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { push("same", a[i]); i++; j++; }
    else if (table[i + 1][j] >= table[i][j + 1]) push("del", a[i++]);
    else push("ins", b[j++]);
  }
  while (i < n) push("del", a[i++]);
  while (j < m) push("ins", b[j++]);
  return ops;
}

export function diff(before, after) {
  const ops = lcsOps(before.match(TOKEN) || [], after.match(TOKEN) || []);
  return ops.filter(([, text]) => text).map(([kind, text]) => {
    if (kind === "same") return text;
    const label = el("span", { class: "sr-only" }, kind === "del" ? "[removed: " : "[added: ");
    return el(kind, {}, label, text, el("span", { class: "sr-only" }, "]"));
  });
}
