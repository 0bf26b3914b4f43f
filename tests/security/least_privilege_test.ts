/**
 * Least privilege, against the test broker's authorizer: as user `least` (SASL_SSL), each run
 * type works with exactly the ACLs docs/security.md lists for it, and without one of them it
 * ends at once (exit 1) with an error naming the missing permission, having committed nothing it
 * should not. "Without one ACL" is a fresh topic or group that lacks just that ACL: cheaper than
 * deleting an ACL and waiting for the broker, and the same to the authorizer.
 *
 * | run type                         | ACLs                                              | left out in turn        |
 * | -------------------------------- | ------------------------------------------------- | ----------------------- |
 * | upload                           | Write on the topic (includes Describe)            | Write (Describe kept)   |
 * | file processor                   | Read on the topic, Read on the group              | each                    |
 * | download                         | Read on the topic, Read on the group              | the group's             |
 * | record processor, dead letters   | Read on topic and group, Write on dead-letter topic | Write (Describe kept) |
 * | file processor, `--exactly-once` | Read on topic and group, Write on the output topic and the transactional id | the transactional id's |
 */

import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { ferry } from "../support/cli.ts";
import { withTempDir, writeTree } from "../support/files.ts";
import { readCalls, runProcessor } from "../support/processor.ts";
import { prepareRecordRun } from "../support/records.ts";
import { readTopic, uploadTree } from "../support/upload.ts";
import { readCommitted } from "../support/results.ts";
import {
  configFile,
  grant,
  LEAST_PASSWORD,
  requireTls,
  revokeGranted,
  saslSslProperties,
} from "../support/security.ts";

const VARIABLE = "FERRY_TEST_LEAST_PASSWORD";
const env = { [VARIABLE]: LEAST_PASSWORD };
/** Far below librdkafka's own timeouts and retry loops. */
const FAST_MS = 20_000;

/** Writes the SASL_SSL config file for user `least` into `dir`; returns its path. */
async function leastConfig(dir: string): Promise<string> {
  const path = `${dir}/least.config`;
  await Deno.writeTextFile(path, configFile(saslSslProperties(requireTls(), VARIABLE)));
  return path;
}

/** Checks a run that must fail for a missing ACL: exit 1, fast, the permission named. */
function assertRefused(
  what: string,
  run: { code: number; output: string; ms: number },
  permission: RegExp,
): void {
  // deno-lint-ignore no-console
  console.log(`${what}: exit ${run.code} after ${Math.round(run.ms)} ms`);
  assertEquals(run.code, 1, `${what}: ${run.output.slice(-3000)}`);
  assert(run.ms < FAST_MS, `${what}: took ${run.ms} ms`);
  assert(permission.test(run.output), `${what}: ${run.output.slice(-3000)}`);
}

async function timed(
  fn: () => Promise<{ code: number; output: string }>,
): Promise<{ code: number; output: string; ms: number }> {
  const started = performance.now();
  const run = await fn();
  return { ...run, ms: performance.now() - started };
}

async function cli(args: string[]) {
  const out = await ferry(args, { env, timeoutMs: 90_000 });
  return { code: out.code, output: out.stdout + out.stderr };
}

async function processor(script: string, args: string[]) {
  const run = await runProcessor(script, args, 90_000, { bootstrap: false, env });
  return { code: run.code, output: run.stderr };
}

Deno.test("least privilege, upload: Write on the topic is enough; with Describe only it fails naming Write", async () => {
  requireTls();
  try {
    await withTopic(1, async (allowed) => {
      await withTopic(1, async (describeOnly) => {
        await grant(["Write"], { topics: [allowed] });
        await grant(["Describe"], { topics: [describeOnly] });
        await withTempDir(async (dir) => {
          const config = await leastConfig(dir);
          await writeTree(`${dir}/data`, { "a.bin": testBytes(30_000, 1), "b.bin": "b" });
          const base = ["upload", `${dir}/data`, "--config", config, "--no-upload-log"];
          const ok = await cli([...base, "--topic", allowed]);
          assertEquals(ok.code, 0, ok.output.slice(-3000));
          assert(/Uploaded 2 file/.test(ok.output), ok.output);

          const refused = await timed(() => cli([...base, "--topic", describeOnly]));
          assertRefused(
            "upload without Write",
            refused,
            new RegExp(`user "least" lacks the Write permission on topic "${describeOnly}"`),
          );
          assertEquals((await readTopic(describeOnly, 1, { timeoutMs: 2_000 })).length, 0);
        });
      });
    });
  } finally {
    await revokeGranted();
  }
});

Deno.test("least privilege, file processor and download: Read on topic and group; without either it fails naming it, committing nothing", async () => {
  requireTls();
  try {
    await withTopic(2, async (topic) => {
      await withTopic(1, async (noTopicAcl) => {
        const files = { "a.bin": testBytes(50_000, 2), "d/b.bin": testBytes(10, 3) };
        await withTempDir(async (dir) => {
          await uploadTree(topic, `${dir}/data`, files, { uploadLogDir: false });
          await uploadTree(noTopicAcl, `${dir}/data2`, { "c.bin": "c" }, { uploadLogDir: false });
          const [processorGroup, downloadGroup, noGroupAcl, otherGroup] = [
            "proc",
            "down",
            "none",
            "other",
          ].map((g) => uniqueName(`ferry-lp-${g}`));
          await grant(["Read"], {
            topics: [topic],
            groups: [processorGroup, downloadGroup, otherGroup],
          });
          const config = await leastConfig(dir);
          const script = "tests/fixtures/recording_processor.ts";
          const args = (t: string, group: string, out: string) => [
            "--config",
            config,
            "--topic",
            t,
            "--group",
            group,
            "--output-dir",
            out,
            "--exit-when-idle",
            "2",
          ];

          const ok = await processor(script, args(topic, processorGroup, `${dir}/out`));
          assertEquals(ok.code, 0, ok.output.slice(-3000));
          assertEquals((await readCalls(`${dir}/out`)).map((c) => c.path).sort(), [
            "a.bin",
            "d/b.bin",
          ]);

          const noGroup = await timed(() =>
            processor(script, args(topic, noGroupAcl, `${dir}/o1`))
          );
          assertRefused(
            "processor without Read on the group",
            noGroup,
            new RegExp(`lacks the Read permission on consumer group "${noGroupAcl}"`),
          );
          assertEquals(await readCalls(`${dir}/o1`), []);
          assertEquals(await committedOffsets(noGroupAcl, topic, 2), [-1001, -1001]);

          const noTopic = await timed(() =>
            processor(script, args(noTopicAcl, otherGroup, `${dir}/o2`))
          );
          assertRefused(
            "processor without Read on the topic",
            noTopic,
            new RegExp(
              `user "least" lacks the Describe permission on topic "${noTopicAcl}" \\(Read and`,
            ),
          );
          assertEquals(await readCalls(`${dir}/o2`), []);
          assertEquals(await committedOffsets(otherGroup, noTopicAcl, 1), [-1001]);

          const download = (group: string, out: string) =>
            cli([
              "download",
              "--config",
              config,
              "-t",
              topic,
              "-o",
              out,
              "--group",
              group,
              "--exit-when-idle=1",
            ]);
          const got = await download(downloadGroup, `${dir}/down`);
          assertEquals(got.code, 0, got.output.slice(-3000));
          for (const [path, bytes] of Object.entries(files)) {
            assertEquals(await Deno.readFile(`${dir}/down/${path}`), bytes, path);
          }
          const refused = await timed(() => download(noGroupAcl, `${dir}/down2`));
          assertRefused(
            "download without Read on the group",
            refused,
            new RegExp(`lacks the Read permission on consumer group "${noGroupAcl}"`),
          );
          assertEquals(await committedOffsets(noGroupAcl, topic, 2), [-1001, -1001]);
        });
      });
    });
  } finally {
    await revokeGranted();
  }
});

Deno.test("least privilege, record processor with a dead-letter topic: Write on it is needed; without, it fails naming it and commits nothing past the failed record", async () => {
  requireTls();
  try {
    await withTopic(1, async (topic) => {
      await withTopic(1, async (deadLetters) => {
        await withTopic(1, async (describeOnly) => {
          const { events, group } = await prepareRecordRun(topic, 1, 10);
          const refusedGroup = uniqueName("ferry-lp-records");
          await grant(["Read"], { topics: [topic], groups: [group, refusedGroup] });
          await grant(["Write"], { topics: [deadLetters] });
          await grant(["Describe"], { topics: [describeOnly] });
          await withTempDir(async (dir) => {
            const config = await leastConfig(dir);
            const script = "tests/fixtures/recording_record_processor.ts";
            const args = (g: string, dlq: string, eventsFile: string) => [
              "--config",
              config,
              "--topic",
              topic,
              "--group",
              g,
              "--events-file",
              eventsFile,
              "--fail-offset",
              "3",
              "--retries",
              "1",
              "--error-policy",
              "skip",
              "--dead-letter-topic",
              dlq,
              "--exit-when-idle",
              "2",
            ];
            const ok = await processor(script, args(group, deadLetters, events));
            assertEquals(ok.code, 0, ok.output.slice(-3000));
            assertEquals(await committedOffsets(group, topic, 1), [10]);
            assertEquals((await readTopic(deadLetters, 1, { timeoutMs: 5_000 })).length, 1);

            const refused = await timed(() =>
              processor(script, args(refusedGroup, describeOnly, `${dir}/events2`))
            );
            assertRefused(
              "record processor without Write on the dead-letter topic",
              refused,
              new RegExp(`lacks the Write permission on topic "${describeOnly}"`),
            );
            const [committed] = await committedOffsets(refusedGroup, topic, 1);
            assert(committed <= 3, `committed ${committed}, past the failed record 3`);
            assertEquals((await readTopic(describeOnly, 1, { timeoutMs: 2_000 })).length, 0);
          });
          await Deno.remove(events);
        });
      });
    });
  } finally {
    await revokeGranted();
  }
});

Deno.test("least privilege, a file processor producing results exactly once: Write on its transactional id is needed; without, it fails naming it, producing and committing nothing", async () => {
  requireTls();
  try {
    await withTopic(1, async (topic) => {
      await withTopic(1, async (output) => {
        await withTempDir(async (dir) => {
          await uploadTree(topic, `${dir}/data`, { "a.csv": "x,1\n" }, { uploadLogDir: false });
          const group = uniqueName("ferry-lp-eos");
          const transactionalId = uniqueName("ferry-lp-txn");
          await grant(["Read"], { topics: [topic], groups: [group] });
          await grant(["Write"], { topics: [output] });
          // The transactional id set in the config file, so that the ACL can name it.
          const config = `${dir}/least-eos.config`;
          await Deno.writeTextFile(
            config,
            configFile(saslSslProperties(requireTls(), VARIABLE)) +
              `[producer]\ntransactional.id = ${transactionalId}\n`,
          );
          const args = (out: string) => [
            ...["--config", config, "--topic", topic, "--group", group, "--output-dir", out],
            ...["--output-topic", output, "--exactly-once", "--exit-when-idle", "2"],
          ];
          const script = "tests/fixtures/producing_processor.ts";

          const refused = await timed(() => processor(script, args(`${dir}/o1`)));
          assertRefused(
            "exactly once without Write on the transactional id",
            refused,
            new RegExp(`lacks the Write permission on transactional id "${transactionalId}"`),
          );
          assertEquals(await committedOffsets(group, topic, 1), [-1001]);
          const uncommitted = await readCommitted(output, 0, 3000, BOOTSTRAP, "read_uncommitted");
          assertEquals(uncommitted.length, 0, "nothing produced, not even in a transaction");

          await grant(["Write"], { transactionalIds: [transactionalId] });
          const ok = await processor(script, args(`${dir}/o2`));
          assertEquals(ok.code, 0, ok.output.slice(-3000));
          assertEquals((await readCommitted(output, 1)).length, 1, "one result, committed");
        });
      });
    });
  } finally {
    await revokeGranted();
  }
});
