/**
 * Reads OpenMSIStream's registry tables: the `.csv` files its `DataclassTable` writes in a
 * `LOGS` folder (OpenMSIStream 1.8.8, `openmsistream/utilities/dataclass_table.py`). Each file is
 * a header line of field names (after a `sep=;` line on Windows), then one row per entry,
 * `;`-separated with Python's `csv` quoting, each value Python's `repr()` of it: strings and
 * paths in quotes (read back by dropping the first and last character, as OpenMSIStream does),
 * integers as digits, sets as `{1, 2}` or `set()`, times as `'Sat Dec 05, 2026 at 10:24:17'`
 * (local time, `%a %b %d, %Y at %H:%M:%S`).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";

/** One row of a table: its values by field name, as written (after the CSV quoting). */
export type TableRow = Map<string, string>;

/** A table read from one file. */
export interface Table {
  /** The file. */
  file: string;
  /** The field names of its header. */
  fields: string[];
  /** Its rows. */
  rows: TableRow[];
}

/**
 * Splits one CSV line on `;`, honouring `"` quoting (Python's `csv` module, `QUOTE_MINIMAL`:
 * a field holding `;` or `"` is quoted, a `"` inside doubled).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitCsvLine } from "./csv_table.ts";
 *
 * assert.deepEqual(splitCsvLine(`'a';"'b;c'";{1, 2}`), ["'a'", "'b;c'", "{1, 2}"]);
 * ```
 */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ";") {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return out;
}

/**
 * Parses the text of a registry table whose header must list `fields` (in order).
 *
 * @throws {ConfigError} when the header is not the expected one, or a row has too few fields.
 */
export function parseTable(text: string, file: string, fields: readonly string[]): Table {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length > 0 && lines[0].startsWith("sep=")) lines.shift();
  if (lines.length === 0) return { file, fields: [...fields], rows: [] };
  const header = lines[0].trim().split(";");
  if (header.join(";") !== fields.join(";")) {
    throw new ConfigError(
      `OpenMSIStream registry ${JSON.stringify(file)} has the header ` +
        `${JSON.stringify(lines[0].trim())}, not ${JSON.stringify(fields.join(";"))}: it was ` +
        "not written by OpenMSIStream 1.8 (or the file is damaged).",
    );
  }
  const rows: TableRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const values = splitCsvLine(lines[i].trim());
    if (values.length < fields.length) {
      throw new ConfigError(
        `OpenMSIStream registry ${JSON.stringify(file)} line ${i + 1} has ${values.length} ` +
          `field(s), not ${fields.length}.`,
      );
    }
    rows.push(new Map(fields.map((name, j) => [name, values[j]])));
  }
  return { file, fields: [...fields], rows };
}

/** Reads a registry table; `undefined` when the file does not exist. */
export async function readTable(
  file: string,
  fields: readonly string[],
): Promise<Table | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseTable(text, file, fields);
}

/**
 * A string or path value: its `repr()` without the quotes (what OpenMSIStream reads back).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringValue } from "./csv_table.ts";
 * assert.equal(stringValue("'run1/a.dat'"), "run1/a.dat");
 * ```
 */
export function stringValue(text: string): string {
  return text.slice(1, -1);
}

/**
 * A set of integers (`{1, 2}`, `set()`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intSetValue } from "./csv_table.ts";
 * assert.deepEqual([...intSetValue("{3, 1}")], [3, 1]);
 * assert.equal(intSetValue("set()").size, 0);
 * ```
 */
export function intSetValue(text: string): Set<number> {
  if (text === "set()" || text === "{}") return new Set();
  return new Set(text.slice(1, -1).split(",").map((v) => Number.parseInt(v.trim(), 10)));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A time written as `'Sat Dec 05, 2026 at 10:24:17'` (local time), in milliseconds since the
 * epoch; `undefined` when it does not read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { timeValue } from "./csv_table.ts";
 * assert.equal(timeValue("'Sat Dec 05, 2026 at 10:24:17'"),
 *   new Date(2026, 11, 5, 10, 24, 17).getTime());
 * ```
 */
export function timeValue(text: string): number | undefined {
  const m = /^\w{3} (\w{3}) (\d{2}), (\d{4}) at (\d{2}):(\d{2}):(\d{2})$/.exec(stringValue(text));
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[1]);
  if (month < 0) return undefined;
  return new Date(Number(m[3]), month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]))
    .getTime();
}
