import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, so a test can make that server unreachable
 * (every connection cut, new ones refused) or slow (every chunk held `ms` in each direction, order
 * kept) for a while without touching the server itself.
 */
export async function startTcpProxy(targetHost: string, targetPort: number) {
  const sockets = new Set<Socket>();
  let down = false;
  let delayMs = 0;

  /** Copies `from` to `to`, each chunk held until `delayMs` after it arrived (in arrival order). */
  const forward = (from: Socket, to: Socket) => {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const drain = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now);
      else if (ended && !to.destroyed) to.end();
    };
    from.on("data", (chunk: Buffer) => {
      if (delayMs === 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      queue.push({ due: Date.now() + delayMs, chunk });
      timer ??= setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()));
    });
    from.on("end", () => {
      ended = true;
      if (queue.length === 0 && !to.destroyed) to.end();
    });
    from.on("close", () => clearTimeout(timer));
  };

  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    /** Cuts every open connection and refuses new ones until up() is called. */
    down() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      down = false;
    },
    /** Holds every chunk `ms` in each direction from now on (0: forward at once again). */
    delay(ms: number) {
      delayMs = ms;
    },
    async close() {
      this.down();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
