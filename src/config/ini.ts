/**
 * A parser for OpenMSIStream-style INI config files: `[section]` headers, `key = value` (or
 * `key: value`) lines, `#` and `;` comment lines, and values that start with `$`, in which every
 * environment variable (`$VAR` or `${VAR}`) is replaced by its value. A missing variable is an
 * error that names the variable, the file and the line. As in OpenMSIStream, a value that does
 * not start with `$` is taken literally, so a password such as `pa$$word` stays as written.
 *
 * This follows Python's `configparser` as OpenMSIStream uses it: keys are case-insensitive
 * (stored lower-case), values are trimmed, indented lines continue the previous value, and a
 * `[DEFAULT]` section supplies keys to every other section.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";

/** One parsed value and where it came from. */
export interface IniEntry {
  /** The value after environment-variable substitution. */
  value: string;
  /** The 1-based line the key is on. */
  line: number;
}

/** A parsed INI file: sections by name (case kept), each a map from lower-case key to entry. */
export interface IniFile {
  /** The path or label the text came from, for error messages. */
  source: string;
  /** The sections in file order; `DEFAULT` is merged into the others and not listed. */
  sections: Map<string, Map<string, IniEntry>>;
  /** The line each section header is on. */
  sectionLines: Map<string, number>;
  /**
   * The keys of the `[DEFAULT]` section and their lines: an entry of another section whose key
   * is here with the same line came from `[DEFAULT]`, not from that section.
   */
  defaultLines: Map<string, number>;
}

/** Reads environment variables; by default {@linkcode processEnv}. */
export type EnvLookup = (name: string) => string | undefined;

/**
 * The process's environment (`Deno.env.get`): the default {@linkcode EnvLookup} of every
 * function that reads variables (here and in `resolve.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processEnv } from "./ini.ts";
 *
 * assert.equal(processEnv("PATH"), Deno.env.get("PATH"));
 * ```
 */
export function processEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

const SECTION = /^\[([^\]]+)\]\s*$/;
const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Replaces `$VAR` and `${VAR}` in `value` with environment variables. A `$` not followed by a
 * variable name is kept as it is. A variable that is not set throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { substituteEnv } from "./ini.ts";
 *
 * const env = (name: string) => name === "HOST" ? "kafka:9092" : undefined;
 * assert.equal(substituteEnv("${HOST}", env, { file: "x.config", line: 1 }), "kafka:9092");
 * assert.throws(() => substituteEnv("$PORT", env, { file: "x.config", line: 3 }), /"PORT"/);
 * ```
 *
 * @param value The raw value.
 * @param env Where to look variables up.
 * @param where The file and line, for the error message.
 * @returns The value with every variable replaced.
 */
export function substituteEnv(
  value: string,
  env: EnvLookup,
  where: { file: string; line: number },
): string {
  return value.replace(VARIABLE, (_match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const found = env(name);
    if (found === undefined) {
      throw new ConfigError(
        `Environment variable "${name}" is not set (the config file uses "${value}").`,
        where,
      );
    }
    return found;
  });
}

/**
 * Parses INI text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIni } from "./ini.ts";
 *
 * const ini = parseIni("[broker]\nbootstrap.servers = $HOST\n# comment\n", "ferry.config", {
 *   env: (name) => name === "HOST" ? "127.0.0.1:9092" : undefined,
 * });
 * assert.equal(ini.sections.get("broker")?.get("bootstrap.servers")?.value, "127.0.0.1:9092");
 * ```
 *
 * @param text The file's contents.
 * @param source The file's path (or a label), used in error messages.
 * @param options `env`: how to read environment variables (default {@linkcode processEnv}).
 * @returns The sections.
 * @throws {ConfigError} for a line that is neither a section, a key nor a comment, a key outside
 *   any section, a duplicate section or key, or a missing environment variable.
 */
export function parseIni(
  text: string,
  source: string,
  options: { env?: EnvLookup } = {},
): IniFile {
  const env = options.env ?? processEnv;
  const raw = new Map<string, Map<string, { value: string; line: number }>>();
  const sectionLines = new Map<string, number>();
  let current: Map<string, { value: string; line: number }> | undefined;
  let last: { value: string; line: number } | undefined;
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) {
      last = undefined;
      continue;
    }
    if (/^\s/.test(line) && last !== undefined) {
      // A continuation line, as configparser reads it.
      last.value = `${last.value}\n${trimmed}`;
      continue;
    }
    const section = SECTION.exec(trimmed);
    if (section) {
      const name = section[1].trim();
      if (raw.has(name)) {
        throw new ConfigError(`Section "[${name}]" appears twice.`, { file: source, line: lineNo });
      }
      current = new Map();
      raw.set(name, current);
      sectionLines.set(name, lineNo);
      last = undefined;
      continue;
    }
    const separator = trimmed.search(/[=:]/);
    if (separator <= 0) {
      throw new ConfigError(
        `Line ${JSON.stringify(trimmed)} is not a "[section]" header nor a "key = value" line.`,
        { file: source, line: lineNo },
      );
    }
    if (current === undefined) {
      throw new ConfigError(
        `Key line ${JSON.stringify(trimmed)} comes before any "[section]" header.`,
        { file: source, line: lineNo },
      );
    }
    const key = trimmed.slice(0, separator).trim().toLowerCase();
    const value = trimmed.slice(separator + 1).trim();
    if (current.has(key)) {
      throw new ConfigError(`Key "${key}" appears twice in the same section.`, {
        file: source,
        line: lineNo,
      });
    }
    last = { value, line: lineNo };
    current.set(key, last);
  }

  const defaults = raw.get("DEFAULT");
  const defaultLines = new Map([...(defaults ?? [])].map(([key, entry]) => [key, entry.line]));
  raw.delete("DEFAULT");
  sectionLines.delete("DEFAULT");
  const sections = new Map<string, Map<string, IniEntry>>();
  for (const [name, entries] of raw) {
    const merged = new Map<string, IniEntry>();
    for (const [key, entry] of [...(defaults ?? []), ...entries]) {
      merged.set(key, {
        value: entry.value.startsWith("$")
          ? substituteEnv(entry.value, env, { file: source, line: entry.line })
          : entry.value,
        line: entry.line,
      });
    }
    sections.set(name, merged);
  }
  return { source, sections, sectionLines, defaultLines };
}

/**
 * Reads and parses an INI file.
 *
 * @example
 * ```ts ignore
 * import { readIniFile } from "./ini.ts";
 * const ini = await readIniFile("ferry.config");
 * ```
 *
 * @param path The file to read.
 * @param options `env`: how to read environment variables (default {@linkcode processEnv}).
 * @returns The parsed file.
 * @throws {ConfigError} when the file cannot be read or does not parse.
 */
export async function readIniFile(
  path: string,
  options: { env?: EnvLookup } = {},
): Promise<IniFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read (${error instanceof Error ? error.message : String(error)})`;
    throw new ConfigError(`Config file "${path}" ${why}.`, { cause: error });
  }
  return parseIni(text, path, options);
}
