import { tmpdir } from "node:os";
import { join } from "node:path";

/*
 * The services' V8 settings. Node sizes V8's young generation by the machine's memory: on a 24 GiB
 * box a process's new space grows to 128 MiB, most of what the ingress and the scorer hold beyond
 * their live data after a burst. A service (`all`, `ingest`, `consume`, `dev`, `webhooks run`)
 * therefore starts again in place (`process.execve`: the same pid, signals and file descriptors)
 * with semi-spaces of `SEMI_SPACE_MIB`, and with Node's compile cache on from its first line, so
 * that the type stripper is not loaded to read this entry file (~20 MiB resident per process).
 * At 4 MiB the objects of requests in flight outlived the young generation at 2,000+ tx/s and the
 * highest rate fell; 8 cost nothing measurable. Measured in docs/performance.md ("2026-12-06: the
 * services' young generation").
 *
 * The ingress also starts with V8 collecting its old generation once it has grown
 * `HEAP_GROWING_PERCENT` past what the last full collection left: V8's own factor (up to 4x on a
 * fast machine) let the promoted garbage of requests in flight pile up, 180–268 MiB resident at
 * 1,000–2,000 tx/s against 175–207 with it, at no CPU cost measured. Not the scorer: its larger
 * live heap made the same setting cost it 7–22 % more CPU per transaction. A V8 flag NODE_OPTIONS
 * refuses, so it goes on Node's command line; one the operator put there wins (0 is V8's own).
 */

/** V8's semi-space for a service, in MiB (`--max-semi-space-size`). */
export const SEMI_SPACE_MIB = 8;

/** How far V8 lets the ingress's old generation grow past its live size, in % (`--heap-growing-percent`). */
export const HEAP_GROWING_PERCENT = 30;

const HEAP_GROWING_FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/** Whether `sentinel <args>` is the ingress (the one process given HEAP_GROWING_PERCENT) and Node's command line lacks a growing factor. */
const growingMissing = (args: readonly string[], execArgv: readonly string[]) =>
  args[0] === "ingest" && !execArgv.some((a) => HEAP_GROWING_FLAG.test(a));

// The commands that call serve() (run-commands.ts; `webhooks run` below, webhooks-commands.ts).
const SERVICES = new Set(["all", "ingest", "consume", "dev"]);

/** Whether `sentinel <args>` runs a long-lived service (not a one-shot command). */
export function isServiceCommand(args: readonly string[]): boolean {
  const [command, sub] = args;
  if (command === undefined) return false;
  if (SERVICES.has(command)) return args.length === 1;
  return command === "webhooks" && (sub === undefined || (sub === "run" && args.length === 2));
}

/**
 * The environment a service starts again with, or undefined to go on as it is: a one-shot command,
 * a process already relaunched, or one whose operator chose the semi-space (in `NODE_OPTIONS` or on
 * Node's command line), the compile cache (`NODE_COMPILE_CACHE`, or turned off) and, for the
 * ingress, the growing factor (on Node's command line) already.
 */
export function relaunchEnv(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
): NodeJS.ProcessEnv | undefined {
  if (!isServiceCommand(args) || env.SENTINEL_RELAUNCHED === "1") return undefined;
  const options = env.NODE_OPTIONS ?? "";
  const semiSpaceChosen = [...execArgv, ...options.split(/\s+/)].some((a) =>
    /^--max[-_]semi[-_]space[-_]size(=|$)/.test(a),
  );
  const cacheChosen = env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE !== undefined;
  if (semiSpaceChosen && cacheChosen && !growingMissing(args, execArgv)) return undefined;
  return {
    ...env,
    SENTINEL_RELAUNCHED: "1",
    ...(semiSpaceChosen ? {} : { NODE_OPTIONS: `${options} --max-semi-space-size=${SEMI_SPACE_MIB}`.trim() }),
    // Where enableCompileCache() (bin/sentinel.ts) keeps it by default: one cache for every start
    // (not module.getCompileCacheDir(), which names the version's subdirectory inside it).
    ...(cacheChosen ? {} : { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") }),
  };
}

/** Node's command-line flags a service starts again with: the operator's, and the ingress's growing factor unless named. */
export function relaunchExecArgv(args: readonly string[], execArgv: readonly string[]): string[] {
  return growingMissing(args, execArgv)
    ? [...execArgv, `--heap-growing-percent=${HEAP_GROWING_PERCENT}`]
    : [...execArgv];
}
