import { existsSync } from "node:fs";

/*
 * A real browser for the console test: Debian's chromium (no browser download is possible here),
 * which .ci/run installs with apt when missing. Undefined when there is none: the test is then
 * skipped, and counted as skipped.
 */

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | undefined {
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
