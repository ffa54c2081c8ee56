import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { routeTableMarkdown } from "../app/route-table.ts";
import { loadConfig } from "../config.ts";
import { jsonSchemas } from "../json-schemas.ts";
import { REPO_ROOT } from "../paths.ts";
import { defaultRuleSet } from "../rules/default-rule-set.ts";

/*
 * Files in the repository that are generated from the code (the single source), written by
 * `sentinel schemas` (npm run schemas) and checked by a drift test
 * (test/unit/generated-files.test.ts): the JSON Schemas of the wire messages, the default rule
 * set with the default RULES_* parameters, and the route and error tables of docs/http-api.md
 * (between its `generated` markers).
 */

const START = "<!-- generated: routes -->";
const END = "<!-- end generated -->";

/** `page` with the text between its markers replaced by `generated`. @throws when a marker is missing. */
export function withGenerated(page: string, generated: string): string {
  const a = page.indexOf(START);
  const b = page.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/http-api.md lacks the ${START} … ${END} markers`);
  return `${page.slice(0, a + START.length)}\n${generated}\n${page.slice(b)}`;
}

/** Repository-relative path → the file's content. */
export async function generatedFiles(root = REPO_ROOT): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(jsonSchemas())) {
    files.set(join("schemas", name), `${JSON.stringify(schema, null, 2)}\n`);
  }
  const defaults = loadConfig({}).rules;
  files.set(join("rulesets", "default.json"), `${JSON.stringify(defaultRuleSet(defaults), null, 2)}\n`);
  const api = join("docs", "http-api.md");
  files.set(api, withGenerated(await readFile(join(root, api), "utf8"), await routeTableMarkdown()));
  return files;
}

/** Writes every generated file under `root`; returns the paths written. */
export async function writeGeneratedFiles(root = REPO_ROOT): Promise<string[]> {
  const written: string[] = [];
  for (const [path, content] of await generatedFiles(root)) {
    const full = join(root, path);
    await writeFile(full, content);
    written.push(full);
  }
  return written;
}
