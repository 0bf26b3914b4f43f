/**
 * The built-in download processor, Ferry's form of OpenMSIStream's `DataFileDownloadDirectory`:
 * it only rebuilds files into the output directory, in disk mode. Its `process` does nothing,
 * so a file counts as processed once every chunk was written at its offset, its SHA-512 checked,
 * and the file moved to `<output-dir>/<relative path>`; the registry logs in
 * `<output-dir>/.ferry/` then skip it on the next start. `ferry download` runs it, and its
 * workers load this module (so it imports at its top only what they need).
 *
 * @module
 */

import { defineProcessor, type FileProcessor } from "./define.ts";

/** The module the download processor's workers load: this one. */
export const DOWNLOAD_SCRIPT_URL: string = import.meta.url;

/** The built-in processor behind `ferry download`. */
export const downloadProcessor: FileProcessor = defineProcessor({
  name: "download",
  description: "Rebuilds every file of a topic into a directory, checking its SHA-512 " +
    "(OpenMSIStream's DataFileDownloadDirectory).",
  process() {
    // Rebuilding the file, checking its hash and moving it into place is the whole job.
  },
});

/**
 * The default consumer group of a download: `ferry-download-<topic>-<12 hex digits>`, the
 * digits from the SHA-256 of the output directory's absolute path. Stable across restarts (a
 * restarted download goes on where it stopped), while two output directories each get every
 * file (with one group for both, each would get only part).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadGroup } from "./download.ts";
 *
 * const group = await downloadGroup("raw-data", "/data/out");
 * assert.match(group, /^ferry-download-raw-data-[0-9a-f]{12}$/);
 * assert.equal(group, await downloadGroup("raw-data", "/data/./out/"));
 * assert.notEqual(group, await downloadGroup("raw-data", "/data/other"));
 * ```
 *
 * @param topic The topic.
 * @param outputDir The output directory (relative to the working directory, or absolute).
 * @returns The group id.
 */
export async function downloadGroup(topic: string, outputDir: string): Promise<string> {
  const [{ resolve }, { hashHex }] = await Promise.all([
    import("node:path"),
    import("../hash/sha512.ts"),
  ]);
  const path = new TextEncoder().encode(resolve(outputDir));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", path));
  return `ferry-download-${topic}-${hashHex(digest).slice(0, 12)}`;
}
