/**
 * Checks every number in `structs.ts` against librdkafka's real header: the test writes a C
 * program that prints `offsetof`, `sizeof` and the enum values for each constant, compiles it
 * with the system C compiler against `librdkafka/rdkafka.h`, runs it, and compares. Nothing is
 * skipped: without a header or a compiler the test fails and says how to get them
 * (`bash scripts/install.sh` installs both on Debian/Ubuntu, as CI runs it).
 *
 * The header is looked for in `$FERRY_RDKAFKA_INCLUDE` (a folder holding
 * `librdkafka/rdkafka.h`), then `/usr/include`, `/usr/local/include`, `/opt/homebrew/include`;
 * the compiler is `$CC`, else `cc`. To see the C program, set `FERRY_KEEP_STRUCTS_PROBE=1`: its
 * folder is printed and kept.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  POINTER_SIZE,
  RdKafkaMessage,
  RdKafkaMetadata,
  RdKafkaMetadataBroker,
  RdKafkaMetadataPartition,
  RdKafkaMetadataTopic,
  RdKafkaTopicPartition,
  RdKafkaTopicPartitionList,
  RdKafkaVtype,
  RdKafkaVu,
} from "./structs.ts";

/** Where librdkafka's header may be, in order (each a folder holding `librdkafka/rdkafka.h`). */
function includeDirs(): string[] {
  const fromEnv = Deno.env.get("FERRY_RDKAFKA_INCLUDE");
  return [
    ...(fromEnv ? [fromEnv] : []),
    "/usr/include",
    "/usr/local/include",
    "/opt/homebrew/include",
  ];
}

const HOW_TO_GET_THE_HEADER = "Install librdkafka's header: `bash scripts/install.sh` " +
  "(Debian/Ubuntu: `apt-get install librdkafka-dev`; macOS: `brew install librdkafka`), or " +
  "unpack it without installing (`apt-get download librdkafka-dev && dpkg -x " +
  "librdkafka-dev_*.deb /tmp/rdk`) and set FERRY_RDKAFKA_INCLUDE=/tmp/rdk/usr/include";

/**
 * Each struct in `structs.ts`: its C type name, its constants, and the width in bytes of each
 * field as Ferry reads or writes it (`getInt32`: 4; a pointer, `size_t` or `int64_t`: 8).
 */
const STRUCTS: {
  type: string;
  layout: Readonly<Record<string, number>>;
  widths: Record<string, number>;
}[] = [
  {
    type: "rd_kafka_message_t",
    layout: RdKafkaMessage,
    widths: {
      err: 4,
      rkt: 8,
      partition: 4,
      payload: 8,
      len: 8,
      key: 8,
      key_len: 8,
      offset: 8,
      _private: 8,
    },
  },
  {
    type: "rd_kafka_topic_partition_t",
    layout: RdKafkaTopicPartition,
    widths: {
      topic: 8,
      partition: 4,
      offset: 8,
      metadata: 8,
      metadata_size: 8,
      opaque: 8,
      err: 4,
      _private: 8,
    },
  },
  {
    type: "rd_kafka_topic_partition_list_t",
    layout: RdKafkaTopicPartitionList,
    widths: { cnt: 4, size: 4, elems: 8 },
  },
  {
    type: "rd_kafka_metadata_t",
    layout: RdKafkaMetadata,
    widths: {
      broker_cnt: 4,
      brokers: 8,
      topic_cnt: 4,
      topics: 8,
      orig_broker_id: 4,
      orig_broker_name: 8,
    },
  },
  {
    type: "rd_kafka_metadata_broker_t",
    layout: RdKafkaMetadataBroker,
    widths: { id: 4, host: 8, port: 4 },
  },
  {
    type: "rd_kafka_metadata_topic_t",
    layout: RdKafkaMetadataTopic,
    widths: { topic: 8, partition_cnt: 4, partitions: 8, err: 4 },
  },
  {
    type: "rd_kafka_metadata_partition_t",
    layout: RdKafkaMetadataPartition,
    widths: {
      id: 4,
      err: 4,
      leader: 4,
      replica_cnt: 4,
      replicas: 8,
      isr_cnt: 4,
      isrs: 8,
    },
  },
  {
    type: "rd_kafka_vu_t",
    layout: RdKafkaVu,
    widths: {
      vtype: 4,
      u: 64,
      "u.cstr": 8,
      "u.i": 4,
      "u.i32": 4,
      "u.i64": 8,
      "u.mem.ptr": 8,
      "u.mem.size": 8,
      "u.header.name": 8,
      "u.header.val": 8,
      "u.header.size": 8,
      "u.ptr": 8,
    },
  },
];

/** The numbers `structs.ts` holds, keyed as the C program prints them. */
function expected(): Record<string, number> {
  const out: Record<string, number> = { "sizeof(void *)": POINTER_SIZE };
  for (const { type, layout, widths } of STRUCTS) {
    assert.deepEqual(
      Object.keys(layout).filter((key) => key !== "SIZEOF").sort(),
      Object.keys(widths).sort(),
      `every constant of ${type} has a width in this test, and only those`,
    );
    out[`sizeof(${type})`] = layout.SIZEOF;
    for (const [field, width] of Object.entries(widths)) {
      out[`offsetof(${type}, ${field})`] = layout[field];
      out[`sizeof(${type}.${field})`] = width;
    }
  }
  for (const [name, value] of Object.entries(RdKafkaVtype)) out[`RD_KAFKA_VTYPE_${name}`] = value;
  return out;
}

/** A C program that prints the header's value for each key of {@linkcode expected}. */
function probeSource(): string {
  const lines = [
    "#include <stddef.h>",
    "#include <stdio.h>",
    "#include <librdkafka/rdkafka.h>",
    "",
    "int main(void) {",
    '  printf("RD_KAFKA_VERSION 0x%08x\\n", (unsigned)RD_KAFKA_VERSION);',
    '  printf("sizeof(void *) %zu\\n", sizeof(void *));',
  ];
  for (const { type, widths } of STRUCTS) {
    lines.push(`  printf("sizeof(${type}) %zu\\n", sizeof(${type}));`);
    for (const field of Object.keys(widths)) {
      lines.push(
        `  printf("offsetof(${type}, ${field}) %zu\\n", offsetof(${type}, ${field}));`,
        `  printf("sizeof(${type}.${field}) %zu\\n", sizeof(((${type} *)0)->${field}));`,
      );
    }
  }
  for (const name of Object.keys(RdKafkaVtype)) {
    lines.push(`  printf("RD_KAFKA_VTYPE_${name} %d\\n", (int)RD_KAFKA_VTYPE_${name});`);
  }
  lines.push("  return 0;", "}", "");
  return lines.join("\n");
}

async function findInclude(): Promise<string> {
  const tried = [];
  for (const dir of includeDirs()) {
    const header = `${dir}/librdkafka/rdkafka.h`;
    tried.push(header);
    try {
      if ((await Deno.stat(header)).isFile) return dir;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(
    `librdkafka's header was not found (tried ${tried.map((t) => `"${t}"`).join(", ")}). ` +
      `${HOW_TO_GET_THE_HEADER}.`,
  );
}

async function run(command: string, args: string[], what: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `No C compiler "${command}" to ${what} (set CC, or install one: ` +
          "`bash scripts/install.sh`, Debian/Ubuntu: `apt-get install gcc libc6-dev`).",
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `Could not ${what} (exit code ${output.code}):\n${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

Deno.test("structs.ts matches rdkafka.h: every offsetof, sizeof and vtype", async () => {
  const include = await findInclude();
  const compiler = Deno.env.get("CC") || "cc";
  const keep = Deno.env.get("FERRY_KEEP_STRUCTS_PROBE") === "1";
  const dir = await Deno.makeTempDir({ prefix: "ferry-structs-" });
  try {
    const source = `${dir}/structs_probe.c`;
    const program = `${dir}/structs_probe`;
    await Deno.writeTextFile(source, probeSource());
    await run(
      compiler,
      ["-std=c11", "-I", include, "-o", program, source],
      `compile ${source} against "${include}/librdkafka/rdkafka.h"`,
    );
    const printed = await run(program, [], `run ${program}`);
    const actual: Record<string, number> = {};
    let version = "unknown";
    for (const line of printed.trim().split("\n")) {
      const at = line.lastIndexOf(" ");
      const key = line.slice(0, at);
      if (key === "RD_KAFKA_VERSION") version = line.slice(at + 1);
      else actual[key] = Number(line.slice(at + 1));
    }
    assert.deepEqual(
      actual,
      expected(),
      `structs.ts disagrees with "${include}/librdkafka/rdkafka.h" (RD_KAFKA_VERSION ${version})`,
    );
    if (keep) {
      await Deno.writeTextFile(`${dir}/structs_probe.out`, printed);
      // deno-lint-ignore no-console
      console.error(`The C program and its output are in ${dir}`);
    }
  } finally {
    if (!keep) await Deno.remove(dir, { recursive: true });
  }
});
