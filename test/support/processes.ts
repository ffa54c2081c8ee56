import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const BIN = join(import.meta.dirname, "../../bin/sentinel.ts");

export type SentinelProcess = {
  proc: ChildProcess;
  /** stdout and stderr interleaved (the last 20,000 characters). */
  output(): string;
  /** stdout alone. */
  stdout(): string;
  /** Waits for the process to end by itself; kills it after `timeoutMs`. Returns the exit code. */
  wait(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` and waits for the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
};

/** Runs `sentinel <args>` as a real child process, the way an operator would. */
export function spawnSentinel(args: string[], env: Record<string, string>): SentinelProcess {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000);
  };
  let stdout = "";
  proc.stdout!.on("data", keep);
  proc.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  proc.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    stdout: () => stdout,
    async wait(timeoutMs = 60_000) {
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(signal = "SIGTERM", timeoutMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
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
