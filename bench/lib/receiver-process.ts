import { startReceiver } from "../../test/support/receiver.ts";

/*
 * A webhook receiver in a process of its own (the bench's load generator must not slow the
 * receiver it measures): prints its URL, answers 200, and on SIGTERM prints one JSON line with,
 * per request, the arrival time and the body's data.decided_at.
 */

const receiver = await startReceiver();
process.stdout.write(`${JSON.stringify({ url: receiver.url })}\n`);
process.on("SIGTERM", () => {
  const arrivals = receiver.received.map((r) => {
    const body = JSON.parse(r.body) as { data: { decided_at?: string } };
    return [r.atMs, body.data.decided_at ?? "", String(r.headers["webhook-id"])];
  });
  process.stdout.write(`${JSON.stringify({ arrivals })}\n`, () => process.exit(0));
});
