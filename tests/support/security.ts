/**
 * What the security tests share: the test broker's TLS listeners and certificates (from
 * `scripts/test.sh`, which starts the broker with `--tls`), config files for SASL_SSL and mutual
 * TLS, and granting ACLs with Kafka's own `kafka-acls` tool (`kafka.admin.AclCommand`, run as
 * `docs/security.md` prints it). Every helper fails loudly when the TLS broker is missing.
 *
 * @module
 */

import { BOOTSTRAP } from "./broker.ts";

/** The principal the least-privilege tests use: SASL user and client certificate CN `least`. */
export const LEAST_USER = "least";

/** The SASL password of {@linkcode LEAST_USER} (scripts/kafka/tls.sh). */
export const LEAST_PASSWORD = "least-secret";

/** The password of the client keys scripts/kafka/tls.sh makes. */
export const KEY_PASSWORD = "client-key-secret";

/** The TLS side of the test broker. */
export interface TlsBroker {
  /** SSL listener, client certificate required. */
  ssl: string;
  /** SASL_SSL listener (PLAIN). */
  saslSsl: string;
  /** SSL listener whose certificate expired. */
  expired: string;
  /** SSL listener whose certificate names another host. */
  wrongHost: string;
  /** The folder with the certificates (see scripts/kafka/tls.sh). */
  dir: string;
}

const VARIABLES = {
  ssl: "FERRY_TEST_SSL_BOOTSTRAP",
  saslSsl: "FERRY_TEST_SASL_SSL_BOOTSTRAP",
  expired: "FERRY_TEST_TLS_EXPIRED_BOOTSTRAP",
  wrongHost: "FERRY_TEST_TLS_WRONG_HOST_BOOTSTRAP",
  dir: "FERRY_TEST_TLS_DIR",
} as const;

/**
 * The TLS broker's addresses and certificates, from the environment `scripts/test.sh` sets;
 * throws, naming what is missing and how to start it, when they are not there.
 */
export function requireTls(): TlsBroker {
  const missing = Object.values(VARIABLES).filter((name) => !Deno.env.get(name));
  if (missing.length > 0) {
    throw new Error(
      `The security tests need the test broker's TLS listeners: ${missing.join(", ")} ` +
        "not set. Run them with `bash scripts/test.sh tests/security/`, or start the broker " +
        "with `bash scripts/kafka/broker.sh --tls start` and set the variables as " +
        "scripts/test.sh does.",
    );
  }
  const broker = Object.fromEntries(
    Object.entries(VARIABLES).map(([key, name]) => [key, Deno.env.get(name)!]),
  ) as unknown as TlsBroker;
  try {
    Deno.statSync(`${broker.dir}/ca.pem`);
  } catch (error) {
    throw new Error(
      `No certificates in FERRY_TEST_TLS_DIR "${broker.dir}": was the broker started with --tls?`,
      { cause: error },
    );
  }
  return broker;
}

/** A config file's `[broker]` section, one `name = value` line per property. */
export function configFile(properties: Record<string, string>): string {
  return ["[broker]", ...Object.entries(properties).map(([k, v]) => `${k} = ${v}`), ""].join(
    "\n",
  );
}

/**
 * The properties for the SASL_SSL listener as `user`, the password from `$passwordVariable`
 * (expanded by Ferry when it reads the config file); `ca` defaults to the dev CA.
 */
export function saslSslProperties(
  tls: TlsBroker,
  passwordVariable: string,
  user = LEAST_USER,
  ca = `${tls.dir}/ca.pem`,
): Record<string, string> {
  return {
    "bootstrap.servers": tls.saslSsl,
    "security.protocol": "SASL_SSL",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": user,
    "sasl.password": `\${${passwordVariable}}`,
    "ssl.ca.location": ca,
  };
}

/**
 * The properties for mutual TLS on `bootstrap` (default the SSL listener) with the client
 * certificate `name` (`least` or `client`), the key password from `$passwordVariable`.
 */
export function mutualTlsProperties(
  tls: TlsBroker,
  passwordVariable: string,
  name = LEAST_USER,
  bootstrap = tls.ssl,
): Record<string, string> {
  return {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SSL",
    "ssl.ca.location": `${tls.dir}/ca.pem`,
    "ssl.certificate.location": `${tls.dir}/${name}.pem`,
    "ssl.key.location": `${tls.dir}/${name}.key`,
    "ssl.key.password": `\${${passwordVariable}}`,
  };
}

/** The folder of the Kafka jars scripts/install.sh downloads. */
function kafkaLibs(): string {
  const cache = Deno.env.get("FERRY_CACHE") ?? `${Deno.env.get("HOME")}/.cache/ferry`;
  return `${cache}/kafka-3.9.1/libs`;
}

/**
 * Runs `kafka-acls` (`kafka.admin.AclCommand` from the Kafka jars, as docs/security.md prints
 * it) against the test broker's plaintext listener (its principal is a super user) with `args`,
 * for example `["--add", "--allow-principal", "User:least", "--operation", "Read", "--topic",
 * "t"]`; throws with its output when it fails.
 */
export async function kafkaAcls(args: readonly string[]): Promise<void> {
  const out = await new Deno.Command("java", {
    args: [
      "-cp",
      `${kafkaLibs()}/*`,
      "kafka.admin.AclCommand",
      "--bootstrap-server",
      BOOTSTRAP,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!out.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `kafka-acls ${args.join(" ")} failed (exit ${out.code}):\n` +
        decoder.decode(out.stdout) + decoder.decode(out.stderr),
    );
  }
}

/** The topics and groups {@linkcode grant} gave ACLs on, until {@linkcode revokeGranted}. */
const granted = {
  topics: new Set<string>(),
  groups: new Set<string>(),
  transactionalIds: new Set<string>(),
};

/**
 * Grants {@linkcode LEAST_USER} `operations` on the topics, groups and transactional ids given (one
 * AclCommand);
 * {@linkcode revokeGranted} takes them back.
 */
export function grant(
  operations: readonly string[],
  resources: {
    topics?: readonly string[];
    groups?: readonly string[];
    transactionalIds?: readonly string[];
  },
): Promise<void> {
  for (const topic of resources.topics ?? []) granted.topics.add(topic);
  for (const group of resources.groups ?? []) granted.groups.add(group);
  for (const id of resources.transactionalIds ?? []) granted.transactionalIds.add(id);
  return kafkaAcls([
    "--add",
    "--allow-principal",
    `User:${LEAST_USER}`,
    ...operations.flatMap((operation) => ["--operation", operation]),
    ...(resources.topics ?? []).flatMap((topic) => ["--topic", topic]),
    ...(resources.groups ?? []).flatMap((group) => ["--group", group]),
    ...(resources.transactionalIds ?? []).flatMap((id) => ["--transactional-id", id]),
  ]);
}

/**
 * Removes every ACL on the topics and groups {@linkcode grant} gave ACLs on (one AclCommand), so
 * that a long-lived dev broker does not collect them; for a test's `finally`.
 */
export async function revokeGranted(): Promise<void> {
  const topics = [...granted.topics];
  const groups = [...granted.groups];
  const ids = [...granted.transactionalIds];
  granted.topics.clear();
  granted.groups.clear();
  granted.transactionalIds.clear();
  if (topics.length + groups.length + ids.length === 0) return;
  await kafkaAcls([
    "--remove",
    "--force",
    ...topics.flatMap((topic) => ["--topic", topic]),
    ...groups.flatMap((group) => ["--group", group]),
    ...ids.flatMap((id) => ["--transactional-id", id]),
  ]);
}

/** Every text file below `dir` (logs), concatenated; nothing when `dir` does not exist. */
export async function textBelow(dir: string): Promise<string> {
  let text = "";
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) text += await textBelow(path);
      else if (/\.(log|jsonl|csv)$/.test(entry.name)) text += await Deno.readTextFile(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text;
}
