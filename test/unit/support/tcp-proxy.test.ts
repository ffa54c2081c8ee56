import { connect, createServer, type Server } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTcpProxy } from "../../support/tcp-proxy.ts";

/*
 * The proxy the chaos harness and the fault tests put in front of PostgreSQL and Redis: it passes
 * bytes through unchanged and in order, delays them when told (each direction), cuts and refuses
 * connections while down.
 */

let echo: Server;
let echoPort: number;
beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

/** Sends the chunks one by one and resolves with everything echoed back, and how long it took. */
function roundTrip(port: number, chunks: string[]): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const expected = chunks.join("").length;
    const started = Date.now();
    let text = "";
    const socket = connect({ host: "127.0.0.1", port }, () => {
      for (const c of chunks) socket.write(c);
    });
    socket.on("data", (d) => {
      text += d.toString();
      if (text.length >= expected) {
        socket.end();
        resolve({ text, ms: Date.now() - started });
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
  });
}

it("passes bytes through in order, and holds them `ms` each way when delayed", async () => {
  const proxy = await startTcpProxy("127.0.0.1", echoPort);
  try {
    const chunks = Array.from({ length: 50 }, (_, i) => `chunk-${i};`);
    expect((await roundTrip(proxy.port, chunks)).text).toBe(chunks.join(""));
    proxy.delay(120);
    const slow = await roundTrip(proxy.port, chunks);
    expect(slow.text).toBe(chunks.join(""));
    expect(slow.ms).toBeGreaterThanOrEqual(240); // 120 ms there, 120 ms back
    proxy.delay(0);
    expect((await roundTrip(proxy.port, ["after"])).text).toBe("after");
  } finally {
    await proxy.close();
  }
});

it("refuses connections while down, and serves again once up", async () => {
  const proxy = await startTcpProxy("127.0.0.1", echoPort);
  try {
    proxy.down();
    await expect(roundTrip(proxy.port, ["x"])).rejects.toThrow();
    proxy.up();
    expect((await roundTrip(proxy.port, ["y"])).text).toBe("y");
  } finally {
    await proxy.close();
  }
});
