/**
 * The broker going away mid-upload, on a SECOND broker of its own (on free ports, or `FERRY_TEST_OUTAGE_PORT`), never the shared one: the upload waits, retries and finishes when
 * the broker comes back; or, when it stays away past the delivery timeout, the file fails
 * clearly and is not recorded as uploaded.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { OwnBroker, ownBrokerPort } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { readTopic, rebuild } from "../support/upload.ts";
import { sleep } from "../support/wait.ts";
import { upload } from "../../src/upload/uploader.ts";
import { UploadLog } from "../../src/upload/upload_log.ts";

const CHUNK = 64 * 1024;

Deno.test("the broker going away mid-upload", async (t) => {
  await using broker = await OwnBroker.start(ownBrokerPort("FERRY_TEST_OUTAGE_PORT"));
  const root = await Deno.makeTempDir({ prefix: "ferry-outage-" });
  const errors: string[] = [];
  try {
    await t.step("comes back: the upload waits, retries and finishes", async () => {
      const topic = `ferry-outage-back-${Date.now().toString(36)}`;
      await broker.createTopic(topic, 1);
      const bytes = testBytes(60 * CHUNK, 51);
      await Deno.writeFile(join(root, "back.bin"), bytes);
      let outage: Promise<void> | undefined;
      let acked = 0;
      let ackedDuringOutage = 0;
      let outageOver = false;
      const summary = await upload(join(root, "back.bin"), {
        kafka: { "bootstrap.servers": broker.bootstrap },
        topic,
        chunkSize: CHUNK,
        maxInFlightBytes: 2 * CHUNK,
        deliveryTimeoutMs: 120_000,
        uploadLogDir: join(root, "log-back"),
        onKafkaError: (error) => errors.push(error.message),
        events: {
          chunkAcked: () => {
            acked++;
            if (outage !== undefined && !outageOver) ackedDuringOutage++;
            if (acked === 5) {
              outage = (async () => {
                await broker.stop();
                ackedDuringOutage = 0; // acks that raced the stop do not count
                await sleep(3000);
                assertEquals(ackedDuringOutage, 0, "nothing is acknowledged while it is down");
                await broker.start();
                outageOver = true;
              })();
            }
          },
        },
      });
      await outage;
      assert(outageOver, "the broker was stopped and started during the upload");
      assertEquals(summary.uploaded, 1, JSON.stringify(summary.outcomes));
      assertEquals(summary.failed, 0);
      const file = rebuild(await readTopic(topic, 60, { bootstrap: broker.bootstrap })).get(
        "back.bin",
      )!;
      assertEquals(file.bytes, bytes);
    });

    await t.step(
      "stays away: the file fails clearly after the timeout, never marked uploaded",
      async () => {
        const topic = `ferry-outage-gone-${Date.now().toString(36)}`;
        await broker.createTopic(topic, 1);
        await Deno.writeFile(join(root, "gone.bin"), testBytes(60 * CHUNK, 52));
        let stopped: Promise<void> | undefined;
        let acked = 0;
        const started = Date.now();
        const summary = await upload(join(root, "gone.bin"), {
          kafka: { "bootstrap.servers": broker.bootstrap },
          topic,
          chunkSize: CHUNK,
          maxInFlightBytes: 2 * CHUNK,
          deliveryTimeoutMs: 6_000,
          uploadLogDir: join(root, "log-gone"),
          onKafkaError: (error) => errors.push(error.message),
          events: {
            chunkAcked: () => {
              if (++acked === 5) stopped = broker.stop();
            },
          },
        });
        await stopped;
        assertEquals(summary.uploaded, 0);
        assertEquals(summary.failed, 1);
        const outcome = summary.outcomes[0];
        assert(outcome.status === "failed");
        assertEquals(outcome.error.kind, "delivery");
        assert(
          outcome.error.message.startsWith(
            'File "gone.bin" was not fully acknowledged by the broker',
          ),
          outcome.error.message,
        );
        assert(Date.now() - started < 60_000, "fails within the timeout, does not hang");
        await using log = await UploadLog.open(join(root, "log-gone", `upload_to_${topic}.jsonl`));
        assertEquals(log.uploaded("gone.bin"), undefined, "not recorded as uploaded");
        const partial = log.partial("gone.bin");
        assert(partial !== undefined && partial.acked.size < 60, "progress kept for a resume");
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  assert(errors.length > 0, "librdkafka reported the outage");
});
