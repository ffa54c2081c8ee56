import { spawnSync } from "node:child_process";
import { loadConfig } from "../../src/config.ts";
import { brokerPaths } from "../../src/stack/kafka-broker.ts";

/*
 * Kafka's own perf tools, run from the same jars the local stack's broker runs (so the stack must
 * have been brought up once: `npm run stack:up`).
 */

function runTool(mainClass: string, args: string[], timeoutMs: number): string {
  const lib = brokerPaths(loadConfig().stackDir).lib;
  const r = spawnSync("java", ["-Xmx512m", "-cp", `${lib}/*`, mainClass, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (r.status !== 0) throw new Error(`${mainClass} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

export type ConsumerPerf = {
  messages: number;
  seconds: number;
  msgPerSec: number;
  fetchMsgPerSec: number;
  mbPerSec: number;
};

/** kafka-consumer-perf-test: reads `messages` from the start of `topic` with a fresh group. */
export function consumerPerfTest(
  brokers: string,
  topic: string,
  messages: number,
  group: string,
): ConsumerPerf {
  const out = runTool(
    "org.apache.kafka.tools.ConsumerPerformance",
    [
      "--bootstrap-server",
      brokers,
      "--topic",
      topic,
      "--messages",
      String(messages),
      "--group",
      group,
      "--timeout",
      "120000",
    ],
    300_000,
  );
  // header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  //         rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = out
    .trim()
    .split("\n")
    .at(-1)!
    .split(",")
    .map((s) => s.trim());
  const n = Number(line[4]);
  const fetchMs = Number(line[7]);
  return {
    messages: n,
    seconds: fetchMs / 1000,
    msgPerSec: Number(line[5]),
    fetchMsgPerSec: Number(line[9]),
    mbPerSec: Number(line[3]),
  };
}

export type ProducerPerf = {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  p99LatencyMs: number;
};

/** kafka-producer-perf-test: `records` of `size` bytes, acks=all, as fast as it can. */
export function producerPerfTest(
  brokers: string,
  topic: string,
  records: number,
  size: number,
): ProducerPerf {
  const out = runTool(
    "org.apache.kafka.tools.ProducerPerformance",
    [
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(size),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${brokers}`,
      "acks=all",
      "linger.ms=5",
    ],
    300_000,
  );
  // "... records sent, 123456.7 records/sec (30.1 MB/sec), 12.3 ms avg latency, ... 99th ..."
  const last = out.trim().split("\n").at(-1)!;
  const num = (re: RegExp) => Number(re.exec(last)?.[1] ?? Number.NaN);
  return {
    records: num(/^(\d+) records sent/),
    recordsPerSec: num(/([\d.]+) records\/sec/),
    mbPerSec: num(/\(([\d.]+) MB\/sec\)/),
    avgLatencyMs: num(/([\d.]+) ms avg latency/),
    p99LatencyMs: num(/([\d.]+) ms 99th/),
  };
}
