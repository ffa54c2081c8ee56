import { InvalidArgumentError } from "commander";
import { type Config, loadConfig } from "../config.ts";
import { SentinelError } from "../errors.ts";
import { createLogger, type Logger } from "../logger.ts";

/* What every command's action shares: config (or exit 2), a logger, option parsers. */

/** Loads config or exits 2 naming every bad variable (the contract of `npm start` with bad env). */
export function configOrExit(overrides: Record<string, string> = {}): Config {
  try {
    return loadConfig(undefined, overrides);
  } catch (error) {
    if (error instanceof SentinelError && error.code === "config_invalid") {
      process.stderr.write(`sentinel: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** The SRE commands' module, loaded only by them (tables, progress bars, the registry library). */
export const ops = () => import("../ops/commands.ts");

/** For commands that end: exits once done, whatever client timers are still pending. */
export function oneShot<A extends unknown[]>(
  run: (config: Config, logger: Logger, ...args: A) => Promise<void>,
) {
  return async (...args: A) => {
    const config = configOrExit({ LOG_LEVEL: "warn" });
    await run(config, createLogger(config, "sentinel", { toStderr: true }), ...args);
    process.exit(0);
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter(Boolean)];
}

export function withConfig(
  run: (config: Config, logger: Logger) => Promise<void>,
  overrides?: Record<string, string>,
) {
  return async () => {
    const config = configOrExit(overrides);
    await run(config, createLogger(config));
  };
}

/**
 * A one-shot subcommand with positional arguments and options: commander calls an action with its
 * arguments, then the options, then the command; `run` gets the arguments and the options.
 */
export function withArgs<O>(
  run: (config: Config, logger: Logger, positional: string[], opts: O) => Promise<void>,
) {
  return (...args: unknown[]) => {
    const opts = args.at(-2) as O;
    const positional = args.slice(0, -2).filter((a): a is string => typeof a === "string");
    return oneShot((c, l) => run(c, l, positional, opts))();
  };
}
