import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/*
 * A real browser for the console test: Debian's chromium (no browser download is possible here),
 * installed with apt when missing and allowed (root, CI). Undefined when none can be had: the test
 * is then skipped, and counted as skipped.
 */

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium({ install = true } = {}): string | undefined {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found || !install || process.getuid?.() !== 0) return found;
  try {
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], {
      stdio: "ignore",
      timeout: 300_000,
    });
  } catch {
    try {
      execFileSync("apt-get", ["update"], { stdio: "ignore", timeout: 120_000 });
      execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], {
        stdio: "ignore",
        timeout: 300_000,
      });
    } catch {
      return undefined;
    }
  }
  return CANDIDATES.find((p) => existsSync(p));
}

/** The flags a root, sandboxed, offline machine needs for a headless Chromium. */
export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];
