/*
 * The HTTP ceiling for the ingest benchmark: a bare Fastify + zod server that validates the same
 * body with the same schema and answers 202 with a UUIDv7 — everything the ingress does except
 * Kafka. Started by bench/ingest.ts as its own process: node bench/bare-server.ts <port>.
 */
import Fastify from "fastify";
import { createTransactionInputSchema, validateTransaction } from "../src/domain/transaction.ts";
import { uuidv7 } from "../src/ingest/uuid-v7.ts";

const schema = createTransactionInputSchema();
const app = Fastify({ bodyLimit: 16_384 });
app.post("/transaction", async (request, reply) => {
  const r = validateTransaction(schema, request.body);
  if (!r.ok) return reply.code(400).send({ error: r.code, issues: r.issues });
  return reply.code(202).send({ transaction_id: r.value.transaction_id ?? uuidv7(), status: "accepted" });
});
app.get("/healthz", async () => ({ status: "ok" }));
await app.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 18080) });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
