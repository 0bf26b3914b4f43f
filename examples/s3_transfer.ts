/**
 * Example: copy every file rebuilt from a topic to an S3 bucket (AWS, or any S3-compatible
 * server such as MinIO or versitygw) and verify the copy, as OpenMSIStream's
 * S3TransferStreamProcessor does. The object key is `<topic>/<relative path>` unless
 * `--key-prefix` says otherwise.
 *
 * Verification: the upload carries the file's SHA-256, which the server checks before it
 * stores the object; then a HeadObject must report the file's size and, when the server keeps
 * checksums, the same SHA-256. A server that reports none (or `--read-back`) has the object
 * read back and hashed. A file whose copy does not verify fails (and is retried on the next
 * start). Each verified copy is appended to `<output-dir>/s3_transfers.csv`.
 *
 * Credentials come from the AWS SDK's usual places (`AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY`, `~/.aws/credentials`, ...) and are never logged; the endpoint from
 * `--endpoint-url` or `AWS_ENDPOINT_URL`.
 *
 *     AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... deno run -A examples/s3_transfer.ts \
 *       --topic raw-data --bootstrap-servers 127.0.0.1:19092 \
 *       --bucket-name my-bucket --endpoint-url http://127.0.0.1:7070 --exit-when-idle
 *
 * @module
 */

import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { join } from "node:path";
import { defineProcessor } from "../mod.ts";

/** This worker's S3 client, made in `initialize`. */
let client: S3Client | undefined;

async function sha256Base64(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return btoa(String.fromCharCode(...digest));
}

const processor = defineProcessor({
  name: "s3-transfer",
  description: "Copies every file to an S3 bucket and verifies the copy (size and SHA-256).",
  options: {
    bucketName: { type: "string", description: "bucket to copy into", required: true },
    endpointUrl: {
      type: "string",
      description: "S3 endpoint, such as http://127.0.0.1:7070 (default: AWS_ENDPOINT_URL, or AWS)",
    },
    region: { type: "string", description: "region (default: AWS_REGION, or us-east-1)" },
    keyPrefix: { type: "string", description: 'object key prefix (default: "<topic>/")' },
    virtualHostedStyle: {
      type: "boolean",
      description: "address buckets as <bucket>.<host> instead of <host>/<bucket>",
      default: false,
    },
    readBack: {
      type: "boolean",
      description: "always read every object back and compare its SHA-256",
      default: false,
    },
  },
  initialize(context) {
    const { endpointUrl, region, virtualHostedStyle } = context.options;
    client = new S3Client({
      endpoint: endpointUrl ?? Deno.env.get("AWS_ENDPOINT_URL"),
      region: region ?? Deno.env.get("AWS_REGION") ?? "us-east-1",
      forcePathStyle: !virtualHostedStyle,
    });
  },
  async process(file, lock, context) {
    if (!client) throw new Error("The S3 client was not created: initialize() did not run.");
    const { bucketName: bucket, keyPrefix, readBack } = context.options;
    const key = `${keyPrefix ?? `${context.topic}/`}${file.relativePath}`;
    const where = `s3://${bucket}/${key}`;
    const bytes = file.bytes ?? await Deno.readFile(file.path!);
    const sha256 = await sha256Base64(bytes);

    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.length,
        ChecksumSHA256: sha256, // the server refuses the object if the bytes do not match
        Metadata: { "ferry-sha512": file.sha512 },
      }),
    );

    const head = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
    );
    if (head.ContentLength !== file.size) {
      throw new Error(
        `Copy of "${file.relativePath}" at "${where}" has ${head.ContentLength} bytes, ` +
          `expected ${file.size}.`,
      );
    }
    let verifiedBy = "checksum";
    if (readBack || !head.ChecksumSHA256) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const stored = await object.Body?.transformToByteArray();
      if (!stored) throw new Error(`Reading back "${where}" returned no body.`);
      if (await sha256Base64(new Uint8Array(stored)) !== sha256) {
        throw new Error(`Copy of "${file.relativePath}" at "${where}" differs from the file.`);
      }
      verifiedBy = "read-back";
    } else if (head.ChecksumSHA256 !== sha256) {
      throw new Error(
        `Copy of "${file.relativePath}" at "${where}" has SHA-256 "${head.ChecksumSHA256}", ` +
          `expected "${sha256}".`,
      );
    }

    context.logger.info("Copied {path} to {where} ({size} bytes, verified by {verifiedBy}).", {
      path: file.relativePath,
      where,
      size: file.size,
      verifiedBy,
    });
    const line = [file.relativePath, where, file.size, sha256, verifiedBy]
      .map((v) => JSON.stringify(v)).join(",") + "\n";
    await lock.run(() =>
      Deno.writeTextFile(join(context.outputDir, "s3_transfers.csv"), line, { append: true })
    );
  },
  shutdown() {
    client?.destroy();
    client = undefined;
  },
});

if (import.meta.main) await processor.runFromCommandLine();
