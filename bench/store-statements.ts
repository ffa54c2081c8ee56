import pg from "pg";
import { createSandbox } from "../src/stack/sandbox.ts";
import { createDatabasePool, type DatabasePool } from "../src/store/pool.ts";
import { createTransactionStore } from "../src/store/transaction-store.ts";
import { storedItem } from "../test/support/stored-items.ts";
import { cpuSpent, sampleCpu, stackPids } from "./lib/cpu.ts";
import { benchServices, log } from "./lib/services.ts";

/*
 * `npm run bench:store [-- --quick]` (issue 38): what each index of the stored transaction costs
 * PostgreSQL; `-- --round`: what each statement of a live round costs it (roundStatements).
 * For each variant of the schema — as migrated, and with one index dropped or
 * changed — a database of its own is preloaded with a history, then the scorer's own statement
 * (storeDecided) stores more rounds of the sync path's size (25: 25 ms of 1,000 tx/s) and of a
 * backlog's (1,000). The figure is PostgreSQL's CPU (every postgres process, from /proc) per
 * stored transaction; the variants alternate, twice, so the machine's drift is shared.
 */

type Variant = { name: string; ddl: string[] };

/** A statement built from each partition's name `p` (the weekly partitions carry their own keys). */
const onPartitions = (like: string, statement: string) => `
  DO $$ DECLARE p text; BEGIN
    FOR p IN SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE '${like}' LOOP
      EXECUTE ${statement};
    END LOOP;
  END $$`;

const VARIANTS: Variant[] = [
  { name: "as_migrated", ddl: [] },
  {
    name: "no_decisions_one_live",
    ddl: [onPartitions("decisions_%", "format('DROP INDEX IF EXISTS %I', p || '_one_live')")],
  },
  { name: "no_decisions_live_decided_at", ddl: ["DROP INDEX decisions_live_decided_at"] },
  {
    name: "brin_decisions_decided_at",
    ddl: [
      "DROP INDEX decisions_live_decided_at",
      "CREATE INDEX decisions_live_decided_at ON decisions USING brin (decided_at) WHERE live",
    ],
  },
  {
    name: "narrow_user_received",
    ddl: [
      "DROP INDEX transactions_user_received",
      "CREATE INDEX transactions_user_received ON transactions (user_id, received_at)",
    ],
  },
  { name: "no_user_received", ddl: ["DROP INDEX transactions_user_received"] },
];

function items(n: number, users: number, offset: { next: number }) {
  const now = Date.now();
  return Array.from({ length: n }, () => {
    const o = offset.next++;
    return storedItem({
      userId: `u-${(o * 7919) % users}`,
      receivedMs: now - 3_600_000 + o,
      partition: o % 12,
      offset: o,
      amount: `${(o % 9_000) + 1}.25`,
      review: o % 50 === 0,
    });
  });
}

async function run(
  pool: DatabasePool,
  url: string,
  variant: Variant,
  size: { preload: number; sync: number; backlog: number },
) {
  const store = createTransactionStore({ pool });
  const offset = { next: 0 };
  const users = 20_000;
  for (let i = 0; i < size.preload; i += 2_000) await store.storeDecided(items(2_000, users, offset));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (const statement of [...variant.ddl, "VACUUM ANALYZE transactions, decisions, cases, user_positions"])
      await admin.query(statement);
  } finally {
    await admin.end();
  }
  const roles = stackPids({});
  const measure = async (round: number, total: number) => {
    const batches = Array.from({ length: total / round }, () => items(round, users, offset));
    const before = sampleCpu(roles);
    const started = performance.now();
    for (const b of batches) await store.storeDecided(b);
    const seconds = (performance.now() - started) / 1000;
    const pgMs = cpuSpent(before, sampleCpu(stackPids({}))).postgresql ?? 0;
    return { usPerTx: (pgMs * 1000) / total, wallUsPerTx: (seconds * 1e6) / total };
  };
  const sync = await measure(25, size.sync);
  const backlog = await measure(1_000, size.backlog);
  return { sync, backlog };
}

/**
 * PostgreSQL's CPU per transaction for each statement of a live round of 25, apart: the three
 * reads of load_context (src/scoring/load-context.ts) and the store, 400 rounds each, over a
 * history of 5,000 users (the shape of bench/e2e.ts's load).
 */
async function roundStatements(pool: DatabasePool, rounds: number) {
  const store = createTransactionStore({ pool });
  const offset = { next: 0 };
  const users = 5_000;
  for (let i = 0; i < 50_000; i += 2_000) await store.storeDecided(items(2_000, users, offset));
  const batches = Array.from({ length: rounds }, () => items(25, users, offset));
  const ids = (b: (typeof batches)[number]) => b.map((x) => x.source.tx.transaction_id);
  const usersOf = (b: (typeof batches)[number]) => [...new Set(b.map((x) => x.source.tx.user_id))];
  const from = Date.now() - 2 * 3_600_000;
  const statements: Array<[string, (b: (typeof batches)[number]) => Promise<unknown>]> = [
    ["find_live_decisions", (b) => store.findLiveDecisions(ids(b))],
    [
      "load_user_state",
      (b) => store.loadUserState({ users: usersOf(b), buckets: [], edges: [], recentValues: [], values: [] }),
    ],
    ["find_history", (b) => store.findHistory(usersOf(b), from, { withoutState: true })],
    ["store_decided", (b) => store.storeDecided(b)],
  ];
  const out: Record<string, number> = {};
  for (const [name, statement] of statements) {
    const before = sampleCpu(stackPids({}));
    for (const b of batches) await statement(b);
    out[name] = ((cpuSpent(before, sampleCpu(stackPids({}))).postgresql ?? 0) * 1000) / (rounds * 25);
  }
  return out;
}

if (import.meta.main && process.argv.includes("--round")) {
  const services = await benchServices();
  for (let pass = 0; pass < 2; pass++) {
    const sandbox = await createSandbox(services, { prefix: "bround" });
    const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
    try {
      const r = await roundStatements(pool, 400);
      log(
        `round of 25, PostgreSQL µs per transaction: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)])))}`,
      );
      if (pass === 1)
        for (const [k, v] of Object.entries(r)) console.log(`round25_pg_us_per_tx_${k}=${v.toFixed(0)}`);
    } finally {
      await pool.end();
      await sandbox.cleanup();
    }
  }
  process.exit(0);
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const size = quick
    ? { preload: 20_000, sync: 5_000, backlog: 10_000 }
    : { preload: 100_000, sync: 20_000, backlog: 40_000 };
  const passes = quick ? 1 : 2;
  const only = process.argv.indexOf("--only");
  const variants = only === -1 ? VARIANTS : VARIANTS.filter((v) => v.name === process.argv[only + 1]);
  const services = await benchServices();
  const results = new Map<string, Array<Awaited<ReturnType<typeof run>>>>();
  for (let pass = 0; pass < passes; pass++) {
    for (const variant of pass % 2 === 0 ? variants : [...variants].reverse()) {
      const sandbox = await createSandbox(services, { prefix: "bidx" });
      const pool = await createDatabasePool(sandbox.config.database.url, { maxPoolSize: 2 });
      try {
        const r = await run(pool, sandbox.config.database.url, variant, size);
        log(
          `${variant.name}: PostgreSQL µs/tx in rounds of 25 ${r.sync.usPerTx.toFixed(0)} (wall ${r.sync.wallUsPerTx.toFixed(0)}), of 1,000 ${r.backlog.usPerTx.toFixed(0)} (wall ${r.backlog.wallUsPerTx.toFixed(0)})`,
        );
        results.set(variant.name, [...(results.get(variant.name) ?? []), r]);
      } finally {
        await pool.end();
        await sandbox.cleanup();
      }
    }
  }
  for (const [name, rs] of results) {
    const mean = (f: (r: (typeof rs)[number]) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
    console.log(`store_pg_us_per_tx_round25_${name}=${mean((r) => r.sync.usPerTx).toFixed(0)}`);
    console.log(`store_pg_us_per_tx_round1000_${name}=${mean((r) => r.backlog.usPerTx).toFixed(0)}`);
  }
  process.exit(0);
}
