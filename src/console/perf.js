// The console's live feed of new reviews and its rule performance panel (issue 14).

import { cell } from "./dom.js";

const $ = (id) => document.getElementById(id);

/** Shows (fetching the figures) or hides the panel. */
export async function togglePerformance(api) {
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

/**
 * Follows GET /cases/stream (Server-Sent Events read with fetch, so the key stays in a header):
 * `onCase(transactionId)` for each new review; reconnects with a growing pause, a bounded number
 * of times.
 */
export async function followCases(key, onCase) {
  const live = $("live");
  for (let attempt = 0; attempt < 1000; attempt++) {
    try {
      const res = await fetch("/cases/stream", { headers: { "x-api-key": key } });
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
            onCase(JSON.parse(data.slice(6)).transaction_id);
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
