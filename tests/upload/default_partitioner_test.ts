/**
 * `consistentPartition` (`src/upload/partition.ts`), which the uploader uses to send the chunks
 * of the `default` partitioner to a partition explicitly, against librdkafka's own default
 * partitioner on the real broker: chunk keys produced without a partition land where it says.
 */

import { assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, withTopic } from "../support/broker.ts";
import { Producer } from "../../src/kafka/mod.ts";
import { chunkKey } from "../../src/chunks/key.ts";
import { consistentPartition } from "../../src/upload/partition.ts";

Deno.test("consistentPartition chooses the partition librdkafka's default partitioner chooses", async () => {
  await withTopic(5, async (topic) => {
    await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP });
    const keys: string[] = [];
    for (
      const [subdir, filename] of [["", "a.bin"], ["run 1/raw", "scan.tif"], ["ü", "データ.h5"]]
    ) {
      for (let i = 1; i <= 20; i++) {
        keys.push(chunkKey({ subdir, filename, chunkIndex: i, totalChunks: 20 }));
      }
    }
    const landed = await Promise.all(
      keys.map((key) => producer.produce({ topic, key, value: new Uint8Array([1]) })),
    );
    assertEquals(
      landed.map((report) => report.partition),
      keys.map((key) => consistentPartition(key, 5)),
    );
  });
});
