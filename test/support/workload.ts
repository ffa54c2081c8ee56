import { randomUUID } from "node:crypto";
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { prng } from "../../src/random.ts";
import type { OracleProfile, OracleTx } from "./oracle.ts";

const COUNTRIES = ["US", "GB", "DE", "FR", "ES", "CA", "JP", "BR", "IN", "NG"];

function formatAmount(cents: number, currency: string): string {
  if (currency === "JPY") return String(Math.max(1, Math.round(cents / 100)));
  const c = Math.max(1, cents);
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`;
}

/**
 * `count` distinct transactions over the seeded users (plus 2% unknown ones), deterministic for a
 * seed: amounts around each user's limit (some over), bursts that trip the velocity rule, some
 * foreign countries and foreign currencies, timestamps spread over the past hours.
 */
export function generateTransactions(
  count: number,
  users: readonly string[],
  profiles: ReadonlyMap<string, OracleProfile>,
  seed = 7,
): OracleTx[] {
  const rand = prng(seed);
  const start = Date.now() - 4 * 3_600_000;
  const out: OracleTx[] = [];
  let burstUser: string | undefined;
  let burstLeft = 0;
  for (let i = 0; i < count; i++) {
    let user: string;
    if (burstLeft > 0) {
      user = burstUser!;
      burstLeft--;
    } else if (rand() < 0.002) {
      burstUser = users[Math.floor(rand() * users.length)]!;
      burstLeft = 6;
      user = burstUser;
    } else if (rand() < 0.02) {
      user = `ghost-${Math.floor(rand() * 50)}`;
    } else {
      user = users[Math.floor(rand() * users.length)]!;
    }
    const p = profiles.get(user);
    const homeCurrency = p?.currency ?? "USD";
    const roll = rand();
    const currency = roll < 0.02 ? (homeCurrency === "EUR" ? "USD" : "EUR") : homeCurrency;
    const limit = p ? Number(p.per_transaction_limit) : 500;
    const cents = Math.round(limit * 100 * (0.02 + rand() * 0.5) * (rand() < 0.05 ? 3 : 1));
    out.push({
      transaction_id: randomUUID(),
      user_id: user,
      amount: formatAmount(cents, currency),
      currency,
      timestamp: new Date(start + i * 1_000).toISOString(),
      ...(rand() < 0.9
        ? {
            country:
              rand() < 0.85 ? (p?.home_country ?? "US") : COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!,
          }
        : {}),
    });
  }
  return out;
}

/**
 * A producer for tests: the default (key-hash) partitioner and idempotent, so a send retried under
 * load does not write a message twice — tests count messages on topics exactly.
 */
export function testProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
}

/** Produces transactions straight to the topic, keyed by user_id, in batches (acks=all). */
export async function produceTransactions(
  kafka: Kafka,
  topic: string,
  txs: readonly unknown[],
  batch = 1_000,
): Promise<void> {
  const producer = testProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < txs.length; i += batch) {
      await producer.send({
        topic,
        acks: -1,
        messages: txs.slice(i, i + batch).map((tx) => ({
          key: (tx as { user_id: string }).user_id,
          value: JSON.stringify(tx),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}
