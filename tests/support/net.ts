/**
 * Loopback ports for the servers a test starts of its own (metrics endpoints, S3 servers).
 *
 * @module
 */

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The first of `count` consecutive TCP ports free right now on 127.0.0.1 (a broker of a test's own
 * uses its port, port + 1 and port + 2), from a random start between 21000 and 29000, so that two
 * test runs on one machine do not pick the same ones.
 */
export function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 21_000 + Math.floor(Math.random() * 8_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: first + i }));
      }
      return first;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    } finally {
      for (const listener of listeners) listener.close();
    }
  }
  throw new Error(`No ${count} consecutive free ports found between 21000 and 29000`);
}
