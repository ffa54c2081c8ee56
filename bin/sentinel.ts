#!/usr/bin/env node
import { buildProgram } from "../src/cli/program.ts";
import { SentinelError } from "../src/errors.ts";

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
