/**
 * Loading librdkafka: `FERRY_RDKAFKA_PATH` pointing at a missing file fails, in a process of its
 * own, with a clear error and the install hint.
 */

import { assert } from "../support/assert.ts";

Deno.test("FERRY_RDKAFKA_PATH pointing at a missing file: a clear error with the install hint", async () => {
  const missing = "/nonexistent/librdkafka.so.1";
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { Producer } from "${new URL("../../src/kafka/mod.ts", import.meta.url).href}";` +
      `new Producer({ "bootstrap.servers": "127.0.0.1:1" });`,
    ],
    env: { FERRY_RDKAFKA_PATH: missing },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(!output.success, "the process should fail");
  assert(stderr.includes("LibraryLoadError"), stderr);
  assert(stderr.includes(missing), stderr);
  assert(stderr.includes("apt-get install librdkafka1"), stderr);
  assert(stderr.includes("brew install librdkafka"), stderr);
});
