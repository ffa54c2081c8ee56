import { randomFillSync } from "node:crypto";
import { v7 } from "uuid";

/*
 * UUIDv7 ids for transactions the ingress names. uuid's default asks the OS for 16 random bytes
 * per id, which showed up in the ingest profile; here the random bytes come from a pool refilled
 * 4 KiB at a time. Ids stay time-ordered by millisecond.
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

function random16(): Uint8Array {
  if (offset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  return bytes;
}

export function uuidv7(): string {
  return v7({ random: random16() });
}
