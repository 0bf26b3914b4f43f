/**
 * What the tests of producing processors share: reading an output topic as a `read_committed`
 * consumer and counting results per source.
 *
 * @module
 */

import { Consumer } from "../../src/kafka/mod.ts";
import { BOOTSTRAP, uniqueName } from "./broker.ts";
import { assertEquals } from "./assert.ts";
import type { TestFile } from "./chunks.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One message of an output topic: its key, value and headers as text. */
export interface OutputMessage {
  /** The key as text ("" for none). */
  key: string;
  /** The value as text. */
  value: string;
  /** The headers (the last of each name). */
  headers: Record<string, string>;
}

/**
 * Reads every committed message of `topic` (`isolation.level=read_committed`; with
 * `read_uncommitted`, those of aborted transactions too) until `count` arrived, then a little
 * longer to catch extra ones.
 */
export async function readCommitted(
  topic: string,
  count: number,
  timeoutMs = 30_000,
  bootstrap: string = BOOTSTRAP,
  isolation: "read_committed" | "read_uncommitted" = "read_committed",
): Promise<OutputMessage[]> {
  await using consumer = new Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": uniqueName("results-reader"),
    "auto.offset.reset": "earliest",
    "enable.auto.commit": false,
    "isolation.level": isolation,
  });
  consumer.subscribe([topic]);
  const out: OutputMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  const take = async (ms: number) => {
    for (const m of await consumer.poll({ timeoutMs: ms })) {
      const headers: Record<string, string> = {};
      for (const h of m.headers) headers[h.key] = h.value ? decoder.decode(h.value) : "";
      out.push({
        key: m.key ? decoder.decode(m.key) : "",
        value: m.value ? decoder.decode(m.value) : "",
        headers,
      });
    }
  };
  while (out.length < count && Date.now() < deadline) await take(200);
  const extra = Date.now() + 1500;
  while (Date.now() < extra) await take(200);
  return out;
}

/** How many messages carry each value of header `name`. */
export function countBy(messages: readonly OutputMessage[], name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const value = m.headers[name] ?? "";
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return counts;
}

/** `count` small files of 2-6 KiB (chunks of 1 KiB: several messages each). */
export function smallFiles(count: number, prefix = "run"): TestFile[] {
  return Array.from({ length: count }, (_, i) => ({
    path: `${prefix}/f${String(i).padStart(4, "0")}.csv`,
    bytes: encoder.encode(`# sample: ${i}\nx,y\n` + `${i},${i * 2}\n`.repeat(200 + (i % 5) * 150)),
  }));
}

/** Asserts that `counts` (results per source path) holds each file once and nothing else. */
export function assertOncePerFile(
  counts: Map<string, number>,
  files: readonly TestFile[],
  context: string,
): void {
  const missing = files.filter((f) => !counts.has(f.path)).map((f) => f.path);
  const twice = [...counts].filter(([, n]) => n !== 1);
  assertEquals(missing, [], `${context}: no file without a result`);
  assertEquals(twice, [], `${context}: no file with more than one result`);
  assertEquals(counts.size, files.length, `${context}: nothing but the files' results`);
}
