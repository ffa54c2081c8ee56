import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { jsonSchemas } from "../domain/json-schemas.ts";
import { REPO_ROOT } from "../paths.ts";

export const SCHEMAS_DIR = join(REPO_ROOT, "schemas");

/** Writes every generated JSON Schema into schemas/; returns the paths written. */
export async function writeSchemas(dir = SCHEMAS_DIR): Promise<string[]> {
  const written: string[] = [];
  for (const [name, schema] of Object.entries(jsonSchemas())) {
    const path = join(dir, name);
    await writeFile(path, `${JSON.stringify(schema, null, 2)}\n`);
    written.push(path);
  }
  return written;
}
