import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startTcpProxy } from "./tcp-proxy.ts";

/*
 * startTcpProxy (tcp-proxy.ts) in a process of its own, for a caller whose event loop is busy with
 * other work: the chaos harness generates the load and checks it in one thread, and on the
 * saturated box a connection through a proxy in that thread took up to 4.6 s to open (0.4 s
 * direct), so new PostgreSQL connections timed out with no fault on (issue 22). Same controls,
 * each resolved once the proxy has applied it.
 */

type Op = { id: number; op: "down" | "up" | "delay" | "close"; ms?: number };

export async function startTcpProxyProcess(targetHost: string, targetPort: number) {
  const child = fork(fileURLToPath(import.meta.url), [targetHost, String(targetPort)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
  });
  const pending = new Map<number, () => void>();
  let next = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`tcp proxy process exited (code ${code})`)));
    child.on("message", (m: { port?: number; id?: number }) => {
      if (m.port !== undefined) resolve(m.port);
      else if (m.id !== undefined) {
        pending.get(m.id)?.();
        pending.delete(m.id);
      }
    });
  });
  const send = (op: Op["op"], ms?: number) =>
    new Promise<void>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      child.send({ id, op, ms } satisfies Op);
    });
  return {
    port,
    /** Cuts every open connection and refuses new ones until up() is called. */
    down: () => send("down"),
    up: () => send("up"),
    /** Holds every chunk `ms` in each direction from now on (0: forward at once again). */
    delay: (ms: number) => send("delay", ms),
    async close() {
      child.removeAllListeners("exit");
      await send("close");
      child.disconnect();
    },
  };
}

// The proxy process itself: driven by its parent's messages; ends with its parent.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const [host, port] = process.argv.slice(2);
  const proxy = await startTcpProxy(host!, Number(port));
  process.on("message", async ({ id, op, ms }: Op) => {
    if (op === "down") proxy.down();
    else if (op === "up") proxy.up();
    else if (op === "delay") proxy.delay(ms ?? 0);
    else await proxy.close();
    process.send!({ id });
    if (op === "close") process.disconnect();
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ port: proxy.port });
}
