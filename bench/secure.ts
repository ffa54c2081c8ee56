import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { secureStackUp } from "../src/stack/secure-stack.ts";
import { benchE2e, type E2eRate } from "./e2e.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench -- --secure` (issue 34), also `node bench/secure.ts [--quick]`: the sync answer at
 * 1,000 tx/s on the plain stack and on the secured one (Kafka SASL_SSL with a principal per
 * process, PostgreSQL over TLS as the runtime role, Redis over TLS with an ACL user), in the same
 * run, rounds of each: what TLS and SASL cost the pipeline.
 */

export type SecureBench = { plain: E2eRate; secure: E2eRate; seconds: number };

export async function benchSecure({ seconds = 10, rounds = 3 } = {}): Promise<SecureBench> {
  const services = await benchServices();
  const config = loadConfig({ ...process.env, KAFKA_BROKERS: "", DATABASE_URL: "", REDIS_URL: "" });
  const envs = await secureStackUp(
    config,
    createLogger({ log: { level: "warn", pretty: false } }, "bench-secure"),
  );
  log("sync e2e at 1,000 tx/s: the plain stack");
  const plain = (await benchE2e(services, { rates: [1000], seconds, rounds, search: false, idleSeconds: 1 }))
    .rates[0]!;
  log("sync e2e at 1,000 tx/s: the secured stack");
  const secure = (
    await benchE2e(services, {
      rates: [1000],
      seconds,
      rounds,
      search: false,
      idleSeconds: 1,
      stackEnv: { ingest: envs.ingest, consumer: envs.scorer },
    })
  ).rates[0]!;
  return { plain, secure, seconds };
}

/** The closing lines: every one starts with secure_ (the plain stack's figures as secure_plain_*). */
export function secureLines(b: SecureBench): Record<string, string | number> {
  const perSec = (r: E2eRate) => Math.round(r.decided / b.seconds);
  return {
    secure_decided_per_sec_at_1000: perSec(b.secure),
    secure_plain_decided_per_sec_at_1000: perSec(b.plain),
    secure_decided_ratio_at_1000: b.secure.decidedRatio,
    secure_plain_decided_ratio_at_1000: b.plain.decidedRatio,
    secure_sync_p99_ms_at_1000: b.secure.latencyMs.p99,
    secure_plain_sync_p99_ms_at_1000: b.plain.latencyMs.p99,
    secure_sync_p50_ms_at_1000: b.secure.latencyMs.p50,
    secure_plain_sync_p50_ms_at_1000: b.plain.latencyMs.p50,
    secure_ratio_p99_over_plain: (b.secure.latencyMs.p99 / b.plain.latencyMs.p99).toFixed(3),
  };
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const b = await benchSecure(quick ? { seconds: 5, rounds: 1 } : {});
  for (const [k, v] of Object.entries(secureLines(b))) console.log(`${k}=${v}`);
}
