/**
 * OpenMSIStream's registries as OpenMSIStream 1.8.8 wrote them (lines copied from a real run of
 * its `DataFileUploadDirectory` and of a `DataFileStreamProcessor` subclass), read back.
 */

import { join } from "node:path";
import { assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { ConfigError } from "../config/config_error.ts";
import { readOmsProcessorRegistry, readOmsUploadRegistry } from "./registries.ts";
import { timeValue } from "./csv_table.ts";

const UPLOADED = `filename;rel_filepath;n_chunks;started;completed
'f2.bin';'f2.bin';13;'Sat Dec 05, 2026 at 10:24:16';'Sat Dec 05, 2026 at 10:24:16'
'g.dat';'sub/g.dat';8;'Sat Dec 05, 2026 at 10:24:16';'Sat Dec 05, 2026 at 10:24:16'`;

const UPLOADED_OTHER = `filename;rel_filepath;n_chunks;started;completed
'f1.bin';'f1.bin';13;'Sat Dec 05, 2026 at 10:24:16';'Sat Dec 05, 2026 at 10:24:16'`;

const UPLOAD_IN_PROGRESS =
  `filename;rel_filepath;n_chunks;n_chunks_delivered;n_chunks_to_send;started;chunks_delivered;chunks_to_send
'big.bin';'big.bin';5;2;3;'Sat Dec 05, 2026 at 10:24:17';{4, 1};{2, 3, 5}
'done.bin';'done.bin';1;1;0;'Sat Dec 05, 2026 at 10:24:17';{1};set()
"a;b.bin";"'a;b.bin'";2;1;1;'Sat Dec 05, 2026 at 10:24:17';{1};{2}`;

const PROCESSED = `filename;rel_filepath;n_chunks;first_message;processed_at
'f1.bin';'f1.bin';13;'Sat Dec 05, 2026 at 10:31:14';'Sat Dec 05, 2026 at 10:31:14'`;

const CONSUMING = `filename;rel_filepath;status;n_chunks;first_message;most_recent_message
'bad.dat';'bad.dat';'failed';3;'Sat Dec 05, 2026 at 10:31:14';'Sat Dec 05, 2026 at 10:31:14'
'big.bin';'big.bin';'in_progress';4096;'Sat Dec 05, 2026 at 10:31:14';'Sat Dec 05, 2026 at 10:31:14'`;

Deno.test("the upload registry: every uploaded_to_<topic>*.csv, the half-sent files and their chunks", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "uploaded_to_raw.csv"), UPLOADED);
    await Deno.writeTextFile(join(dir, "uploaded_to_raw_p7f6ba0a55490.csv"), UPLOADED_OTHER);
    await Deno.writeTextFile(join(dir, "uploaded_to_raw2.csv"), UPLOADED_OTHER.replace("f1", "x"));
    await Deno.writeTextFile(join(dir, "upload_to_raw_in_progress.csv"), UPLOAD_IN_PROGRESS);
    const registry = await readOmsUploadRegistry(dir, "raw");
    assertEquals([...registry.uploaded.keys()].sort(), ["f1.bin", "f2.bin", "sub/g.dat"]);
    assertEquals(registry.uploaded.get("sub/g.dat")?.chunks, 8);
    assertEquals(
      registry.uploaded.get("f2.bin")?.started,
      new Date(2026, 11, 5, 10, 24, 16).getTime(),
    );
    assertEquals([...registry.halfSent.keys()].sort(), ["a;b.bin", "big.bin"]);
    const big = registry.halfSent.get("big.bin")!;
    assertEquals([...big.delivered].sort(), [1, 4]);
    assertEquals([...big.toSend].sort(), [2, 3, 5]);
    assertEquals(big.chunks, 5);
  });
});

Deno.test("the processor registry: processed, and in progress or failed to run again", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "processed_from_raw_by_g_t1398880.csv"), PROCESSED);
    await Deno.writeTextFile(join(dir, "consuming_from_raw_in_progress_by_g.csv"), CONSUMING);
    const registry = await readOmsProcessorRegistry(dir, "raw", "g");
    assertEquals([...registry.processed.keys()], ["f1.bin"]);
    assertEquals(
      [...registry.toRerun.values()].map((e) => [e.path, e.status]),
      [["bad.dat", "failed"], ["big.bin", "in_progress"]],
    );
    const none = await readOmsProcessorRegistry(dir, "raw", "other");
    assertEquals(none.files, []);
  });
});

Deno.test("a table with another header is refused, naming the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "uploaded_to_raw.csv"), "path;size\n'a';1\n");
    await assertRejects(
      () => readOmsUploadRegistry(dir, "raw"),
      ConfigError,
      "uploaded_to_raw.csv",
    );
  });
});

Deno.test("OpenMSIStream's time format reads; another does not", () => {
  assertEquals(
    timeValue("'Mon Jan 02, 2023 at 03:04:05'"),
    new Date(2023, 0, 2, 3, 4, 5).getTime(),
  );
  assertEquals(timeValue("'2023-01-02 03:04:05'"), undefined);
});
