import { assert, assertEquals } from "./support/assert.ts";
import { murmur2, partitionForPath } from "../src/upload/partition.ts";

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
  const dir = await Deno.makeTempDir();
  try {
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("partitionForPath spreads paths over all partitions and refuses a bad count", () => {
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 600; i++) counts[partitionForPath(`run/file_${i}.dat`, 6)]++;
  assert(counts.every((c) => c > 50), `uneven: ${counts}`);
  let threw = false;
  try {
    partitionForPath("a", 0);
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "partition count 0 must throw");
});
