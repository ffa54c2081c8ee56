import { randomUUID } from "node:crypto";
import type { KafkaMessage } from "kafkajs";
import type { Profile } from "../src/domain/profile.ts";
import { createDecodeOptions } from "../src/kafka/transaction-codec.ts";
import { defaultRuleSet } from "../src/rules/default-rule-set.ts";
import { scoringRules } from "../src/rules/scoring-rules.ts";
import { type ScoringDeps, scoreRound } from "../src/scoring/score-round.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import { createTransactionStore, type TransactionStore } from "../src/store/transaction-store.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * The cost of a transaction against its user's history (issue 21): users with 0, 10,000 and
 * 100,000 earlier transactions inside the default set's widest window (30 days), and new
 * transactions of each scored through the real round (PostgreSQL, the default rules; the messages
 * built here, no Kafka), 100 a round. Reported per size: time and history rows read per
 * transaction; the closing figure is the cost at 100,000 over the cost at 0 (issue 21's target:
 * at most 2). The earlier transactions are stored as the consumer stores them (storeDecided), so
 * the per-user state is written as it is live.
 */

export type HotUserSize = { history: number; msPerTx: number; historyRowsPerTx: number };
export type HotUser = { sizes: HotUserSize[]; costRatio100k: number };

const BENCH_ACTOR = { name: "bench", role: "admin" };

function message(user: string, offset: number): KafkaMessage {
  const tx = { transaction_id: randomUUID(), user_id: user, amount: "12.50", currency: "USD", country: "US" };
  return {
    key: Buffer.from(user),
    value: Buffer.from(JSON.stringify(tx)),
    timestamp: String(Date.now()),
    attributes: 0,
    offset: String(offset),
    headers: {},
  } as KafkaMessage;
}

/** `size` earlier transactions of `user`, one every 20 s going back, stored 5,000 a statement. */
async function storeHistory(store: TransactionStore, user: string, size: number): Promise<void> {
  const now = Date.now();
  for (let from = 0; from < size; from += 5_000) {
    const items = Array.from({ length: Math.min(5_000, size - from) }, (_, k) => {
      const i = from + k;
      const receivedMs = now - (size - i) * 20_000;
      const tx = {
        transaction_id: randomUUID(),
        user_id: user,
        amount: "10.00",
        currency: "USD",
        country: "US",
      };
      return {
        source: { tx, eventTimeMs: receivedMs, receivedMs, partition: 0, offset: i },
        decision: {
          transaction_id: tx.transaction_id,
          user_id: user,
          decision: "approve" as const,
          score: 0,
          reasons: [],
          rules_version: "bench",
          decided_at: new Date(now).toISOString(),
        },
      };
    });
    await store.storeDecided(items);
  }
}

export async function benchHotUser(
  services: Services,
  { sizes = [0, 10_000, 100_000], perSize = 500, perRound = 100 } = {},
): Promise<HotUser> {
  const sandbox = await createSandbox(services, { prefix: "bench" });
  const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 4 });
  try {
    const store = createTransactionStore({ pool });
    const profiles = createProfileStore({ pool });
    let rowsRead = 0;
    const deps: ScoringDeps = {
      store: {
        ...store,
        findHistory: async (users, fromMs, options) => {
          const rows = await store.findHistory(users, fromMs, options);
          rowsRead += rows.length;
          return rows;
        },
        loadUserState: async (request) => {
          const states = await store.loadUserState(request);
          for (const s of states.values()) rowsRead += s.buckets.length + s.edges.length + s.values.length;
          return states;
        },
      },
      profiles: {
        getMany: async (ids) => {
          const found = new Map<string, Profile | null>(
            (await profiles.getMany(ids)).map((p) => [p.user_id, p]),
          );
          for (const id of ids) if (!found.has(id)) found.set(id, null);
          return found;
        },
      },
      rules: scoringRules(defaultRuleSet(sandbox.config.rules), sandbox.config.rules.fxRates),
      decode: createDecodeOptions({ maxBytes: sandbox.config.kafka.messageMaxBytes }),
    };
    // Warm-up (JIT, connections), not measured: otherwise the first size pays for it.
    for (let k = 0; k < 5; k++)
      await scoreRound(deps, [
        {
          partition: 0,
          messages: Array.from({ length: perRound }, (_, j) => message("warm-up", k * perRound + j)),
        },
      ]);
    const results: HotUserSize[] = [];
    for (const size of sizes) {
      const user = `hot-${size}`;
      await profiles.upsert(
        user,
        {
          status: "active",
          risk_tier: "low",
          home_country: "US",
          currency: "USD",
          per_transaction_limit: "1000000",
          daily_limit: "100000000",
        },
        BENCH_ACTOR,
      );
      // Earlier transactions, one every 20 s going back (100,000 reach 23 days: inside the window).
      await storeHistory(store, user, size);
      // Once per user past STATE_AFTER transactions (a live round does it on first sight).
      const building = performance.now();
      if ((await store.buildUserState([user])).length > 0)
        log(
          `state of a user with ${size} transactions built in ${Math.round(performance.now() - building)} ms (once)`,
        );
      rowsRead = 0;
      const started = performance.now();
      for (let k = 0; k < perSize; k += perRound) {
        const messages = Array.from({ length: perRound }, (_, j) => message(user, size + 1 + k + j));
        await scoreRound(deps, [{ partition: 0, messages }]);
      }
      const msPerTx = (performance.now() - started) / perSize;
      results.push({
        history: size,
        msPerTx: Math.round(msPerTx * 1000) / 1000,
        historyRowsPerTx: Math.round((rowsRead / perSize) * 10) / 10,
      });
      log(
        `hot user with ${size} earlier transactions: ${msPerTx.toFixed(3)} ms and ${(rowsRead / perSize).toFixed(1)} history rows read per transaction`,
      );
    }
    const at = (n: number) => results.find((r) => r.history === n)?.msPerTx ?? Number.NaN;
    return { sizes: results, costRatio100k: Math.round((at(100_000) / at(0)) * 100) / 100 };
  } finally {
    await pool.end();
    await sandbox.cleanup();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const r = await benchHotUser(await benchServices(), quick ? { perSize: 200 } : {});
  console.log(JSON.stringify(r, null, 2));
  console.log(`hot_user_cost_ratio_100k=${r.costRatio100k}`);
}
