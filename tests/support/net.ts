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
