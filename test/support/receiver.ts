import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/*
 * A webhook receiver on loopback for tests, the chaos harness and the bench: it records every
 * request (headers, body, arrival time) and answers as `respond` says — a status, a status with
 * headers, or "hang" (no answer until the receiver closes).
 */

export type Received = { headers: IncomingHttpHeaders; body: string; atMs: number };

export type Answer = number | { status: number; headers?: Record<string, string>; delayMs?: number } | "hang";

export type Receiver = {
  url: string;
  received: Received[];
  /** Requests whose answer is still held ("hang", or a delayed answer not sent yet). */
  hanging(): number;
  close(): Promise<void>;
};

export async function startReceiver(
  respond: (request: Received, index: number) => Answer = () => 200,
  { port = 0 }: { port?: number } = {},
): Promise<Receiver> {
  const received: Received[] = [];
  const held = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks).toString(), atMs: Date.now() };
      received.push(r);
      const answer = respond(r, received.length - 1);
      held.add(res);
      res.on("close", () => held.delete(res));
      if (answer === "hang") return;
      const { status, headers, delayMs = 0 } = typeof answer === "number" ? { status: answer } : answer;
      const send = () => {
        if (!res.destroyed) res.writeHead(status, headers).end();
      };
      if (delayMs > 0) setTimeout(send, delayMs).unref();
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/hooks`,
    received,
    hanging: () => held.size,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The parsed body of a received webhook. */
export const payloadOf = (r: Received) =>
  JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, unknown> };
