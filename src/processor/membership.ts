/**
 * How a processor is a member of its consumer group: the failover time (how long the group
 * waits for a member that stopped answering before its partitions go to the others) and static
 * membership (`group.instance.id`: a restarted process takes its partitions back at once, with
 * no rebalance). The one place where both become librdkafka properties is
 * {@linkcode membershipConfig}.
 *
 * Instance ids are derived unless `group.instance.id` is set: a file processor's from the host
 * and its output directory ({@linkcode fileInstanceId}), a record processor's from the host, the
 * group and a numbered slot claimed in the user's state folder ({@linkcode claimRecordInstance}),
 * so that two processes never share one: two members with one id fence each other.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join, resolve } from "node:path";
import { hashHex } from "../hash/sha512.ts";
import type { KafkaConfig } from "../kafka/mod.ts";
import { type EnvLookup, userStateHome } from "../upload/upload_log.ts";
import { errorText } from "./errors.ts";

const logger = getLogger(["ferry", "group"]);

/**
 * The default failover time in seconds. Kafka's default session timeout is 45 s and
 * librdkafka's 45 s too; the Kinesis Client Library's failover time is 10 s. On a lab network
 * (one switch, sub-millisecond round trips) a heartbeat every 2 s that is missed five times in a
 * row means the machine or its process is gone, not that the network hiccupped; librdkafka sends
 * heartbeats from its own thread, so a busy `process()` never delays them. 10 s is also well
 * above the broker's lowest allowed session timeout (`group.min.session.timeout.ms`, 6 s).
 */
export const DEFAULT_FAILOVER_SECONDS = 10;

/** The broker's default bounds of `session.timeout.ms`, in seconds. */
const MIN_FAILOVER_SECONDS = 6;
const MAX_FAILOVER_SECONDS = 1800;

/** The config file key (in `[consumer]` or `[broker]`) that sets the failover time. */
export const FAILOVER_KEY = "failover.seconds";

/** Thrown for a failover time out of bounds. */
export class FailoverSecondsError extends Error {
  override name = "FailoverSecondsError";
}

/**
 * Checks a failover time given as text (a flag or the config key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFailoverSeconds } from "./membership.ts";
 * assert.equal(parseFailoverSeconds("12", "--failover-seconds"), 12);
 * assert.throws(() => parseFailoverSeconds("2", "--failover-seconds"), /at least 6/);
 * ```
 *
 * @throws {FailoverSecondsError} naming `origin` when it is not a number from 6 to 1800.
 */
export function parseFailoverSeconds(value: string, origin: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new FailoverSecondsError(`"${value}" is not a number of seconds (${origin}).`);
  }
  if (n < MIN_FAILOVER_SECONDS || n > MAX_FAILOVER_SECONDS) {
    throw new FailoverSecondsError(
      `The failover time "${value}" (${origin}) must be at least ${MIN_FAILOVER_SECONDS} and at ` +
        `most ${MAX_FAILOVER_SECONDS} seconds: Kafka brokers refuse session timeouts outside ` +
        "group.min.session.timeout.ms and group.max.session.timeout.ms (6 s and 30 min by " +
        "default).",
    );
  }
  return n;
}

/**
 * Takes the failover key out of a resolved Kafka configuration (it is Ferry's, not a librdkafka
 * property) and returns its value, checked.
 *
 * @throws {FailoverSecondsError} for a bad value.
 */
export function takeFailoverKey(config: KafkaConfig): number | undefined {
  const value = config[FAILOVER_KEY];
  if (value === undefined) return undefined;
  delete config[FAILOVER_KEY];
  return parseFailoverSeconds(String(value), `"${FAILOVER_KEY}" in the config file`);
}

/**
 * The librdkafka properties of a failover time: the session timeout, and a heartbeat every
 * fifth of it (five heartbeats may be lost before the member is dropped). This is the single
 * place where the failover time becomes configuration: with KIP-848's consumer group protocol
 * (`group.protocol=consumer` in `kafka`) the broker owns both settings, and it returns none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failoverConfig } from "./membership.ts";
 * assert.deepEqual(failoverConfig({}, 10), {
 *   "session.timeout.ms": 10000,
 *   "heartbeat.interval.ms": 2000,
 * });
 * ```
 *
 * @param kafka The user's Kafka properties (their `group.protocol` decides).
 * @param failoverSeconds The failover time; default {@linkcode DEFAULT_FAILOVER_SECONDS}.
 */
export function failoverConfig(kafka: KafkaConfig, failoverSeconds?: number): KafkaConfig {
  if (String(kafka["group.protocol"] ?? "classic") === "consumer") return {};
  const sessionMs = Math.round((failoverSeconds ?? DEFAULT_FAILOVER_SECONDS) * 1000);
  return {
    "session.timeout.ms": sessionMs,
    "heartbeat.interval.ms": Math.max(100, Math.round(sessionMs / 5)),
  };
}

/**
 * The session timeout and heartbeat interval in effect (ms): the user's `session.timeout.ms`
 * and `heartbeat.interval.ms` win over those of the failover time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { membershipTimes } from "./membership.ts";
 * assert.deepEqual(membershipTimes({}, undefined), { failoverMs: 10000, heartbeatMs: 2000 });
 * assert.deepEqual(membershipTimes({ "session.timeout.ms": 6000 }, 20), {
 *   failoverMs: 6000,
 *   heartbeatMs: 4000,
 * });
 * ```
 */
export function membershipTimes(
  kafka: KafkaConfig,
  failoverSeconds: number | undefined,
): { failoverMs: number; heartbeatMs: number } {
  const derived = failoverConfig({}, failoverSeconds);
  return {
    failoverMs: Number(kafka["session.timeout.ms"] ?? derived["session.timeout.ms"]),
    heartbeatMs: Number(kafka["heartbeat.interval.ms"] ?? derived["heartbeat.interval.ms"]),
  };
}

/** A processor's membership in its group, as it joins. */
export interface Membership {
  /** The librdkafka properties to put under the user's own (which win). */
  config: KafkaConfig;
  /** The session timeout in effect, in seconds (the user's `session.timeout.ms` wins). */
  failoverSeconds: number;
  /** The heartbeat interval in effect (ms). */
  heartbeatMs: number;
  /** The static member id, or `undefined` for a dynamic member. */
  instanceId: string | undefined;
  /** Why there is no static member id, when there is none. */
  dynamicBecause: string | undefined;
  /** Gives up what was claimed for the instance id (a record processor's slot). */
  release(): Promise<void>;
}

/** How the instance id is chosen when the user's config has none. */
export type InstanceIdSource =
  | { kind: "files"; outputDir: string }
  | { kind: "records"; group: string };

/**
 * The membership of a processor about to join: the failover time (default
 * {@linkcode DEFAULT_FAILOVER_SECONDS}) and the instance id, from the user's config
 * (`group.instance.id`, an empty value turns static membership off) or derived from `source`.
 */
export async function membershipConfig(
  kafka: KafkaConfig,
  failoverSeconds: number | undefined,
  source: InstanceIdSource,
): Promise<Membership> {
  const config = failoverConfig(kafka, failoverSeconds);
  const { failoverMs, heartbeatMs } = membershipTimes(kafka, failoverSeconds);
  const none = async () => {};
  const given = kafka["group.instance.id"];
  const base = { config, failoverSeconds: failoverMs / 1000, heartbeatMs, release: none };
  if (given !== undefined) {
    if (String(given) === "") {
      delete kafka["group.instance.id"];
      return { ...base, instanceId: undefined, dynamicBecause: "group.instance.id is empty" };
    }
    return { ...base, instanceId: String(given), dynamicBecause: undefined };
  }
  const host = readHostname();
  if (host === undefined) {
    return {
      ...base,
      instanceId: undefined,
      dynamicBecause: "the host name cannot be read (allow --allow-sys=hostname, or set " +
        "group.instance.id)",
    };
  }
  if (source.kind === "files") {
    const instanceId = await fileInstanceId(host, source.outputDir);
    config["group.instance.id"] = instanceId;
    return { ...base, config, instanceId, dynamicBecause: undefined };
  }
  try {
    const claim = await claimRecordInstance(host, source.group, membersFolder());
    config["group.instance.id"] = claim.instanceId;
    return {
      ...base,
      config,
      instanceId: claim.instanceId,
      dynamicBecause: undefined,
      release: claim.release,
    };
  } catch (error) {
    return {
      ...base,
      instanceId: undefined,
      dynamicBecause: `no instance slot could be claimed (${errorText(error)}; set ` +
        "group.instance.id)",
    };
  }
}

function readHostname(): string | undefined {
  try {
    const host = Deno.hostname();
    return host === "" ? undefined : host;
  } catch (error) {
    logger.debug("Cannot read the host name: {error}", { error: errorText(error) });
    return undefined;
  }
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return hashHex(new Uint8Array(digest)).slice(0, 12);
}

/** Keeps an id to characters Kafka shows well, and to a sane length. */
function clean(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
}

/**
 * A file processor's instance id: `ferry-<host>-<12 hex digits>`, the digits from the SHA-256
 * of the output directory's absolute path. Stable across restarts of one process; two processes
 * need two output directories anyway (each keeps its own logs there), so they never share one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileInstanceId } from "./membership.ts";
 * const id = await fileInstanceId("lab-pc", "/data/out");
 * assert.match(id, /^ferry-lab-pc-[0-9a-f]{12}$/);
 * assert.equal(id, await fileInstanceId("lab-pc", "/data/./out/"));
 * assert.notEqual(id, await fileInstanceId("lab-pc", "/data/other"));
 * ```
 */
export async function fileInstanceId(host: string, outputDir: string): Promise<string> {
  return `ferry-${clean(host)}-${await shortHash(resolve(outputDir))}`;
}

/**
 * Where record processors claim their instance slots: `<state home>/ferry/members` (see
 * {@linkcode userStateHome}); `ferry permissions` grants it to record processors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { membersFolder } from "./membership.ts";
 * assert.equal(membersFolder((name) => name === "HOME" ? "/home/ada" : undefined),
 *   "/home/ada/.local/state/ferry/members");
 * ```
 *
 * @param env Reads an environment variable (default: this process's, where allowed).
 * @returns The absolute folder.
 * @throws {ConfigError} when neither XDG_STATE_HOME nor HOME gives an absolute path.
 */
export function membersFolder(env?: EnvLookup): string {
  return join(userStateHome(env), "ferry", "members");
}

/**
 * Claims the lowest free instance slot of `group` on this host: a file `<n>.lock` in
 * `<folder>/<hash of the group>/` that this process holds an exclusive lock on (`flock`) for as
 * long as it runs. The kernel releases the lock when the process ends, however it ends (a
 * `kill -9` too), so a restarted process gets the same id, `ferry-<host>-<group>-<n>`; two
 * processes running at once get different ones. Needs only read and write access to `folder`
 * (no `/proc`, no process ids); the files stay, empty but for the holder's process id.
 */
export async function claimRecordInstance(
  host: string,
  group: string,
  folder: string,
): Promise<{ instanceId: string; release(): Promise<void> }> {
  const dir = join(folder, await shortHash(group));
  await Deno.mkdir(dir, { recursive: true });
  for (let slot = 0; slot < 1000; slot++) {
    const file = await Deno.open(join(dir, `${slot}.lock`), {
      read: true,
      write: true,
      create: true,
    });
    let locked = false;
    try {
      locked = await file.tryLock(true);
    } finally {
      if (!locked) file.close();
    }
    if (!locked) continue;
    // For whoever looks: which process holds the slot.
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    let released = false;
    return {
      instanceId: `ferry-${clean(host)}-${clean(group)}-${slot}`,
      release: () => {
        if (!released) {
          released = true;
          file.close(); // closing the file releases its lock
        }
        return Promise.resolve();
      },
    };
  }
  throw new Error(`every instance slot in "${dir}" is taken`);
}

/**
 * The words of the start-up line about membership, such as `static member
 * ferry-lab-pc-1a2b3c4d5e6f, failover 10 s`.
 */
export function describeMembership(m: Membership): string {
  const who = m.instanceId === undefined
    ? `dynamic member (${m.dynamicBecause})`
    : `static member ${m.instanceId}`;
  return `${who}, failover ${m.failoverSeconds} s`;
}
