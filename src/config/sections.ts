/**
 * What Ferry does with each section and key an OpenMSIStream config file may hold: a table of
 * the known ones, each either handled (read, or matched by what Ferry always does) or not, with
 * what to use instead. A section or key Ferry does not act on gets one warning line per config
 * file naming it and what to use instead. Another section Ferry knows nothing of is an error
 * (`src/config/resolve.ts`).
 *
 * The warnings are held until the command's logging is set up (a config file is read before),
 * then written once: {@linkcode releaseConfigWarnings} is called by `configureLogging`.
 *
 * To start acting on a section, mark it `handled` here.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

/** One known section or key. */
export interface KnownEntry {
  /** Whether Ferry acts on it (no warning). */
  handled: boolean;
  /** For one not handled: what to use instead, as a phrase. */
  instead: string;
}

/** OpenMSIStream's config sections, by lower-case name. */
export const KNOWN_SECTIONS: Readonly<Record<string, KnownEntry>> = {
  broker: { handled: true, instead: "" },
  producer: { handled: true, instead: "" },
  consumer: { handled: true, instead: "" },
  // Read by the heartbeat and log producers (src/command/reporting.ts).
  heartbeat: { handled: true, instead: "" },
  log: { handled: true, instead: "" },
  s3: { handled: false, instead: "a processor of your own that writes to S3" },
  girder: { handled: false, instead: "a processor of your own that uploads to Girder" },
  metadata: { handled: false, instead: "a processor of your own that produces metadata" },
};

/** OpenMSIStream's keys in `[broker]`, `[producer]`, `[consumer]` that are not librdkafka's. */
export const KNOWN_KEYS: Readonly<Record<string, KnownEntry>> = {
  // Ferry always reads and writes the chunk format these name.
  "key.serializer": { handled: true, instead: "" },
  "value.serializer": { handled: true, instead: "" },
  "key.deserializer": { handled: true, instead: "" },
  "value.deserializer": { handled: true, instead: "" },
  node_id: {
    handled: false,
    instead: "nothing: Ferry has no KafkaCrypto node (client.id names a client)",
  },
};

const logger = getLogger(["ferry", "config"]);
const warned = new Set<string>();
let pending: { message: string; properties: Record<string, string> }[] = [];
let released = false;

/**
 * Warns once per file about a section or key Ferry does not act on.
 *
 * @param file The config file.
 * @param what `[heartbeat]`, or `node_id in [consumer]`.
 * @param instead What to use instead.
 */
export function warnUnhandled(file: string, what: string, instead: string): void {
  const key = `${file}\n${what}`;
  if (warned.has(key)) return;
  warned.add(key);
  const message = "Ignoring {what} of {file}: Ferry does not act on it; use {instead}.";
  const properties = { what, file, instead };
  if (released) logger.warn(message, properties);
  else pending.push({ message, properties });
}

/** Writes the warnings held until logging was set up, and writes later ones at once. */
export function releaseConfigWarnings(): void {
  released = true;
  for (const { message, properties } of pending) logger.warn(message, properties);
  pending = [];
}
