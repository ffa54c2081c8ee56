import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ourPid, startDetached, stopOurs } from "./background-process.ts";
import type { SecureFiles } from "./tls-material.ts";

/*
 * The secured stack's own PostgreSQL and Redis (issue 34), beside the machine's: PostgreSQL 15
 * accepting only TLS with SCRAM passwords (hostssl), Redis accepting only TLS with an ACL user
 * (its default user off). PostgreSQL runs as the machine's `postgres` user (it refuses root),
 * dropped to with setpriv; its data lives under <stack dir>/secure-pg, owned by that user.
 */

export const SECURE_PG_PORT = 5433;
export const SECURE_REDIS_PORT = 6380;
export const PG_USERS = { superuser: "postgres", owner: "sentinel_owner", runtime: "sentinel_app" } as const;
export const REDIS_USER = "sentinel";

const PG_BIN = "/usr/lib/postgresql/15/bin";

function pgPaths(files: SecureFiles) {
  // Beside secure/ (private to root), so that the postgres user can reach it.
  const root = join(files.dir, "..", "secure-pg");
  return {
    root,
    data: join(root, "data"),
    pidFile: join(root, "postgres.pid"),
    log: join(root, "postgres.log"),
  };
}

const postgresIds = () => ({
  uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
  gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
});

const asPostgres = (command: string, args: string[]) => [
  "--reuid=postgres",
  "--regid=postgres",
  "--init-groups",
  "--",
  command,
  ...args,
];

export const securePgPid = (files: SecureFiles) => ourPid(pgPaths(files).pidFile, pgPaths(files).data);

/** Initialises (once) and starts the TLS-only PostgreSQL; its pid. */
export function startSecurePostgres(files: SecureFiles, port = SECURE_PG_PORT): number {
  const p = pgPaths(files);
  const { uid, gid } = postgresIds();
  mkdirSync(p.root, { recursive: true });
  // The postgres user must be able to pass through the stack directory to reach its own folder.
  const parent = dirname(p.root);
  const mode = statSync(parent).mode;
  if ((mode & 0o001) === 0) chmodSync(parent, (mode & 0o777) | 0o711);
  chownSync(p.root, uid, gid);
  // The key must belong to the server's user and be private to it.
  for (const [from, to] of [
    [files.serverPem, "server.pem"],
    [files.serverKey, "server.key"],
    [files.caPem, "ca.pem"],
  ] as const) {
    copyFileSync(from, join(p.root, to));
    chownSync(join(p.root, to), uid, gid);
  }
  execFileSync("chmod", ["600", join(p.root, "server.key")]);
  if (!existsSync(join(p.data, "PG_VERSION"))) {
    const pwfile = join(p.root, "superuser.password");
    writeFileSync(pwfile, files.password(PG_USERS.superuser), { mode: 0o600 });
    chownSync(pwfile, uid, gid);
    execFileSync(
      "setpriv",
      asPostgres(join(PG_BIN, "initdb"), [
        "-D",
        p.data,
        "-U",
        PG_USERS.superuser,
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
      ]),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    // TLS only, from loopback, with SCRAM passwords; anything else refused.
    writeFileSync(
      join(p.data, "pg_hba.conf"),
      [
        "local all postgres peer",
        "hostssl all all 127.0.0.1/32 scram-sha-256",
        "hostssl all all ::1/128 scram-sha-256",
        "host all all 0.0.0.0/0 reject",
        "host all all ::/0 reject",
        "",
      ].join("\n"),
    );
  }
  const logFile = p.log;
  writeFileSync(logFile, "", { flag: "a" });
  chownSync(logFile, uid, gid);
  return startDetached(
    "setpriv",
    asPostgres(join(PG_BIN, "postgres"), [
      "-D",
      p.data,
      "-c",
      `port=${port}`,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${p.root}`,
      "-c",
      "ssl=on",
      "-c",
      `ssl_cert_file=${join(p.root, "server.pem")}`,
      "-c",
      `ssl_key_file=${join(p.root, "server.key")}`,
      "-c",
      `ssl_ca_file=${join(p.root, "ca.pem")}`,
      "-c",
      "password_encryption=scram-sha-256",
    ]),
    { logFile, pidFile: p.pidFile },
  );
}

export const stopSecurePostgres = (files: SecureFiles) =>
  stopOurs(pgPaths(files).pidFile, pgPaths(files).data, 30_000);

function redisPaths(files: SecureFiles) {
  const root = join(files.dir, "redis");
  return { root, pidFile: join(root, "redis.pid"), log: join(root, "redis.log") };
}

// Redis retitles its process `redis-server 127.0.0.1:<port>`: that is what marks it as ours.
const REDIS_MARKER = `redis-server 127.0.0.1:${SECURE_REDIS_PORT}`;
export const secureRedisPid = (files: SecureFiles) => ourPid(redisPaths(files).pidFile, REDIS_MARKER);

/** Starts Redis with a TLS port only and one ACL user (the default user off); its pid. */
export function startSecureRedis(files: SecureFiles, port = SECURE_REDIS_PORT): number {
  const p = redisPaths(files);
  mkdirSync(p.root, { recursive: true });
  // The password stays out of the command line (ps): Redis reads its users from an ACL file.
  const aclFile = join(p.root, "users.acl");
  writeFileSync(
    aclFile,
    `user default off\nuser ${REDIS_USER} on >${files.password(REDIS_USER)} ~* &* +@all -@dangerous +info\n`,
    { mode: 0o600 },
  );
  return startDetached(
    "redis-server",
    [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      files.serverPem,
      "--tls-key-file",
      files.serverKey,
      "--tls-ca-cert-file",
      files.caPem,
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      p.root,
      "--aclfile",
      aclFile,
    ],
    { logFile: p.log, pidFile: p.pidFile },
  );
}

export const stopSecureRedis = (files: SecureFiles) =>
  stopOurs(redisPaths(files).pidFile, REDIS_MARKER, 10_000);
