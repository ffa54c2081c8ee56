import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/*
 * Signing secrets (`whsec_` + base64 of 24 random bytes, the format of the Standard Webhooks
 * libraries) are kept sealed with AES-256-GCM under WEBHOOK_SECRET_KEY: what PostgreSQL holds is
 * useless without the key from the environment (law 7). The sealed form is
 * `v1.<iv>.<tag>.<ciphertext>`, base64url.
 */

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export type SecretBox = { seal(secret: string): string; open(sealed: string): string };

/** `key`: any string; its SHA-256 is the AES key (so a passphrase or 32 random bytes in hex both work). */
export function createSecretBox(key: string): SecretBox {
  const aesKey = createHash("sha256").update(key).digest();
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", aesKey, iv);
      const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
      return ["v1", iv, cipher.getAuthTag(), data]
        .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
        .join(".");
    },
    /** @throws Error when the sealed text was not sealed with this key (or was altered). */
    open(sealed) {
      const [version, iv, tag, data] = sealed.split(".");
      if (version !== "v1" || !iv || !tag || data === undefined) throw new Error("not a sealed secret");
      const decipher = createDecipheriv("aes-256-gcm", aesKey, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString(
        "utf8",
      );
    },
  };
}
