import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { createSender } from "../../../src/webhooks/sender.ts";

const secret = `whsec_${Buffer.alloc(24, 1).toString("base64")}`;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A loopback server counting connections and answering with `status` (or never). */
async function server(status: number | "hang") {
  const seen = { connections: 0, requests: [] as Array<{ headers: Record<string, unknown>; body: string }> };
  const s = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.requests.push({ headers: req.headers, body });
      if (status !== "hang") res.writeHead(status, status === 503 ? { "retry-after": "30" } : {}).end();
    });
  });
  s.on("connection", () => {
    seen.connections++;
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { ...seen, seen, port: (s.address() as AddressInfo).port };
}

const message = {
  messageId: "msg_test",
  body: '{"type":"decision.declined"}',
  signers: [new Webhook(secret)],
};

describe("webhook sender", () => {
  it("posts the body signed per Standard Webhooks; 2xx is success", async () => {
    const s = await server(204);
    const sender = createSender({ timeoutMs: 2_000, allowPrivate: true });
    const a = await sender.send(`http://127.0.0.1:${s.port}/h`, message);
    await sender.close();
    expect(a).toMatchObject({ ok: true, status: 204, error: undefined });
    const got = s.seen.requests[0]!;
    expect(got.body).toBe(message.body);
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toEqual({
      type: "decision.declined",
    });
  });

  it("refuses loopback and localhost before any connection when private addresses are not allowed", async () => {
    const s = await server(200);
    const sender = createSender({ timeoutMs: 2_000, allowPrivate: false });
    for (const url of [
      `http://127.0.0.1:${s.port}/h`,
      `http://localhost:${s.port}/h`,
      `http://[::ffff:127.0.0.1]:${s.port}/h`,
    ]) {
      const a = await sender.send(url, message);
      expect(a.ok, url).toBe(false);
      expect(a.error, url).toMatch(/^refused/);
    }
    await sender.close();
    expect(s.seen.connections).toBe(0);
  });

  it("reports a non-2xx with its Retry-After, and a receiver that does not answer in time", async () => {
    const busy = await server(503);
    const silent = await server("hang");
    const sender = createSender({ timeoutMs: 300, allowPrivate: true });
    const a = await sender.send(`http://127.0.0.1:${busy.port}/h`, message);
    expect(a).toMatchObject({ ok: false, status: 503, retryAfterMs: 30_000 });
    const b = await sender.send(`http://127.0.0.1:${silent.port}/h`, message);
    await sender.close();
    expect(b).toMatchObject({ ok: false, status: undefined, error: "no answer within 300 ms" });
    expect(b.latencyMs).toBeGreaterThanOrEqual(250);
  });
});
