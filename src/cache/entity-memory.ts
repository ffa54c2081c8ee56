import { once } from "node:events";
import type { Redis, Result } from "ioredis";
import type { Counter } from "prom-client";
import type { Logger } from "../logger.ts";
import {
  ENTITY_BUCKET_MS,
  ENTITY_CAP,
  ENTITY_FEATURES,
  entityOf,
  type Sighting,
} from "../model/entity-features.ts";

/*
 * The scorer's side of the entity features (src/model/entity-features.ts has the definition): per
 * entity a sorted set of "<user>@<hour>" members scored by the first time that user was seen on it
 * in that hour. One script call per round answers and records every transaction of the round in
 * received order (a later transaction of the round sees the earlier ones), so a round costs one
 * round trip whatever its size. Recording is idempotent (ZADD NX): a round retried, a replay of a
 * processed range or several consumers seeing a transaction twice change nothing. Entries older
 * than the retention are trimmed on write and an idle entity expires after it, so memory follows
 * the traffic of the retention, not all time; a replay reaching further back than the retention
 * reads fewer other users than were there.
 *
 * Redis is a cache here too: when it is away, the round's entity values read 0 (counted in
 * sentinel_entity_memory_failures_total and logged) and scoring goes on; what those rounds saw is
 * not recorded.
 */

const OBSERVE = `
local retention = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local record = ARGV[3] == '1'
local bucket = tonumber(ARGV[4])
local out = {}
for i = 5, #ARGV, 4 do
  local key = KEYS[tonumber(ARGV[i])]
  local user = ARGV[i + 1]
  local t = tonumber(ARGV[i + 2])
  local from = t - tonumber(ARGV[i + 3])
  local others = {}
  local n = 0
  local offset = 0
  while n < cap do
    local page = redis.call('ZREVRANGEBYSCORE', key, '(' .. string.format('%d', t), string.format('%d', from), 'LIMIT', offset, 64)
    for _, m in ipairs(page) do
      local u = string.match(m, '^(.*)@%d+$')
      if u and u ~= user and not others[u] then
        others[u] = true
        n = n + 1
        if n >= cap then break end
      end
    end
    if #page < 64 then break end
    offset = offset + 64
  end
  out[#out + 1] = n
  if record then
    redis.call('ZADD', key, 'NX', string.format('%d', t), user .. '@' .. string.format('%d', math.floor(t / bucket)))
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', t - retention))
    redis.call('PEXPIRE', key, retention)
  end
end
return out`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** OBSERVE, registered by createEntityMemory with defineCommand. */
    sentinelEntityObserve(numKeys: number, ...args: Array<string | number>): Result<number[], Context>;
  }
}

export type EntityMemory = {
  /**
   * The entity values (ENTITY_FEATURES order) of each transaction, by transaction_id; `record`:
   * also remember them (a dry run only reads). Transactions in received order.
   */
  observe(sightings: readonly Sighting[], record: boolean): Promise<Map<string, Float64Array>>;
};

export function createEntityMemory({
  redis,
  keyPrefix,
  retentionMs,
  failures,
  logger,
}: {
  redis: Redis;
  keyPrefix: string;
  retentionMs: number;
  failures?: Counter;
  logger: Logger;
}): EntityMemory {
  redis.defineCommand("sentinelEntityObserve", { lua: OBSERVE });
  const keyOf = (i: number, entity: string) => `${keyPrefix}entity:v1:${ENTITY_FEATURES[i]!.kind}:${entity}`;
  let down = false;
  // A replay's first round may come before the client's connection: waited for once (up to 5 s,
  // or until the first connection error), so what it sees is recorded; later, never.
  let connected: Promise<unknown> | undefined;
  const firstConnection = () => {
    connected ??=
      redis.status === "ready"
        ? Promise.resolve()
        : once(redis, "ready", { signal: AbortSignal.timeout(5_000) });
    return connected.catch(() => {});
  };
  return {
    async observe(sightings, record) {
      const out = new Map<string, Float64Array>();
      const keys: string[] = [];
      const keyIndex = new Map<string, number>();
      const args: Array<string | number> = [retentionMs, ENTITY_CAP, record ? "1" : "0", ENTITY_BUCKET_MS];
      const slots: Array<[Float64Array, number]> = [];
      for (const s of sightings) {
        const values = new Float64Array(ENTITY_FEATURES.length);
        out.set(s.transactionId, values);
        ENTITY_FEATURES.forEach((f, i) => {
          const entity = entityOf(s, i);
          if (entity === undefined) return;
          const key = keyOf(i, entity);
          let k = keyIndex.get(key);
          if (k === undefined) {
            keys.push(key);
            k = keys.length; // Lua's KEYS is 1-based
            keyIndex.set(key, k);
          }
          args.push(k, s.user, s.receivedMs, f.windowMs);
          slots.push([values, i]);
        });
      }
      if (slots.length === 0) return out;
      await firstConnection();
      try {
        if (redis.status !== "ready") throw new Error(`redis ${redis.status}`);
        const counts = await redis.sentinelEntityObserve(keys.length, ...keys, ...args);
        slots.forEach(([values, i], k) => {
          values[i] = counts[k] ?? 0;
        });
        if (down) logger.info("entity memory back");
        down = false;
      } catch (error) {
        failures?.inc();
        // Once per outage, not once per round.
        if (!down)
          logger.warn({ err: (error as Error).message }, "entity memory unavailable; entity features read 0");
        down = true;
      }
      return out;
    },
  };
}
