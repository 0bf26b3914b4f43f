/**
 * Ferry's chunk codec against the real OpenMSIStream package (Python), both ways:
 * OpenMSIStream's serializer must produce exactly Ferry's bytes, Ferry must decode them, and
 * OpenMSIStream's deserializer must read Ferry's 9- and 10-field messages.
 *
 * The first run creates a Python venv with OpenMSIStream (scripts/openmsistream/venv.sh, about
 * 30 s); later runs reuse it. If it cannot be created, these tests fail: they never skip.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createChunk, type DataFileChunk, outputPath } from "../../src/chunks/chunk.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { encodeChunk } from "../../src/chunks/encode.ts";
import { ChunkFormatError } from "../../src/chunks/format_error.ts";
import { hashHex, sha512 } from "../../src/hash/sha512.ts";
import { chunkKey } from "../../src/chunks/key.ts";
import { testBytes } from "../support/bytes.ts";

const SCRIPTS = fileURLToPath(new URL("../../scripts/openmsistream/", import.meta.url));

async function run(command: string, args: string[], stdin?: string): Promise<Uint8Array> {
  const child = new Deno.Command(command, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) {
    const err = new TextDecoder().decode(stderr).trim().split("\n").slice(-20).join("\n");
    throw new Error(`Command "${command} ${args.join(" ")}" exited with code ${code}:\n${err}`);
  }
  return stdout;
}

let pythonPromise: Promise<string> | undefined;

/** The venv's python, creating the venv on first use; a failure fails the test. */
function venvPython(): Promise<string> {
  pythonPromise ??= (async () => {
    try {
      const out = await run("bash", [`${SCRIPTS}venv.sh`]);
      const lines = new TextDecoder().decode(out).trim().split("\n");
      const python = lines[lines.length - 1] ?? "";
      if (python === "") throw new Error("venv.sh printed no python path.");
      return python;
    } catch (error) {
      throw new Error(
        "Cannot create the OpenMSIStream venv with scripts/openmsistream/venv.sh; these " +
          "tests need Python 3 with venv and pip, and access to PyPI.",
        { cause: error },
      );
    }
  })();
  return pythonPromise;
}

/** A chunk description in the JSON shape the Python helper scripts use. */
interface ChunkDescription {
  filename: string;
  file_hash: string;
  chunk_hash: string;
  chunk_offset_write: number;
  chunk_i: number;
  n_total_chunks: number;
  subdir_str: string;
  filename_append: string;
  data: string;
  file_mtime: number | null;
}

function describe(chunk: DataFileChunk): ChunkDescription {
  return {
    filename: chunk.filename,
    file_hash: hashHex(chunk.fileHash),
    chunk_hash: hashHex(chunk.chunkHash),
    chunk_offset_write: chunk.chunkOffset,
    chunk_i: chunk.chunkIndex,
    n_total_chunks: chunk.totalChunks,
    subdir_str: chunk.subdir,
    filename_append: chunk.filenameAppend,
    data: hashHex(chunk.data),
    file_mtime: chunk.fileMtime ?? null,
  };
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

let seed = 0;
function chunk(overrides: {
  filename?: string;
  subdir?: string;
  filenameAppend?: string;
  size?: number;
  chunkOffset?: number;
  chunkIndex?: number;
  totalChunks?: number;
  fileMtime?: number;
}): DataFileChunk {
  seed++;
  const init = {
    filename: overrides.filename ?? `file${seed}.dat`,
    subdir: overrides.subdir ?? "",
    filenameAppend: overrides.filenameAppend ?? "",
    fileHash: sha512(testBytes(64, 1000 + seed)),
    chunkOffset: overrides.chunkOffset ?? 0,
    chunkIndex: overrides.chunkIndex ?? 1,
    totalChunks: overrides.totalChunks ?? 1,
    data: testBytes(overrides.size ?? 100, seed),
  };
  return overrides.fileMtime === undefined
    ? createChunk(init)
    : createChunk({ ...init, fileMtime: overrides.fileMtime });
}

const CASES: [string, DataFileChunk][] = [
  ["root file", chunk({ filename: "a.txt" })],
  ["nested subdir", chunk({ subdir: "run1/raw/2024-06-01", filename: "scan.tif" })],
  ["unicode names", chunk({ subdir: "données/été", filename: "Ünïcødé 数据 🚀.dat" })],
  ["filename append", chunk({ filename: "archive.tar.gz", filenameAppend: "_v2" })],
  ["append on a dotfile", chunk({ filename: ".bashrc", filenameAppend: "_x" })],
  ["append on a trailing dot", chunk({ filename: "trailing.", filenameAppend: "_x" })],
  ["mtime", chunk({ fileMtime: 1_700_000_000.123456 })],
  ["31-byte filename (fixstr)", chunk({ filename: "f".repeat(31) })],
  ["32-byte filename (str8)", chunk({ filename: "f".repeat(32) })],
  ["255-byte filename (str8)", chunk({ filename: "f".repeat(255) })],
  ["256-byte subdir (str16)", chunk({ subdir: "d".repeat(256) })],
  [
    "65536-byte subdir (str32)",
    chunk({ subdir: `${"d".repeat(99)}/`.repeat(655) + "d".repeat(36) }),
  ],
  ["empty data (bin8)", chunk({ size: 0 })],
  ["255 bytes (bin8)", chunk({ size: 255 })],
  ["256 bytes (bin16)", chunk({ size: 256 })],
  ["65535 bytes (bin16)", chunk({ size: 65_535 })],
  ["65536 bytes (bin32)", chunk({ size: 65_536 })],
  [
    "512 KiB (bin32)",
    chunk({ size: 524_288, chunkOffset: 524_288, chunkIndex: 2, totalChunks: 3 }),
  ],
  ["offset 127", chunk({ chunkOffset: 127 })],
  ["offset 128 (uint8)", chunk({ chunkOffset: 128 })],
  ["offset 65535 (uint16)", chunk({ chunkOffset: 65_535 })],
  ["offset 65536 (uint32)", chunk({ chunkOffset: 65_536 })],
  ["offset 2^32-1 (uint32)", chunk({ chunkOffset: 2 ** 32 - 1 })],
  ["offset 2^32 (uint64)", chunk({ chunkOffset: 2 ** 32 })],
  ["offset near 2^53 (uint64)", chunk({ chunkOffset: 2 ** 53 - 101, size: 100 })],
  ["chunk 127 of 128", chunk({ chunkIndex: 127, totalChunks: 128 })],
  ["chunk 70000 of 70000", chunk({ chunkIndex: 70_000, totalChunks: 70_000 })],
];

interface Serialized {
  key: string;
  value: string;
}

let serializedPromise: Promise<Serialized[]> | undefined;

/** OpenMSIStream's serialization of every case, in one Python run. */
function serializedByOpenMSIStream(): Promise<Serialized[]> {
  serializedPromise ??= (async () => {
    const python = await venvPython();
    const request = JSON.stringify(CASES.map(([, c]) => describe(c)));
    const out = await run(python, [`${SCRIPTS}serialize_chunk.py`], request);
    return JSON.parse(new TextDecoder().decode(out)) as Serialized[];
  })();
  return serializedPromise;
}

type Deserialized = ChunkDescription & { output_path: string } | { error: string };

async function deserializeWithOpenMSIStream(values: Uint8Array[]): Promise<Deserialized[]> {
  const python = await venvPython();
  const request = JSON.stringify(values.map(hashHex));
  const out = await run(python, [`${SCRIPTS}deserialize_chunk.py`], request);
  return JSON.parse(new TextDecoder().decode(out)) as Deserialized[];
}

Deno.test("the venv has the pinned OpenMSIStream installed", async () => {
  const python = await venvPython();
  const out = await run(python, [
    "-c",
    "import importlib.metadata as m; print(m.version('openmsistream'))",
  ]);
  assert.equal(new TextDecoder().decode(out).trim(), "1.8.8");
});

Deno.test("OpenMSIStream's serializer writes exactly Ferry's bytes and keys", async () => {
  const serialized = await serializedByOpenMSIStream();
  assert.equal(serialized.length, CASES.length);
  for (const [i, [name, c]] of CASES.entries()) {
    const theirs = fromHex(serialized[i]!.value);
    // OpenMSIStream 1.8.8 always writes 10 fields (mtime 0.0 when unknown).
    const ours = encodeChunk(c, { includeMtime: true });
    assert.equal(theirs.length, ours.length, `${name}: length`);
    assert.ok(ours.every((byte, j) => byte === theirs[j]), `${name}: bytes differ`);
    assert.equal(serialized[i]!.key, chunkKey(c), `${name}: key`);
    // Ferry's default 9-field form is the same message without the last element.
    const nine = encodeChunk(c);
    assert.equal(nine[0], 0x99);
    assert.equal(theirs[0], 0x9a);
    assert.equal(theirs[theirs.length - 9], 0xcb);
    assert.ok(
      nine.subarray(1).every((byte, j) => byte === theirs[j + 1]) &&
        nine.length === theirs.length - 9,
      `${name}: 9-field form differs`,
    );
  }
});

Deno.test("Ferry decodes what OpenMSIStream serializes", async () => {
  const serialized = await serializedByOpenMSIStream();
  for (const [i, [name, c]] of CASES.entries()) {
    const decoded = decodeChunk(fromHex(serialized[i]!.value));
    assert.deepEqual(decoded, c, name);
  }
});

Deno.test("OpenMSIStream's deserializer reads Ferry's 9- and 10-field messages", async () => {
  const values = CASES.flatMap(([, c]) => [encodeChunk(c), encodeChunk(c, { includeMtime: true })]);
  const results = await deserializeWithOpenMSIStream(values);
  for (const [i, [name, c]] of CASES.entries()) {
    for (const [form, result] of [["9", results[2 * i]], ["10", results[2 * i + 1]]] as const) {
      assert.ok(
        result !== undefined && !("error" in result),
        `${name} (${form}): ${JSON.stringify(result)}`,
      );
      const expected = {
        ...describe(c),
        file_mtime: form === "9" ? null : c.fileMtime ?? null,
        output_path: outputPath(c),
      };
      assert.deepEqual(result, expected, `${name} (${form} fields)`);
    }
  }
});

Deno.test("OpenMSIStream refuses what Ferry refuses for a bad chunk hash", async () => {
  const bytes = encodeChunk(chunk({}));
  bytes[bytes.length - 1]! ^= 1;
  const [result] = await deserializeWithOpenMSIStream([bytes]);
  assert.ok(result !== undefined && "error" in result, JSON.stringify(result));
  assert.throws(() => decodeChunk(bytes), ChunkFormatError);
});

Deno.test("Ferry refuses a '..' subdir that OpenMSIStream writes and reads without complaint", async () => {
  const python = await venvPython();
  const evil = { ...describe(chunk({})), subdir_str: "../escape" };
  const out = await run(python, [`${SCRIPTS}serialize_chunk.py`], JSON.stringify([evil]));
  const [serialized] = JSON.parse(new TextDecoder().decode(out)) as Serialized[];
  const bytes = fromHex(serialized!.value);
  const [theirs] = await deserializeWithOpenMSIStream([bytes]);
  assert.ok(theirs !== undefined && !("error" in theirs));
  assert.equal(theirs.output_path, `../escape/${evil.filename}`);
  assert.throws(
    () => decodeChunk(bytes),
    (error) => error instanceof ChunkFormatError && error.field === "subdir_str",
  );
});
