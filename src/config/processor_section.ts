/**
 * A processor's own options (`defineProcessor({ options })`) from its section of the config
 * file: the section named after the processor (`[checksum]`), whose keys are the options' flag
 * names without the dashes, in kebab-case or snake_case (`results-file`, `results_file`).
 * Flags win over the file; `src/command/processor_options.ts` merges the two.
 *
 * @module
 */

import type { OptionSpec, OptionSpecs } from "../processor/definition.ts";
import { ConfigError } from "./config_error.ts";
import type { ConfigSection } from "./resolve.ts";

/** An option's value from the config file, and where it is (`file:line`). */
export interface SectionValue {
  /** The value, of the option's type. */
  value: string | number | boolean;
  /** `file:line`, for messages. */
  origin: string;
}

const TRUE = new Set(["1", "yes", "true", "on"]);
const FALSE = new Set(["0", "no", "false", "off"]);

/** An option's flag name without the dashes: `resultsFile` is `results-file`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Which option a key of the section names, if any (keys are lower-case). */
function optionOf(key: string, specs: OptionSpecs): string | undefined {
  const dashed = key.replace(/_/g, "-");
  return Object.keys(specs).find((name) => dashed === kebab(name) || key === name.toLowerCase());
}

function typed(
  spec: OptionSpec,
  key: string,
  value: string,
  where: { file: string; line: number },
): string | number | boolean {
  if (spec.type === "number") {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new ConfigError(`Key "${key}" must be a number, got ${JSON.stringify(value)}.`, where);
    }
    return n;
  }
  if (spec.type === "boolean") {
    const lower = value.toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    throw new ConfigError(
      `Key "${key}" must be true or false (also yes/no, on/off, 1/0), got ` +
        `${JSON.stringify(value)}.`,
      where,
    );
  }
  return value;
}

/**
 * The values a processor's section of the config file gives its own options, by option name
 * (camelCase), typed as the options are: numbers as numbers, booleans from `true`/`false`,
 * `yes`/`no`, `on`/`off` or `1`/`0` (as Python's `configparser` reads them). Keys the section
 * has only from `[DEFAULT]` are left alone: `[DEFAULT]` gives them to Kafka's sections too, so
 * they are Kafka properties.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIni } from "./ini.ts";
 * import { configFromIni } from "./resolve.ts";
 * import { optionsFromSection } from "./processor_section.ts";
 *
 * const ini = parseIni("[checksum]\nresults_file = x.csv\nmax-files = 3\n", "ferry.config");
 * const { section } = configFromIni(ini, "consumer", "checksum");
 * const values = optionsFromSection(section!, {
 *   resultsFile: { type: "string", description: "CSV file name" },
 *   maxFiles: { type: "number", description: "stop after this many" },
 * });
 * assert.deepEqual(values.get("resultsFile"), { value: "x.csv", origin: "ferry.config:2" });
 * assert.equal(values.get("maxFiles")?.value, 3);
 * ```
 *
 * @param section The processor's section.
 * @param specs The processor's own options.
 * @returns The values the section gives, by option name.
 * @throws {ConfigError} naming the file, line and key, for a key that names no option, two keys
 *   for the same option, or a value that is not of the option's type.
 */
export function optionsFromSection(
  section: ConfigSection,
  specs: OptionSpecs,
): Map<string, SectionValue> {
  const values = new Map<string, SectionValue>();
  for (const [key, entry] of section.entries) {
    // [DEFAULT] gives its keys to every section, Kafka's too: they are Kafka properties.
    if (section.fromDefault.has(key)) continue;
    const where = { file: section.file, line: entry.line };
    const name = optionOf(key, specs);
    if (name === undefined) {
      const known = Object.keys(specs).map((n) => kebab(n).replace(/-/g, "_"));
      throw new ConfigError(
        `Key "${key}" in section "[${section.name}]" is not an option of this processor; ` +
          (known.length === 0 ? "it has none." : `its options are ${known.join(", ")}.`),
        where,
      );
    }
    const earlier = values.get(name);
    if (earlier !== undefined) {
      throw new ConfigError(
        `Key "${key}" in section "[${section.name}]" sets the same option as the key at ` +
          `${earlier.origin}; keep one of them.`,
        where,
      );
    }
    values.set(name, {
      value: typed(specs[name], key, entry.value, where),
      origin: `${section.file}:${entry.line}`,
    });
  }
  return values;
}
