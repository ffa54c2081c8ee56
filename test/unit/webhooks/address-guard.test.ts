import { describe, expect, it } from "vitest";
import { guardedLookup, isPublicAddress, urlRefusal } from "../../../src/webhooks/address-guard.ts";

describe("webhook address guard", () => {
  it("calls only public unicast addresses public", () => {
    for (const a of ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
      expect(isPublicAddress(a), a).toBe(true);
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      // IPv4-compatible IPv6 (::/96), issue 35: refused like the other special ranges.
      "::127.0.0.1",
      "::7f00:1",
      "::10.0.0.1",
      "::8.8.8.8",
      "not an address",
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });

  it("refuses bad URLs always, and private destinations unless allowed", () => {
    expect(urlRefusal("ftp://example.com/x", true)).toMatch(/http or https/);
    expect(urlRefusal("https://user:pw@example.com/x", true)).toMatch(/credentials/);
    expect(urlRefusal("nonsense", true)).toBe("not a URL");
    expect(urlRefusal("https://example.com/hooks", false)).toBeUndefined();
    expect(urlRefusal("http://169.254.169.254/latest/meta-data", false)).toMatch(/not a public address/);
    expect(urlRefusal("http://[::1]:8080/x", false)).toMatch(/not a public address/);
    expect(urlRefusal("http://localhost:8080/x", false)).toMatch(/localhost/);
    expect(urlRefusal("http://app.localhost/x", false)).toMatch(/localhost/);
    expect(urlRefusal("http://127.0.0.1:8080/x", true)).toBeUndefined();
    expect(urlRefusal("http://[::127.0.0.1]:8080/x", false)).toMatch(/not a public address/);
  });

  it("refuses a name that resolves to a private address at connection time", async () => {
    // localhost resolves from /etc/hosts: no DNS server is asked.
    const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      guardedLookup(false)("localhost", {}, (err) => resolve(err)),
    );
    expect(refused?.code).toBe("EADDRREFUSED");
    // Issue 35: the error says the address is not public, never which address it is.
    expect(refused?.message).toBe("refused: localhost resolves to an address that is not public");
    expect(refused?.message).not.toMatch(/127\.0\.0\.1|::1/);
    const allowed = await new Promise<string | unknown>((resolve) =>
      guardedLookup(true)("localhost", {}, (err, address) => resolve(err ?? address)),
    );
    expect(allowed).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
