import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { writeChaosReport } from "../../chaos/report.ts";
import { runChaos, SHORT_RUN } from "../../chaos/run.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { waitForKafka } from "../../src/stack/initialize.ts";
import {
  type BrokerPaths,
  brokerPaths,
  ensureJars,
  formatStorage,
  runningPid,
  startBroker,
  stopBroker,
  writeBrokerProperties,
} from "../../src/stack/kafka-broker.ts";
import { freePorts } from "../support/ports.ts";

/*
 * Issue 15 in CI: the chaos harness shortened (3,000 transactions, one fault of each kind). It
 * runs in a vitest project of its own, after the other tests (groupOrder), on a broker of its own
 * (its own port and data directory, the stack's jars): the broker restart must not pull the shared
 * broker from under the other tests. PostgreSQL and Redis are the machine's, behind the harness's
 * proxies. The full run (100,000 transactions, three consumer kills) is `npm run chaos`.
 */

let paths: BrokerPaths;
let dir: string;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sentinel-chaos-"));
  const stack = brokerPaths(loadConfig().stackDir);
  ensureJars(stack, () => {});
  paths = { ...brokerPaths(dir), lib: stack.lib };
  port = await freePorts(2); // the broker's and, next to it, the controller's
  writeBrokerProperties(paths, port);
  formatStorage(paths);
  startBroker(paths, "512m");
  try {
    await waitForKafka(
      [`127.0.0.1:${port}`],
      createLogger({ log: { level: "fatal", pretty: false } }),
      90_000,
    );
  } catch (error) {
    const tails = ["server.log", "stdout.log"].map((name) => {
      const file = join(paths.logs, name);
      const text = existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-30).join("\n") : "(none)";
      return `--- the chaos broker's ${name} (last 30 lines) ---\n${text}`;
    });
    throw new Error([(error as Error).message, ...tails].join("\n"));
  }
}, 120_000);

afterAll(async () => {
  if (paths) await stopBroker(paths, 10_000);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("keeps every law through a consumer, an ingress and the broker killed, PostgreSQL and Redis cut, PostgreSQL slowed, fuzzed bodies, the webhook receiver down", async () => {
  const services = inject("services");
  // The harness's log, kept: a broken law's message carries its last lines (why events were missing).
  const logged: string[] = [];
  const result = await runChaos({
    ...SHORT_RUN,
    seed: 15,
    services: { ...services, kafkaBrokers: `127.0.0.1:${port}`, schemaRegistryUrl: undefined },
    broker: {
      kill: () => {
        const pid = runningPid(paths);
        if (pid === undefined) throw new Error("the chaos broker is not running");
        process.kill(pid, "SIGKILL");
      },
      start: () => void startBroker(paths, "512m"),
    },
    log: process.env.CHAOS_LOG
      ? undefined
      : (line: string) => {
          logged.push(line);
          if (logged.length > 400) logged.splice(0, 200);
        },
  });
  await writeChaosReport(result, dir);
  const f = result.figures;
  expect(
    result.broken,
    [
      ...result.lostDetail,
      ...result.wrongDetail,
      "--- the harness's last lines ---",
      ...logged.slice(-60),
    ].join("\n"),
  ).toEqual([]);
  expect(f).toMatchObject({
    lost: 0,
    duplicated: 0,
    wrong_decisions: 0,
    unpublished: 0,
    poison_sent: 8,
    poison_dead_lettered: 8,
    stalled_partitions: 0,
    http_5xx: 0,
    fuzz_bodies: 300,
    webhooks_lost: 0,
    webhooks_id_mismatches: 0,
    webhooks_bad_signatures: 0,
  });
  // Reviews and declines happened, and reached the receiver through its outage.
  expect(f.webhooks_expected).toBeGreaterThan(0);
  expect(f.webhooks_received).toBe(f.webhooks_expected);
  // One fault of each kind was injected: consumer, ingress, broker, PostgreSQL cut, Redis cut,
  // delay, the webhook receiver down.
  const faults = result.events.filter((e) => e.kind === "fault").map((e) => e.name);
  expect(faults).toHaveLength(7);
  for (const kind of [
    /consumer/,
    /ingest/,
    /broker/,
    /PostgreSQL cut/,
    /Redis cut/,
    /PostgreSQL delayed/,
    /webhook receiver down/,
  ])
    expect(
      faults.some((name) => kind.test(name)),
      String(kind),
    ).toBe(true);
  expect(f.faults_injected).toBe(7);
  expect(typeof f.recovery_s_after_broker_restart).toBe("number");
  // Measured, not yet bounded (issue 22 sets the targets on a 3-broker cluster).
  expect(typeof f.stall_s_after_consumer_kill).toBe("number");
  // The longest stretch without a commit fits inside the run's timeline.
  const lastSample = result.timeline.at(-1)!.atS;
  expect(Number.isFinite(f.max_commit_gap_s)).toBe(true);
  expect(f.max_commit_gap_s).toBeLessThanOrEqual(lastSample);
  // Every transaction is accounted for: accepted, or given up by the gateway after 90 s of retries.
  expect(f.accepted + f.gave_up).toBe(3_000);
  expect(f.accepted).toBeGreaterThanOrEqual(2_850);
  // The lag was measured (the timeline has samples with the broker up).
  expect(result.timeline.filter((s) => s.lag !== null).length).toBeGreaterThan(10);
}, 600_000);
