import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createMetrics } from "../../src/metrics.ts";
import { REPO_ROOT } from "../../src/paths.ts";

/*
 * The alert rules and the dashboard can only name metrics the service exports: a renamed metric
 * would otherwise leave an alert that never fires. Every alert is written the kube-prometheus way
 * and points at its runbook section.
 */

type Rule = {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
const alerts = parse(readFileSync(join(REPO_ROOT, "ops/prometheus/alerts.yml"), "utf8")) as {
  groups: Array<{ rules: Rule[] }>;
};
const rules = alerts.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "ops/grafana/sentinel.json"), "utf8")) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

/** Every metric name a process exports (histograms with their _bucket, _sum and _count series). */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}
const named = (expr: string) => [...expr.matchAll(/\bsentinel_[a-z0-9_]+/g)].map((m) => m[0]);

describe("ops/prometheus/alerts.yml and ops/grafana/sentinel.json", () => {
  it("name only metrics the service exports", async () => {
    const names = await exported();
    const unknown = [
      ...rules.flatMap((r) => named(r.expr).map((n) => `${r.alert}: ${n}`)),
      ...dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) => named(t.expr).map((n) => `${p.title}: ${n}`)),
      ),
    ].filter((entry) => !names.has(entry.split(": ").at(-1)!));
    expect(unknown).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
  });

  it("write every alert the kube-prometheus way, with a runbook section that exists", () => {
    const runbook = readFileSync(join(REPO_ROOT, "docs/operations.md"), "utf8");
    const anchors = new Set([...runbook.matchAll(/^### (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const r of rules) {
      expect(r.alert).toMatch(/^Sentinel[A-Z][A-Za-z]+$/);
      expect(["critical", "warning", "info"]).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
      expect(r.annotations?.description).toBeTruthy();
      expect(r.annotations?.runbook_url).toBe(`docs/operations.md#${r.alert.toLowerCase()}`);
      expect(anchors.has(r.alert.toLowerCase())).toBe(true);
    }
  });

  it("cover lag, dead letters, sync time-outs, decision mix, a stopped consumer, retries and each dependency", () => {
    const exprs = rules.map((r) => r.expr).join("\n");
    for (const metric of [
      "sentinel_consumer_lag_messages",
      "sentinel_dead_letters_total",
      "sentinel_sync_wait_total",
      "sentinel_decisions_total",
      "sentinel_consumer_retries_total",
    ])
      expect(exprs).toContain(metric);
    for (const check of ["consumer", "postgres", "redis", "kafka"])
      expect(exprs).toContain(`check="${check}"`);
  });
});
