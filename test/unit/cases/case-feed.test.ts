import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createCaseFeed, streamCases } from "../../../src/cases/case-feed.ts";
import type { Decision } from "../../../src/domain/decision.ts";
import { pollUntil } from "../../../src/poll.ts";

/*
 * Issue 20: the console's live stream cannot eat the ingress. A real HTTP server on loopback and a
 * client that connects and never reads: before issue 20 every event was buffered for it, for ever.
 */

const review = (i: number): Decision => ({
  transaction_id: `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
  user_id: `user-${"x".repeat(200)}`,
  decision: "review",
  score: 50,
  reasons: ["unknown_user"],
  rules_version: "rs-000000000000",
  decided_at: "2026-11-30T00:00:00.000Z",
});

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe("the case feed", () => {
  it("refuses subscribers beyond its cap", () => {
    const feed = createCaseFeed({ maxSubscribers: 2 });
    expect(feed.subscribe(() => {})).toBeTypeOf("function");
    expect(feed.subscribe(() => {})).toBeTypeOf("function");
    expect(feed.subscribe(() => {})).toBeUndefined();
    expect(feed.subscribers).toBe(2);
  });

  it("holds at most maxPerKey streams for one key: one analyst key cannot take every slot (issue 35)", () => {
    const feed = createCaseFeed({ maxSubscribers: 100, maxPerKey: 2 });
    const first = feed.subscribe(() => {}, { key: "analyst:ann" });
    expect(feed.subscribe(() => {}, { key: "analyst:ann" })).toBeTypeOf("function");
    expect(feed.roomFor("analyst:ann")).toBe(false);
    expect(feed.subscribe(() => {}, { key: "analyst:ann" })).toBeUndefined();
    expect(feed.subscribe(() => {}, { key: "analyst:bob" })).toBeTypeOf("function");
    first!();
    first!(); // twice frees one slot once
    expect(feed.roomFor("analyst:ann")).toBe(true);
    expect(feed.subscribe(() => {}, { key: "analyst:ann" })).toBeTypeOf("function");
    expect(feed.subscribers).toBe(3);
  });

  it("drops a stream whose client stops reading, instead of buffering every event for it", async () => {
    const feed = createCaseFeed();
    server = createServer((_req, res) => streamCases(feed, res, { maxBufferedBytes: 64 * 1024 }));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as { port: number };
    const socket = connect(port, "127.0.0.1");
    socket.write(`GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    socket.pause(); // never reads
    expect(await pollUntil(async () => feed.subscribers === 1, { timeoutMs: 5_000, everyMs: 10 })).toBe(true);
    // ~300 bytes an event: the kernel's buffers fill, then ours; past 64 KiB the stream is dropped.
    let sent = 0;
    const dropped = await pollUntil(
      async () => {
        for (let k = 0; k < 200; k++) feed.decision(review(sent++));
        return feed.subscribers === 0;
      },
      { timeoutMs: 10_000, everyMs: 5 },
    );
    expect(dropped).toBe(true);
    expect(sent).toBeLessThan(200_000);
    socket.destroy();
  });
});
