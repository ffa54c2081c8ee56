import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../../src/poll.ts";
import { createTestContext, type TestContext } from "../support/context.ts";
import { freePorts } from "../support/ports.ts";
import { type Proc, spawnSentinel, waitForHttp } from "../support/processes.ts";

/*
 * Issue 22: one connected trace for a POST with `Prefer: wait`, across the ingress and a separate
 * consumer process, received by an OTLP/HTTP receiver in this test (loopback).
 */

type OtlpSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string };
type Received = { service: string; span: OtlpSpan };

let ctx: TestContext;
let receiver: Server;
const received: Received[] = [];
let receiverUrl = "";
const procs: Proc[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: Array<{
            resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
            scopeSpans: Array<{ spans: OtlpSpan[] }>;
          }>;
        };
        for (const rs of body.resourceSpans) {
          const service =
            rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
          for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await new Promise((resolve) => receiver?.close(resolve));
  await ctx?.cleanup();
});

describe("traces across Kafka (issue 22)", () => {
  it("one trace for a POST with Prefer: wait: request, produce, the scorer's phases in the other process, the sync wait", async () => {
    const port = await freePorts();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl, OTEL_BSP_SCHEDULE_DELAY: "100" };
    procs.push(spawnSentinel(["ingest"], { ...ctx.env, ...otel, PORT: String(port) }));
    procs.push(spawnSentinel(["consume"], { ...ctx.env, ...otel }));
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    // Decided within the wait once the consumer has joined its group.
    const decided = await pollUntil(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/transaction`, {
          method: "POST",
          headers: { "content-type": "application/json", prefer: "wait=2" },
          body: JSON.stringify({ user_id: "traced", amount: "12.00", currency: "USD" }),
        });
        return r.status === 200 ? ((await r.json()) as { transaction_id: string }) : undefined;
      },
      { timeoutMs: 60_000, everyMs: 500 },
    );
    expect(decided, procs.map((p) => p.output()).join("\n")).toBeDefined();

    const trace = await pollUntil(
      () => {
        const root = received.find(
          (r) => r.span.name === "POST /transaction" && !r.span.parentSpanId && traceHas(r.span.traceId),
        );
        return root ? received.filter((r) => r.span.traceId === root.span.traceId) : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(trace, JSON.stringify(received.map((r) => [r.service, r.span.name]))).toBeDefined();
    const spans = trace!;
    const one = (name: string) => {
      const found = spans.filter((r) => r.span.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const request = one("POST /transaction");
    const produce = one("produce transactions");
    const wait = one("sync wait");
    const score = one("score transaction");
    expect(request.service).toBe("sentinel-ingest");
    expect(score.service).toBe("sentinel-consume");
    expect(produce.span.parentSpanId).toBe(request.span.spanId);
    expect(wait.span.parentSpanId).toBe(request.span.spanId);
    // Across the process boundary, through the message's traceparent header.
    expect(score.span.parentSpanId).toBe(produce.span.spanId);
    for (const phase of ["decode", "load_context", "decide", "persist", "publish"])
      expect(one(phase).span.parentSpanId, phase).toBe(score.span.spanId);
  });
});

/** Whether the trace has the consumer's span yet (the two processes export on their own). */
function traceHas(traceId: string): boolean {
  return received.some((r) => r.span.traceId === traceId && r.span.name === "publish");
}
