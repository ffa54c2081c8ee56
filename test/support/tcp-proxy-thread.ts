import { Worker } from "node:worker_threads";

/**
 * startTcpProxy (tcp-proxy.ts) in a thread of its own, for a process that is busy with other work:
 * the chaos harness generates the load in the thread that proxied PostgreSQL and Redis, so on a
 * saturated box every proxied byte waited on the load generator's event loop as well (new
 * connections timed out with no fault on; issue 22). Same controls, each resolved once applied.
 */
export async function startTcpProxyThread(targetHost: string, targetPort: number) {
  const worker = new Worker(new URL("./tcp-proxy-worker.ts", import.meta.url), {
    workerData: { targetHost, targetPort },
  });
  const pending = new Map<number, () => void>();
  let next = 0;
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (m: { port?: number; id?: number }) => {
      if (m.port !== undefined) resolve(m.port);
      else if (m.id !== undefined) {
        pending.get(m.id)?.();
        pending.delete(m.id);
      }
    });
  });
  const send = (op: string, ms?: number) =>
    new Promise<void>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      worker.postMessage({ id, op, ms });
    });
  return {
    port,
    /** Cuts every open connection and refuses new ones until up() is called. */
    down: () => send("down"),
    up: () => send("up"),
    /** Holds every chunk `ms` in each direction from now on (0: forward at once again). */
    delay: (ms: number) => send("delay", ms),
    async close() {
      await send("close");
      await worker.terminate();
    },
  };
}
