import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/*
 * What the secured local stack (`stack up --secure`, issue 34) is made with: a CA of its own and a
 * server certificate it signs for 127.0.0.1 and localhost (openssl), and a random password per
 * user, each in a file of its own (0600) that the processes read with *_FILE. Generated once and
 * kept under <stack dir>/secure; delete that folder to start again.
 */

export type SecureFiles = {
  dir: string;
  caPem: string;
  serverPem: string;
  serverKey: string;
  serverP12: string;
  password(user: string): string;
  passwordFile(user: string): string;
};

export function secureFiles(stackDir: string): SecureFiles {
  const dir = join(stackDir, "secure");
  const tls = join(dir, "tls");
  const passwordFile = (user: string) => join(dir, "credentials", `${user}.password`);
  return {
    dir,
    caPem: join(tls, "ca.pem"),
    serverPem: join(tls, "server.pem"),
    serverKey: join(tls, "server.key"),
    serverP12: join(tls, "server.p12"),
    passwordFile,
    password: (user) => readFileSync(passwordFile(user), "utf8").trim(),
  };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate it signs (127.0.0.1, ::1, localhost), and its PKCS#12 keystore. */
function generateCertificates(files: SecureFiles, tls: string): void {
  const days = "825";
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      days,
      "-subj",
      "/CN=SentinelStream local CA",
    ],
    tls,
  );
  writeFileSync(
    join(tls, "server.ext"),
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ],
    tls,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      days,
      "-extfile",
      "server.ext",
    ],
    tls,
  );
  const p12Password = randomBytes(12).toString("hex");
  writeFileSync(files.passwordFile("p12"), p12Password, { mode: 0o600 });
  openssl(
    [
      "pkcs12",
      "-export",
      "-in",
      "server.pem",
      "-inkey",
      "server.key",
      "-out",
      "server.p12",
      "-name",
      "server",
      "-passout",
      `pass:${p12Password}`,
    ],
    tls,
  );
  for (const f of ["ca.key", "server.key", "server.p12"]) chmodSync(join(tls, f), 0o600);
}

/** The CA and the server certificate (once), and a password for each user that has none. */
export function ensureTlsMaterial(files: SecureFiles, users: readonly string[]): void {
  const tls = join(files.dir, "tls");
  mkdirSync(tls, { recursive: true, mode: 0o700 });
  mkdirSync(join(files.dir, "credentials"), { recursive: true, mode: 0o700 });
  if (!existsSync(files.serverP12)) generateCertificates(files, tls);
  for (const user of users) {
    if (!existsSync(files.passwordFile(user)))
      writeFileSync(files.passwordFile(user), randomBytes(18).toString("hex"), { mode: 0o600 });
  }
}
