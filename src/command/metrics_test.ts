/**
 * The metrics exposition (`renderMetrics`) and its HTTP endpoint (`serveMetrics`), without a
 * broker. A processor serving its metrics against the broker: `tests/processor/metrics_test.ts`.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import { renderMetrics, serveMetrics } from "./metrics.ts";

Deno.test("renderMetrics escapes label values and leaves out empty families", () => {
  const text = renderMetrics([
    { name: "empty", help: "None.", type: "gauge", samples: [] },
    {
      name: "ferry_files_processed_total",
      help: "Files.",
      type: "counter",
      samples: [{ labels: { topic: 'a"b\\c\nd' }, value: 3 }],
    },
  ]);
  assertEquals(
    text,
    "# HELP ferry_files_processed_total Files.\n# TYPE ferry_files_processed_total counter\n" +
      'ferry_files_processed_total{topic="a\\"b\\\\c\\nd"} 3\n',
  );
});

Deno.test("serveMetrics answers /metrics on loopback and 404 elsewhere", async () => {
  await using server = serveMetrics({
    port: 0,
    collect: () => [{ name: "up", help: "Up.", type: "gauge", samples: [{ value: 1 }] }],
  });
  const ok = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assertEquals(ok.status, 200);
  assert(ok.headers.get("content-type")?.startsWith("text/plain; version=0.0.4"));
  assertEquals(await ok.text(), "# HELP up Up.\n# TYPE up gauge\nup 1\n");
  const missing = await fetch(`http://127.0.0.1:${server.port}/other`);
  assertEquals(missing.status, 404);
  await missing.body?.cancel();
});
