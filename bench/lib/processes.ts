import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pollUntil } from "../../src/poll.ts";

export type Proc = { child: ChildProcess; stop(): Promise<void>; output(): string; peakRssMiB(): number };

/** Starts a Node process (this Node) running `script` with `args`; output is kept for diagnostics. */
export function startNode(script: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-10_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // exited
    }
  }, 500);
  sampler.unref();
  return {
    child,
    output: () => out,
    peakRssMiB: () => peak,
    async stop() {
      clearInterval(sampler);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Polls `url` until it answers 2xx (bounded). */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  await pollUntil(async () => (await fetch(url)).ok, {
    timeoutMs,
    everyMs: 200,
    onTimeout: () => {
      throw new Error(`${url} not ready after ${timeoutMs} ms`);
    },
  });
}
