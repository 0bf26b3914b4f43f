/**
 * The upload log (`UploadLog`): what was uploaded and partial progress survive a reopen, a torn
 * last line is ignored, a new version of a file forgets the old one's acknowledgements.
 */

import { assertEquals } from "../../tests/support/assert.ts";
import { withTempDir } from "../../tests/support/files.ts";
import { UploadLog } from "./upload_log.ts";

Deno.test("upload log: done, empty and partial progress survive a reopen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/.ferry/upload_to_t.jsonl`;
  try {
    {
      await using log = await UploadLog.open(path);
      await log.recordDone({
        path: "a.dat",
        size: 10,
        mtime: 5,
        sha512: "aa",
        chunks: 1,
        chunkSize: 512,
        empty: false,
      });
      await log.recordDone({
        path: "e",
        size: 0,
        mtime: 6,
        sha512: "",
        chunks: 0,
        chunkSize: 512,
        empty: true,
      });
      await log.recordStart(
        { path: "big.dat", size: 3000, mtime: 7, sha512: "bb", chunks: 6 },
        512,
      );
      log.recordAck("big.dat", "bb", 1);
      log.recordAck("big.dat", "bb", 3);
      await log.flushAcks();
      log.recordAck("big.dat", "bb", 2); // written by close()
    }
    await using log = await UploadLog.open(path);
    assertEquals(log.uploaded("a.dat")?.sha512, "aa");
    assertEquals(log.uploaded("e")?.empty, true);
    assertEquals(log.uploaded("big.dat"), undefined);
    assertEquals([...log.partial("big.dat")!.acked].sort(), [1, 2, 3]);
    const text = await Deno.readTextFile(path);
    for (const line of text.trim().split("\n")) JSON.parse(line); // every line is JSON
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("upload log: a torn last line is ignored and the next record starts a new line", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/log.jsonl`;
  try {
    const good = JSON.stringify({
      event: "done",
      path: "a.dat",
      size: 1,
      mtime: 1,
      sha512: "aa",
      chunks: 1,
      chunkSize: 512,
    });
    await Deno.writeTextFile(path, `${good}\n{"event":"done","path":"b.d`);
    {
      await using log = await UploadLog.open(path);
      assertEquals(log.uploaded("a.dat")?.sha512, "aa");
      assertEquals(log.uploaded("b.dat"), undefined);
      await log.recordStart({ path: "c.dat", size: 1, mtime: 1, sha512: "cc", chunks: 1 }, 512);
    }
    const lines = (await Deno.readTextFile(path)).split("\n");
    assertEquals(lines[1], '{"event":"done","path":"b.d');
    assertEquals(JSON.parse(lines[2]).path, "c.dat");
    await using again = await UploadLog.open(path);
    assertEquals(again.partial("c.dat")?.sha512, "cc");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("upload log: a new version of a file forgets the acks of the old one", async () => {
  await withTempDir(async (dir) => {
    await using log = await UploadLog.open(`${dir}/log.jsonl`);
    await log.recordStart({ path: "f", size: 2000, mtime: 1, sha512: "old", chunks: 4 }, 512);
    log.recordAck("f", "old", 1);
    await log.recordStart({ path: "f", size: 2000, mtime: 2, sha512: "new", chunks: 4 }, 512);
    assertEquals(log.partial("f")?.acked.size, 0);
    log.recordAck("f", "old", 2); // a late ack of the old version does not count
    assertEquals(log.partial("f")?.acked.size, 0);
  });
});

Deno.test("upload log: thousands of files, versions replaced, read back right after a reopen", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log.jsonl`;
    const record = (i: number, version: number) => ({
      path: `d-${i % 7}/f-${i}.dat`,
      size: 1000 + i,
      mtime: 1_700_000_000_000 + i * 10 + version,
      sha512: `${i.toString(16)}-${version}`,
      chunks: 1,
      chunkSize: 512,
      empty: false,
    });
    const n = 5000;
    {
      await using log = await UploadLog.open(path);
      for (let i = 0; i < n; i++) await log.recordDone(record(i, 0));
      // Every third file uploaded again as a new version (the log keeps both lines).
      for (let i = 0; i < n; i += 3) await log.recordDone(record(i, 1));
      await log.recordStart(
        { path: "half.dat", size: 3000, mtime: 1, sha512: "hh", chunks: 6 },
        512,
      );
      // While open: read back from the file (not from memory).
      assertEquals(log.uploaded("d-3/f-10.dat"), record(10, 0));
      assertEquals(log.uploaded("d-2/f-9.dat"), record(9, 1));
    }
    await using log = await UploadLog.open(path);
    for (let i = 0; i < n; i++) {
      const want = record(i, i % 3 === 0 ? 1 : 0);
      assertEquals(log.uploaded(want.path), want);
      assertEquals(log.hasUploaded(want.path, want.size, want.mtime), true);
      assertEquals(log.hasUploaded(want.path, want.size, want.mtime + 1), false);
      assertEquals(log.hasUploaded(want.path, want.size + 1, want.mtime), false);
    }
    if (log.hasUploaded("d-0/f-0.dat", 1000, 1_700_000_000_000)) {
      throw new Error("the replaced version still counts as uploaded");
    }
    assertEquals(log.uploaded("f-0.dat"), undefined);
    assertEquals(log.uploaded("half.dat"), undefined);
    assertEquals(log.partial("half.dat")?.sha512, "hh");
    // New records after a reopen land at the right place too.
    await log.recordDone({ ...record(1, 2), path: "new.dat" });
    await log.flushAcks();
    assertEquals(log.uploaded("new.dat")?.sha512, "1-2");
    const lines = (await Deno.readTextFile(path)).trim().split("\n");
    assertEquals(lines.length, n + Math.ceil(n / 3) + 2);
  });
});

Deno.test("upload log: an unknown mtime never counts as the same version", async () => {
  await withTempDir(async (dir) => {
    await using log = await UploadLog.open(`${dir}/log.jsonl`);
    const record = {
      path: "a",
      size: 5,
      mtime: null,
      sha512: "aa",
      chunks: 1,
      chunkSize: 512,
      empty: false,
    };
    await log.recordDone(record);
    assertEquals(log.hasUploaded("a", 5, null), false);
    assertEquals(log.uploaded("a"), record);
  });
});

Deno.test("upload log: a log rewritten by something else while open is read as not uploaded, not misread", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/log.jsonl`;
    await using log = await UploadLog.open(path);
    await log.recordDone({
      path: "a.dat",
      size: 5,
      mtime: 1,
      sha512: "aa",
      chunks: 1,
      chunkSize: 512,
      empty: false,
    });
    await Deno.writeTextFile(path, `${" ".repeat(40)}\n`.repeat(10));
    assertEquals(log.uploaded("a.dat"), undefined);
  });
});
