/**
 * What the integration tests share: the real broker's address, a check that fails loudly
 * when it is not running, and throwaway topics.
 *
 * @module
 */

import { Admin, Consumer, type KafkaConfig } from "../../src/kafka/mod.ts";
import { freePortRange } from "./net.ts";

/** The plaintext bootstrap address of the project's test broker. */
export const BOOTSTRAP: string = Deno.env.get("FERRY_TEST_BOOTSTRAP") ?? "127.0.0.1:19092";

/** The SASL/PLAIN bootstrap address of the project's test broker. */
export const SASL_BOOTSTRAP: string = Deno.env.get("FERRY_TEST_SASL_BOOTSTRAP") ??
  "127.0.0.1:19094";

/** The SASL/PLAIN user of the test broker. */
export const SASL_USERNAME: string = Deno.env.get("FERRY_TEST_SASL_USERNAME") ?? "ferry";

/** The SASL/PLAIN password of {@linkcode SASL_USERNAME}. */
export const SASL_PASSWORD: string = Deno.env.get("FERRY_TEST_SASL_PASSWORD") ?? "ferry-secret";

/**
 * Client settings for the SASL/PLAIN listener as {@linkcode SASL_USERNAME} with `password`,
 * plus `extra`.
 */
export function saslConfig(password: string, extra: KafkaConfig = {}): KafkaConfig {
  return {
    "bootstrap.servers": SASL_BOOTSTRAP,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": SASL_USERNAME,
    "sasl.password": password,
    ...extra,
  };
}

let checked: Promise<void> | undefined;

/** Fails loudly, with the command to fix it, when the broker does not answer. */
export function requireBroker(): Promise<void> {
  checked ??= (async () => {
    await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
    try {
      await admin.metadata({ timeoutMs: 10_000 });
    } catch (error) {
      throw new Error(
        `The test broker at ${BOOTSTRAP} is not answering. Run the tests with ` +
          "`bash scripts/test.sh` (it starts the broker), or start it with " +
          "`bash scripts/kafka/broker.sh start`.",
        { cause: error },
      );
    }
  })();
  return checked;
}

/** A topic name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a fresh topic, runs `fn`, and deletes the topic again. */
export async function withTopic<T>(
  partitions: number,
  fn: (topic: string) => Promise<T>,
  config: Record<string, string> = {},
): Promise<T> {
  await requireBroker();
  const topic = uniqueName("ferry-test");
  {
    await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
    await admin.createTopics([{ topic, partitions, config }]);
  }
  try {
    return await fn(topic);
  } finally {
    await using admin = new Admin({ "bootstrap.servers": BOOTSTRAP });
    await admin.deleteTopics([topic]);
  }
}

/** A group's committed offsets for partitions 0..partitions-1 (`-1001` where none). */
export async function committedOffsets(
  group: string,
  topic: string,
  partitions: number,
  bootstrap: string = BOOTSTRAP,
): Promise<number[]> {
  await using reader = new Consumer({ "bootstrap.servers": bootstrap, "group.id": group });
  const list = [...Array(partitions).keys()].map((partition) => ({ topic, partition }));
  return (await reader.committed(list)).map((tp) => tp.offset);
}

/**
 * The port a broker of a test's own takes from the environment variable `name` (to pin it, e.g.
 * for a firewall), or `undefined` for free ports.
 */
export function ownBrokerPort(name: string): number | undefined {
  const value = Deno.env.get(name);
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  if (!Number.isInteger(port)) throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

/**
 * A broker of a test's own (plaintext only) on `port`, with its data in a temporary directory,
 * for tests that stop and start it; never the shared test broker. Stopping keeps its data, so
 * topics and committed offsets survive a restart. Dispose of it to stop it and delete its data.
 */
export class OwnBroker implements AsyncDisposable {
  /** Its bootstrap address. */
  readonly bootstrap: string;
  readonly #port: number;
  readonly #dataDir: string;

  private constructor(port: number, dataDir: string) {
    this.#port = port;
    this.#dataDir = dataDir;
    this.bootstrap = `127.0.0.1:${port}`;
  }

  /**
   * Starts a broker with fresh data on `port` (it uses port, port + 1 and port + 2), by default on
   * ports free right now.
   */
  static async start(port: number = freePortRange(3)): Promise<OwnBroker> {
    const broker = new OwnBroker(port, await Deno.makeTempDir({ prefix: `ferry-kafka-${port}-` }));
    await broker.start();
    return broker;
  }

  async #run(command: "start" | "stop"): Promise<void> {
    const script = new URL("../../scripts/kafka/broker.sh", import.meta.url).pathname;
    const out = await new Deno.Command("bash", {
      args: [script, "--port", String(this.#port), "--no-sasl", command],
      env: { FERRY_KAFKA_DIR: this.#dataDir },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (!out.success) {
      throw new Error(
        `broker.sh --port ${this.#port} ${command} failed:\n` +
          new TextDecoder().decode(out.stderr),
      );
    }
  }

  /** Starts it (again); resolves once it answers. */
  start(): Promise<void> {
    return this.#run("start");
  }

  /** Stops it (TERM, then KILL after 30 s); its data stays. */
  stop(): Promise<void> {
    return this.#run("stop");
  }

  /** Creates a topic and waits until every partition has a leader. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    await using admin = new Admin({ "bootstrap.servers": this.bootstrap });
    await admin.createTopics([{ topic, partitions }]);
  }

  /** Stops it and deletes its data. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dataDir, { recursive: true });
  }
}
