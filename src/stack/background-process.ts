import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { pollUntil } from "../poll.ts";

/*
 * The local stack's background servers (the Kafka broker, the schema registry): started detached
 * with their output in a log file, remembered by a pid file, and stopped only when the pid file
 * still names a live process whose command line carries `marker` (a recycled pid is not ours).
 */

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid recorded in `pidFile`, if that process still runs and is the one we started. */
export function ourPid(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
  if (!Number.isInteger(pid) || !isAlive(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker) ? pid : undefined;
  } catch {
    return pid; // no /proc (not Linux): trust the pid file
  }
}

/** Starts `command args` detached, appending its output to `logFile`, and records its pid. */
export function startDetached(
  command: string,
  args: string[],
  { logFile, pidFile, cwd }: { logFile: string; pidFile: string; cwd?: string },
): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out], cwd });
  closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  writeFileSync(pidFile, String(child.pid));
  return child.pid;
}

/** SIGTERM (a clean shutdown), SIGKILL after `graceMs`; false when nothing of ours was running. */
export async function stopOurs(pidFile: string, marker: string, graceMs: number): Promise<boolean> {
  const pid = ourPid(pidFile, marker);
  rmSync(pidFile, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  await pollUntil(() => !isAlive(pid), { timeoutMs: graceMs, everyMs: 100 });
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
  return true;
}
