import { assert, assertEquals } from "./support/assert.ts";
import { ByteWindow } from "../src/upload/byte_window.ts";
import { FileFilter, globToRegExp } from "../src/upload/filter.ts";
import { scanTree } from "../src/upload/scan.ts";
import { UploadLog } from "../src/upload/upload_log.ts";
import { writeTree } from "./support/upload_support.ts";

Deno.test("globs: * stays in a component, ** crosses, no slash means the file name", () => {
  assert(globToRegExp("*.tif").test("a/b/c.tif"));
  assert(!globToRegExp("*.tif").test("a/b/c.tiff"));
  assert(globToRegExp("run?/*.dat").test("run1/x.dat"));
  assert(!globToRegExp("run?/*.dat").test("run1/sub/x.dat"));
  assert(globToRegExp("run1/**/*.dat").test("run1/x.dat"));
  assert(globToRegExp("run1/**/*.dat").test("run1/a/b/x.dat"));
  assert(globToRegExp("[!x]*.bin").test("a.bin"));
  assert(!globToRegExp("[!x]*.bin").test("x.bin"));
  assert(globToRegExp("100%;(1).dat").test("d/100%;(1).dat"), "regex characters are literal");
});

Deno.test("filter: hidden files and folders and the log folder never pass", () => {
  const filter = new FileFilter({ excludeDirs: ["logs/ferry"], regex: /\.dat$/ });
  assert(filter.accepts("a.dat"));
  assert(!filter.accepts(".a.dat"));
  assert(!filter.accepts("x/.hidden/a.dat"));
  assert(!filter.accepts(".ferry/upload_to_t.jsonl"));
  assert(!filter.accepts("logs/ferry/a.dat"));
  assert(filter.accepts("logs/ferry2/a.dat"));
  assert(!filter.accepts("a.txt"), "regex");
});

Deno.test("scanTree lists files sorted, with relative POSIX paths, skipping hidden folders", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeTree(root, {
      "b.dat": "1",
      "a/x y.dat": "22",
      "a/ü/%;.dat": "333",
      ".ferry/upload_to_t.jsonl": "{}\n",
      ".git/config": "x",
    });
    await Deno.symlink(`${root}/a`, `${root}/link-to-dir`);
    await Deno.symlink(`${root}/b.dat`, `${root}/link-to-file.dat`);
    const files = await scanTree(root, new FileFilter());
    assertEquals(files.map((f) => [f.path, f.size]), [
      ["a/x y.dat", 2],
      ["a/ü/%;.dat", 3],
      ["b.dat", 1],
      ["link-to-file.dat", 1],
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ByteWindow never exceeds its limit, lets an oversized request through alone", async () => {
  const window = new ByteWindow(100);
  await window.acquire(60);
  let order: string[] = [];
  const a = window.acquire(60).then(() => order.push("a"));
  const b = window.acquire(10).then(() => order.push("b")); // FIFO: waits behind a
  await Promise.resolve();
  assertEquals(order, []);
  window.release(60);
  await a;
  await b;
  assertEquals(order, ["a", "b"]);
  assertEquals(window.inFlight, 70);
  window.release(70);
  order = [];
  await window.acquire(500); // larger than the window, nothing in flight
  assertEquals(window.inFlight, 500);
});

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
  const dir = await Deno.makeTempDir();
  try {
    await using log = await UploadLog.open(`${dir}/log.jsonl`);
    await log.recordStart({ path: "f", size: 2000, mtime: 1, sha512: "old", chunks: 4 }, 512);
    log.recordAck("f", "old", 1);
    await log.recordStart({ path: "f", size: 2000, mtime: 2, sha512: "new", chunks: 4 }, 512);
    assertEquals(log.partial("f")?.acked.size, 0);
    log.recordAck("f", "old", 2); // a late ack of the old version does not count
    assertEquals(log.partial("f")?.acked.size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
