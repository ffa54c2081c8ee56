import { readdirSync, readFileSync } from "node:fs";

/*
 * CPU time per process from /proc (Linux): utime + stime, in ms. The bench reads it for every
 * process of the stack — our Node processes, the Kafka broker, PostgreSQL (every backend) and
 * Redis — before and after a stage, so a figure is CPU spent, not the box's load average. The load
 * generator (the bench's own process) is left out.
 */

const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), counted from field 3.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  } catch {
    return undefined; // exited
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The stack's processes by role: PostgreSQL, Redis and the Kafka broker(s) found in /proc, plus `ours`. */
export function stackPids(ours: Record<string, number | undefined>): Map<string, number[]> {
  const roles = new Map<string, number[]>();
  const add = (role: string, pid: number) => roles.set(role, [...(roles.get(role) ?? []), pid]);
  for (const [role, pid] of Object.entries(ours)) if (pid !== undefined) add(role, pid);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const comm = readOr(`/proc/${name}/comm`).trim();
    if (comm === "postgres") add("postgresql", Number(name));
    else if (comm === "redis-server") add("redis", Number(name));
    else if (comm === "java" && readOr(`/proc/${name}/cmdline`).includes("kafka.Kafka"))
      add("kafka", Number(name));
  }
  return roles;
}

export type CpuSample = Map<string, Map<number, number>>;

/** CPU ms of each process now. */
export function sampleCpu(roles: Map<string, number[]>): CpuSample {
  const sample: CpuSample = new Map();
  for (const [role, pids] of roles) {
    const m = new Map<number, number>();
    for (const pid of pids) {
      const ms = cpuMs(pid);
      if (ms !== undefined) m.set(pid, ms);
    }
    sample.set(role, m);
  }
  return sample;
}

/** CPU ms spent per role between two samples (a process absent before counts from zero). */
export function cpuSpent(before: CpuSample, after: CpuSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, pids] of after) {
    let ms = 0;
    for (const [pid, t] of pids) ms += t - (before.get(role)?.get(pid) ?? 0);
    out[role] = ms;
  }
  return out;
}

/** CPU ms the whole machine has spent busy (every core, every process: /proc/stat's first line). */
export function machineBusyMs(): number {
  const [, ...fields] = readOr("/proc/stat").split("\n")[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal: idle and iowait are not work.
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * TICK_MS;
}
