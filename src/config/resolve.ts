/**
 * Resolves the librdkafka configuration of a producer or consumer from the places a user can
 * give it: an OpenMSIStream-style config file (`--config`), the `FERRY_BOOTSTRAP_SERVERS`
 * environment variable, the `--bootstrap-servers` flag and `-X key=value` overrides, in that
 * order of precedence (later wins). Where each property came from is kept, for log lines.
 *
 * What the properties mean is the binding's: checking them with librdkafka, which ones are
 * secrets, which one names the brokers, and the defaults Ferry adds all live in
 * `src/kafka/config.ts`.
 *
 * @module
 */

import {
  bootstrapServers,
  type ClientRole,
  type KafkaConfig,
  redact,
  secretValues,
} from "../kafka/config.ts";
import { ConfigError } from "./config_error.ts";
import { findConfigFile } from "./config_path.ts";
import { KNOWN_KEYS, KNOWN_SECTIONS, warnUnhandled } from "./sections.ts";
import { type EnvLookup, type IniEntry, type IniFile, processEnv, readIniFile } from "./ini.ts";

/** Where the configuration can come from; every field is optional. */
export interface KafkaConfigSources {
  /** Path of an OpenMSIStream-style config file (`[broker]`, `[producer]`, `[consumer]`). */
  configFile?: string;
  /** `--bootstrap-servers`: wins over the file and the environment. */
  bootstrapServers?: string;
  /** `-X key=value` overrides, applied last. */
  overrides?: readonly string[];
  /** How environment variables are read (default {@linkcode processEnv}). */
  env?: EnvLookup;
  /**
   * The name of one more section the config file may have, besides Kafka's: a processor's own
   * options (`[checksum]` for the processor named `checksum`). Returned as written, in
   * {@linkcode ResolvedKafkaConfig.section}; never read as Kafka properties.
   */
  section?: string;
}

/** A section of the config file that is not Kafka's (a processor's own options), as written. */
export interface ConfigSection {
  /** The config file. */
  file: string;
  /** The section's name as written in the file. */
  name: string;
  /** The line of its `[name]` header. */
  line: number;
  /** Its keys (lower-case) and their values, `[DEFAULT]`'s included. */
  entries: Map<string, IniEntry>;
  /** The keys it has only from the file's `[DEFAULT]` section. */
  fromDefault: ReadonlySet<string>;
}

/** The resolved configuration, and where each property came from (for logs and errors). */
export interface ResolvedKafkaConfig {
  /** The librdkafka properties. */
  config: KafkaConfig;
  /** For each property, a label of its source, such as `ferry.config:3` or `-X`. */
  origins: Record<string, string>;
  /** The section named by {@linkcode KafkaConfigSources.section}, when the file has it. */
  section?: ConfigSection;
}

/** The two names librdkafka knows the brokers by (one is an alias of the other). */
const BROKER_PROPERTIES = ["bootstrap.servers", "metadata.broker.list"];

/** The environment variable read for the bootstrap servers. */
export const BOOTSTRAP_ENV = "FERRY_BOOTSTRAP_SERVERS";

/** Sections Ferry reads Kafka properties from. */
const USED_SECTIONS = new Set(["broker", "producer", "consumer"]);

/**
 * Parses one `-X key=value` override.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOverride } from "./resolve.ts";
 *
 * assert.deepEqual(parseOverride("linger.ms=5"), ["linger.ms", "5"]);
 * assert.throws(() => parseOverride("linger.ms"), /"linger.ms"/);
 * ```
 *
 * @param text The text after `-X`.
 * @returns The key and the value.
 * @throws {ConfigError} when there is no `=` or the key is empty.
 */
export function parseOverride(text: string): [string, string] {
  const at = text.indexOf("=");
  if (at <= 0) {
    throw new ConfigError(
      `Override ${JSON.stringify(text)} is not of the form "key=value" (for example ` +
        `"-X linger.ms=5").`,
    );
  }
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

/**
 * Takes the librdkafka properties for `role` out of a parsed config file: `[broker]` then
 * `[producer]` or `[consumer]`. Sections for the other role are skipped; OpenMSIStream sections
 * Ferry does not use (`[s3]`, `[girder]`) are skipped with a warning, `[heartbeat]` and `[log]`
 * (the heartbeat and log producers, `src/command/reporting.ts`) silently; a
 * `[kafkacrypto]` section is refused (Ferry does not encrypt, and silently sending plain data
 * where encryption was configured would be wrong); the section named `section` (a processor's
 * own options) is left to its reader; any other section is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIni } from "./ini.ts";
 * import { configFromIni } from "./resolve.ts";
 *
 * const ini = parseIni(
 *   "[broker]\nbootstrap.servers = h:9092\n[producer]\nlinger.ms = 100\n" +
 *     "value.serializer = DataFileChunkSerializer\n[consumer]\ngroup.id = g\n",
 *   "ferry.config",
 * );
 * const { config } = configFromIni(ini, "producer");
 * assert.deepEqual(config, { "bootstrap.servers": "h:9092", "linger.ms": "100" });
 * ```
 *
 * @param ini The parsed file.
 * @param role Producer or consumer.
 * @param section The name of one more section the file may have (a processor's own options);
 *   its entries are returned in `section` of the result, not read as Kafka properties. The
 *   names of Kafka's sections (`broker`, `producer`, `consumer`) are never taken for it.
 * @returns The properties and their origins.
 * @throws {ConfigError} for an unknown section or a `[kafkacrypto]` section.
 */
export function configFromIni(
  ini: IniFile,
  role: ClientRole,
  section?: string,
): ResolvedKafkaConfig {
  const config: KafkaConfig = {};
  const origins: Record<string, string> = {};
  const own = section?.toLowerCase();
  let found: ConfigSection | undefined;
  for (const [name, entries] of ini.sections) {
    const line = ini.sectionLines.get(name);
    const lower = name.toLowerCase();
    if (own !== undefined && lower === own && !USED_SECTIONS.has(lower)) {
      const fromDefault = new Set(
        [...entries].filter(([key, entry]) => ini.defaultLines.get(key) === entry.line)
          .map(([key]) => key),
      );
      found = { file: ini.source, name, line: line ?? 0, entries, fromDefault };
      continue;
    }
    if (lower === "kafkacrypto") {
      throw new ConfigError(
        `Section "[${name}]" configures OpenMSIStream's KafkaCrypto encryption, which Ferry ` +
          "does not support; remove it to send unencrypted messages.",
        { file: ini.source, line },
      );
    }
    const known = KNOWN_SECTIONS[lower];
    if (known !== undefined && !USED_SECTIONS.has(lower)) {
      // Handled ones ([heartbeat], [log]) are read by the commands that send to Kafka.
      if (!known.handled) warnUnhandled(ini.source, `section [${name}]`, known.instead);
      continue;
    }
    if (!USED_SECTIONS.has(lower)) {
      const expected = own === undefined || USED_SECTIONS.has(own)
        ? "[broker], [producer] or [consumer]"
        : `[broker], [producer], [consumer] or [${section}] (this processor's options)`;
      throw new ConfigError(
        `Section "[${name}]" is not one Ferry knows; expected ${expected}.`,
        { file: ini.source, line },
      );
    }
  }
  for (const section of ["broker", role]) {
    const entries = [...ini.sections].find(([name]) => name.toLowerCase() === section)?.[1];
    if (entries === undefined) continue;
    for (const [key, entry] of entries) {
      const knownKey = KNOWN_KEYS[key];
      if (knownKey !== undefined) {
        if (!knownKey.handled) {
          warnUnhandled(ini.source, `key ${key} in [${section}]`, knownKey.instead);
        }
        continue;
      }
      config[key] = entry.value;
      origins[key] = `${ini.source}:${entry.line}`;
    }
  }
  return found === undefined ? { config, origins } : { config, origins, section: found };
}

/**
 * Sets one property of a configuration being resolved, with its origin. A property naming the
 * brokers replaces both of their names (`bootstrap.servers` and its alias
 * `metadata.broker.list`), so that the later source wins whichever name the earlier one used.
 */
function setProperty(resolved: ResolvedKafkaConfig, key: string, value: string, origin: string) {
  if (BROKER_PROPERTIES.includes(key)) {
    for (const name of BROKER_PROPERTIES) {
      delete resolved.config[name];
      delete resolved.origins[name];
    }
  }
  resolved.config[key] = value;
  resolved.origins[key] = origin;
}

/**
 * Resolves the configuration for `role`: config file, then `FERRY_BOOTSTRAP_SERVERS`, then
 * `--bootstrap-servers`, then `-X` overrides, each later one winning. The result must name
 * `bootstrap.servers` (or `metadata.broker.list`); whichever name a source uses for the
 * brokers, a later source's brokers replace it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveKafkaConfig } from "./resolve.ts";
 *
 * const { config } = await resolveKafkaConfig("producer", {
 *   bootstrapServers: "127.0.0.1:19092",
 *   overrides: ["linger.ms=5"],
 *   env: () => undefined,
 * });
 * assert.deepEqual(config, { "bootstrap.servers": "127.0.0.1:19092", "linger.ms": "5" });
 * ```
 *
 * @param role Producer or consumer.
 * @param sources Where to look.
 * @returns The properties and their origins.
 * @throws {ConfigError} for a bad file, a bad override, or no bootstrap servers at all.
 */
export async function resolveKafkaConfig(
  role: ClientRole,
  sources: KafkaConfigSources,
): Promise<ResolvedKafkaConfig> {
  const env = sources.env ?? processEnv;
  let resolved: ResolvedKafkaConfig = { config: {}, origins: {} };
  if (sources.configFile !== undefined) {
    resolved = configFromIni(
      await readIniFile(await findConfigFile(sources.configFile, env), { env }),
      role,
      sources.section,
    );
  }
  const fromEnv = env(BOOTSTRAP_ENV);
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    setProperty(resolved, "bootstrap.servers", fromEnv.trim(), `$${BOOTSTRAP_ENV}`);
  }
  if (sources.bootstrapServers !== undefined) {
    if (sources.bootstrapServers.trim() === "") {
      throw new ConfigError('Option "--bootstrap-servers" is empty.');
    }
    setProperty(
      resolved,
      "bootstrap.servers",
      sources.bootstrapServers.trim(),
      "--bootstrap-servers",
    );
  }
  for (const override of sources.overrides ?? []) {
    const [key, value] = parseOverride(override);
    setProperty(resolved, key, value, "-X");
  }
  if (bootstrapServers(resolved.config) === undefined) {
    throw new ConfigError(
      "No Kafka broker given: use --bootstrap-servers, set " + BOOTSTRAP_ENV +
        ", or give a --config file with bootstrap.servers in its [broker] section.",
    );
  }
  return resolved;
}

/**
 * Describes a configuration for a log line, one `key=value (origin)` per property, with secret
 * values (passwords, keys, tokens) replaced by `***`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeKafkaConfig } from "./resolve.ts";
 *
 * const text = describeKafkaConfig({
 *   config: { "bootstrap.servers": "h:9092", "sasl.password": "hunter2" },
 *   origins: { "bootstrap.servers": "-X", "sasl.password": "a.config:4" },
 * });
 * assert.ok(!text.includes("hunter2"));
 * assert.ok(text.includes("sasl.password=*** (a.config:4)"));
 * ```
 *
 * @param resolved The configuration and its origins.
 * @returns One line per property, redacted.
 */
export function describeKafkaConfig(resolved: ResolvedKafkaConfig): string {
  const secrets = secretValues(resolved.config);
  return Object.entries(resolved.config)
    .map(([key, value]) => {
      const origin = resolved.origins[key];
      return redact(`${key}=${String(value)}`, secrets) + (origin ? ` (${origin})` : "");
    })
    .join("\n");
}
