import { createServer } from "node:net";

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/**
 * `count` consecutive ports free on 127.0.0.1, below Linux's ephemeral range (32768+): a port the
 * kernel could hand to an outgoing connection meanwhile would be lost to a process started (or
 * restarted) on it — seen as EADDRINUSE with ports drawn from 20000–40000.
 */
export async function freePorts(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await canListen(first + i);
    if (ok) return first;
  }
  throw new Error(`no ${count} consecutive free ports found between 20000 and 32000`);
}
