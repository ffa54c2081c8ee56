import { performance } from "node:perf_hooks";
import { findPans } from "../src/domain/pan.ts";

/*
 * The card-number scan runs on every request body (issue 35: it now reads more separators, full-
 * width digits and Unicode text). Its cost per body, in microseconds, on three bodies: a plain
 * transaction, one with metadata and free text, and one with non-ASCII text (the NFKC path).
 * `node bench/pan-scan.ts` alone, or a stage of `npm run bench`.
 */

const plain = {
  transaction_id: "0190a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
  user_id: "user-48213",
  amount: "129.95",
  currency: "EUR",
  timestamp: "2026-12-05T10:15:30.123+01:00",
  merchant_id: "merchant-7731",
  merchant_category: "5411",
  country: "DE",
  channel: "ecommerce",
  device_id: "dev-9f2c1e7a",
  ip: "203.0.113.77",
};
const rich = {
  ...plain,
  metadata: {
    order: "ORD-2026-12-05-000123",
    basket: "3 items: 2 x 19.99, 1 x 90.97",
    note: "deliver after 18:00, gate code 4471, call 0049 30 1234567",
    ref: "a9f3c2e1d0b4",
  },
};
const unicode = {
  ...rich,
  metadata: { ...rich.metadata, note: "Lieferung nach 18:00 Uhr — Tor 4471, Straße 12 ✓" },
};

export function benchPanScan(iterations = 200_000): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, body] of Object.entries({ plain, rich, unicode })) {
    for (let i = 0; i < 5_000; i++) findPans(body); // warm up
    const started = performance.now();
    let found = 0;
    for (let i = 0; i < iterations; i++) found += findPans(body).length;
    if (found !== 0) throw new Error(`the ${name} body holds no card number, yet ${found} were found`);
    out[`pan_scan_us_per_body_${name}`] = Number(
      (((performance.now() - started) * 1000) / iterations).toFixed(3),
    );
  }
  return out;
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  for (const [k, v] of Object.entries(benchPanScan(quick ? 50_000 : 200_000))) console.log(`${k}=${v}`);
}
