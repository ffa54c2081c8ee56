import { randomUUID } from "node:crypto";
import type { KafkaMessage } from "kafkajs";
import { sql } from "slonik";
import { type ScoringDeps, scoreRound } from "../src/consumer/score-round.ts";
import type { Profile } from "../src/domain/profile.ts";
import { createDecodeOptions } from "../src/kafka/transaction-codec.ts";
import { defaultRuleSet } from "../src/rules/default-rule-set.ts";
import { scoringRules } from "../src/rules/scoring-rules.ts";
import { createSandbox, type Services } from "../src/stack/sandbox.ts";
import { createDatabasePool } from "../src/store/pool.ts";
import { createProfileStore } from "../src/store/profile-store.ts";
import { createTransactionStore } from "../src/store/transaction-store.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * The cost of a transaction against its user's history (issue 21): users with 0, 10,000 and
 * 100,000 earlier transactions inside the default set's widest window (30 days), and new
 * transactions of each scored through the real round (PostgreSQL, the default rules; the messages
 * built here, no Kafka), 100 a round. Reported per size: time and history rows read per
 * transaction; the closing figure is the cost at 100,000 over the cost at 0 (issue 21's target:
 * at most 2).
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
        findHistory: async (users, fromMs) => {
          const rows = await store.findHistory(users, fromMs);
          rowsRead += rows.length;
          return rows;
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
      await pool.query(sql.unsafe`
        INSERT INTO transactions (transaction_id, user_id, amount, currency, event_time, received_at,
          source_partition, source_offset, country)
        SELECT gen_random_uuid(), ${user}, 10.00, 'USD', now() - i * interval '20 seconds',
          now() - i * interval '20 seconds', 0, ${size} - i, 'US'
        FROM generate_series(1, ${size}) AS i`);
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
        historyRowsPerTx: Math.round(rowsRead / perSize),
      });
      log(
        `hot user with ${size} earlier transactions: ${msPerTx.toFixed(3)} ms and ${Math.round(rowsRead / perSize)} history rows read per transaction`,
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
