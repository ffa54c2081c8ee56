import { describe, expect, it } from "vitest";
import {
  createDecodeOptions,
  decodeTransaction,
  encodeTransaction,
} from "../../../src/kafka/transaction-codec.ts";

const tx = {
  transaction_id: "0190a6e4-8e3c-7c53-a2b1-1f2e3d4c5b6a",
  user_id: "u1",
  amount: "10.00",
  currency: "USD",
  timestamp: "2026-01-01T00:00:00Z",
};
const message = (value: Buffer | null, key: string | null = "u1", timestamp = "1767225600000") => ({
  key: key === null ? null : Buffer.from(key),
  value,
  timestamp,
});
const options = createDecodeOptions({ maxBytes: 16_384 });

describe("transaction codec", () => {
  it("round-trips plain JSON", () => {
    const d = decodeTransaction(message(encodeTransaction(tx)), options);
    expect(d).toMatchObject({
      ok: true,
      tx,
      eventTimeMs: Date.parse(tx.timestamp),
      receivedMs: 1767225600000,
      schemaId: undefined,
    });
  });

  it("reads Confluent-framed values with a known schema id", () => {
    const framed = encodeTransaction(tx, 7);
    expect(framed[0]).toBe(0);
    expect(framed.readUInt32BE(1)).toBe(7);
    const d = decodeTransaction(message(framed), { ...options, isKnownSchemaId: (id) => id === 7 });
    expect(d).toMatchObject({ ok: true, schemaId: 7 });
  });

  it("uses the Kafka timestamp when the message has none", () => {
    const { timestamp: _drop, ...rest } = tx;
    const d = decodeTransaction(message(encodeTransaction(rest)), options);
    expect(d.ok && d.eventTimeMs).toBe(1767225600000);
  });

  it("checks the timestamp against the message's own Kafka timestamp, not the wall clock", () => {
    const body = encodeTransaction(tx); // 2026-01-01T00:00:00Z
    const day = 86_400_000;
    const at = (ms: number) => decodeTransaction(message(body, "u1", String(ms)), options);
    expect(at(Date.parse(tx.timestamp) + 7 * day).ok).toBe(true);
    const old = at(Date.parse(tx.timestamp) + 7 * day + 1);
    expect(!old.ok && old.detail).toMatch(/timestamp: must not be more than 7 days old/);
    expect(at(Date.parse(tx.timestamp) - 5 * 60_000).ok).toBe(true);
    const ahead = at(Date.parse(tx.timestamp) - 5 * 60_000 - 1);
    expect(!ahead.ok && ahead.reason).toBe("schema_violation");
    const tighter = createDecodeOptions({ maxBytes: 16_384, maxAgeMs: 3_600_000 });
    const r = decodeTransaction(message(body, "u1", String(Date.parse(tx.timestamp) + 3_600_001)), tighter);
    expect(!r.ok && r.detail).toMatch(/more than 1 hours old/);
  });

  it.each([
    ["empty value", message(null), "empty_value"],
    ["missing key", message(encodeTransaction(tx), null), "missing_key"],
    ["key is not the user", message(encodeTransaction(tx), "u2"), "key_mismatch"],
    ["not JSON", message(Buffer.from("{nope")), "not_json"],
    ["oversized", message(Buffer.alloc(20_000, 0x20)), "oversized"],
    ["schema violation", message(Buffer.from(JSON.stringify({ ...tx, amount: "-1" }))), "schema_violation"],
    [
      "card number",
      message(Buffer.from(JSON.stringify({ ...tx, device_id: "4111111111111111" }))),
      "pan_not_allowed",
    ],
    ["unknown schema id", message(encodeTransaction(tx, 99)), "unknown_schema_id"],
    ["truncated frame", message(Buffer.from([0, 0, 1])), "not_json"],
  ])("dead-letters %s", (_name, m, reason) => {
    const d = decodeTransaction(m, options);
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toBe(reason);
  });
});
