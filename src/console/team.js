// The console's team features (issue 37): a case's priority, queue, model explanation and linked
// cases; a snooze of one rule for the case's user in one step; bulk resolution of a user's or a
// device's cases; a supervisor's assign and escalate; and, for admins and supervisors, the
// proposed changes (four eyes) with approve and reject. Data is set as text only (issue 20).

import { cell, text, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const RULE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const age = (s) =>
  s < 3600
    ? `${Math.round(s / 60)} min`
    : s < 172_800
      ? `${Math.round(s / 3600)} h`
      : `${Math.round(s / 86_400)} d`;

/** The queue's extra cells: priority, queue, age. */
export function queueCells(row, c) {
  cell(row, c.priority);
  cell(row, c.queue, `queue-${c.queue}`);
  cell(row, age(c.age_seconds));
}

/** The case view's team part: facts, the snooze's rules, linked cases, the supervisor's controls. */
export function renderTeam(detail, role) {
  const { case: c, explanation, linked } = detail;
  text(
    $("case-priority"),
    `${c.priority} · ${c.queue} · ${age(c.age_seconds)} old${c.escalated_by ? ` · escalated by ${c.escalated_by}: ${c.escalation_reason}` : ""}`,
  );
  text(
    $("case-model"),
    explanation
      ? `${explanation.version} · ${explanation.score} · ${explanation.contributions.map((x) => `${x.feature} ${x.value >= 0 ? "+" : ""}${x.value}`).join(", ")}`
      : "no model",
  );
  text($("case-device"), c.device_id);
  const rules = (c.reasons ?? []).filter((r) => RULE_ID.test(r));
  $("snooze-rule").replaceChildren(
    ...rules.map((r) => Object.assign(document.createElement("option"), { value: r, textContent: r })),
  );
  const resolved = c.status === "resolved";
  for (const id of ["snooze", "snooze-rule", "bulk-user"])
    $(id).disabled = resolved || (id !== "bulk-user" && rules.length === 0);
  $("bulk-device").disabled = resolved || !c.device_id;
  $("supervise").hidden = !(role === "supervisor" || role === "admin");
  const rows = $("linked-rows");
  rows.replaceChildren();
  for (const l of linked ?? []) {
    const row = rows.insertRow();
    cell(row, l.case_id.slice(0, 8));
    cell(row, l.shares);
    cell(row, l.user_id);
    cell(row, `${l.amount} ${l.currency}`);
    cell(row, l.status);
  }
}

/** Wires the team controls: `current()` is the open case, `after()` reloads queue and case. */
export function setupTeam({ api, current, after }) {
  const say = (message) => text($("case-message"), message);
  const run = async (call, done) => {
    try {
      const answer = await call();
      say(
        answer?.status === "pending"
          ? `Proposed (change ${answer.change_id.slice(0, 8)}): waits for another person's approval.`
          : done(answer),
      );
    } catch (err) {
      say(`${err.status ?? ""} ${err.message}`);
    }
    await after();
  };
  const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body) });
  $("snooze-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const c = current();
    const rule = $("snooze-rule").value;
    const until = new Date(Date.now() + Number($("snooze-days").value) * 86_400_000).toISOString();
    const reason = $("snooze-reason").value.trim();
    run(
      () => post("/snoozes", { rule, user_id: c.user_id, until, reason }),
      () => `Snoozed ${rule} for ${c.user_id} until ${when(until)}.`,
    );
  });
  const bulk = (scope) => () => {
    const c = current();
    const body = scope === "user" ? { user_id: c.user_id } : { device_id: c.device_id };
    run(
      () => post("/cases/resolve-bulk", { ...body, label: "fraud" }),
      (r) => `Resolved ${r.resolved.length} cases as fraud.`,
    );
  };
  $("bulk-user").addEventListener("click", bulk("user"));
  $("bulk-device").addEventListener("click", bulk("device"));
  $("assign").addEventListener("click", () =>
    run(
      () => post(`/cases/${current().case_id}/assign`, { assignee: $("assign-to").value.trim() }),
      (c) => `Assigned to ${c.assignee}.`,
    ),
  );
  $("escalate").addEventListener("click", () =>
    run(
      () => post(`/cases/${current().case_id}/escalate`, { reason: $("escalate-reason").value.trim() }),
      () => "Escalated.",
    ),
  );
}

/** The proposed changes panel (admins and supervisors): pending first, approve or reject each. */
export function setupChanges({ api, role }) {
  if (role !== "admin" && role !== "supervisor") return;
  const button = $("show-changes");
  button.hidden = false;
  const say = (m) => text($("changes-message"), m);
  async function load() {
    const { changes } = await api("/changes");
    const rows = $("changes-rows");
    rows.replaceChildren();
    for (const c of changes.slice(0, 100)) {
      const row = rows.insertRow();
      row.dataset.changeId = c.change_id;
      for (const v of [when(c.proposed_at), c.proposed_by, c.kind, c.target, c.status]) cell(row, v);
      const actions = row.insertCell();
      if (c.status !== "pending") continue;
      const decide = (verb, body) => async () => {
        try {
          await api(`/changes/${c.change_id}/${verb}`, { method: "POST", body: JSON.stringify(body) });
          say(`${verb === "approve" ? "Approved and applied" : "Rejected"}: ${c.kind} ${c.target}.`);
        } catch (err) {
          say(`${err.status ?? ""} ${err.message}`);
        }
        await load();
      };
      const approve = Object.assign(document.createElement("button"), {
        type: "button",
        textContent: "Approve",
        className: "approve",
      });
      approve.addEventListener("click", decide("approve", {}));
      const reject = Object.assign(document.createElement("button"), {
        type: "button",
        textContent: "Reject",
        className: "reject",
      });
      reject.addEventListener("click", decide("reject", { reason: "rejected from the console" }));
      actions.append(approve, reject);
    }
  }
  button.addEventListener("click", async () => {
    const panel = $("changes");
    panel.hidden = !panel.hidden;
    if (!panel.hidden) await load().catch((err) => say(err.message));
  });
}
