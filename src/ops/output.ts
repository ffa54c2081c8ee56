import Table from "cli-table3";
import type { Config } from "../config.ts";
import { maskPans } from "../domain/pan.ts";
import { framedSchemaId } from "../kafka/transaction-codec.ts";
import type { Logger } from "../logger.ts";
import { createRuntime, type Runtime } from "../runtime.ts";

/*
 * What the SRE commands share for their output: stdout lines, plain tables, value previews, one
 * JSON printer that writes 64-bit offsets (bigint) as decimal strings, and the runtime they run in.
 */

export const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

/** JSON with every bigint written as its decimal string (offsets are 64-bit). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** A plain table: no colours, no lines between rows (pipes into grep and files cleanly). */
export function newTable(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
}

/** A one-line preview of a message value: framed ids shown, card numbers masked (law 7). */
export function printable(value: Buffer | null, width: number): string {
  if (!value) return "(none)";
  const id = framedSchemaId(value);
  const text = id === undefined ? value.toString("utf8") : `[id ${id}] ${value.subarray(5).toString("utf8")}`;
  // Letters written before masking existed may hold card numbers: never print one.
  const clean = maskPans(text).replace(/[^\x20-\x7e]/g, "·");
  return clean.length > width ? `${clean.slice(0, width - 1)}…` : clean;
}

/** Runs `run` with a runtime whose producer is connected, closing it afterwards. */
export async function withRuntime<T>(
  config: Config,
  logger: Logger,
  run: (rt: Runtime) => Promise<T>,
): Promise<T> {
  const rt = await createRuntime(config, logger);
  try {
    await rt.producer.ready(60_000);
    return await run(rt);
  } finally {
    await rt.close();
  }
}
