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
 */

/** V8's semi-space for a service, in MiB (`--max-semi-space-size`). */
export const SEMI_SPACE_MIB = 8;

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
 * Node's command line) and the compile cache (`NODE_COMPILE_CACHE`, or turned off) already.
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
  if (semiSpaceChosen && cacheChosen) return undefined;
  return {
    ...env,
    SENTINEL_RELAUNCHED: "1",
    ...(semiSpaceChosen ? {} : { NODE_OPTIONS: `${options} --max-semi-space-size=${SEMI_SPACE_MIB}`.trim() }),
    // Where enableCompileCache() (bin/sentinel.ts) keeps it by default: one cache for every start
    // (not module.getCompileCacheDir(), which names the version's subdirectory inside it).
    ...(cacheChosen ? {} : { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") }),
  };
}
