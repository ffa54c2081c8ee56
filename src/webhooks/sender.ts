import http from "node:http";
import https from "node:https";
import type { Webhook } from "standardwebhooks";
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

export type Sender = { send(url: string, message: Signed): Promise<Attempt>; close(): void };

export function createSender({
  timeoutMs,
  allowPrivate,
  maxSocketsPerOrigin = 64,
  userAgent = "SentinelStream-Webhooks/1",
}: {
  timeoutMs: number;
  allowPrivate: boolean;
  maxSocketsPerOrigin?: number;
  userAgent?: string;
}): Sender {
  const lookup = guardedLookup(allowPrivate);
  const options = { keepAlive: true, maxSockets: maxSocketsPerOrigin, lookup };
  const agents = { http: new http.Agent(options), https: new https.Agent(options) };

  function send(url: string, message: Signed): Promise<Attempt> {
    const started = performance.now();
    const done = (a: Omit<Attempt, "latencyMs">): Attempt => ({
      ...a,
      latencyMs: Math.round(performance.now() - started),
    });
    return new Promise((resolve) => {
      // Literal addresses never reach the lookup: checked here, before any connection.
      const refused = urlRefusal(url, allowPrivate);
      if (refused) {
        resolve(
          done({ ok: false, status: undefined, error: `refused: ${refused}`, retryAfterMs: undefined }),
        );
        return;
      }
      const target = new URL(url);
      const secure = target.protocol === "https:";
      const body = Buffer.from(message.body);
      const request = (secure ? https : http).request(target, {
        method: "POST",
        agent: secure ? agents.https : agents.http,
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          "content-type": "application/json",
          "content-length": body.length,
          "user-agent": userAgent,
          ...signedHeaders(message, new Date()),
        },
      });
      request.on("response", (response) => {
        const status = response.statusCode ?? 0;
        const header = response.headers["retry-after"];
        // The body is not read beyond what frees the socket for the next delivery.
        response.resume();
        response.on("error", () => {});
        resolve(
          done({
            ok: status >= 200 && status < 300,
            status,
            error: status >= 300 && status < 400 ? "redirect not followed" : undefined,
            retryAfterMs: retryAfterMs(typeof header === "string" ? header : undefined, Date.now()),
          }),
        );
      });
      request.on("error", (error: NodeJS.ErrnoException) => {
        const reason =
          error.name === "AbortError" || error.name === "TimeoutError"
            ? `no answer within ${timeoutMs} ms`
            : error.message;
        resolve(done({ ok: false, status: undefined, error: reason, retryAfterMs: undefined }));
      });
      request.end(body);
    });
  }

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
