import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/*
 * `node bench/e2e.ts --profile`: the V8 CPU profiles (.cpuprofile) and sampling heap profiles
 * (.heapprofile) the ingress and the consumer wrote on exit, summarised as text — self time by
 * package and by function, and the memory still allocated at exit by package and by function.
 * A package is the node_modules directory a frame's script sits in, `src` for ours, `node:` for
 * Node's own, and the engine's pseudo-frames ((garbage collector), (program)) as they are.
 */

type CallFrame = { functionName: string; url: string; lineNumber: number };
type CpuNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: CpuNode[]; samples: number[]; startTime: number; endTime: number };
type HeapNode = { callFrame: CallFrame; selfSize: number; children: HeapNode[] };

function packageOf(cf: CallFrame): string {
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(cf.url);
  if (m) return m[1]!;
  if (cf.url.includes("/src/")) return "src";
  if (cf.url.startsWith("node:")) return `node:${cf.url.slice(5).split("/")[0]}`;
  return cf.url || cf.functionName || "(native)";
}

function frameName(cf: CallFrame): string {
  const where = cf.url.replace(/.*node_modules\//, "").replace(/.*\/(src|bench|bin)\//, "$1/");
  return `${cf.functionName || "(anonymous)"} ${where}${where ? `:${cf.lineNumber + 1}` : ""}`;
}

function top(m: Map<string, number>, total: number, n: number, unit: (v: number) => string): string[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${unit(v).padStart(9)}  ${k}`);
}

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

function cpuSummary(p: CpuProfile, name: string): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const msPerSample = (p.endTime - p.startTime) / 1000 / Math.max(1, p.samples.length);
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const id of p.samples) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === "(idle)") {
      idle += msPerSample;
      continue;
    }
    busy += msPerSample;
    add(byPackage, packageOf(cf), msPerSample);
    add(byFunction, frameName(cf), msPerSample);
  }
  const msUnit = (v: number) => `${Math.round(v)} ms`;
  return [
    `${name}: CPU busy ${Math.round(busy)} ms, idle ${Math.round(idle)} ms (self time)`,
    "  by package:",
    ...top(byPackage, busy, 12, msUnit),
    "  by function:",
    ...top(byFunction, busy, 20, msUnit),
  ].join("\n");
}

function heapSummary(root: HeapNode, name: string): string {
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const stack = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byPackage, packageOf(node.callFrame), node.selfSize);
      add(byFunction, frameName(node.callFrame), node.selfSize);
    }
    stack.push(...node.children);
  }
  const kib = (v: number) => `${Math.round(v / 1024)} KiB`;
  return [
    `${name}: ${kib(total)} allocated and still live at exit (sampled), by where it was allocated`,
    "  by package:",
    ...top(byPackage, total, 10, kib),
    "  by function:",
    ...top(byFunction, total, 12, kib),
  ].join("\n");
}

/** Every profile in `dir`, summarised; a profile's process is named by the pid in its file name. */
export function summariseProfiles(dir: string, pids: Record<string, number | undefined> = {}): string {
  const out: string[] = [];
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, file), "utf8");
    const pid = Number(/\.(\d+)\.\d+\.\d+\.(cpu|heap)profile$/.exec(file)?.[1]);
    const role = Object.entries(pids).find(([, p]) => p === pid)?.[0];
    const name = role ? `${role} (${file})` : file;
    if (file.endsWith(".cpuprofile")) out.push(cpuSummary(JSON.parse(text) as CpuProfile, name));
    else if (file.endsWith(".heapprofile"))
      out.push(heapSummary((JSON.parse(text) as { head: HeapNode }).head, name));
  }
  return out.join("\n\n");
}

if (import.meta.main) console.log(summariseProfiles(process.argv[2] ?? "."));
