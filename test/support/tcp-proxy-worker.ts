import { parentPort, workerData } from "node:worker_threads";
import { startTcpProxy } from "./tcp-proxy.ts";

/* The thread of startTcpProxyThread (tcp-proxy-thread.ts): one proxy, driven by messages. */

type Op = { id: number; op: "down" | "up" | "delay" | "close"; ms?: number };
const { targetHost, targetPort } = workerData as { targetHost: string; targetPort: number };
const proxy = await startTcpProxy(targetHost, targetPort);
parentPort!.on("message", async ({ id, op, ms }: Op) => {
  if (op === "down") proxy.down();
  else if (op === "up") proxy.up();
  else if (op === "delay") proxy.delay(ms ?? 0);
  else await proxy.close();
  parentPort!.postMessage({ id });
});
parentPort!.postMessage({ port: proxy.port });
