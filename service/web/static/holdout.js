// Holdout eval pages: start a run (admins), follow a running one, filter the questions of a finished one.
// The report itself is rendered by the server; this only adds what needs the live API.
import { api } from "./lib.js";

const ws = encodeURIComponent(document.body.dataset.workspace || "");
const RUNNING = ["queued", "running"];

function startForm() {
  const form = document.getElementById("holdout-form");
  if (!form) return;
  const status = document.getElementById("holdout-status");
  async function start(body) {
    status.className = "";
    status.textContent = "Starting…";
    try {
      const run = await api("POST", `/api/workspaces/${ws}/holdout`, body);
      location.href = `/holdout/${run.id}`;
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  }
  const calibrate = document.getElementById("holdout-calibrate");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const sources = new FormData(form).getAll("sources");
    if (!sources.length) {
      status.className = "error";
      status.textContent = "Pick at least one sheet, or hold out every sheet.";
      return;
    }
    if (calibrate?.checked) {
      status.className = "error";
      status.textContent = "A calibration rests on every sheet held out in turn: hold out every sheet to calibrate.";
      return;
    }
    start({ sources });
  });
  document
    .getElementById("holdout-all")
    ?.addEventListener("click", () => start({ all: true, calibrate: Boolean(calibrate?.checked) }));
}

function followProgress() {
  const card = document.getElementById("holdout-run");
  if (!card || !RUNNING.includes(card.dataset.status)) return;
  const bar = document.getElementById("holdout-progress");
  const text = document.getElementById("progress-text");
  async function poll() {
    let run;
    try {
      run = await api("GET", `/api/workspaces/${ws}/holdout/${card.dataset.run}`);
    } catch (error) {
      text.textContent = `Cannot read the progress: ${error.message}. Retrying…`;
      setTimeout(poll, 5000);
      return;
    }
    bar.max = run.total || 1;
    bar.value = run.done;
    text.textContent = `${run.done} / ${run.total}` + (run.current ? ` · holding out ${run.current}` : "");
    if (RUNNING.includes(run.status)) setTimeout(poll, 1500);
    else location.reload(); // the report is rendered by the server
  }
  setTimeout(poll, 1000);
}

function questionFilter() {
  const select = document.getElementById("question-filter");
  if (!select) return;
  const count = document.getElementById("filter-count");
  const questions = [...document.querySelectorAll("details.question")];
  const keep = {
    all: () => true,
    differs: (q) => q.dataset.kind === "differs",
    abstained: (q) => q.dataset.kind === "abstained",
    judge: (q) => q.dataset.judge && q.dataset.judge !== "agree",
  };
  select.addEventListener("change", () => {
    const test = keep[select.value] || keep.all;
    let shown = 0;
    for (const q of questions) {
      q.hidden = !test(q);
      if (!q.hidden) shown += 1;
    }
    count.textContent = `${shown} of ${questions.length} questions shown`;
  });
}

startForm();
followProgress();
questionFilter();
