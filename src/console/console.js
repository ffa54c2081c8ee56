// The analyst console: plain browser JavaScript, no build step, nothing from outside this server.
// The API key lives in sessionStorage (this tab only) and goes out as the x-api-key header; the live
// queue is the /cases/stream Server-Sent Events, read with fetch so the key stays in a header.

import { drawChart } from "./chart.js";
import { api as apiWithKey, cell, text, when } from "./dom.js";
import { followCases, togglePerformance } from "./perf.js";
import { queueCells, renderTeam, setupChanges, setupTeam } from "./team.js";

const $ = (id) => document.getElementById(id);
const api = (path, options) => apiWithKey(state.key, path, options);
const state = {
  key: sessionStorage.getItem("sentinel.key"),
  analyst: null,
  role: null,
  cases: [],
  selected: 0,
  open: null,
  stream: null,
};

// ---- sign in ----
$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  try {
    await api("/cases?limit=1");
    sessionStorage.setItem("sentinel.key", state.key);
    start();
  } catch (err) {
    text(
      $("sign-in-error"),
      err.status === 403
        ? "This key has no analyst role."
        : err.status === 401
          ? "Unknown key."
          : err.message,
    );
  }
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.clear();
  location.reload();
});

function start() {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  // Who this key is: the name the server records on claims and in the audit trail.
  api("/me").then(
    (me) => {
      state.analyst = me.name;
      state.role = me.role;
      text($("analyst"), me.name);
      setupChanges({ api, role: me.role });
    },
    () => text($("analyst"), "—"),
  );
  loadQueue();
  listen();
}

// ---- the queue, live ----
/**
 * Every open and claimed case (issue 20: not only those among the newest 200), or one queue's
 * (issue 37), for an assignee when filtered; the highest priority first, the oldest among equals.
 */
async function fetchQueue() {
  const all = [];
  const who = $("assignee-filter").value;
  const assignee = who === "mine" ? state.analyst : who;
  const also = assignee ? `&assignee=${encodeURIComponent(assignee)}` : "";
  const queue = $("queue-filter").value;
  for (const status of ["open", "claimed"]) {
    let cursor = "";
    for (let page = 0; page < 40; page++) {
      const filter = queue ? `queue=${queue}` : "sort=newest";
      const { cases, next_cursor } = await api(`/cases?status=${status}&${filter}&limit=500${also}${cursor}`);
      all.push(...cases);
      if (!next_cursor) break;
      cursor = `&cursor=${encodeURIComponent(next_cursor)}`;
    }
  }
  return all.sort((a, b) => b.priority - a.priority || a.opened_at.localeCompare(b.opened_at));
}
for (const id of ["queue-filter", "assignee-filter"]) $(id).addEventListener("change", () => loadQueue());

async function loadQueue(flash) {
  const cases = await fetchQueue();
  const previous = state.cases[state.selected]?.case_id;
  state.cases = cases;
  const idx = state.cases.findIndex((c) => c.case_id === previous);
  state.selected = idx >= 0 ? idx : Math.min(state.selected, Math.max(0, state.cases.length - 1));
  renderQueue(flash);
}

/** A burst of new reviews reloads the queue at most once a second, not once per event. */
const reload = { timer: null, last: 0, flash: new Set() };
function scheduleReload(transactionId) {
  if (transactionId) reload.flash.add(transactionId);
  if (reload.timer) return;
  reload.timer = setTimeout(
    async () => {
      const flash = reload.flash;
      reload.flash = new Set();
      reload.last = Date.now();
      try {
        await loadQueue(flash);
      } finally {
        reload.timer = null;
        // Reviews announced while the queue was loading may not be in what it read: load again
        // (the last cases of a burst stayed off the queue until the next event otherwise).
        if (reload.flash.size > 0) scheduleReload();
      }
    },
    Math.max(0, 1000 - (Date.now() - reload.last)),
  );
}

function renderQueue(flash = new Set()) {
  const body = $("queue-rows");
  body.replaceChildren();
  state.cases.forEach((c, i) => {
    const row = body.insertRow();
    row.dataset.caseId = c.case_id;
    row.dataset.transactionId = c.transaction_id;
    if (i === state.selected) row.className = "selected";
    if (flash.has(c.transaction_id)) row.classList.add("new");
    queueCells(row, c);
    row.cells[2].title = when(c.opened_at);
    cell(row, c.user_id);
    cell(row, `${c.amount} ${c.currency}`);
    cell(row, c.score);
    // Data never becomes HTML: the assignee is whatever a client sent (issue 20).
    const badge = document.createElement("span");
    badge.className = `status ${c.status}`;
    badge.textContent = c.status + (c.assignee ? ` · ${c.assignee}` : "");
    row.insertCell().append(badge);
    row.addEventListener("click", () => {
      state.selected = i;
      renderQueue();
      openCase();
    });
  });
  text($("queue-count"), `(${state.cases.length} open or claimed)`);
}

const listen = () => followCases(state.key, scheduleReload);

// ---- a case ----
async function openCase() {
  const c = state.cases[state.selected];
  if (!c) return;
  const detail = await api(`/cases/${c.case_id}`);
  state.open = detail;
  renderCase();
}

function renderCase() {
  const { case: c, transaction: t, history } = state.open;
  $("case-empty").hidden = true;
  $("case-body").hidden = false;
  text($("case-id"), c.case_id.slice(0, 8));
  const st = $("case-status");
  st.className = `status ${c.status}`;
  text(st, c.status + (c.label ? ` · ${c.label}` : ""));
  text($("case-user"), c.user_id);
  text($("case-amount"), `${c.amount} ${c.currency}`);
  text($("case-score"), `${c.score} → ${c.decision}`);
  // A model's reason ("model mdl-… score 0.9731: feature +0.31, …") reads as its own line: which
  // model, how sure, and the three features that moved it most (issue 24).
  $("case-reasons").replaceChildren(
    ...(c.reasons ?? []).map((r) =>
      Object.assign(document.createElement("span"), {
        className: r.startsWith("model ") ? "reason model" : "reason",
        textContent: r.startsWith("model ") ? r.replace(/ score ([\d.]+): ?/, " · score $1 · ") : r,
      }),
    ),
  );
  text(
    $("case-tx"),
    t
      ? `${t.transaction_id} · ${when(t.timestamp)}${t.country ? ` · ${t.country}` : ""}${t.merchant_id ? ` · ${t.merchant_id}` : ""}`
      : "—",
  );
  text($("case-assignee"), c.assignee ?? "nobody");
  const resolved = c.status === "resolved";
  for (const id of ["claim", "release", "fraud", "legit", "block", "note"]) $(id).disabled = resolved;
  const rows = $("history-rows");
  rows.replaceChildren();
  for (const h of history) {
    const row = rows.insertRow();
    if (h.transaction_id === c.transaction_id) row.style.fontWeight = "600";
    cell(row, when(h.received_at));
    cell(row, `${h.amount} ${h.currency}`);
    cell(row, h.country);
    cell(row, h.decision, `decision-${h.decision}`);
    cell(row, (h.reasons ?? []).join(", "));
    cell(row, h.label);
  }
  drawChart($("chart"), history);
  renderTeam(state.open, state.role);
}

async function act(path, body, done) {
  const c = state.open?.case;
  if (!c) return;
  try {
    await api(`/cases/${c.case_id}/${path}`, { method: "POST", body: JSON.stringify(body) });
    text($("case-message"), done);
  } catch (err) {
    text($("case-message"), `${err.status ?? ""} ${err.message}`);
  }
  await loadQueue();
  state.open = await api(`/cases/${c.case_id}`);
  renderCase();
}

const claim = () => act("claim", {}, "Claimed.");
const release = () => act("release", {}, "Released to the queue.");
const resolve = (label) => {
  const note = $("note").value.trim();
  const block = $("block").checked;
  return act(
    "resolve",
    { label, block_user: block, ...(note ? { note } : {}) },
    `Resolved as ${label}${block ? "; user blocked" : ""}.`,
  );
};
setupTeam({
  api,
  current: () => state.open.case,
  after: async () => {
    await loadQueue();
    state.open = await api(`/cases/${state.open.case.case_id}`);
    renderCase();
  },
});
$("claim").addEventListener("click", claim);
$("release").addEventListener("click", release);
$("fraud").addEventListener("click", () => resolve("fraud"));
$("legit").addEventListener("click", () => resolve("legitimate"));

// ---- rule performance ----
const showPerformance = () => togglePerformance(api);
$("show-perf").addEventListener("click", showPerformance);

// ---- keyboard ----
document.addEventListener("keydown", (e) => {
  if ($("app").hidden || e.target instanceof HTMLInputElement || e.metaKey || e.ctrlKey || e.altKey) return;
  const move = (d) => {
    state.selected = Math.max(0, Math.min(state.cases.length - 1, state.selected + d));
    renderQueue();
  };
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    Enter: openCase,
    o: openCase,
    c: claim,
    r: release,
    f: () => resolve("fraud"),
    l: () => resolve("legitimate"),
    b: () => {
      $("block").checked = !$("block").checked;
    },
    p: showPerformance,
  };
  const run = actions[e.key];
  if (run) {
    e.preventDefault();
    run();
  }
});

if (state.key) start();
