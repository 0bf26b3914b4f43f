/**
 * OpenMSIStream's default choice of the files `DataFileUploadDirectory` uploads (1.8.8,
 * `UploadDirectoryEventHandler.filepath_matched` and `RunConstants.DEFAULT_UPLOAD_REGEX`): a
 * regular file, outside its `LOGS` subfolder, whose name does not start with "." and whose
 * relative path matches `^((?!(\.|.*.log))).*$` from its start (Python's `re.match`): the path
 * does not start with "." and has no "log" after its first character (so `run.log`, `LOGS/...`,
 * but also `catalog.csv` are left out, as OpenMSIStream leaves them out).
 *
 * Ferry applies it as `ferry upload`'s default when an OpenMSIStream flag spelling is used
 * (`--upload_existing`, `--topic_name`, ...) and no `--upload-regex`, `--include` or `--exclude`
 * says otherwise.
 *
 * @module
 */

import type { FileFilterOptions } from "../upload/filter.ts";

/** OpenMSIStream's `DEFAULT_UPLOAD_REGEX`, as written in its source. */
export const OMS_DEFAULT_UPLOAD_REGEX_SOURCE = String.raw`^((?!(\.|.*.log))).*$`;

/** The subfolder of the uploaded folder where OpenMSIStream keeps its registry and logs. */
export const OMS_LOGS_SUBDIR = "LOGS";

/**
 * A regular expression applied as Python's `re.match` applies it: anchored at the start of the
 * text (not at its end), without the `s` flag (`.` stops at a line break, as in Python).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pythonMatch } from "./upload_filter.ts";
 *
 * assert.ok(!pythonMatch(String.raw`\.(csv|tif)$`).test("run1/a.csv")); // re.match: no
 * assert.ok(pythonMatch(String.raw`run1/`).test("run1/a.csv"));
 * assert.ok(!pythonMatch(String.raw`a`).test("run1/a.csv"));
 * ```
 *
 * @param source The expression as the user wrote it.
 * @returns The anchored expression.
 * @throws {SyntaxError} when it is not a valid regular expression.
 */
export function pythonMatch(source: string): RegExp {
  new RegExp(source); // the user's own syntax error, not one about the wrapping
  return new RegExp(`^(?:${source})`);
}

/**
 * The filter options of OpenMSIStream's default: its regex (anchored) and its `LOGS` folder left
 * out. (Ferry also leaves out hidden folders at any depth, where OpenMSIStream only looks at the
 * file's own name and the path's first character.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileFilter } from "../upload/filter.ts";
 * import { openmsistreamDefaultFilter } from "./upload_filter.ts";
 *
 * const filter = new FileFilter(openmsistreamDefaultFilter());
 * assert.ok(filter.accepts("run1/scan.tif"));
 * assert.ok(!filter.accepts("LOGS/uploaded_to_raw.csv"));
 * assert.ok(!filter.accepts("DataFileUploadDirectory.log"));
 * assert.ok(!filter.accepts("catalog.csv"));
 * assert.ok(!filter.accepts(".hidden"));
 * ```
 */
export function openmsistreamDefaultFilter(): FileFilterOptions {
  return {
    regex: new RegExp(OMS_DEFAULT_UPLOAD_REGEX_SOURCE),
    excludeDirs: [OMS_LOGS_SUBDIR],
  };
}
