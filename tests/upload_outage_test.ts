/**
 * The broker going away mid-upload, on a SECOND broker of its own (port 39192 by default,
 * `FERRY_TEST_OUTAGE_PORT`), never the shared one: the upload waits, retries and finishes when
 * the broker comes back; or, when it stays away past the delivery timeout, the file fails
 * clearly and is not recorded as uploaded.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { readTopic, rebuild, testBytes } from "./support/upload_support.ts";
import { Admin } from "../src/kafka/mod.ts";
import { upload } from "../src/upload/uploader.ts";
import { UploadLog } from "../src/upload/upload_log.ts";

const PORT = Number(Deno.env.get("FERRY_TEST_OUTAGE_PORT") ?? "39192");
const BOOTSTRAP = `127.0.0.1:${PORT}`;
const BROKER_SH = new URL("../scripts/kafka/broker.sh", import.meta.url).pathname;
const CHUNK = 64 * 1024;

async function broker(command: "start" | "stop"): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [BROKER_SH, "--port", String(PORT), "--no-sasl", command],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert(
    out.success,
    `broker.sh --port ${PORT} ${command} failed:\n${new TextDecoder().decode(out.stderr)}`,
  );
}

async function createTopic(topic: string): Promise<void> {
  await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
  await admin.createTopics([{ topic, partitions: 1 }]);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const meta = await admin.metadata({ topics: [topic], timeoutMs: 5000 });
    if (meta.topics[0].partitions.length === 1 && meta.topics[0].partitions[0].leader >= 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Topic "${topic}" did not become ready on ${BOOTSTRAP}.`);
}

Deno.test("the broker going away mid-upload", async (t) => {
  await broker("start");
  const root = await Deno.makeTempDir({ prefix: "ferry-outage-" });
  const errors: string[] = [];
  try {
    await t.step("comes back: the upload waits, retries and finishes", async () => {
      const topic = `ferry-outage-back-${Date.now().toString(36)}`;
      await createTopic(topic);
      const bytes = testBytes(60 * CHUNK, 51);
      await Deno.writeFile(join(root, "back.bin"), bytes);
      let outage: Promise<void> | undefined;
      let acked = 0;
      let ackedDuringOutage = 0;
      let outageOver = false;
      const summary = await upload(join(root, "back.bin"), {
        kafka: { "bootstrap.servers": BOOTSTRAP },
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
                await broker("stop");
                ackedDuringOutage = 0; // acks that raced the stop do not count
                await new Promise((r) => setTimeout(r, 3000));
                assertEquals(ackedDuringOutage, 0, "nothing is acknowledged while it is down");
                await broker("start");
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
      const file = rebuild(await readTopic(topic, 60, { bootstrap: BOOTSTRAP })).get("back.bin")!;
      assertEquals(file.bytes, bytes);
    });

    await t.step(
      "stays away: the file fails clearly after the timeout, never marked uploaded",
      async () => {
        const topic = `ferry-outage-gone-${Date.now().toString(36)}`;
        await createTopic(topic);
        await Deno.writeFile(join(root, "gone.bin"), testBytes(60 * CHUNK, 52));
        let stopped: Promise<void> | undefined;
        let acked = 0;
        const started = Date.now();
        const summary = await upload(join(root, "gone.bin"), {
          kafka: { "bootstrap.servers": BOOTSTRAP },
          topic,
          chunkSize: CHUNK,
          maxInFlightBytes: 2 * CHUNK,
          deliveryTimeoutMs: 6_000,
          uploadLogDir: join(root, "log-gone"),
          onKafkaError: (error) => errors.push(error.message),
          events: {
            chunkAcked: () => {
              if (++acked === 5) stopped = broker("stop");
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
    await broker("stop");
  }
  assert(errors.length > 0, "librdkafka reported the outage");
});
