#!/usr/bin/env node
import { enableCompileCache } from "node:module";
import { relaunchEnv, relaunchExecArgv } from "../src/cli/relaunch.ts";

// A service starts again in place with its V8 settings (src/cli/relaunch.ts), before anything loads.
const relaunch = relaunchEnv(process.argv.slice(2), process.env, process.execArgv);
if (relaunch && process.execve) {
  process.execve(
    process.execPath,
    [
      process.execPath,
      ...relaunchExecArgv(process.argv.slice(2), process.execArgv),
      ...process.argv.slice(1),
    ],
    relaunch,
  );
}

// Compiled code kept on disk (os.tmpdir()/node-compile-cache) for the next start: a restarted
// process starts in ~70% of the CPU time (0.8 → 0.55 s here), which matters most when a busy
// box restarts a consumer whose partitions wait for it (issue 22). Before anything else loads.
enableCompileCache();
// A child of a test, benchmark or chaos run (test/support/processes.ts sets this) goes when its
// parent does, however the parent ended — an out-of-memory crash runs no exit handler, and the
// orphans kept polling Kafka: re-parented, it gets the SIGTERM an operator would send, once.
if (process.env.SENTINEL_EXIT_WITH_PARENT === "1") {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, "SIGTERM");
  }, 1_000);
  watch.unref();
}
const { buildProgram } = await import("../src/cli/program.ts");
const { SentinelError } = await import("../src/errors.ts");

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // Our own errors are meant for the operator: the message, not the stack.
    if (error instanceof SentinelError) {
      process.stderr.write(`sentinel: ${error.message}\n`);
      process.exit(error.code === "validation_failed" ? 2 : 1);
    }
    process.stderr.write(`sentinel: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
