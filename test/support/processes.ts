import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pollUntil } from "../../src/poll.ts";

/*
 * The one way the tests, the benchmarks and the chaos harness start a process: this Node running a
 * script (usually `bin/sentinel.ts <command>`), with its output kept for diagnostics and its peak
 * RSS sampled from /proc.
 */

const BIN = join(import.meta.dirname, "../../bin/sentinel.ts");

export type Proc = {
  child: ChildProcess;
  /** stdout and stderr interleaved (the last 20,000 characters, or as many as asked). */
  output(): string;
  /** stdout alone. */
  stdout(): string;
  /** The highest resident set size seen (sampled every 500 ms), in MiB. */
  peakRssMiB(): number;
  /** Waits for the process to end by itself; kills it after `timeoutMs`. Returns the exit code. */
  wait(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` and waits for the exit code (null when killed by a signal); SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
};

/** Starts a Node process (this Node) running `script` with `args`; `keepChars` of its output are kept. */
export function startNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  { keepChars = 20_000 }: { keepChars?: number } = {},
): Proc {
  const child = spawn(process.execPath, [script, ...args], {
    // bin/sentinel.ts: the child goes when this process does, however it ends.
    env: { ...process.env, SENTINEL_EXIT_WITH_PARENT: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 2 * keepChars) out = out.slice(-keepChars); // trimmed now and then, not per chunk
  };
  child.stdout!.on("data", keep);
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
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
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      clearInterval(sampler);
      resolve(code);
    }),
  );
  const waitOrKill = async (timeoutMs: number) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    output: () => out.slice(-keepChars),
    stdout: () => stdout,
    peakRssMiB: () => peak,
    wait: (timeoutMs = 60_000) => waitOrKill(timeoutMs),
    async stop(signal = "SIGTERM", timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return waitOrKill(timeoutMs);
    },
  };
}

/** Runs `sentinel <args>` as a real child process, the way an operator would. */
export function spawnSentinel(args: string[], env: Record<string, string>): Proc {
  return startNode(BIN, args, env);
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

export type SentinelRun = { code: number | null; stdout: string; output: string };

/** Runs a one-shot `sentinel <args>` (replay, dlq, offsets…) to its end, as an operator would. */
export async function runSentinel(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<SentinelRun> {
  const p = spawnSentinel(args, env);
  const code = await p.wait(timeoutMs);
  return { code, stdout: p.stdout(), output: p.output() };
}

/** The JSON lines a one-shot command printed on stdout with `--json`. */
export function jsonLines<T>(run: SentinelRun): T[] {
  return run.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
