// The analyst console: plain browser JavaScript, no build step, nothing from outside this server.
// The API key lives in sessionStorage (this tab only) and goes out as the x-api-key header; the live
// queue is the /cases/stream Server-Sent Events, read with fetch so the key stays in a header.

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem("sentinel.key"),
  analyst: sessionStorage.getItem("sentinel.analyst"),
  cases: [],
  selected: 0,
  open: null,
  stream: null,
};

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      "x-api-key": state.key,
      ...(options.body ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
  });
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok)
    throw Object.assign(new Error(body?.message ?? `HTTP ${res.status}`), { status: res.status, body });
  return body;
}

const text = (el, value) => {
  el.textContent = value ?? "—";
};
const when = (iso) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "—";
function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = value ?? "—";
  if (cls) td.className = cls;
  return td;
}

// ---- sign in ----
$("sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  state.analyst = $("name").value.trim();
  try {
    await api("/cases?limit=1");
    sessionStorage.setItem("sentinel.key", state.key);
    sessionStorage.setItem("sentinel.analyst", state.analyst);
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
$("analyst").addEventListener("change", () => {
  state.analyst = $("analyst").value.trim();
  sessionStorage.setItem("sentinel.analyst", state.analyst);
});

function start() {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("analyst").value = state.analyst ?? "";
  loadQueue();
  listen();
}

// ---- the queue, live ----
async function loadQueue(flash) {
  const { cases } = await api("/cases?limit=200");
  const previous = state.cases[state.selected]?.case_id;
  state.cases = cases.filter((c) => c.status !== "resolved");
  const idx = state.cases.findIndex((c) => c.case_id === previous);
  state.selected = idx >= 0 ? idx : Math.min(state.selected, Math.max(0, state.cases.length - 1));
  renderQueue(flash);
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
    cell(row, new Date(c.opened_at).toLocaleTimeString()).title = when(c.opened_at);
    cell(row, c.user_id);
    cell(row, `${c.amount} ${c.currency}`);
    cell(row, c.score);
    const st = cell(row, c.status);
    st.innerHTML = `<span class="status ${c.status}">${c.status}${c.assignee ? ` · ${c.assignee}` : ""}</span>`;
    row.addEventListener("click", () => {
      state.selected = i;
      renderQueue();
      openCase();
    });
  });
  text($("queue-count"), `(${state.cases.length} open or claimed)`);
}

async function listen() {
  const live = $("live");
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      const res = await fetch("/cases/stream", { headers: { "x-api-key": state.key } });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      live.className = "live on";
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split("\n").find((l) => l.startsWith("data: "));
          if (frame.includes("event: case") && data) {
            const event = JSON.parse(data.slice(6));
            await loadQueue(new Set([event.transaction_id]));
          }
        }
      }
    } catch {
      // fall through: reconnect
    }
    live.className = "live off";
    await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
  }
}

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
  $("case-reasons").replaceChildren(
    ...(c.reasons ?? []).map((r) =>
      Object.assign(document.createElement("span"), { className: "reason", textContent: r }),
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
  drawChart(history);
}

function drawChart(history) {
  const svg = $("chart");
  const W = 560,
    H = 140,
    P = 24;
  const points = history
    .map((h) => ({ t: Date.parse(h.received_at), a: Number(h.amount), d: h.decision }))
    .filter((p) => Number.isFinite(p.a));
  svg.replaceChildren();
  if (points.length === 0) return;
  const t0 = Math.min(...points.map((p) => p.t)),
    t1 = Math.max(...points.map((p) => p.t));
  const aMax = Math.max(...points.map((p) => p.a), 1);
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const y = (a) => H - P - (a / aMax) * (H - 2 * P);
  const ns = "http://www.w3.org/2000/svg";
  const axis = document.createElementNS(ns, "path");
  axis.setAttribute("d", `M${P} ${P / 2} V${H - P} H${W - P / 2}`);
  axis.setAttribute("stroke", "#c4cbd6");
  axis.setAttribute("fill", "none");
  svg.append(axis);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 2);
  label.setAttribute("y", 12);
  label.setAttribute("font-size", "10");
  label.setAttribute("fill", "#667085");
  label.textContent = `max ${aMax}`;
  svg.append(label);
  const colors = { approve: "#067647", review: "#b54708", decline: "#b42318" };
  for (const p of points) {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(p.t));
    dot.setAttribute("cy", y(p.a));
    dot.setAttribute("r", 4);
    dot.setAttribute("fill", colors[p.d] ?? "#667085");
    const title = document.createElementNS(ns, "title");
    title.textContent = `${p.a} · ${p.d} · ${new Date(p.t).toLocaleString()}`;
    dot.append(title);
    svg.append(dot);
  }
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

const analyst = () => state.analyst || "analyst";
const claim = () => act("claim", { analyst: analyst() }, "Claimed.");
const release = () => act("release", { analyst: analyst() }, "Released to the queue.");
const resolve = (label) => {
  const note = $("note").value.trim();
  const block = $("block").checked;
  return act(
    "resolve",
    { label, analyst: analyst(), block_user: block, ...(note ? { note } : {}) },
    `Resolved as ${label}${block ? "; user blocked" : ""}.`,
  );
};
$("claim").addEventListener("click", claim);
$("release").addEventListener("click", release);
$("fraud").addEventListener("click", () => resolve("fraud"));
$("legit").addEventListener("click", () => resolve("legitimate"));

// ---- rule performance ----
async function showPerformance() {
  const panel = $("perf");
  panel.hidden = !panel.hidden;
  if (panel.hidden) return;
  const perf = await api("/rules/performance");
  const rows = $("perf-rows");
  rows.replaceChildren();
  for (const r of perf.rules) {
    const row = rows.insertRow();
    for (const v of [
      r.reason,
      r.fired,
      r.fraud,
      r.legitimate,
      r.unlabelled,
      r.precision === null ? "—" : `${(r.precision * 100).toFixed(1)}%`,
    ])
      cell(row, v);
  }
}
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
