// Small helpers every page uses: the JSON API, building elements, a toast, dates.

export async function api(method, url, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(url, options);
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error((data && data.detail) || response.statusText);
    error.status = response.status; error.data = data;
    throw error;
  }
  return data;
}

// el("p", {class: "x", onclick: f}, "text", child): attributes, listeners (on…) and children in one call.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
}

export function when(iso) {
  const date = new Date(iso);
  return el("time", { datetime: date.toISOString(), title: date.toLocaleString() }, date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }));
}

export function day(iso) {
  return el("time", { datetime: iso }, iso);
}

// "in 3 days", "today", "2 days ago" for a YYYY-MM-DD date.
export function daysFromToday(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const today = new Date(); today.setHours(0, 0, 0, 0);
  return Math.round((new Date(y, m - 1, d) - today) / 86400000);
}

export const STATUS_WORDS = {
  pending: "pending", drafted: "drafted", no_evidence: "no evidence", accepted: "accepted", edited: "edited",
  rejected: "rejected", needs_expert: "needs expert", failed: "failed",
};

export function storage(prefix) {
  return {
    get(key) { try { return JSON.parse(localStorage.getItem(prefix + key)); } catch { return null; } },
    set(key, value) { try { localStorage.setItem(prefix + key, JSON.stringify(value)); } catch { /* full or disabled */ } },
    remove(key) { try { localStorage.removeItem(prefix + key); } catch { /* disabled */ } },
  };
}
