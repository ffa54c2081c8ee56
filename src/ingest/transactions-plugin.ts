import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import type { Decision } from "../domain/decision.ts";
import {
  createTransactionInputSchema,
  payloadFingerprint,
  type Transaction,
  validateTransaction,
} from "../domain/transaction.ts";
import { SentinelError } from "../errors.ts";
import { parseParam } from "../http/validation.ts";
import type { Metrics } from "../metrics.ts";
import type { StoredTransaction } from "../store/transaction-store.ts";
import { type DecisionWaiters, preferredWaitMs, type Wait } from "../sync/decision-waiters.ts";
import { contextFrom, endSpan, SpanKind, startSpan, type Traced } from "../tracing.ts";
import { getSchema, postSchema } from "./transaction-route-schemas.ts";
import { uuidv7 } from "./uuid-v7.ts";

export type TransactionsPluginDeps = {
  /** Resolves once the transaction is durable on the topic (acks=all); throws SentinelError otherwise. */
  /** Produces the transaction; `trace`, when tracing, is the request's span (the produce is its child). */
  publishTransaction: (tx: Transaction, trace?: Traced) => Promise<void>;
  transactions: { getTransaction(id: string): Promise<StoredTransaction | null> };
  metrics: Metrics;
  /** A `timestamp` older than this before receipt is refused (TIMESTAMP_MAX_AGE_HOURS). */
  timestampMaxAgeMs?: number;
  /** Sync decisions (`Prefer: wait`): absent, the header is ignored. */
  sync?: { waiters: DecisionWaiters; maxWaitMs: number };
  now?: () => number;
  newId?: () => string;
};

const Id = z.uuid("must be a UUID").transform((id) => id.toLowerCase());

/** What a decided transaction's answer carries of its decision. */
const decisionOf = (d: Decision) => ({
  decision: d.decision,
  score: d.score,
  reasons: d.reasons,
  rules_version: d.rules_version,
  decided_at: d.decided_at,
});

const seconds = (ms: number) => String(Number((ms / 1000).toFixed(3)));

/** A wait for `id` when the request prefers one and there is room; counted when shed. */
function startWait(
  deps: Pick<TransactionsPluginDeps, "sync" | "metrics">,
  prefer: string | string[] | undefined,
  id: string,
  route: string,
  /** Computed only when the request asks to wait (not on every request). */
  fingerprint?: () => string,
): { wait: Wait; ms: number } | undefined {
  if (!deps.sync) return undefined;
  const ms = preferredWaitMs(prefer, deps.sync.maxWaitMs);
  if (ms === undefined) return undefined;
  const wait = deps.sync.waiters.wait(id, ms, fingerprint?.());
  if (!wait) {
    deps.metrics.http.syncWaits.inc({ route, outcome: "shed" });
    return undefined;
  }
  return { wait, ms };
}

/**
 * Where a decided sync request's time went: ack (received → Kafka's ack), decide (ack → the
 * scorer's decided_at: broker, fetch, queue, decode, context), deliver (decided_at → answered:
 * persist, publish, the listener). Wall clocks of two processes: one host's, or NTP's.
 */
function observeSyncStages(
  metrics: Metrics,
  received: number,
  acked: number,
  decided: number,
  answered: number,
) {
  const stage = metrics.http.syncStage;
  stage.observe({ stage: "ack" }, Math.max(0, acked - received) / 1000);
  stage.observe({ stage: "decide" }, Math.max(0, decided - acked) / 1000);
  stage.observe({ stage: "deliver" }, Math.max(0, answered - decided) / 1000);
}

/** A client that goes away frees its wait at once. */
function cancelOnClose(reply: FastifyReply, wait: Wait): void {
  reply.raw.once("close", () => wait.cancel());
}

/** GET /transaction/:id: the stored transaction, long-polled with `Prefer: wait`. */
async function getTransaction(
  deps: TransactionsPluginDeps,
  idParam: string,
  prefer: string | string[] | undefined,
  reply: FastifyReply,
) {
  const id = parseParam(Id, idParam, "id");
  const sync = startWait(deps, prefer, id, "get");
  let stored = await deps.transactions.getTransaction(id).catch((error: unknown) => {
    sync?.wait.cancel();
    throw error;
  });
  if (sync) {
    if (stored?.decision) {
      sync.wait.cancel();
    } else {
      cancelOnClose(reply, sync.wait);
      const outcome = await sync.wait.promise;
      deps.metrics.http.syncWaits.inc({ route: "get", outcome: outcome.kind });
      if (outcome.kind === "decided") stored = await deps.transactions.getTransaction(id);
    }
    if (stored?.decision) reply.header("preference-applied", `wait=${seconds(sync.ms)}`);
  }
  if (!stored) throw new SentinelError("not_found", "unknown transaction");
  // Absent optional fields are left out, as they were sent.
  return Object.fromEntries(Object.entries(stored).filter(([, v]) => v !== null));
}

/** POST /transaction (the ingress proper) and GET /transaction/:id, both with `Prefer: wait`. */
export const transactionsPlugin: FastifyPluginAsync<TransactionsPluginDeps> = async (app, deps) => {
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? uuidv7;
  const schema = createTransactionInputSchema(now, deps.timestampMaxAgeMs);
  const { accepted, rejected, syncWaits, acceptToDecision } = deps.metrics.http;
  const waiters = deps.sync?.waiters;
  // Shutdown: requests waiting for a decision are answered now, with the 202 of a timeout.
  if (waiters) {
    app.addHook("preClose", (done) => {
      waiters.closeAll();
      done();
    });
  }

  app.post("/transaction", { config: { roles: ["ingest"] }, schema: postSchema }, async (request, reply) => {
    const receivedAt = now();
    const span = startSpan("POST /transaction", { kind: SpanKind.SERVER }, contextFrom(request.headers));
    if (span)
      reply.raw.once("finish", () => endSpan(span, { "http.response.status_code": reply.statusCode }));
    const result = validateTransaction(schema, request.body);
    if (!result.ok) {
      rejected.inc({ reason: result.code });
      throw new SentinelError(result.code, "invalid transaction", { issues: result.issues });
    }
    const input = result.value;
    const tx: Transaction = {
      ...input,
      transaction_id: input.transaction_id ?? newId(),
      timestamp: input.timestamp ?? new Date(now()).toISOString(),
    };
    // Registered before the write, so a decision faster than our own ack is not missed.
    const sync = startWait(deps, request.headers.prefer, tx.transaction_id, "post", () =>
      payloadFingerprint(tx),
    );
    try {
      span?.span.setAttribute("transaction.id", tx.transaction_id);
      await deps.publishTransaction(tx, span);
    } catch (error) {
      sync?.wait.cancel();
      rejected.inc({ reason: "unavailable" });
      request.log.warn(
        { err: (error as Error).message, transaction_id: tx.transaction_id },
        "produce failed",
      );
      // The id goes back so the client can retry without creating a second transaction.
      throw new SentinelError(
        "unavailable",
        error instanceof SentinelError ? error.message : "Kafka unavailable",
        { cause: error, details: { transaction_id: tx.transaction_id } },
      );
    }
    accepted.inc();
    if (sync) {
      const acceptedAt = now();
      cancelOnClose(reply, sync.wait);
      const waiting = startSpan("sync wait", {}, span?.ctx);
      const outcome = await sync.wait.promise;
      endSpan(waiting, { "sync.outcome": outcome.kind });
      syncWaits.inc({ route: "post", outcome: outcome.kind });
      if (outcome.kind === "decided") {
        const answeredAt = now();
        acceptToDecision.observe((answeredAt - acceptedAt) / 1000);
        observeSyncStages(
          deps.metrics,
          receivedAt,
          acceptedAt,
          Date.parse(outcome.decision.decided_at),
          answeredAt,
        );
        return reply
          .code(200)
          .header("preference-applied", `wait=${seconds(sync.ms)}`)
          .send({
            transaction_id: tx.transaction_id,
            status: "decided",
            decision: decisionOf(outcome.decision),
          });
      }
      if (outcome.kind === "conflict") {
        throw new SentinelError(
          "transaction_id_conflict",
          "this transaction_id is already used by a transaction with another user, amount, currency or merchant",
          { details: { transaction_id: tx.transaction_id } },
        );
      }
    }
    return reply.code(202).send({ transaction_id: tx.transaction_id, status: "accepted" });
  });

  app.get<{ Params: { id: string } }>(
    "/transaction/:id",
    {
      config: { roles: ["ingest", "analyst"] },
      schema: getSchema,
    },
    (request, reply) => getTransaction(deps, request.params.id, request.headers.prefer, reply),
  );
};
