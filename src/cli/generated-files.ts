import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import { jsonSchemas } from "../domain/json-schemas.ts";
import { REPO_ROOT } from "../paths.ts";
import { defaultRuleSet } from "../rules/default-rule-set.ts";

/*
 * Files in the repository that are generated from the code (the single source), written by
 * `sentinel schemas` (npm run schemas) and checked by a drift test
 * (test/unit/generated-files.test.ts): the JSON Schemas of the wire messages, and the default rule
 * set with the default RULES_* parameters.
 */

/** Repository-relative path → the file's content. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(jsonSchemas())) {
    files.set(join("schemas", name), `${JSON.stringify(schema, null, 2)}\n`);
  }
  const defaults = loadConfig({}).rules;
  files.set(join("rulesets", "default.json"), `${JSON.stringify(defaultRuleSet(defaults), null, 2)}\n`);
  return files;
}

/** Writes every generated file under `root`; returns the paths written. */
export async function writeGeneratedFiles(root = REPO_ROOT): Promise<string[]> {
  const written: string[] = [];
  for (const [path, content] of generatedFiles()) {
    const full = join(root, path);
    await writeFile(full, content);
    written.push(full);
  }
  return written;
}
