import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SCHEMAS_DIR } from "../../../src/cli/write-schemas.ts";
import { jsonSchemas } from "../../../src/domain/json-schemas.ts";

describe("schemas/*.json", () => {
  it.each(Object.entries(jsonSchemas()))(
    "%s matches the zod schema (run `npm run schemas` after changing it)",
    (name, schema) => {
      const onDisk = JSON.parse(readFileSync(join(SCHEMAS_DIR, name), "utf8"));
      expect(onDisk).toEqual(schema);
    },
  );

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
});
