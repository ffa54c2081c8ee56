#!/usr/bin/env node
import { buildProgram } from "../src/cli/program.ts";

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`sentinel: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
