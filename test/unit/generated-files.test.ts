import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatedFiles } from "../../src/cli/generated-files.ts";
import { jsonSchemas } from "../../src/json-schemas.ts";
import { REPO_ROOT } from "../../src/paths.ts";
import { validateRuleSet } from "../../src/rules/rule-language.ts";

const files = await generatedFiles();

describe("generated files (schemas/*.json, rulesets/default.json, docs/http-api.md's tables)", () => {
  it.each([...files])("%s matches the code (run `npm run schemas` after changing it)", (path, content) => {
    const onDisk = readFileSync(join(REPO_ROOT, path), "utf8");
    if (path.endsWith(".json")) expect(JSON.parse(onDisk)).toEqual(JSON.parse(content));
    else expect(onDisk).toBe(content);
  });

  it("describes the wire contract", () => {
    const tx = jsonSchemas()["transaction.v1.json"] as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { enum?: string[] }>;
    };
    expect(tx.required.sort()).toEqual(["amount", "currency", "transaction_id", "user_id"]);
    expect(tx.additionalProperties).toBe(false);
    expect(tx.properties.currency!.enum).toContain("JPY");
    expect(tx.properties.country!.enum).toContain("DE");
  });

  it("ships a default rule set that validates", () => {
    const doc = JSON.parse(readFileSync(join(REPO_ROOT, "rulesets", "default.json"), "utf8"));
    expect(validateRuleSet(doc).ok).toBe(true);
  });
});
