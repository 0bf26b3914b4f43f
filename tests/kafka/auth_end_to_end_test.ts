/**
 * Authentication end to end, through a processor script and `ferry upload` talking to the
 * broker's SASL/PLAIN listener with a config file whose password comes from `$VAR`: the right
 * password processes and uploads files; a wrong one fails fast (not a timeout) with an error
 * that says authentication failed; the password is in no line of output or of the run's log
 * file, at debug level (which includes librdkafka's own debug lines).
 */

import { assert, assertEquals } from "../support/assert.ts";
import { SASL_BOOTSTRAP, SASL_PASSWORD, SASL_USERNAME, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { putFiles, type TestFile } from "../support/chunks.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir } from "../support/files.ts";
import { readCalls, runProcessor } from "../support/processor.ts";
import { textBelow } from "../support/security.ts";

const SCRIPT = "tests/fixtures/recording_processor.ts";
/** Far below librdkafka's timeouts (socket 60 s, metadata 30 s, message 300 s). */
const FAST_MS = 20_000;

const CONFIG = `[broker]
bootstrap.servers = ${SASL_BOOTSTRAP}
security.protocol = SASL_PLAINTEXT
sasl.mechanisms = PLAIN
sasl.username = ${SASL_USERNAME}
sasl.password = \${FERRY_TEST_E2E_PASSWORD}
`;

async function upload(args: string[], env: Record<string, string>) {
  const started = performance.now();
  const out = await ferry(["upload", ...args], { env, timeoutMs: 90_000 });
  return { code: out.code, output: out.stdout + out.stderr, ms: performance.now() - started };
}

Deno.test("SASL end to end: right password processes and uploads, wrong one fails fast, password never shown", async () => {
  await withTopic(1, async (topic) => {
    await withTempDir(async (dir) => {
      const config = `${dir}/ferry.config`;
      await Deno.writeTextFile(config, CONFIG);
      const files: TestFile[] = [
        { path: "a.bin", bytes: testBytes(70_000, 1) },
        { path: "x/b.bin", bytes: testBytes(10, 2) },
      ];
      await putFiles(topic, files, { chunkSize: 16 * 1024 });
      // One more file, uploaded with `ferry upload` through the SASL listener.
      const data = `${dir}/data`;
      await Deno.mkdir(data);
      await Deno.writeFile(`${data}/c.bin`, testBytes(5000, 3));
      const right = { FERRY_TEST_E2E_PASSWORD: SASL_PASSWORD };
      const up = await upload(
        [data, "--config", config, "--topic", topic, "--log-level", "debug", "--no-upload-log"],
        right,
      );
      assertEquals(up.code, 0, up.output);
      assert(!up.output.includes(SASL_PASSWORD), "the password is in ferry upload's output");

      const processorArgs = (out: string) => [
        "--config",
        config,
        "--topic",
        topic,
        "--output-dir",
        out,
        "--log-level",
        "debug",
        "--exit-when-idle",
        "2",
      ];
      const out = `${dir}/out`;
      const run = await runProcessor(SCRIPT, processorArgs(out), 90_000, {
        bootstrap: false,
        env: right,
      });
      assertEquals(run.code, 0, run.stderr.slice(-3000));
      assertEquals((await readCalls(out)).map((c) => c.path).sort(), ["a.bin", "c.bin", "x/b.bin"]);
      assert(
        /\[DBG\] ferry\.rdkafka|ferry\.rdkafka.*(SASL|sasl)/.test(run.stderr),
        "no librdkafka debug lines",
      );
      assert(!run.stderr.includes(SASL_PASSWORD), "the password is in the processor's output");
      assert(!(await textBelow(out)).includes(SASL_PASSWORD), "the password is in a log file");

      // A wrong password: fast, says authentication failed, and is never shown either.
      const wrong = `wrong-${crypto.randomUUID()}`;
      const started = performance.now();
      const bad = await runProcessor(SCRIPT, processorArgs(`${dir}/out-bad`), 90_000, {
        bootstrap: false,
        env: { FERRY_TEST_E2E_PASSWORD: wrong },
      });
      const ms = Math.round(performance.now() - started);
      // deno-lint-ignore no-console
      console.log(`processor, wrong password: exit ${bad.code} after ${ms} ms`);
      assertEquals(bad.code, 1, bad.stderr.slice(-3000));
      assert(ms < FAST_MS, `took ${ms} ms`);
      assert(/[Aa]uthentication failed/.test(bad.stderr), bad.stderr.slice(-3000));
      assert(!bad.stderr.includes(wrong), "the wrong password is in the processor's output");

      const badUpload = await upload(
        [data, "--config", config, "--topic", topic, "--log-level", "debug", "--no-upload-log"],
        { FERRY_TEST_E2E_PASSWORD: wrong },
      );
      // deno-lint-ignore no-console
      console.log(
        `ferry upload, wrong password: exit ${badUpload.code} after ${Math.round(badUpload.ms)} ms`,
      );
      assertEquals(badUpload.code, 1, badUpload.output.slice(-3000));
      assert(badUpload.ms < FAST_MS, `took ${badUpload.ms} ms`);
      assert(/[Aa]uthentication failed/.test(badUpload.output), badUpload.output.slice(-3000));
      assert(!badUpload.output.includes(wrong), "the wrong password is in ferry upload's output");
    }, "ferry-sasl-");
  });
});
