/**
 * TLS end to end, as labs deploy it, against the test broker's TLS listeners: `ferry upload`,
 * `ferry download` and a file processor, each with a config file, as the least-privilege user
 * `least` with exactly the ACLs docs/security.md lists for them, over SASL_SSL (password from
 * `$VAR`) and over mutual TLS (client certificate; key password from `$VAR`). Every file arrives
 * byte-identical; at debug level (librdkafka's own lines included) no password is in any output
 * or log file.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { readCalls, runProcessor } from "../support/processor.ts";
import {
  configFile,
  grant,
  KEY_PASSWORD,
  LEAST_PASSWORD,
  mutualTlsProperties,
  requireTls,
  revokeGranted,
  saslSslProperties,
  textBelow,
} from "../support/security.ts";

const FILES: Record<string, Uint8Array> = {
  "a.bin": testBytes(70_000, 1),
  "x/b.bin": testBytes(3_000, 2),
};

const VARIABLE = "FERRY_TEST_TLS_SECRET";

Deno.test("SASL_SSL and mutual TLS, least privilege: upload, download and a processor end to end, no secret logged", async () => {
  const tls = requireTls();
  try {
    const ways = [
      { name: "SASL_SSL", properties: saslSslProperties(tls, VARIABLE), secret: LEAST_PASSWORD },
      { name: "mutual TLS", properties: mutualTlsProperties(tls, VARIABLE), secret: KEY_PASSWORD },
    ];
    await withTopic(2, async (saslTopic) => {
      await withTopic(2, async (mtlsTopic) => {
        const topics = [saslTopic, mtlsTopic];
        const groups = topics.flatMap((t) => [`${t}-download`, `${t}-processor`]);
        // The ACLs of docs/security.md: upload Write; download and processors Read (topic, group).
        await grant(["Write", "Read"], { topics });
        await grant(["Read"], { groups });
        await withTempDir(async (dir) => {
          await writeTree(`${dir}/data`, FILES);
          for (const [i, way] of ways.entries()) {
            const topic = topics[i];
            const config = `${dir}/${i}.config`;
            await Deno.writeTextFile(config, configFile(way.properties));
            const env = { [VARIABLE]: way.secret };
            const common = ["--config", config, "--topic", topic, "--log-level", "debug"];

            const up = await ferry(["upload", `${dir}/data`, ...common, "--no-upload-log"], {
              env,
            });
            const upOut = up.stdout + up.stderr;
            assertEquals(up.code, 0, `${way.name} upload: ${upOut.slice(-3000)}`);
            assert(/Uploaded 2 file/.test(upOut), upOut.slice(-2000));
            assert(/\[DBG\] ferry\.rdkafka/.test(upOut), "no librdkafka debug lines");

            const down = `${dir}/down-${i}`;
            const got = await ferry(
              [
                "download",
                "-o",
                down,
                ...common,
                "--group",
                `${topic}-download`,
                "--exit-when-idle=1",
              ],
              { env },
            );
            const downOut = got.stdout + got.stderr;
            assertEquals(got.code, 0, `${way.name} download: ${downOut.slice(-3000)}`);
            for (const [path, bytes] of Object.entries(FILES)) {
              assertEquals(await Deno.readFile(`${down}/${path}`), bytes, `${way.name}: ${path}`);
            }

            const out = `${dir}/out-${i}`;
            const run = await runProcessor(
              "tests/fixtures/recording_processor.ts",
              [
                ...common,
                "--group",
                `${topic}-processor`,
                "--output-dir",
                out,
                "--exit-when-idle",
                "2",
              ],
              90_000,
              { bootstrap: false, env },
            );
            assertEquals(run.code, 0, `${way.name} processor: ${run.stderr.slice(-3000)}`);
            assertEquals((await readCalls(out)).map((c) => c.path).sort(), ["a.bin", "x/b.bin"]);

            for (
              const [what, text] of [["upload", upOut], ["download", downOut], [
                "processor",
                run.stderr,
              ]]
            ) {
              assert(!text.includes(way.secret), `${way.name}: the secret is in ${what}'s output`);
            }
            const logs = (await textBelow(down)) + (await textBelow(out));
            assert(!logs.includes(way.secret), `${way.name}: the secret is in a log file`);
          }
        });
      });
    });
  } finally {
    await revokeGranted();
  }
});

Deno.test("the TLS helpers fail loudly without the TLS broker's variables", () => {
  const saved = Deno.env.get("FERRY_TEST_TLS_DIR");
  Deno.env.delete("FERRY_TEST_TLS_DIR");
  try {
    let message = "";
    try {
      requireTls();
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes("FERRY_TEST_TLS_DIR"), message);
    assert(message.includes("scripts/test.sh"), message);
  } finally {
    if (saved !== undefined) Deno.env.set("FERRY_TEST_TLS_DIR", saved);
  }
});
