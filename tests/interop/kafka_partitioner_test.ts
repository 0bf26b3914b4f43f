/**
 * Ferry's partitioner (`src/upload/partition.ts`) against the Java client's, run on the real
 * kafka-clients jar of the project's Kafka install: the same murmur2 hash and partition for
 * awkward paths. Kafka's own test vectors: `src/upload/partition_test.ts`.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTempDir } from "../support/files.ts";
import { murmur2, partitionForPath } from "../../src/upload/partition.ts";

const encoder = new TextEncoder();

const PATHS = [
  "a.txt",
  "run1/raw/scan 0001.tif",
  "ü/日本語/データ.bin",
  "semi;colon/100%.dat",
  "x",
  "",
  "emoji/🚀.raw",
  "run2/very/deep/path/with/many/components/file_with_a_long_name_0123456789.h5",
];

Deno.test("partitionForPath equals the Java client's partitioner, run on the real kafka-clients jar", async () => {
  const home = Deno.env.get("HOME") ?? "";
  const cache = Deno.env.get("FERRY_CACHE") ?? `${home}/.cache/ferry`;
  const jars = `${cache}/kafka-3.9.1/libs/*`;
  await withTempDir(async (dir) => {
    const source = `${dir}/Murmur.java`;
    await Deno.writeTextFile(
      source,
      `import org.apache.kafka.common.utils.Utils;
import java.nio.charset.StandardCharsets;
public class Murmur {
  public static void main(String[] args) throws Exception {
    java.io.BufferedReader in = new java.io.BufferedReader(
        new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      byte[] b = line.getBytes(StandardCharsets.UTF_8);
      System.out.println(Utils.murmur2(b) + " " + (Utils.toPositive(Utils.murmur2(b)) % 7));
    }
  }
}
`,
    );
    const child = new Deno.Command("java", {
      args: ["-cp", jars, source],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(PATHS.join("\n") + "\n"));
    await writer.close();
    const out = await child.output();
    assert(out.success, `java failed: ${new TextDecoder().decode(out.stderr)}`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assertEquals(lines.length, PATHS.length);
    PATHS.forEach((path, i) => {
      const [hash, partition] = lines[i].split(" ").map(Number);
      assertEquals(murmur2(encoder.encode(path)), hash, `murmur2 of ${JSON.stringify(path)}`);
      assertEquals(partitionForPath(path, 7), partition, `partition of ${JSON.stringify(path)}`);
    });
  });
});
