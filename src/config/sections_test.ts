/** The table of OpenMSIStream sections and keys: one warning per section and file, after logging. */

import { configure, type LogRecord, reset } from "@logtape/logtape";
import { assertEquals } from "../../tests/support/assert.ts";
import { parseIni } from "./ini.ts";
import { configFromIni } from "./resolve.ts";
import { KNOWN_SECTIONS, releaseConfigWarnings } from "./sections.ts";

Deno.test("[s3] and [metadata] warn once each, naming what to use instead, even read twice", async () => {
  const records: LogRecord[] = [];
  const text = "[broker]\nbootstrap.servers = h:1\n[consumer]\nnode_id = n1\n" +
    "key.deserializer = StringDeserializer\n[s3]\nbucket_name = b\n[metadata]\ntopic_name = l\n[heartbeat]\ntopic_name = hb\n";
  const ini = parseIni(text, "lab.config");
  configFromIni(ini, "consumer"); // before logging is set up: held
  configFromIni(ini, "producer");
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["ferry"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    releaseConfigWarnings();
    configFromIni(ini, "consumer"); // after: nothing new
    const lines = records.map((r) => r.message.map(String).join(""));
    assertEquals(lines.filter((l) => l.includes("section [s3]")).length, 1);
    assertEquals(lines.filter((l) => l.includes("section [metadata]")).length, 1);
    assertEquals(lines.filter((l) => l.includes("key node_id in [consumer]")).length, 1);
    assertEquals(lines.filter((l) => l.includes("deserializer")).length, 0);
    assertEquals(lines.length, 3);
    for (const line of lines) assertEquals(line.includes("use "), true);
  } finally {
    await reset();
  }
});

Deno.test("every section not handled says what to use instead", () => {
  for (const [name, entry] of Object.entries(KNOWN_SECTIONS)) {
    assertEquals(entry.handled || entry.instead.length > 0, true, name);
  }
});
