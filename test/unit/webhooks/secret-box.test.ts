import { describe, expect, it } from "vitest";
import { createSecretBox, newSecret } from "../../../src/webhooks/secret-box.ts";

describe("secret box", () => {
  it("makes whsec_ secrets of 24 random bytes", () => {
    const s = newSecret();
    expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(s.slice(6), "base64")).toHaveLength(24);
    expect(newSecret()).not.toBe(s);
  });

  it("seals so that only the same key opens, and refuses altered text", () => {
    const box = createSecretBox("a key of at least sixteen characters");
    const secret = newSecret();
    const sealed = box.seal(secret);
    expect(sealed).not.toContain(secret.slice(6));
    expect(box.seal(secret)).not.toBe(sealed); // a fresh IV each time
    expect(box.open(sealed)).toBe(secret);
    expect(() => createSecretBox("another key, sixteen characters").open(sealed)).toThrow();
    const parts = sealed.split(".");
    parts[3] = Buffer.from("whsec_forged").toString("base64url");
    expect(() => box.open(parts.join("."))).toThrow();
    expect(() => box.open("plain text")).toThrow(/not a sealed secret/);
  });
});
