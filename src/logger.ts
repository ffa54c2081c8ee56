import { type Logger, pino } from "pino";
import type { Config } from "./config.ts";

export type { Logger };

/**
 * JSON logs by default; LOG_PRETTY=true (npm run dev) renders them for humans. Services log to
 * stdout; the one-shot tools (replay, dlq, offsets) log to stderr, keeping stdout for their output.
 */
export function createLogger(
  config: Pick<Config, "log">,
  name = "sentinel",
  { toStderr = false }: { toStderr?: boolean } = {},
): Logger {
  const options = {
    name,
    level: config.log.level,
    redact: { paths: ["req.headers['x-api-key']", "headers['x-api-key']", "apiKey"], censor: "[redacted]" },
    ...(config.log.pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } }
      : {}),
  };
  return toStderr && !config.log.pretty ? pino(options, pino.destination(2)) : pino(options);
}
