/*
 * Features beyond one user's history (issue 36 §2): how many *other* users an entity of the
 * transaction was seen with lately — a transfer recipient or merchant paid by many people within
 * two days (a mule account, a ring cashing out), a device used by several people within a day.
 * A user's own history cannot see these; the scorer keeps them in Redis (src/cache/entity-memory.ts),
 * the trainer computes them from rows with `EntityTimeline` below, and both answer one definition:
 *
 *   value(tx) = min(CAP, |{ u ≠ tx.user : u was seen on tx's entity at a time in [t − window, t) }|)
 *
 * where "seen at" is the first transaction of u on that entity in each hour (an hour's later ones
 * add nothing to a distinct count, and the memory stays one entry per user and hour). Both sides
 * observe transactions in received order (then partition, offset) and query before recording, so
 * a transaction never counts itself and the same input gives the same values.
 */

export const ENTITY_FEATURES = [
  { name: "merchant_users_48h", field: "merchant_id", kind: "merchant", windowMs: 48 * 3_600_000 },
  { name: "device_users_24h", field: "device_id", kind: "device", windowMs: 24 * 3_600_000 },
] as const;

/** A count above this reads as this: the model needs "many", and the scan stops there. */
export const ENTITY_CAP = 32;

export const ENTITY_BUCKET_MS = 3_600_000;

/** The widest entity window (how far back the trainer reads other users' transactions). */
export const ENTITY_WINDOW_MS = Math.max(...ENTITY_FEATURES.map((f) => f.windowMs));

/** What the entity features read of a transaction: who, when, and its entities. */
export type Sighting = {
  transactionId: string;
  user: string;
  receivedMs: number;
  merchant_id?: string | undefined;
  device_id?: string | undefined;
};

/** The entity of a transaction for feature `i`, or undefined when it carries none. */
export const entityOf = (s: Sighting, i: number): string | undefined => s[ENTITY_FEATURES[i]!.field];

/** The bucket member recorded for a user's transaction at `t` (the Redis script builds the same). */
const bucketMember = (user: string, t: number) => `${user}@${Math.floor(t / ENTITY_BUCKET_MS)}`;

/**
 * The trainer's side: every entity's first-per-user-and-hour sightings in memory, observed in
 * received order. Exactly what the Redis script answers for the same sequence.
 */
export class EntityTimeline {
  /** Per feature, per entity: sightings (time, user) in time order, and the buckets recorded. */
  readonly #seen = ENTITY_FEATURES.map(
    () => new Map<string, { times: number[]; users: string[]; buckets: Set<string> }>(),
  );

  /** The transaction's entity values (ENTITY_FEATURES order), then records it. */
  observe(s: Sighting): Float64Array {
    const out = new Float64Array(ENTITY_FEATURES.length);
    const { user, receivedMs: t } = s;
    ENTITY_FEATURES.forEach((f, i) => {
      const entity = entityOf(s, i);
      if (entity === undefined) return;
      let e = this.#seen[i]!.get(entity);
      if (!e) {
        e = { times: [], users: [], buckets: new Set() };
        this.#seen[i]!.set(entity, e);
      }
      const others = new Set<string>();
      for (let k = e.times.length - 1; k >= 0 && others.size < ENTITY_CAP; k--) {
        const at = e.times[k]!;
        if (at < t - f.windowMs) break;
        if (at < t && e.users[k] !== user) others.add(e.users[k]!);
      }
      out[i] = others.size;
      const member = bucketMember(user, t);
      if (!e.buckets.has(member)) {
        e.buckets.add(member);
        // In received order, so the list stays sorted (ties keep their order).
        e.times.push(t);
        e.users.push(user);
      }
    });
    return out;
  }
}
