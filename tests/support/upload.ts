/**
 * What the upload tests share: reading a topic back, rebuilding the files from its chunk
 * messages (checking every hash), uploading a tree with Ferry's uploader and checking a rebuilt
 * tree.
 *
 * @module
 */

import { join } from "node:path";
import type { DataFileChunk } from "../../src/chunks/chunk.ts";
import { decodeChunk } from "../../src/chunks/decode.ts";
import { hashesEqual, hashHex, sha512 } from "../../src/hash/sha512.ts";
import { chunkKey } from "../../src/chunks/key.ts";
import { type ConsumedMessage, Consumer } from "../../src/kafka/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { BOOTSTRAP, uniqueName } from "./broker.ts";
import { upload } from "../../src/upload/uploader.ts";
import { writeTree } from "./files.ts";

/** Reads every message of `topic` from the beginning until `count` arrived (then a bit more). */
export async function readTopic(
  topic: string,
  count: number,
  options: { bootstrap?: string; timeoutMs?: number } = {},
): Promise<ConsumedMessage[]> {
  await using consumer = new Consumer({
    "bootstrap.servers": options.bootstrap ?? BOOTSTRAP,
    "group.id": uniqueName("upload-test"),
    "auto.offset.reset": "earliest",
    "enable.auto.commit": false,
  });
  consumer.subscribe([topic]);
  const out: ConsumedMessage[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (out.length < count && Date.now() < deadline) {
    out.push(...await consumer.poll({ timeoutMs: 200 }));
  }
  out.push(...await consumer.poll({ timeoutMs: 300 }));
  return out;
}

/** One file rebuilt from a topic. */
export interface RebuiltFile {
  /** The bytes. */
  bytes: Uint8Array;
  /** Partitions its chunks were in. */
  partitions: Set<number>;
  /** Its chunks, by index. */
  chunks: Map<number, DataFileChunk>;
}

/**
 * Decodes every message (checking chunk hashes and keys), groups the chunks by relative path
 * and file hash, and rebuilds each complete version, checking its SHA-512. Versions with chunks
 * missing are counted in `incomplete` (by path); two complete versions of one path fail.
 */
export function rebuildAll(
  messages: readonly ConsumedMessage[],
): { files: Map<string, RebuiltFile>; incomplete: Map<string, number> } {
  const versions = new Map<
    string,
    { path: string; hash: Uint8Array; total: number; file: RebuiltFile }
  >();
  const decoder = new TextDecoder();
  for (const message of messages) {
    const chunk = decodeChunk(message.value!);
    assertEquals(decoder.decode(message.key!), chunkKey(chunk), "message key");
    const path = chunk.subdir === "" ? chunk.filename : `${chunk.subdir}/${chunk.filename}`;
    const id = `${path}\u0000${hashHex(chunk.fileHash)}`;
    let version = versions.get(id);
    if (!version) {
      version = {
        path,
        hash: chunk.fileHash,
        total: chunk.totalChunks,
        file: { bytes: new Uint8Array(0), partitions: new Set(), chunks: new Map() },
      };
      versions.set(id, version);
    }
    const previous = version.file.chunks.get(chunk.chunkIndex);
    if (previous) assertEquals(previous.data, chunk.data, `duplicate chunk of "${path}"`);
    version.file.partitions.add(message.partition);
    version.file.chunks.set(chunk.chunkIndex, chunk);
  }
  const files = new Map<string, RebuiltFile>();
  const incomplete = new Map<string, number>();
  for (const { path, hash, total, file } of versions.values()) {
    if (file.chunks.size !== total) {
      incomplete.set(path, (incomplete.get(path) ?? 0) + 1);
      continue;
    }
    const ordered = [...file.chunks.values()].sort((a, b) => a.chunkOffset - b.chunkOffset);
    const last = ordered[ordered.length - 1];
    const bytes = new Uint8Array(last.chunkOffset + last.data.length);
    for (const chunk of ordered) bytes.set(chunk.data, chunk.chunkOffset);
    assert(hashesEqual(sha512(bytes), hash), `file hash of "${path}"`);
    assert(!files.has(path), `two complete versions of "${path}" in the topic`);
    files.set(path, { ...file, bytes });
  }
  return { files, incomplete };
}

/** Like {@linkcode rebuildAll}, but every version in the topic must be complete. */
export function rebuild(messages: readonly ConsumedMessage[]): Map<string, RebuiltFile> {
  const { files, incomplete } = rebuildAll(messages);
  assertEquals([...incomplete.keys()], [], "files with chunks missing");
  return files;
}

/**
 * Checks that every file of `files` was rebuilt at `<dir>/<relative path>` with the same bytes
 * and the same SHA-512 (computed from the rebuilt file, compared with the original's).
 */
export async function assertRebuiltTree(
  dir: string,
  files: Record<string, Uint8Array>,
): Promise<void> {
  for (const [path, expected] of Object.entries(files)) {
    const full = join(dir, ...path.split("/"));
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(full);
    } catch (error) {
      throw new Error(`"${path}" was not rebuilt at "${full}"`, { cause: error });
    }
    assertEquals(hashHex(sha512(bytes)), hashHex(sha512(expected)), `SHA-512 of "${path}"`);
    assertEquals(bytes, expected, `bytes of "${path}"`);
  }
}

/** How {@linkcode uploadTree} uploads. */
export interface UploadTreeOptions {
  /** Bytes per chunk; default 16 KiB. */
  chunkSize?: number;
  /** `false`: keep no upload log (default: in the per-user state folder). */
  uploadLogDir?: false;
}

/**
 * Writes `files` under `root` and uploads them with Ferry's uploader (a file's chunks in one
 * partition) to `topic` on the test broker, checking that every one was uploaded.
 */
export async function uploadTree(
  topic: string,
  root: string,
  files: Record<string, Uint8Array | string>,
  options: UploadTreeOptions = {},
): Promise<void> {
  await writeTree(root, files);
  const summary = await upload(root, {
    kafka: { "bootstrap.servers": BOOTSTRAP },
    topic,
    chunkSize: options.chunkSize ?? 16_384,
    ...(options.uploadLogDir === false ? { uploadLogDir: false as const } : {}),
  });
  assertEquals(summary.uploaded, Object.keys(files).length, "files uploaded");
}
