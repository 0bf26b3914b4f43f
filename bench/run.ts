// deno-lint-ignore-file no-console
/**
 * Ferry's one benchmark entry point: runs every section present (or those named with
 * `--only`), prints each section's table, its notes and its ratios, then a summary of all
 * ratios. Progress goes to stderr, results to stdout.
 *
 *     deno task bench [--only kafka[,upload...]] [--size-mib N] [--runs N] [--bootstrap HOST:PORT]
 *     deno task bench --list
 *
 * A section is a module in `bench/` exporting `run(options: BenchOptions): Promise<BenchRow[]>`
 * (see `bench/support/types.ts`). Modules not written yet are skipped with a note; a module
 * present without a known entry point is not imported (its top-level code would run) and is
 * skipped with a note too.
 *
 * Exit status: 0 when every section ran (whether or not targets were met), 1 when a section
 * failed, 2 for a usage error.
 *
 * @module
 */

import { librdkafkaVersion } from "../src/kafka/mod.ts";
import {
  type BenchOptions,
  type BenchRow,
  benchTable,
  defaultBootstrap,
  formatRatios,
  type RatioLine,
  ratioLines,
} from "./support/mod.ts";

/** A ratio to compute between rows of a section that does not mark baselines itself. */
interface RatioSpec {
  /** The row compared (matched on its name). */
  row: RegExp;
  /** The row it is compared with. */
  base: RegExp;
  /** The ratio the row should reach. */
  target?: number;
}

/** A known benchmark section. */
interface Section {
  /** The name for `--only`. */
  name: string;
  /** The module, relative to `bench/`. */
  file: string;
  /** What it measures, for `--list`. */
  about: string;
  /** Entry points accepted, in order of preference (`run` is the contract). */
  entries: string[];
  /** Ratios for rows without baselines (sections written before the contract). */
  ratios?: RatioSpec[];
}

/** Every section `bench/run.ts` knows, in the order they run. */
const SECTIONS: readonly Section[] = [
  {
    name: "kafka",
    file: "kafka_bench.ts",
    about: "the librdkafka binding vs kcat (and @platformatic/kafka consuming): 512 KiB messages",
    entries: ["run"],
  },
  {
    name: "chunks",
    file: "chunks.ts",
    about: "chunk codec and SHA-512 throughput",
    entries: ["run"],
  },
  {
    name: "upload",
    file: "upload_bench.ts",
    about: "ferry upload vs kcat -P vs OpenMSIStream, CPU in SHA-512 passes, peak RSS",
    entries: ["run"],
    // The 0.8-of-kcat target is on the row (kcat is the baseline); this adds OpenMSIStream.
    ratios: [{ row: /^ferry upload$/, base: /^OpenMSIStream/, target: 3 }],
  },
  {
    name: "processor",
    file: "processor_bench.ts",
    about: "the file processor (no-op process, memory/disk, 1-4 workers) vs kcat -C vs " +
      "OpenMSIStream, CPU in SHA-512 passes",
    entries: ["run"],
    // The 0.8-of-kcat targets are on the rows (kcat is the baseline); these add OpenMSIStream.
    ratios: ["memory", "disk"].flatMap((mode) =>
      ["1 worker", "2 workers", "4 workers"].map((workers) => ({
        row: new RegExp(`^ferry ${mode}, ${workers}$`),
        base: /^OpenMSIStream/,
        target: 3,
      }))
    ),
  },
  {
    name: "records",
    file: "record_bench.ts",
    about: "a no-op record processor vs kcat -C -e vs @platformatic/kafka, 100 B and 10 KiB " +
      "records, CPU in SHA-512 passes",
    entries: ["run"],
    // The 0.8-of-kcat target (10 KiB records) is on the row; kcat is the baseline.
  },
  {
    name: "watch",
    file: "watch_bench.ts",
    about: "ferry upload --watch: latency at 200 files/s (--size-mib shortens), idle CPU and RSS " +
      "over 100,000 files, RSS during a soak",
    entries: ["run"],
  },
  {
    name: "results",
    file: "results_bench.ts",
    about: "a no-op processor without results, with results, exactly once (100 KiB files); " +
      "ferry repartition vs a kcat -C | kcat -P pipe",
    entries: ["run"],
  },
  {
    name: "rebalance",
    file: "rebalance_bench.ts",
    about: "a second record processor joining and leaving a group: classic vs consumer protocol",
    entries: ["run"],
  },
  {
    name: "handover",
    file: "handover_bench.ts",
    about: "kill -9 of one of three file processors: seconds until the survivors work on its " +
      "partitions, share of files run twice, per group protocol",
    entries: ["run"],
  },
];

const USAGE = `Usage: deno task bench [options]

  --only NAME[,NAME]  run only these sections (repeatable): ${
  SECTIONS.map((s) => s.name).join(", ")
}
  --size-mib N        data per measurement in MiB (default: each section's own; kafka 1024)
  --runs N            timed runs per measurement (default: each section's own; kafka 5)
  --bootstrap H:P     Kafka broker (default FERRY_TEST_BOOTSTRAP or 127.0.0.1:19092)
  --list              list the sections and whether their modules exist
  -h, --help          this help`;

function usageError(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function positiveNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) usageError(`${flag} needs a positive number.`);
  return value;
}

const BENCH_DIR = new URL(".", import.meta.url);

async function readSource(section: Section): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(new URL(section.file, BENCH_DIR));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The first of the section's entry points its source exports, found without importing it. */
function exportedEntry(source: string, entries: readonly string[]): string | undefined {
  return entries.find((name) =>
    new RegExp(`export\\s+(?:async\\s+)?function\\s*\\*?\\s*${name}\\b`).test(source) ||
    new RegExp(`export\\s+(?:const|let)\\s+${name}\\b`).test(source) ||
    new RegExp(`export\\s*\\{[^}]*\\b${name}\\b[^}]*\\}`).test(source)
  );
}

/** Rows from a section written before the contract: `{ name, seconds, bytes, peakRssMb? }`. */
function normalizeRows(section: Section, raw: unknown[]): BenchRow[] {
  return raw.map((item) => {
    const row = item as Partial<BenchRow> & { peakRssMb?: number };
    if (typeof row.name !== "string" || typeof row.seconds !== "number") {
      throw new Error(`${section.file} returned a row without name and seconds.`);
    }
    const out: BenchRow = {
      ...row,
      group: row.group ?? section.name,
      name: row.name,
      bytes: row.bytes ?? 0,
      seconds: row.seconds,
    };
    if (out.peakRssBytes === undefined && typeof row.peakRssMb === "number") {
      out.peakRssBytes = row.peakRssMb * 1e6;
    }
    delete (out as { peakRssMb?: number }).peakRssMb;
    delete (out as { mbPerSec?: number }).mbPerSec;
    return out;
  });
}

/** Options for the entry point (legacy entries other than `run` may want them renamed). */
function entryOptions(_entry: string, options: BenchOptions): unknown {
  return options;
}

function specRatios(section: Section, rows: readonly BenchRow[]): RatioLine[] {
  const out: RatioLine[] = [];
  for (const spec of section.ratios ?? []) {
    const row = rows.find((r) => spec.row.test(r.name));
    const base = rows.find((r) => spec.base.test(r.name));
    if (!row || !base) continue;
    const ratio = (row.bytes / row.seconds) / (base.bytes / base.seconds);
    out.push({
      group: row.group,
      label: `${row.name} / ${base.name}`,
      ratio,
      target: spec.target,
      met: spec.target === undefined ? undefined : ratio >= spec.target,
    });
  }
  return out;
}

async function environment(): Promise<string> {
  const kcat = await new Deno.Command("kcat", { args: ["-V"], stdout: "piped", stderr: "null" })
    .output()
    .then((o) => /Version (\S+)/.exec(new TextDecoder().decode(o.stdout))?.[1] ?? "?")
    .catch(() => "not installed");
  let rdkafka = "not loadable";
  try {
    rdkafka = librdkafkaVersion();
  } catch {
    // Reported as not loadable; the Kafka sections will say why.
  }
  return `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), librdkafka ${rdkafka}, kcat ${kcat}, ` +
    `${navigator.hardwareConcurrency} CPUs, ${Deno.build.target}, ${new Date().toISOString()}`;
}

/** The parsed command line. */
interface CommandLine {
  only: string[];
  "size-mib"?: string;
  runs?: string;
  bootstrap?: string;
  list: boolean;
  help: boolean;
}

function parseCommandLine(argv: readonly string[]): CommandLine {
  const out: CommandLine = { only: [], list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq > 0 && arg.startsWith("--")) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) usageError(`${flag} needs a value.`);
      return next;
    };
    switch (flag) {
      case "--only":
        out.only.push(value());
        break;
      case "--size-mib":
        out["size-mib"] = value();
        break;
      case "--runs":
        out.runs = value();
        break;
      case "--bootstrap":
        out.bootstrap = value();
        break;
      case "--list":
        out.list = true;
        break;
      case "-h":
      case "--help":
        out.help = true;
        break;
      default:
        usageError(arg.startsWith("-") ? `Unknown option ${arg}.` : `Unexpected argument ${arg}.`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseCommandLine(Deno.args);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.list) {
    for (const section of SECTIONS) {
      const source = await readSource(section);
      const state = source === undefined
        ? "not written yet"
        : exportedEntry(source, section.entries) ?? "present, no run() export";
      console.log(`${section.name.padEnd(10)} bench/${section.file.padEnd(20)} ${state}`);
      console.log(`${"".padEnd(10)} ${section.about}`);
    }
    return 0;
  }
  const only = args.only.flatMap((s) => s.split(",")).map((s) => s.trim())
    .filter((s) => s !== "");
  for (const name of only) {
    if (!SECTIONS.some((s) => s.name === name)) usageError(`No section named "${name}".`);
  }
  const options: BenchOptions = {
    sizeMiB: positiveNumber("--size-mib", args["size-mib"]),
    runs: positiveNumber("--runs", args.runs),
    bootstrap: args.bootstrap ?? defaultBootstrap(),
    log: (line) => console.error(line),
  };
  if (options.runs !== undefined) options.runs = Math.round(options.runs);

  console.log(`# Ferry benchmarks\n\n${await environment()}\n`);
  const notes: string[] = [];
  const ratios: string[] = [];
  let failed = false;
  for (const section of SECTIONS) {
    if (only.length > 0 && !only.includes(section.name)) continue;
    const source = await readSource(section);
    if (source === undefined) {
      notes.push(`${section.name}: skipped, bench/${section.file} does not exist yet.`);
      continue;
    }
    const entry = exportedEntry(source, section.entries);
    if (entry === undefined) {
      notes.push(
        `${section.name}: skipped, bench/${section.file} does not export run(options) yet ` +
          `(not imported: its top-level code would run); run it directly with ` +
          `\`deno run -A bench/${section.file}\`.`,
      );
      continue;
    }
    console.error(`== ${section.name} (bench/${section.file}, ${entry}())`);
    const started = performance.now();
    try {
      const module = await import(new URL(section.file, BENCH_DIR).href) as Record<
        string,
        unknown
      >;
      const fn = module[entry];
      if (typeof fn !== "function") throw new Error(`${entry} is not a function`);
      const raw = await fn(entryOptions(entry, options));
      if (!Array.isArray(raw)) throw new Error(`${entry}() did not return an array of rows`);
      const rows = normalizeRows(section, raw);
      const lines = [...ratioLines(rows), ...specRatios(section, rows)];
      const seconds = (performance.now() - started) / 1000;
      console.log(`## ${section.name} (bench/${section.file}, ${seconds.toFixed(0)} s)\n`);
      console.log(benchTable(rows));
      const sectionNotes = rows.filter((r) => r.note).map((r) => `- ${r.note}`);
      const sectionRatios = formatRatios(lines, "- ");
      if (sectionNotes.length + sectionRatios.length > 0) {
        console.log(`\n${[...sectionNotes, ...sectionRatios].join("\n")}`);
      }
      console.log("");
      ratios.push(...formatRatios(lines, `${section.name} · `));
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.stack ?? error.message : String(error);
      console.log(`## ${section.name} (bench/${section.file})\n\nFAILED: ${message}\n`);
      notes.push(`${section.name}: failed (see above).`);
    }
  }
  if (ratios.length > 0) console.log(`## Ratios\n\n${ratios.map((r) => `- ${r}`).join("\n")}\n`);
  if (notes.length > 0) console.log(`## Notes\n\n${notes.map((n) => `- ${n}`).join("\n")}`);
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
