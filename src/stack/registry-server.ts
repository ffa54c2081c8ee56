import { spawnSync } from "node:child_process";
import { cpSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../paths.ts";
import { pollUntil } from "../poll.ts";
import { ourPid, startDetached, stopOurs } from "./background-process.ts";

/*
 * A Confluent-compatible Schema Registry for machines without Docker: Apicurio Registry 2.4 (in
 * memory) built from Maven Central by infra/apicurio/pom.xml into the stack directory and run with
 * the machine's Java. Its Confluent API is at http://127.0.0.1:<port>/apis/ccompat/v7. Like the
 * broker, only a registry this stack started (pid file) is ever stopped.
 */

export type RegistryPaths = { root: string; build: string; jar: string; logs: string; pidFile: string };

export const REGISTRY_PORT = 8081;

export function registryPaths(stackDir: string): RegistryPaths {
  const root = join(stackDir, "apicurio");
  const build = join(root, "build");
  return {
    root,
    build,
    jar: join(build, "target", "apicurio-runner-1-runner.jar"),
    logs: join(root, "logs"),
    pidFile: join(root, "registry.pid"),
  };
}

export function registryUrl(port = REGISTRY_PORT): string {
  return `http://127.0.0.1:${port}/apis/ccompat/v7`;
}

/** The pid of the registry this stack started, if it still runs. */
export function registryPid(paths: RegistryPaths): number | undefined {
  return ourPid(paths.pidFile, paths.jar);
}

/** Builds the registry with Maven unless it is built (first run: a few minutes of downloads). */
export function ensureRegistryBuilt(paths: RegistryPaths, log: (line: string) => void): void {
  if (existsSync(paths.jar)) return;
  log("building Apicurio Registry from Maven Central (first run only)…");
  rmSync(paths.build, { recursive: true, force: true });
  cpSync(join(REPO_ROOT, "infra/apicurio"), paths.build, { recursive: true });
  const result = spawnSync(
    "mvn",
    ["-B", "-q", "-f", join(paths.build, "pom.xml"), "package", "-DskipTests"],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  if (result.status !== 0 || !existsSync(paths.jar)) {
    throw new Error(`building the schema registry failed (mvn exit ${result.status})`);
  }
}

/** Starts the registry detached on 127.0.0.1:port, its output in logs/, and records its pid. */
export function startRegistry(paths: RegistryPaths, port = REGISTRY_PORT): number {
  return startDetached(
    "java",
    [
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-Dquarkus.http.host=127.0.0.1",
      `-Dquarkus.http.port=${port}`,
      "-Dquarkus.log.level=WARN",
      "-jar",
      paths.jar,
    ],
    { logFile: join(paths.logs, "registry.log"), pidFile: paths.pidFile, cwd: paths.root },
  );
}

/** Whether a Confluent-compatible registry answers at `url`. */
export async function registryReachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(1_000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function waitForRegistry(url: string, timeoutMs = 90_000): Promise<void> {
  await pollUntil(() => registryReachable(url), {
    timeoutMs,
    everyMs: 250,
    onTimeout: () => {
      throw new Error(`schema registry at ${url} did not answer within ${timeoutMs / 1000} s`);
    },
  });
}

export function stopRegistry(paths: RegistryPaths, graceMs = 10_000): Promise<boolean> {
  return stopOurs(paths.pidFile, paths.jar, graceMs);
}
