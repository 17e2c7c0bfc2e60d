// Kotae web UI: one module per page over the JSON API, loaded for the page that asks for it.
import { api } from "./lib.js";

const body = document.body;

document.getElementById("workspace-switcher")?.addEventListener("change", (e) => {
  const url = new URL(location.href);
  if (!["/kb", "/admin", "/holdout", "/library"].includes(location.pathname)) url.pathname = "/";
  url.search = "?ws=" + encodeURIComponent(e.target.value);
  location.href = url;
});
document.getElementById("logout")?.addEventListener("click", async () => {
  await api("POST", "/api/auth/logout");
  location.href = "/login";
});

const pages = {
  login: () => import("./pages.js").then((m) => m.login()),
  dashboard: () => import("./pages.js").then((m) => m.dashboard()),
  kb: () => import("./pages.js").then((m) => m.kb()),
  admin: () => import("./admin.js").then((m) => m.admin()),
  audit: () => import("./admin.js").then((m) => m.audit()),
  review: () => import("./review/main.js").then((m) => m.review()),
};
pages[body.dataset.page]?.();
