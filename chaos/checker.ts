import { pollUntil } from "../src/poll.ts";
import {
  DEFAULT_SETTINGS,
  type OracleTx,
  oracleDecideAll,
  oracleInputFromTopic,
  sameDecision,
} from "../test/support/oracle.ts";
import { storedProfiles } from "../test/support/profiles.ts";
import type { ReadMessage } from "../test/support/topics.ts";
import { readAll } from "../test/support/topics.ts";
import type { Harness } from "./harness.ts";
import type { Load } from "./load.ts";
import type { ChaosFigures } from "./types.ts";
import { checkWebhooks } from "./webhooks.ts";

/*
 * The independent checker: once the group has drained, it reads PostgreSQL and the topics itself
 * and compares every live decision with the test oracle (test/support/oracle.ts, a second
 * implementation of the rules), and says where each lost transaction and each wrong decision is.
 */

export type Verdict = {
  figures: ChaosFigures;
  broken: string[];
  lostDetail: string[];
  wrongDetail: string[];
};

type StoredDecision = { id: string; decision: string; score: number; reasons: string[] };

/** Waits (bounded) until the group has no lag; the partitions still behind otherwise. */
export async function drain(h: Harness): Promise<number[]> {
  h.phase = "drain";
  let behind: number[] = [];
  const drained = await pollUntil(
    async () => {
      const g = await h.groupNow(5_000);
      behind = g.partitions.filter((p) => p.lag > 0n).map((p) => p.partition);
      return g.totalLag === 0n;
    },
    { timeoutMs: 240_000, everyMs: 2_000 },
  );
  h.event("load", drained ? "drained" : "not drained after 240 s");
  return drained ? [] : behind.length > 0 ? behind : [-1];
}

export async function check(
  h: Harness,
  load: Load,
  {
    behind,
    recoveryS,
    killRecoveryS,
    stallS,
  }: { behind: number[]; recoveryS: number | "n/a"; killRecoveryS: number | "n/a"; stallS: number | "n/a" },
): Promise<Verdict> {
  const { db, sandbox } = h;
  const ids = [...h.accepted];
  const { rows: storedRows } = await db.query<{ id: string; live: number }>(
    `SELECT t.transaction_id::text AS id, count(d.transaction_id) FILTER (WHERE d.live)::int AS live
     FROM transactions t LEFT JOIN decisions d ON d.transaction_id = t.transaction_id
     WHERE t.transaction_id = ANY($1::uuid[]) GROUP BY t.transaction_id`,
    [ids],
  );
  const stored = new Map(storedRows.map((r) => [r.id, r]));
  const duplicated = storedRows.filter((r) => r.live !== 1).length;
  // The oracle, from the topic order and the profiles (rewritten with the same values).
  const messages = await readAll(sandbox.kafka, h.topic, 300_000);
  // A direct send the broker acknowledged that never reached the topic was lost between the
  // harness's own kafkajs producer and the cluster (kafkajs#1303, open: "losing data when one node
  // of the cluster is lost"), before the pipeline's first step: reported on its own line, not as
  // the pipeline's loss. Everything accepted over HTTP, and every direct send on the topic, counts.
  const onTopic = new Set<string>();
  for (const m of messages) {
    const id = /"transaction_id":"([0-9a-f-]{36})"/.exec(m.value?.toString() ?? "")?.[1];
    if (id) onTopic.add(id);
  }
  const missing = ids.filter((id) => !stored.has(id));
  const directNotOnTopic = missing.filter((id) => load.directIds.has(id) && !onTopic.has(id));
  const lostIds = missing.filter((id) => !directNotOnTopic.includes(id));
  const profileRows = await storedProfiles(db);
  // What the consumer dead-letters besides (schema violations, card numbers) is not decided.
  const valid = (tx: OracleTx) => Number(tx.amount) > 0 && !(tx as { device_id?: string }).device_id;
  const inTopicOrder = oracleInputFromTopic(messages, valid);
  const expected = oracleDecideAll(
    DEFAULT_SETTINGS,
    inTopicOrder,
    new Map(profileRows.map((r) => [r.user_id, r])),
  );
  const { rows: decisions } = await db.query<StoredDecision>(
    "SELECT transaction_id::text AS id, decision, score, reasons FROM decisions WHERE live",
  );
  const wrongIds = decisions.filter((d) => !sameDecision(expected.get(d.id), d)).map((d) => d.id);
  const letters = await readAll(sandbox.kafka, sandbox.config.kafka.topics.dlq, 60_000);
  const reasons = new Set(letters.map((l) => l.headers?.["x-error-reason"]?.toString()));
  const poisonLettered =
    load.stats.poisonSent === 0 ? 0 : load.poison.filter((p) => reasons.has(p.reason)).length;
  const published = new Set(
    (await readAll(sandbox.kafka, sandbox.config.kafka.topics.decisions, 300_000)).map(
      (m) => JSON.parse(m.value!.toString()).transaction_id as string,
    ),
  );
  const lostDetail = whereLost(lostIds, messages, letters, load.directIds);
  for (const id of directNotOnTopic.slice(0, 20))
    h.log(`direct send ${id}: acknowledged by the broker, not on the topic (kafkajs#1303)`);
  for (const line of lostDetail) h.log(line);
  const wrongDetail = await whyWrong(h, wrongIds, decisions, expected, messages);
  for (const line of wrongDetail) h.log(line);

  // The oracle decides each id once: what the topic holds beyond that are repeats (retries).
  const topicDuplicates = [...inTopicOrder.values()].reduce((n, l) => n + l.length, 0) - expected.size;
  const figures: ChaosFigures = {
    accepted: h.accepted.size,
    gave_up: load.stats.gaveUp + load.stats.directFailed,
    topic_messages: messages.length,
    topic_duplicates: topicDuplicates,
    lost: lostIds.length,
    direct_acked_not_on_topic: directNotOnTopic.length,
    duplicated,
    wrong_decisions: wrongIds.length,
    unpublished: ids.filter((id) => !published.has(id) && !directNotOnTopic.includes(id)).length,
    poison_sent: load.poison.length,
    poison_dead_lettered: poisonLettered,
    stalled_partitions: behind.length,
    http_5xx: load.stats.http5xx,
    fuzz_bodies: load.stats.fuzzSent,
    profile_rewrites: load.stats.rewrites,
    faults_injected: h.faultCount(),
    max_lag: Math.max(0, ...h.timeline.map((s) => s.lag ?? 0)),
    recovery_s_after_broker_restart: recoveryS,
    recovery_s_after_broker_kill: killRecoveryS,
    stall_s_after_consumer_kill: stallS,
    max_commit_gap_s: maxCommitGapS(h.timeline),
    ...(await checkWebhooks(h, h.receiver)),
  };
  return { figures, broken: brokenLaws(figures, h.harnessErrors), lostDetail, wrongDetail };
}

/**
 * The longest stretch in which the group committed nothing while it had lag, from the timeline:
 * from the last sample that showed progress (or no lag) to a later one that still shows none; a
 * sample without an answer (the broker away) shows none. Resolution: the sample period.
 */
export function maxCommitGapS(timeline: readonly TimelineSample[]): number {
  return longestCommitGap(timeline).seconds;
}

type TimelineSample = { atS: number; committed: number | null; lag: number | null };

/** The longest commit gap and where it lies on the run's clock (the report names the faults then). */
export function longestCommitGap(timeline: readonly TimelineSample[]): {
  seconds: number;
  fromS: number;
  toS: number;
} {
  let max = { seconds: 0, fromS: 0, toS: 0 };
  let lastProgressAt: number | undefined;
  let last: number | undefined;
  for (const s of timeline) {
    const progressed = s.committed !== null && last !== undefined && s.committed > last;
    if (s.committed !== null) last = s.committed;
    if (lastProgressAt === undefined || progressed || s.lag === 0) lastProgressAt = s.atS;
    else if (s.atS - lastProgressAt > max.seconds)
      max = { seconds: s.atS - lastProgressAt, fromS: lastProgressAt, toS: s.atS };
  }
  const round = (n: number) => Math.round(n * 10) / 10;
  return { seconds: round(max.seconds), fromS: round(max.fromS), toS: round(max.toS) };
}

/** One line per law that broke (empty: every law held). */
function brokenLaws(f: ChaosFigures, harnessErrors: readonly string[]): string[] {
  return [
    f.lost > 0 && `${f.lost} accepted transactions not stored`,
    f.duplicated > 0 && `${f.duplicated} transactions without exactly one live decision`,
    f.wrong_decisions > 0 && `${f.wrong_decisions} decisions differ from the oracle`,
    f.unpublished > 0 && `${f.unpublished} accepted transactions never on the decisions topic`,
    f.poison_dead_lettered < f.poison_sent &&
      `${f.poison_sent - f.poison_dead_lettered} poison messages not dead-lettered with their reason`,
    f.stalled_partitions > 0 && `${f.stalled_partitions} partitions left with lag`,
    f.http_5xx > 0 && `${f.http_5xx} HTTP answers were a 5xx other than 503`,
    f.webhooks_lost > 0 && `${f.webhooks_lost} webhook events never delivered`,
    f.webhooks_id_mismatches > 0 &&
      `${f.webhooks_id_mismatches} webhook events delivered under different webhook-ids`,
    f.webhooks_bad_signatures > 0 &&
      `${f.webhooks_bad_signatures} webhook requests with a signature that does not verify`,
    ...harnessErrors.map((e) => `the harness failed a step: ${e}`),
  ].filter((x): x is string => typeof x === "string");
}

/** Where each lost transaction is (at most 20): on the topic (and not stored), dead-lettered, or nowhere. */
function whereLost(
  lostIds: readonly string[],
  messages: readonly ReadMessage[],
  letters: readonly ReadMessage[],
  directIds: ReadonlySet<string>,
): string[] {
  return lostIds.slice(0, 20).map((id) => {
    const onTopic = messages.find((m) => m.value?.toString().includes(id));
    const letter = letters.find((l) => l.value?.toString().includes(id));
    return `lost ${id} (${directIds.has(id) ? "direct" : "http"}): ${onTopic ? `on the topic at ${onTopic.partition}:${onTopic.offset}` : "not on the topic"}${letter ? `, dead-lettered: ${letter.headers?.["x-error"]?.toString()}` : ""}`;
  });
}

/**
 * What each wrong decision was made from (at most 10): the stored row, every copy on the topic,
 * and the user's earlier transactions as the topic and the table hold them.
 */
async function whyWrong(
  h: Harness,
  wrongIds: readonly string[],
  decisions: readonly StoredDecision[],
  expected: ReturnType<typeof oracleDecideAll>,
  messages: readonly ReadMessage[],
): Promise<string[]> {
  const lines: string[] = [];
  for (const id of wrongIds.slice(0, 10)) {
    const d = decisions.find((x) => x.id === id)!;
    const e = expected.get(id);
    const { rows } = await h.db.query<{ user_id: string; p: number; o: string; r: Date }>(
      "SELECT user_id, source_partition AS p, source_offset::text AS o, received_at AS r FROM transactions WHERE transaction_id = $1",
      [id],
    );
    const row = rows[0];
    const copies = messages
      .filter((m) => m.value?.toString().toLowerCase().includes(id))
      .map((m) => `${m.partition}:${m.offset}@${m.timestamp}`);
    const { rows: before } = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM transactions WHERE user_id = $1 AND source_partition = $2
         AND source_offset < $3 AND received_at > $4::timestamptz - interval '60 seconds'`,
      [row?.user_id, row?.p, row?.o, row?.r],
    );
    lines.push(
      `wrong ${id} user ${row?.user_id}: stored ${d.decision}/${d.score}/${[...d.reasons].sort()} at ${row?.p}:${row?.o} received ${row?.r?.getTime()}; oracle ${e ? `${e.decision}/${e.score}/${e.reasons}` : "none"}; copies on the topic ${copies.join(" ")}; stored earlier within 60 s: ${before[0]?.n}`,
    );
  }
  return lines;
}
