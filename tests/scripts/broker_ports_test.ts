/**
 * `scripts/kafka/broker.sh start` on a port another process holds fails saying so: "Address
 * already in use", which port (client, controller or SASL) and how to choose others
 * (`FERRY_KAFKA_PORT`), whether the port is taken by a listener (found before the broker
 * starts), by an outgoing connection, or by a socket only the broker's own bind finds (the
 * cause then comes from the broker's log, not its last shutdown lines). Every broker here is on
 * ports of its own, never the shared test broker's.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { freePort } from "../support/net.ts";
import { repoPath } from "../support/processor.ts";

const SCRIPT = repoPath("scripts/kafka/broker.sh");

interface ScriptRun {
  code: number;
  stderr: string;
  ms: number;
}

/** Runs broker.sh with FERRY_KAFKA_PORT=port and a data dir of the test's own. */
async function broker(port: number, dir: string, command: string): Promise<ScriptRun> {
  const started = Date.now();
  const out = await new Deno.Command("bash", {
    args: [SCRIPT, command],
    env: { FERRY_KAFKA_PORT: String(port), FERRY_KAFKA_DIR: dir },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, stderr, ms: Date.now() - started };
}

/** A port P with P, P+1 and P+2 free on 127.0.0.1 right now. */
function freePorts(): number {
  for (;;) {
    const port = freePort();
    if (port > 65533) continue;
    try {
      for (const p of [port + 1, port + 2]) Deno.listen({ hostname: "127.0.0.1", port: p }).close();
      return port;
    } catch {
      // taken: try another
    }
  }
}

/** Runs `fn` with a fresh data dir; stops any broker left on `port` and deletes the dir. */
async function withDataDir(port: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `ferry-kafka-${port}-` });
  try {
    await fn(dir);
  } finally {
    await broker(port, dir, "stop");
    await Deno.remove(dir, { recursive: true });
  }
}

/** What every such failure says. */
function assertPortInUse(run: ScriptRun, port: number, role: string): void {
  assertEquals(run.code, 1, run.stderr);
  assert(run.stderr.includes("Address already in use"), run.stderr);
  assert(run.stderr.includes(`127.0.0.1:${port} (${role}`), run.stderr);
  assert(run.stderr.includes("FERRY_KAFKA_PORT=N"), run.stderr);
}

/** libc's socket calls, for a socket that holds a port without listening on it. */
function libc() {
  return Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
}

/** A `struct sockaddr_in` for 127.0.0.1:port (little-endian family, network-order port). */
function loopback(port: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([2, 0, port >> 8, port & 0xff, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** A TCP socket bound to 127.0.0.1:port, connected to `to` when given, never listening. */
function holdPort(port: number, to?: number): Disposable {
  const lib = libc();
  const fd = lib.symbols.socket(2, 1, 0); // AF_INET, SOCK_STREAM
  assert(fd >= 0, "socket() failed");
  const address = loopback(port);
  assertEquals(lib.symbols.bind(fd, address, address.length), 0, `bind() to ${port}`);
  if (to !== undefined) {
    const peer = loopback(to);
    assertEquals(lib.symbols.connect(fd, peer, peer.length), 0, `connect() to ${to}`);
  }
  return {
    [Symbol.dispose]() {
      lib.symbols.close(fd);
      lib.close();
    },
  };
}

Deno.test("broker.sh start on a port another process listens on fails at once, naming the port", async () => {
  const port = freePorts();
  using _listener = Deno.listen({ hostname: "127.0.0.1", port });
  await withDataDir(port, async (dir) => {
    const run = await broker(port, dir, "start");
    assertPortInUse(run, port, "the client port");
    assert(!run.stderr.includes("starting Kafka"), `no broker was started:\n${run.stderr}`);
    assert(run.ms < 30_000, `took ${run.ms} ms`);
    assertEquals((await broker(port, dir, "status")).code, 3, "not running");
  });
});

Deno.test({
  name: "broker.sh start on a port a connection holds as its own fails at once, naming the port",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const port = freePorts();
    using peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    using _held = holdPort(port + 2, (peer.addr as Deno.NetAddr).port);
    await withDataDir(port, async (dir) => {
      const run = await broker(port, dir, "start");
      // Found before the broker starts when `ss` is there; by the broker's bind otherwise.
      assertPortInUse(run, port + 2, "the SASL port");
      assert(run.ms < 60_000, `took ${run.ms} ms`);
    });
  },
});

Deno.test({
  name: "broker.sh start: when the broker's own bind fails, the cause comes from its log",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const port = freePorts();
    // Bound, not listening, no connection: nothing but the broker's bind finds it taken.
    using _held = holdPort(port + 1);
    await withDataDir(port, async (dir) => {
      const run = await broker(port, dir, "start");
      assert(run.stderr.includes("exited during startup"), run.stderr);
      assertPortInUse(run, port + 1, "the KRaft controller port");
      // The cause is the last thing said, after the log's shutdown lines.
      const last = run.stderr.trimEnd().split("\n").filter((l) => l.startsWith("ferry: cause"));
      assertEquals(last.length, 1, run.stderr);
      assert(last[0].includes("Address already in use"), last[0]);
      assert(run.ms < 60_000, `took ${run.ms} ms`);
      assertEquals((await broker(port, dir, "status")).code, 3, "not running");
    });
  },
});
