// Answer library page: a reviewer's decisions go to the API, then the page reloads (it is rendered by the server).
import { api } from "./lib.js";

const ws = encodeURIComponent(document.body.dataset.workspace || "");
const base = `/api/workspaces/${ws}/library`;
const status = () => document.getElementById("library-status");

async function act(button, send) {
  button.disabled = true;
  status().className = "";
  status().textContent = "Saving…";
  try {
    await send();
    location.reload();
  } catch (error) {
    status().className = "error";
    status().textContent = error.message;
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.classList.contains("make-canonical")) {
    act(button, () => api("POST", `${base}/canonical`, {
      entry_id: button.dataset.entry,
      supersede: (button.dataset.overrules || "").split(" ").filter(Boolean),
    }));
  } else if (button.classList.contains("reviewed")) {
    act(button, () => api("PATCH", `${base}/canonical/${button.dataset.id}`, { reviewed: true }));
  } else if (button.classList.contains("retire")) {
    act(button, () => api("DELETE", `${base}/canonical/${button.dataset.id}`));
  }
});
