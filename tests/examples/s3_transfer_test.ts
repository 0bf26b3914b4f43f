/**
 * The S3 transfer example against a real S3-compatible server (versitygw, built and cached by
 * `scripts/s3/server.sh`) started on loopback for this test, on its own free port and directory.
 */

import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { assert, assertEquals } from "../support/assert.ts";
import { withTopic } from "../support/broker.ts";
import { testBytes } from "../support/bytes.ts";
import { withTempDir } from "../support/files.ts";
import { freePort } from "../support/net.ts";
import { processorArgs, type ProcessorRun, repoPath, runProcessor } from "../support/processor.ts";
import { uploadTree } from "../support/upload.ts";

const SCRIPT = "examples/s3_transfer.ts";
const ACCESS_KEY = "ferry";
const SECRET_KEY = "ferry-s3-secret"; // scripts/s3/server.sh's fixed test credentials

async function serverScript(port: number, dir: string, command: string): Promise<void> {
  const output = await new Deno.Command("bash", {
    args: [repoPath("scripts/s3/server.sh"), "--port", String(port), "--data-dir", dir, command],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `scripts/s3/server.sh ${command} failed (exit ${output.code}):\n` +
        new TextDecoder().decode(output.stderr),
    );
  }
}

/** Starts versitygw on a free port for `fn` and stops it again. */
async function withS3Server(
  fn: (endpoint: string, client: S3Client, root: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-s3-" });
  const port = freePort();
  await serverScript(port, dir, "start");
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  try {
    await fn(endpoint, client, `${dir}/root`);
  } finally {
    client.destroy();
    await serverScript(port, dir, "stop");
    await Deno.remove(dir, { recursive: true });
  }
}

const FILES: Record<string, Uint8Array> = {
  "scan 1.raw": testBytes(300_000, 1), // five 64 KiB chunks
  "run1/log.csv": new TextEncoder().encode("t,temp\n0,21.5\n1,21.7\n"),
  "run1/deep/er/frame.bin": testBytes(65_536, 2), // exactly one chunk
  "run2/ünïcode näme.dat": testBytes(1_234, 3),
};

async function uploadFiles(topic: string): Promise<void> {
  await withTempDir(async (root) => {
    await uploadTree(topic, root, FILES, { chunkSize: 65_536, uploadLogDir: false });
  }, "ferry-s3-files-");
}

async function objectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = await object.Body?.transformToByteArray();
  assert(bytes !== undefined, `object "${key}" has a body`);
  return new Uint8Array(bytes);
}

/** Runs the example on `topic` with `secretKey`, writing to a new output folder. */
async function transfer(
  topic: string,
  endpoint: string,
  secretKey: string,
  more: readonly string[] = [],
): Promise<{ out: string; run: ProcessorRun }> {
  const out = await Deno.makeTempDir({ prefix: "ferry-s3-out-" });
  const run = await runProcessor(
    SCRIPT,
    [
      ...processorArgs(topic, out),
      "--bucket-name",
      "ferry-test",
      "--endpoint-url",
      endpoint,
      ...more,
      "--exit-when-idle",
      "2",
    ],
    120_000,
    { env: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: secretKey } },
  );
  return { out, run };
}

Deno.test("s3_transfer copies every file to the bucket, byte for byte, verified", async () => {
  await withS3Server(async (endpoint, client, root) => {
    await client.send(new CreateBucketCommand({ Bucket: "ferry-test" }));
    await withTopic(3, async (topic) => {
      await uploadFiles(topic);
      const { out, run } = await transfer(topic, endpoint, SECRET_KEY);
      assertEquals(run.code, 0, run.stderr);
      assert(!run.stderr.includes(SECRET_KEY), "the secret key is never logged");
      for (const [path, bytes] of Object.entries(FILES)) {
        const key = `${topic}/${path}`;
        assertEquals(await objectBytes(client, "ferry-test", key), bytes, `object "${key}"`);
        // And what the server stored on disk (its posix backend: <root>/<bucket>/<key>).
        assertEquals(await Deno.readFile(`${root}/ferry-test/${key}`), bytes, `file of "${key}"`);
      }
      const lines = (await Deno.readTextFile(`${out}/s3_transfers.csv`)).trim().split("\n");
      assertEquals(
        lines.map((line) => JSON.parse(`[${line}]`)[0]).sort(),
        Object.keys(FILES).sort(),
        "one results line per file",
      );
      await Deno.remove(out, { recursive: true });
    });
  });
});

Deno.test("s3_transfer fails the files (exit 1) when the server refuses the credentials", async () => {
  await withS3Server(async (endpoint, client) => {
    await client.send(new CreateBucketCommand({ Bucket: "ferry-test" }));
    await withTopic(1, async (topic) => {
      await uploadFiles(topic);
      const { out, run } = await transfer(topic, endpoint, "wrong-secret", [
        "--max-attempts",
        "1",
      ]);
      assertEquals(run.code, 1, run.stderr);
      assert(!run.stderr.includes("wrong-secret"), "the secret key is never logged");
      for (const path of Object.keys(FILES)) {
        assert(run.stderr.includes(path), `the failure of "${path}" is named:\n${run.stderr}`);
      }
      await Deno.remove(out, { recursive: true });
    });
  });
});
