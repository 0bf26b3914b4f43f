/**
 * Running a processor script as a child process, as a user would.
 *
 * @module
 */

import { BOOTSTRAP } from "./broker.ts";
import { assert, assertEquals } from "./assert.ts";
import {
  type FailedRecord,
  type ProcessedRecord,
  readRegistry,
} from "../../src/registry/registry.ts";
import { FERRY_DIR, registryFileNames } from "../../src/files/layout.ts";
import type { GroupProtocol, KafkaConfig } from "../../src/kafka/mod.ts";

/** What a finished processor run left behind. */
export interface ProcessorRun {
  /** The exit code (137 when killed). */
  code: number;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/** The path of a file in this repository. */
export function repoPath(relative: string): string {
  return new URL(`../../${relative}`, import.meta.url).pathname;
}

/** How {@linkcode startProcessor} runs the script. */
export interface StartOptions {
  /** Deno permission flags; default `["-A"]`. */
  permissions?: readonly string[];
  /** Whether to add `--bootstrap-servers` for the test broker; default true. */
  bootstrap?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill (SIGKILL) a process still running after this many ms, so a hung run fails. */
  timeoutMs?: number;
  /** Called with each piece of stderr as it comes (the result still has all of it). */
  onStderr?: (text: string) => void;
}

/**
 * The arguments that say what a processor reads and where it writes: `--topic`, `--output-dir`
 * and, when given, `--group`. The rest of a run's arguments follow them.
 */
export function processorArgs(topic: string, outputDir: string, group?: string): string[] {
  const args = ["--topic", topic, "--output-dir", outputDir];
  return group === undefined ? args : [...args, "--group", group];
}

/**
 * The consumer group protocol processors run with in these tests: `FERRY_TEST_GROUP_PROTOCOL`
 * (`scripts/test.sh --engines new` runs the lifecycle tests a second time with `consumer`),
 * else `classic`.
 */
export const TEST_GROUP_PROTOCOL: GroupProtocol =
  Deno.env.get("FERRY_TEST_GROUP_PROTOCOL") === "consumer" ? "consumer" : "classic";

/**
 * Processor flags with which a group notices a process joining or leaving within seconds: for
 * the classic protocol librdkafka's session timeout and heartbeat interval; for the consumer
 * protocol (KIP-848) the broker sets both (the dev broker's Kafka 4.x: 6 s and 500 ms), so only
 * `--group-protocol consumer`.
 */
export const FAST_GROUP: readonly string[] = TEST_GROUP_PROTOCOL === "consumer"
  ? ["--group-protocol", "consumer"]
  : ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"];

/** {@linkcode FAST_GROUP} for a consumer the test makes itself. */
export const FAST_GROUP_CONFIG: Readonly<KafkaConfig> = TEST_GROUP_PROTOCOL === "consumer"
  ? { "group.protocol": "consumer" }
  : {
    "partition.assignment.strategy": "cooperative-sticky",
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
  };

/** Starts a processor script with the test broker; the caller waits or kills it. */
export function startProcessor(
  script: string,
  args: readonly string[],
  options: StartOptions = {},
): { child: Deno.ChildProcess; result: Promise<ProcessorRun> } {
  const broker = options.bootstrap ?? true ? ["--bootstrap-servers", BOOTSTRAP] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...options.permissions ?? ["-A"], repoPath(script), ...broker, ...args],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    env: options.env,
  }).spawn();
  if (options.timeoutMs !== undefined) killAfter(child, options.timeoutMs);
  const result = (async () => {
    if (options.onStderr === undefined) {
      const output = await child.output();
      return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
    }
    let stderr = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      options.onStderr(text);
    }
    return { code: (await child.status).code, stderr };
  })();
  return { child, result };
}

/** Runs a processor script until it exits (it should use --exit-when-idle); kills it after the timeout. */
export async function runProcessor(
  script: string,
  args: readonly string[],
  timeoutMs = 120_000,
  options: StartOptions = {},
): Promise<ProcessorRun> {
  const limit = Math.min(timeoutMs, options.timeoutMs ?? Infinity);
  const run = await startProcessor(script, args, { ...options, timeoutMs: limit }).result;
  if (run.code === 137 || run.code === 9) {
    throw new Error(`The processor did not finish within ${limit} ms:\n${run.stderr}`);
  }
  return run;
}

/** The lines of `<outputDir>/calls.log` written by the recording processor. */
export async function readCalls(
  outputDir: string,
): Promise<{ run: string; path: string; sha: string; size: number; attempt: number }[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${outputDir}/calls.log`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").filter((l) => l.trim()).map((line) => {
    const [run, path, sha, size, attempt] = line.split("\t");
    return { run, path, sha, size: Number(size), attempt: Number(attempt) };
  });
}

/** The records of a JSON-lines file, every line of which must parse (a missing file has none). */
async function strictJsonLines<T>(path: string): Promise<T[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").filter((line) => line.trim()).map((line, i) => {
    try {
      return JSON.parse(line) as T;
    } catch (error) {
      throw new Error(`Line ${i + 1} of "${path}" is not readable: ${line}`, { cause: error });
    }
  });
}

/** What {@linkcode assertEveryFileOnce} found. */
export interface FileOutcome {
  /** `process` calls per relative path, over every calls directory. */
  callsPerPath: Map<string, number>;
  /** Processed records over every output directory (each file once). */
  processed: ProcessedRecord[];
  /** Files whose latest attempt failed, over every output directory. */
  failed: FailedRecord[];
}

/**
 * The end of every fault test: every file processed at least once (`process` was called on it
 * and it is recorded as processed; or, for those listed in `failed`, recorded as failed and not
 * as processed), none recorded twice (one line per file in the processed logs of all the output
 * directories together), and the logs readable (every line of the registry logs and of
 * `calls.log` parses). Several output directories are for processes sharing a group;
 * `callsDirs` is where `calls.log` is when not in the output directories.
 */
export async function assertEveryFileOnce(
  outputDirs: string | readonly string[],
  topic: string,
  group: string,
  paths: readonly string[],
  options: { failed?: readonly string[]; callsDirs?: readonly string[] } = {},
): Promise<FileOutcome> {
  const dirs = typeof outputDirs === "string" ? [outputDirs] : outputDirs;
  const names = registryFileNames(topic, group);
  const callsPerPath = new Map<string, number>();
  const processed: ProcessedRecord[] = [];
  const failed: FailedRecord[] = [];
  for (const dir of options.callsDirs ?? dirs) {
    for (const call of await readCalls(dir)) {
      assert(Number.isInteger(call.attempt), `a torn line in "${dir}/calls.log": ${call.path}`);
      callsPerPath.set(call.path, (callsPerPath.get(call.path) ?? 0) + 1);
    }
  }
  for (const dir of dirs) {
    const ferry = `${dir}/${FERRY_DIR}`;
    processed.push(...await strictJsonLines<ProcessedRecord>(`${ferry}/${names.processed}`));
    await strictJsonLines(`${ferry}/${names.failed}`);
    await strictJsonLines(`${ferry}/${names.inProgress}`);
    failed.push(...(await readRegistry(ferry, topic, group)).failed);
  }
  const recorded = new Map<string, number>();
  for (const record of processed) recorded.set(record.path, (recorded.get(record.path) ?? 0) + 1);
  const twice = [...recorded].filter(([, n]) => n > 1).map(([path]) => path);
  assertEquals(twice, [], "files recorded as processed more than once");
  const wantFailed = new Set(options.failed ?? []);
  const notRecorded = paths.filter((p) => !wantFailed.has(p) && !recorded.has(p));
  assertEquals(notRecorded, [], "files never recorded as processed");
  const notCalled = paths.filter((p) => !wantFailed.has(p) && !callsPerPath.has(p));
  assertEquals(notCalled, [], "files recorded as processed that process() never saw");
  const failedPaths = new Set(failed.map((f) => f.path));
  for (const path of wantFailed) {
    assert(failedPaths.has(path), `"${path}" is not recorded as failed`);
    assert(!recorded.has(path), `"${path}" is recorded as processed, expected failed`);
  }
  return { callsPerPath, processed, failed };
}

/** Stops a started processor with SIGTERM and checks that it exits 0; returns its run. */
export async function stopProcessor(
  started: { child: Deno.ChildProcess; result: Promise<ProcessorRun> },
): Promise<ProcessorRun> {
  started.child.kill("SIGTERM");
  const run = await started.result;
  assertEquals(run.code, 0, run.stderr);
  return run;
}

/**
 * Runs `body` while processors started with {@linkcode startProcessor} run; when it fails
 * (a wait timed out, an assertion), kills those still running and fails with their stderr
 * appended, so that a failure in CI says what the processes saw.
 */
export async function explainingFailure<T>(
  started: readonly { child: Deno.ChildProcess; result: Promise<ProcessorRun> }[],
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const outputs: string[] = [];
    for (const [i, run] of started.entries()) {
      killIfRunning(run.child);
      const { code, stderr } = await run.result;
      outputs.push(
        `--- process ${i + 1} (exit ${code}), last of its stderr:\n${stderr.slice(-6000)}`,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n${outputs.join("\n")}`, { cause: error });
  }
}

/** Sends `signal` to a child unless it has exited already. */
export function killIfRunning(child: Deno.ChildProcess, signal: Deno.Signal = "SIGKILL"): void {
  try {
    child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // it had exited
  }
}

/** Kills `child` (SIGKILL, code 137) if it still runs after `timeoutMs`; no timer once it ends. */
export function killAfter(child: Deno.ChildProcess, timeoutMs: number): void {
  const timer = setTimeout(() => killIfRunning(child), timeoutMs);
  child.status.finally(() => clearTimeout(timer));
}

/**
 * Runs the recording processor over a hostile topic until idle, in `mode` (with
 * `--check-chunks` when `checkChunks`), into a fresh output folder and group named after
 * `prefix`; checks that it exited 1 (some file was not processed) without crashing. It logs
 * at debug level, where every skipped message has its own line (at the default level only the
 * first few of each kind do).
 */
export async function runOverHostileTopic(
  topic: string,
  prefix: string,
  mode: string,
  checkChunks: boolean,
): Promise<{ out: string; group: string; run: ProcessorRun }> {
  const out = await Deno.makeTempDir();
  const group = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const run = await runProcessor("tests/fixtures/recording_processor.ts", [
    ...processorArgs(topic, out, group),
    "--mode",
    mode,
    "--exit-when-idle",
    "2",
    "--log-level",
    "debug",
    ...(checkChunks ? ["--check-chunks"] : []),
  ]);
  // Some file is invalid: the exit status says so; nothing crashed.
  assertEquals(run.code, 1, run.stderr);
  assert(!/Stopping:|panic|Uncaught/.test(run.stderr), run.stderr);
  return { out, group, run };
}
