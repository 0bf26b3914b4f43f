/**
 * Bad certificates and keys, each against the test broker's TLS listeners: a CA that did not
 * sign the broker's certificate, an expired broker certificate, one for another host name, no
 * client certificate where the broker requires one, a wrong key password. `ferry upload` and a
 * file processor each end within seconds with exit 1 and an error naming the problem (never
 * librdkafka's endless reconnecting); nothing is uploaded, processed or committed, so a later
 * run with the right settings does everything; no password is in any output line at debug.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { readCalls, runProcessor } from "../support/processor.ts";
import { readTopic } from "../support/upload.ts";
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

/** Far below librdkafka's own timeouts (socket 60 s, metadata 30 s, message 300 s). */
const FAST_MS = 20_000;
const VARIABLE = "FERRY_TEST_TLS_SECRET";

Deno.test("bad certificates and keys: ferry upload and a processor fail fast naming the problem, nothing half done", async () => {
  const tls = requireTls();
  try {
    const wrongPassword = `wrong-${crypto.randomUUID()}`;
    const cases = [
      {
        name: "a CA that did not sign the broker's certificate",
        properties: saslSslProperties(tls, VARIABLE, "least", `${tls.dir}/other-ca.pem`),
        secret: LEAST_PASSWORD,
        expect:
          /could not be verified: it is not signed by the CA in ssl\.ca\.location.*other-ca\.pem/,
      },
      {
        name: "an expired broker certificate",
        properties: mutualTlsProperties(tls, VARIABLE, "least", tls.expired),
        secret: KEY_PASSWORD,
        expect: /could not be verified: the certificate has expired/,
      },
      {
        name: "a broker certificate for another host",
        properties: mutualTlsProperties(tls, VARIABLE, "least", tls.wrongHost),
        secret: KEY_PASSWORD,
        expect: /could not be verified: the certificate does not name the host/,
      },
      {
        name: "no client certificate",
        properties: {
          "bootstrap.servers": tls.ssl,
          "security.protocol": "SSL",
          "ssl.ca.location": `${tls.dir}/ca.pem`,
        },
        secret: KEY_PASSWORD,
        expect: /refused the TLS connection: it requires a client certificate/,
      },
      {
        name: "a wrong key password",
        properties: mutualTlsProperties(tls, VARIABLE),
        secret: wrongPassword,
        expect:
          /could not load the client key ".*least\.key" \(ssl\.key\.location\): ssl\.key\.password is wrong/,
      },
    ];
    await withTopic(1, async (topic) => {
      await grant(["Write", "Read"], { topics: [topic] });
      const group = uniqueName("ferry-tls-bad");
      await grant(["Read"], { groups: [group] });
      await withTempDir(async (dir) => {
        const data = `${dir}/data`;
        await writeTree(data, { "a.bin": testBytes(40_000, 7), "b.bin": testBytes(500, 8) });
        for (const [i, c] of cases.entries()) {
          const config = `${dir}/bad-${i}.config`;
          await Deno.writeTextFile(config, configFile(c.properties));
          const env = { [VARIABLE]: c.secret };
          const common = ["--config", config, "--topic", topic, "--log-level", "debug"];

          const started = performance.now();
          const up = await ferry(["upload", data, ...common], { env, timeoutMs: 90_000 });
          const ms = Math.round(performance.now() - started);
          const output = up.stdout + up.stderr;
          // deno-lint-ignore no-console
          console.log(`${c.name}: ferry upload exit ${up.code} after ${ms} ms`);
          assertEquals(up.code, 1, `${c.name}: ${output.slice(-3000)}`);
          assert(ms < FAST_MS, `${c.name}: took ${ms} ms`);
          assert(c.expect.test(output), `${c.name}: ${output.slice(-3000)}`);
          assert(!output.includes(c.secret), `${c.name}: the secret is in the output`);

          const out = `${dir}/out-${i}`;
          const t0 = performance.now();
          const run = await runProcessor(
            "tests/fixtures/recording_processor.ts",
            [...common, "--group", group, "--output-dir", out, "--exit-when-idle", "2"],
            90_000,
            { bootstrap: false, env },
          );
          const runMs = Math.round(performance.now() - t0);
          assertEquals(run.code, 1, `${c.name}: ${run.stderr.slice(-3000)}`);
          assert(runMs < FAST_MS, `${c.name}: the processor took ${runMs} ms`);
          assert(c.expect.test(run.stderr), `${c.name}: ${run.stderr.slice(-3000)}`);
          assert(
            !run.stderr.includes(c.secret),
            `${c.name}: the secret is in the processor output`,
          );
          assert(!(await textBelow(out)).includes(c.secret), `${c.name}: the secret is in a log`);
          assertEquals(await readCalls(out), [], `${c.name}: nothing processed`);
        }
        // Without --allow-net (docs/permissions.md) Ferry cannot check the certificate itself:
        // the error then lists the possible causes, as fast.
        const expired = cases[1];
        const noNetConfig = `${dir}/bad-1.config`;
        const noNet = await runProcessor(
          "tests/fixtures/recording_processor.ts",
          [
            "--config",
            noNetConfig,
            "--topic",
            topic,
            "--group",
            group,
            "--output-dir",
            `${dir}/nn`,
          ],
          90_000,
          {
            bootstrap: false,
            env: { [VARIABLE]: expired.secret },
            permissions: ["--allow-ffi", "--allow-read", "--allow-write", "--allow-env"],
          },
        );
        assertEquals(noNet.code, 1, noNet.stderr.slice(-3000));
        assert(
          /could not be verified against ssl\.ca\.location ".*ca\.pem": it is signed by another CA, has expired/
            .test(noNet.stderr),
          noNet.stderr.slice(-3000),
        );
        // Nothing half done: no message on the topic, no offset committed; the right settings
        // then upload both files (none counted as uploaded before) and process them.
        assertEquals((await readTopic(topic, 1, { timeoutMs: 2_000 })).length, 0);
        assertEquals(await committedOffsets(group, topic, 1), [-1001]);
        const config = `${dir}/good.config`;
        await Deno.writeTextFile(config, configFile(mutualTlsProperties(tls, VARIABLE)));
        const env = { [VARIABLE]: KEY_PASSWORD };
        const good = await ferry(["upload", data, "--config", config, "--topic", topic], { env });
        assertEquals(good.code, 0, good.stderr.slice(-3000));
        assert(/Uploaded 2 file/.test(good.stdout + good.stderr), good.stdout + good.stderr);
      });
    });
  } finally {
    await revokeGranted();
  }
});
