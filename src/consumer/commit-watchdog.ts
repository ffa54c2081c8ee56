import type { Admin, Kafka } from "kafkajs";
import type { GroupConsumer } from "../kafka/group-consumer.ts";
import type { Logger } from "../logger.ts";

/*
 * The last line of law 6 (issue 37's chaos runs): nothing durable is left uncommitted once a
 * partition goes quiet. A chunk's commit is sent without waiting and a later one covers a refused
 * one while messages keep coming (chunk-loop.ts, commit-retry.ts); a rebalance drops the refused
 * ones, trusting the rejoin to restart the partition from its committed offset. Two quick
 * rebalances while restarted static members came back (chaos, 2026-12-05) left four partitions
 * 130–200 messages short of the end for the whole drain: every message stored and published,
 * the group's committed offsets never moved again.
 *
 * So the scorer remembers, per partition, the offset after the last chunk it made durable (stored
 * and published: law 2's condition for a commit — it processes a partition in order from a
 * committed or moved-back offset, so everything before it is durable too). A partition of this
 * member that is idle, quiet for `quietMs`, and whose durable offset is past what this member last
 * committed is checked against the group's committed offset (one OffsetFetch for all of them), and
 * committed when that is behind; a quiet partition is checked once a minute anyway. It never
 * commits backwards (the group may have moved on while another member held the partition), never
 * a partition that is not assigned here, and costs one OffsetFetch a minute at most while commits
 * succeed. (The cause found in those runs — a refused commit sent again after a rejoin,
 * overwriting the new owner's — is fixed in scorer.ts; this is the net under the next one.)
 */

export type CommitWatchdogOptions = {
  quietMs: number;
  /** A quiet partition whose commits all succeeded is still checked this often (another member's commit may have overwritten ours). */
  verifyMs: number;
  /** The group's committed offsets (the coordinator's), by partition. */
  committed(): Promise<ReadonlyMap<number, bigint>>;
  /** Commits `offset` (the next to read) for a partition, in the current generation. */
  commit(partition: number, offset: string): Promise<void>;
  /** Whether nothing of the partition is queued or being worked on. */
  isIdle(partition: number): boolean;
  onRecommit?(event: { partition: number; committed: bigint | null; offset: bigint }): void;
  now?(): number;
};

export type CommitWatchdog = {
  /** A chunk ending before `next` is durable. */
  durable(partition: number, next: string): void;
  /** A commit of `next` succeeded. */
  committed(partition: number, next: string): void;
  /** The partitions this member holds now (each rejoin). */
  assigned(partitions: readonly number[]): void;
  /** Checks the quiet partitions once; the scorer calls it on a timer. */
  check(): Promise<void>;
};

const max = (a: bigint | undefined, b: bigint) => (a === undefined || b > a ? b : a);

export function createCommitWatchdog(options: CommitWatchdogOptions): CommitWatchdog {
  const now = options.now ?? Date.now;
  const durable = new Map<number, bigint>();
  const ours = new Map<number, bigint>();
  const lastMoved = new Map<number, number>();
  const verified = new Map<number, number>();
  let assigned = new Set<number>();
  let checking = false;

  return {
    durable(partition, next) {
      durable.set(partition, max(durable.get(partition), BigInt(next)));
      lastMoved.set(partition, now());
    },
    committed(partition, next) {
      ours.set(partition, max(ours.get(partition), BigInt(next)));
    },
    assigned(partitions) {
      assigned = new Set(partitions);
      lastMoved.clear(); // each held partition is given its quiet period again
      for (const p of partitions) {
        lastMoved.set(p, now());
        verified.set(p, now());
      }
    },
    async check() {
      if (checking) return;
      const behind = [...assigned].filter((p) => {
        const d = durable.get(p);
        return (
          d !== undefined &&
          (d > (ours.get(p) ?? -1n) || now() - (verified.get(p) ?? 0) >= options.verifyMs) &&
          options.isIdle(p) &&
          now() - (lastMoved.get(p) ?? 0) >= options.quietMs
        );
      });
      if (behind.length === 0) return;
      checking = true;
      try {
        const group = await options.committed();
        for (const p of behind) {
          verified.set(p, now());
          const offset = durable.get(p)!;
          const committed = group.get(p) ?? null;
          if (!assigned.has(p) || (committed !== null && committed >= offset)) {
            if (committed !== null) ours.set(p, max(ours.get(p), committed));
            continue;
          }
          options.onRecommit?.({ partition: p, committed, offset });
          await options.commit(p, offset.toString());
          ours.set(p, max(ours.get(p), offset));
        }
      } finally {
        checking = false;
      }
    },
  };
}

/**
 * The scorer's commit watchdog (commit-watchdog.ts): every 5 s, a quiet partition of this member
 * whose durable offset is past the group's committed one is committed (an OffsetFetch only then).
 */
export function watchCommits(
  options: { kafka: Kafka; groupId: string; topics: { transactions: string }; logger: Logger },
  group: GroupConsumer,
  stopping: () => boolean,
  isIdle: (partition: number) => boolean,
) {
  const { kafka, groupId, topics, logger } = options;
  const topic = topics.transactions;
  let admin: Admin | undefined;
  let held = new Set<number>();
  const watchdog = createCommitWatchdog({
    quietMs: 5_000,
    verifyMs: 60_000,
    isIdle,
    async committed() {
      if (!admin) {
        admin = kafka.admin();
        await admin.connect();
      }
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    },
    commit: (partition, offset) =>
      group.commit({ topic, partition, offset, current: () => !stopping() && held.has(partition) }),
    onRecommit: ({ partition, committed, offset }) =>
      logger.warn(
        { partition, committed: committed?.toString() ?? null, offset: offset.toString() },
        "durable offset left uncommitted: committing it",
      ),
  });
  group.consumer.on(group.consumer.events.GROUP_JOIN, ({ payload }) => {
    held = new Set(Object.values(payload.memberAssignment).flat());
    watchdog.assigned([...held]);
  });
  let timer: NodeJS.Timeout | undefined;
  // What each partition's worker (and the round in progress) waits on, and since when: one still
  // waiting after 30 s is logged once (what a partition that stopped moving was doing).
  const stages = new Map<string, { what: string; since: number; told: boolean }>();
  const tellStuck = () => {
    for (const [key, s] of stages)
      if (s.what !== "idle" && !s.told && Date.now() - s.since > 30_000) {
        s.told = true;
        logger.warn(
          { key, waiting: s.what, seconds: Math.round((Date.now() - s.since) / 1000) },
          "scorer work stuck",
        );
      }
  };
  return {
    durable: watchdog.durable,
    committed: watchdog.committed,
    stage(key: string, what: string) {
      const was = stages.get(key);
      if (was?.told && what === "idle")
        logger.info(
          { key, waited: was.what, seconds: Math.round((Date.now() - was.since) / 1000) },
          "scorer work moving again",
        );
      stages.set(key, { what, since: Date.now(), told: false });
    },
    start() {
      timer = setInterval(() => {
        tellStuck();
        if (stopping()) return;
        watchdog
          .check()
          .catch((error: Error) => logger.warn({ err: error.message }, "commit watchdog: check failed"));
      }, 5_000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await admin?.disconnect().catch(() => {});
    },
  };
}
