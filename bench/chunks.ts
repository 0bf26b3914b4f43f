/**
 * Throughput of the chunk codec on 512 KiB chunks (OpenMSIStream's default size): encode,
 * decode with and without the SHA-512 check, and SHA-512 itself (node:crypto and
 * crypto.subtle). Prints MB/s (10^6 bytes per second); asserts nothing.
 *
 *     deno run bench/chunks.ts
 *
 * @module
 */

import { createChunk, DEFAULT_CHUNK_SIZE } from "../src/chunks/chunk.ts";
import { decodeChunk } from "../src/chunks/decode.ts";
import { encodeChunk } from "../src/chunks/encode.ts";
import { sha512 } from "../src/hash/sha512.ts";

const TOTAL_BYTES = 1024 * 1024 * 1024; // per measurement
const encoder = new TextEncoder();

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

async function measure(name: string, bytesPerRun: number, fn: () => unknown): Promise<void> {
  const runs = Math.max(1, Math.floor(TOTAL_BYTES / bytesPerRun));
  for (let i = 0; i < Math.min(runs, 50); i++) await fn(); // warm up
  const start = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  const seconds = (performance.now() - start) / 1000;
  const rate = (runs * bytesPerRun) / seconds / 1e6;
  const micros = (seconds * 1e6) / runs;
  print(
    `${name.padEnd(38)} ${rate.toFixed(0).padStart(7)} MB/s ${micros.toFixed(1).padStart(8)} µs/op`,
  );
}

const data = new Uint8Array(DEFAULT_CHUNK_SIZE);
for (let i = 0; i < data.length; i += 65_536) crypto.getRandomValues(data.subarray(i, i + 65_536));
const chunk = createChunk({
  filename: "1a0ceb89-b5f0-45dc-9c12-63d3020e2217.dat",
  subdir: "run1/raw",
  fileHash: sha512(data),
  chunkOffset: 3 * DEFAULT_CHUNK_SIZE,
  chunkIndex: 4,
  totalChunks: 10,
  data,
});
const message = encodeChunk(chunk);

print(`Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, chunk of ${data.length} bytes`);
await measure("sha512 (node:crypto)", data.length, () => sha512(data));
await measure(
  "sha512 (crypto.subtle.digest)",
  data.length,
  () => crypto.subtle.digest("SHA-512", data),
);
await measure("encodeChunk", data.length, () => encodeChunk(chunk));
await measure("decodeChunk (verify SHA-512)", data.length, () => decodeChunk(message));
await measure(
  "decodeChunk (verifyChunkHash: false)",
  data.length,
  () => decodeChunk(message, { verifyChunkHash: false }),
);
