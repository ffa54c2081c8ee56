import type { ServerResponse } from "node:http";
import type { Decision } from "../domain/decision.ts";

/*
 * The live feed of the analyst console: every `review` decision the ingress's decision listener
 * sees becomes an event for the open console streams (Server-Sent Events). Nothing is polled; a
 * console that is away misses events and reloads the queue when it comes back.
 *
 * Streams cannot eat the ingress (issue 20): at most `maxSubscribers` per process and
 * `maxPerKey` per API key (issue 35: one analyst key could take every slot), and a stream
 * whose socket stops draining is dropped (more than `maxBufferedBytes` waiting to be sent) instead
 * of buffering every event for it; the console reconnects and reloads.
 */

export type CaseEvent = {
  transaction_id: string;
  user_id: string;
  score: number;
  reasons: string[];
  decided_at: string;
};

export type CaseFeed = {
  /** A decision seen on the decisions topic; only reviews become events. */
  decision(d: Decision): void;
  /**
   * Adds a listener for the key named `key`; `onClose` is called when the feed closes (shutdown).
   * Returns an unsubscribe, or undefined when the feed is full (maxSubscribers) or the key has its
   * `maxPerKey` streams open.
   */
  subscribe(
    listener: (event: CaseEvent) => void,
    options?: { onClose?: () => void; key?: string },
  ): (() => void) | undefined;
  /** Whether `key` may open one more stream now (the caller answers 429 otherwise). */
  roomFor(key: string): boolean;
  /** Ends every subscription (the process is stopping: open streams must not hold it). */
  close(): void;
  readonly subscribers: number;
  readonly maxSubscribers: number;
};

export function createCaseFeed({
  maxSubscribers = 100,
  maxPerKey = 5,
}: {
  maxSubscribers?: number;
  maxPerKey?: number;
} = {}): CaseFeed {
  const listeners = new Set<(event: CaseEvent) => void>();
  const closers = new Map<(event: CaseEvent) => void, () => void>();
  const perKey = new Map<string, number>();
  return {
    decision(d) {
      if (d.decision !== "review" || listeners.size === 0) return;
      const event: CaseEvent = {
        transaction_id: d.transaction_id,
        user_id: d.user_id,
        score: d.score,
        reasons: d.reasons,
        decided_at: d.decided_at,
      };
      for (const l of listeners) l(event);
    },
    subscribe(listener, { onClose, key } = {}) {
      if (listeners.size >= maxSubscribers) return undefined;
      if (key !== undefined && (perKey.get(key) ?? 0) >= maxPerKey) return undefined;
      listeners.add(listener);
      if (onClose) closers.set(listener, onClose);
      if (key !== undefined) perKey.set(key, (perKey.get(key) ?? 0) + 1);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        listeners.delete(listener);
        closers.delete(listener);
        if (key === undefined) return;
        const left = (perKey.get(key) ?? 1) - 1;
        if (left > 0) perKey.set(key, left);
        else perKey.delete(key);
      };
    },
    roomFor(key) {
      return (perKey.get(key) ?? 0) < maxPerKey;
    },
    close() {
      const ends = [...closers.values()];
      listeners.clear();
      closers.clear();
      for (const end of ends) end();
    },
    get subscribers() {
      return listeners.size;
    },
    maxSubscribers,
  };
}

/**
 * Serves the feed on a hijacked response as Server-Sent Events: `event: case` with each new review,
 * a comment every 15 s to keep proxies from closing the stream. The console reads it with fetch
 * (it sends the API key as a header). Ends when the client goes, when the feed closes (shutdown:
 * the console reconnects to another process), or when the client stops reading (more than
 * `maxBufferedBytes` waiting: the socket is destroyed, nothing more is buffered for it). False
 * when the feed is full (the caller answers 503 before hijacking).
 */
export function streamCases(
  feed: CaseFeed,
  res: ServerResponse,
  { maxBufferedBytes = 256 * 1024, key }: { maxBufferedBytes?: number; key?: string } = {},
): boolean {
  let keepAlive: NodeJS.Timeout | undefined;
  const send = (text: string) => {
    if (res.destroyed) return;
    res.write(text);
    if (res.writableLength > maxBufferedBytes) res.destroy(); // a client that does not read
  };
  const unsubscribe = feed.subscribe((event) => send(`event: case\ndata: ${JSON.stringify(event)}\n\n`), {
    onClose: () => res.end(),
    ...(key === undefined ? {} : { key }),
  });
  if (!unsubscribe) return false;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  send(": connected\n\n");
  keepAlive = setInterval(() => send(": keep-alive\n\n"), 15_000);
  res.once("close", () => {
    clearInterval(keepAlive);
    unsubscribe();
  });
  return true;
}
