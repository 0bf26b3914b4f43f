/**
 * Which Kafka APIs a broker serves, asked the way every client starts a connection: an
 * ApiVersions request (version 0, which every broker answers, before any authentication).
 * librdkafka asks too but does not say; Ferry asks itself where librdkafka would only retry
 * quietly forever, such as a KIP-848 consumer group on a broker without it.
 *
 * Plaintext and SASL_PLAINTEXT listeners only (ApiVersions comes before the SASL handshake);
 * over TLS the question is not asked.
 *
 * @module
 */

import { bootstrapServers, type KafkaConfig } from "./config.ts";

/** Kafka API keys Ferry asks about. */
export const ApiKey = {
  /**
   * KIP-848's consumer group heartbeat: the `consumer` group protocol. librdkafka uses its
   * version 1 (Kafka 4.0+); Kafka 3.x brokers serve only the early-access version 0.
   */
  CONSUMER_GROUP_HEARTBEAT: 68,
} as const;

/**
 * The API keys a broker serves, with their version ranges; `undefined` when it could not be
 * asked (a TLS listener).
 */
export type ApiVersions = Map<number, { min: number; max: number }>;

/** Raised when no bootstrap server answered the ApiVersions request. */
export class ApiVersionsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApiVersionsError";
  }
}

/**
 * Splits librdkafka's `bootstrap.servers` into host and port pairs (`host:port`,
 * `[v6]:port`, an optional `PLAINTEXT://`-style prefix; port 9092 when left out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootstrapAddresses } from "./api_versions.ts";
 *
 * assert.deepEqual(bootstrapAddresses("a:1, sasl_plaintext://[::1]:2,b"), [
 *   { hostname: "a", port: 1 },
 *   { hostname: "::1", port: 2 },
 *   { hostname: "b", port: 9092 },
 * ]);
 * ```
 */
export function bootstrapAddresses(servers: string): { hostname: string; port: number }[] {
  return servers.split(",").map((s) => s.trim()).filter((s) => s !== "").map((server) => {
    const bare = server.replace(/^[a-z_]+:\/\//i, "");
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(bare);
    if (v6) return { hostname: v6[1], port: Number(v6[2] ?? 9092) };
    const colon = bare.lastIndexOf(":");
    return colon < 0
      ? { hostname: bare, port: 9092 }
      : { hostname: bare.slice(0, colon), port: Number(bare.slice(colon + 1)) };
  });
}

/** An ApiVersions v0 request with `correlationId`, size prefix included. */
function request(correlationId: number): Uint8Array {
  const clientId = new TextEncoder().encode("ferry");
  const bytes = new Uint8Array(4 + 2 + 2 + 4 + 2 + clientId.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, bytes.length - 4);
  view.setInt16(4, 18); // ApiVersions
  view.setInt16(6, 0); // version 0
  view.setInt32(8, correlationId);
  view.setInt16(12, clientId.length);
  bytes.set(clientId, 14);
  return bytes;
}

/**
 * Decodes an ApiVersions v0 response body (after its size prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeApiVersions } from "./api_versions.ts";
 *
 * // correlation id 7, no error, one API: key 68, versions 0 to 1.
 * const body = new Uint8Array([0, 0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 68, 0, 0, 0, 1]);
 * assert.deepEqual(decodeApiVersions(body, 7), new Map([[68, { min: 0, max: 1 }]]));
 * ```
 */
export function decodeApiVersions(body: Uint8Array, correlationId: number): ApiVersions {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 10 || view.getInt32(0) !== correlationId) {
    throw new ApiVersionsError("The broker's ApiVersions response is not one to Ferry's request.");
  }
  const error = view.getInt16(4);
  if (error !== 0) {
    throw new ApiVersionsError(`The broker answered ApiVersions with error ${error}.`);
  }
  const count = view.getInt32(6);
  if (count < 0 || body.length < 10 + count * 6) {
    throw new ApiVersionsError("The broker's ApiVersions response is truncated.");
  }
  const versions: ApiVersions = new Map();
  for (let i = 0; i < count; i++) {
    const at = 10 + i * 6;
    versions.set(view.getInt16(at), { min: view.getInt16(at + 2), max: view.getInt16(at + 4) });
  }
  return versions;
}

async function readFully(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await conn.read(out.subarray(filled));
    if (n === null) throw new ApiVersionsError("The broker closed the connection.");
    filled += n;
  }
  return out;
}

async function ask(hostname: string, port: number, timeoutMs: number): Promise<ApiVersions> {
  const conn = await Deno.connect({ hostname, port });
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  const timer = setTimeout(close, timeoutMs);
  try {
    const correlationId = 1;
    const bytes = request(correlationId);
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
    const size = new DataView((await readFully(conn, 4)).buffer).getInt32(0);
    if (size < 10 || size > 1 << 20) {
      throw new ApiVersionsError(`The broker's ApiVersions response has a size of ${size}.`);
    }
    return decodeApiVersions(await readFully(conn, size), correlationId);
  } catch (error) {
    if (closed) throw new ApiVersionsError(`No answer within ${timeoutMs} ms.`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
    close();
  }
}

/**
 * The APIs the first bootstrap server that answers serves, or `undefined` when the listener
 * is TLS (`security.protocol` `ssl` or `sasl_ssl`: not asked).
 *
 * @example
 * ```ts ignore
 * import { ApiKey, brokerApiVersions } from "./api_versions.ts";
 * const apis = await brokerApiVersions({ "bootstrap.servers": "127.0.0.1:9092" });
 * console.log(apis?.has(ApiKey.CONSUMER_GROUP_HEARTBEAT));
 * ```
 *
 * @throws {ApiVersionsError} when no bootstrap server answers within `timeoutMs` each.
 */
export async function brokerApiVersions(
  config: KafkaConfig,
  timeoutMs = 10_000,
): Promise<ApiVersions | undefined> {
  const protocol = String(config["security.protocol"] ?? "plaintext").toLowerCase();
  if (protocol !== "plaintext" && protocol !== "sasl_plaintext") return undefined;
  const reasons: string[] = [];
  for (const { hostname, port } of bootstrapAddresses(bootstrapServers(config) ?? "")) {
    try {
      return await ask(hostname, port, timeoutMs);
    } catch (error) {
      reasons.push(`${hostname}:${port}: ${error instanceof Error ? error.message : error}`);
    }
  }
  throw new ApiVersionsError(
    `No bootstrap server answered an ApiVersions request (${reasons.join("; ") || "none given"}).`,
  );
}
