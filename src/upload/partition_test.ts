/**
 * Ferry's partitioner (`murmur2`, `partitionForPath`): Kafka's own murmur2 test vectors, an even
 * spread, a bad count refused. Compared with the Java client's partitioner on the real
 * kafka-clients jar: `tests/interop/kafka_partitioner_test.ts`.
 */

import { assert, assertEquals, assertThrows } from "../../tests/support/assert.ts";
import { murmur2, partitionForPath } from "./partition.ts";

const encoder = new TextEncoder();

// From Kafka's own UtilsTest.testMurmur2 (org.apache.kafka.common.utils).
const KAFKA_VECTORS: [string, number][] = [
  ["21", -973932308],
  ["foobar", -790332482],
  ["a-little-bit-long-string", -985981536],
  ["a-little-bit-longer-string", -1486304829],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
  ["abc", 479470107],
];

Deno.test("murmur2 matches the values in Kafka's own unit test", () => {
  for (const [text, expected] of KAFKA_VECTORS) {
    assertEquals(murmur2(encoder.encode(text)), expected, text);
  }
});

Deno.test("partitionForPath spreads paths over all partitions and refuses a bad count", () => {
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 600; i++) counts[partitionForPath(`run/file_${i}.dat`, 6)]++;
  assert(counts.every((c) => c > 50), `uneven: ${counts}`);
  assertThrows(() => partitionForPath("a", 0), RangeError);
});
