import type { Webhook } from "standardwebhooks";
import { Agent, request } from "undici";
import { guardedLookup, urlRefusal } from "./address-guard.ts";
import { retryAfterMs } from "./retry-schedule.ts";

/*
 * One attempt of one delivery: a POST of the body, signed per Standard Webhooks with every secret
 * the endpoint signs with (two during a rotation's overlap), to the endpoint's URL. A 2xx within
 * the timeout is success; anything else — another status, a redirect (never followed), a refused
 * address, a socket error, the timeout — is a failure, with Retry-After when the receiver sent one.
 * Connections are kept alive per origin (2,000 deliveries/s would not afford a handshake each).
 */

export type Attempt = {
  ok: boolean;
  status: number | undefined;
  latencyMs: number;
  error: string | undefined;
  /** The receiver's Retry-After, in ms from the attempt. */
  retryAfterMs: number | undefined;
};

export type Signed = { messageId: string; body: string; signers: readonly Webhook[] };

/** The three Standard Webhooks headers for `at`. */
export function signedHeaders({ messageId, body, signers }: Signed, at: Date): Record<string, string> {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signers.map((s) => s.sign(messageId, at, body)).join(" "),
  };
}

export type Sender = { send(url: string, message: Signed): Promise<Attempt>; close(): Promise<void> };

export function createSender({
  timeoutMs,
  allowPrivate,
  connectionsPerOrigin = 64,
  userAgent = "SentinelStream-Webhooks/1",
}: {
  timeoutMs: number;
  allowPrivate: boolean;
  connectionsPerOrigin?: number;
  userAgent?: string;
}): Sender {
  // undici: a pool of kept-alive connections per origin; redirects are not followed (no redirect
  // interceptor). The timeout is undici's own (connect, headers, body): an AbortSignal.timeout per
  // request would keep a 15 s timer and its request alive per delivery — at 2,000/s, 30,000 of them.
  const agent = new Agent({
    connections: connectionsPerOrigin,
    connect: { lookup: guardedLookup(allowPrivate), timeout: Math.min(timeoutMs, 10_000) },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
  });

  async function send(url: string, message: Signed): Promise<Attempt> {
    const started = performance.now();
    const done = (a: Omit<Attempt, "latencyMs">): Attempt => ({
      ...a,
      latencyMs: Math.round(performance.now() - started),
    });
    // Literal addresses never reach the lookup: checked here, before any connection.
    const refused = urlRefusal(url, allowPrivate);
    if (refused)
      return done({ ok: false, status: undefined, error: `refused: ${refused}`, retryAfterMs: undefined });
    try {
      const response = await request(url, {
        method: "POST",
        dispatcher: agent,
        headers: {
          "content-type": "application/json",
          "user-agent": userAgent,
          ...signedHeaders(message, new Date()),
        },
        body: message.body,
      });
      const status = response.statusCode;
      const header = response.headers["retry-after"];
      // The body is not read beyond what frees the connection for the next delivery.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
      return done({
        ok: status >= 200 && status < 300,
        status,
        error: status >= 300 && status < 400 ? "redirect not followed" : undefined,
        retryAfterMs: retryAfterMs(typeof header === "string" ? header : undefined, Date.now()),
      });
    } catch (error) {
      const e = error as Error & { code?: string; cause?: Error };
      const timedOut = e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT";
      const reason = timedOut ? `no answer within ${timeoutMs} ms` : (e.cause?.message ?? e.message);
      return done({ ok: false, status: undefined, error: reason, retryAfterMs: undefined });
    }
  }

  return { send, close: () => agent.close() };
}
