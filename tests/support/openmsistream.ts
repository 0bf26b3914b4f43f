/**
 * Driving the real OpenMSIStream (PyPI `openmsistream`, in a cached virtual environment made by
 * `scripts/openmsistream/venv.sh`) from tests: its console scripts, a config file for the test
 * broker that both sides read, and `UploadDataFile`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { assert } from "./assert.ts";
import { BOOTSTRAP } from "./broker.ts";
import { withTempDir } from "./files.ts";
import { repoPath } from "./processor.ts";
import { sleep } from "./wait.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

let venvBin: Promise<string> | undefined;

/** The venv's bin folder; creating the venv on first use (cached afterwards). */
export function openmsistreamBin(): Promise<string> {
  venvBin ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [repoPath("scripts/openmsistream/venv.sh")],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(600_000),
    }).output();
    if (!out.success) {
      throw new Error(
        "Could not create the OpenMSIStream virtual environment with " +
          `scripts/openmsistream/venv.sh (exit ${out.code}):\n${decoder.decode(out.stderr)}`,
      );
    }
    return dirname(decoder.decode(out.stdout).trim());
  })();
  return venvBin;
}

/** The OpenMSIStream version installed in the venv. */
export async function openmsistreamVersion(bin: string): Promise<string> {
  const out = await new Deno.Command(join(bin, "python"), {
    args: ["-c", "import importlib.metadata as m; print(m.version('openmsistream'))"],
    stdout: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  return decoder.decode(out.stdout).trim();
}

/** An OpenMSIStream config file for the test broker, as its own docs write one. */
export const CONFIG: string =
  `# OpenMSIStream config used by both OpenMSIStream and Ferry in this test
[broker]
bootstrap.servers = $FERRY_INTEROP_BOOTSTRAP

[producer]
batch.size = 2000000
linger.ms = 100
compression.type = lz4
key.serializer = StringSerializer
value.serializer = DataFileChunkSerializer

[consumer]
group.id = create_new
auto.offset.reset = earliest
enable.auto.commit = False
fetch.min.bytes = 100000
key.deserializer = StringDeserializer
value.deserializer = DataFileChunkDeserializer
`;

export async function withWorkspace<T>(
  fn: (dir: string, config: string) => Promise<T>,
): Promise<T> {
  return await withTempDir(async (dir) => {
    const config = join(dir, "openmsistream.config");
    await Deno.writeTextFile(config, CONFIG);
    return await fn(dir, config);
  }, "ferry-interop-");
}

/** The environment OpenMSIStream tools run with (the broker for the config file). */
export const pythonEnv: Record<string, string> = {
  FERRY_INTEROP_BOOTSTRAP: BOOTSTRAP,
  PYTHONUNBUFFERED: "1",
};

/** Runs an OpenMSIStream console script to completion, bounded by a timeout. */
export async function runTool(
  bin: string,
  tool: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<string> {
  const out = await new Deno.Command(join(bin, tool), {
    args,
    env: pythonEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  assert(out.success, `${tool} failed (exit ${out.code}):\n${text}`);
  return text;
}

/** How {@linkcode runUntil} runs and stops a program. */
export interface RunUntilOptions {
  /** How it is stopped once `done()` holds: "q" on stdin (OpenMSIStream's quit), or SIGKILL. */
  stop?: "quit" | "kill";
  /** How long `done()` may take to hold (ms); default 120 s. */
  timeoutMs?: number;
  /** How often `done()` is asked (ms); default 500. */
  pollMs?: number;
}

/**
 * Runs a long-running OpenMSIStream program (`command`: a console script or the venv's
 * python) until `done()` holds, then stops it ("q" on stdin, or SIGKILL with `stop: "kill"`);
 * killed when it has not exited 30 s later. Fails, with its output, when `done()` did not hold
 * before the timeout or the program exited first. Returns its output.
 */
export async function runUntil(
  command: string,
  args: string[],
  done: () => Promise<boolean>,
  options: RunUntilOptions = {},
): Promise<string> {
  const { stop = "quit", timeoutMs = 120_000, pollMs = 500 } = options;
  const child = new Deno.Command(command, {
    args,
    env: pythonEnv,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const writer = child.stdin.getWriter();
  let finished = false;
  let exited = false;
  child.status.then(() => exited = true);
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !exited && !(finished = await done())) await sleep(pollMs);
  } finally {
    if (!exited) {
      if (stop === "kill" || !finished) child.kill("SIGKILL");
      else await writer.write(encoder.encode("q\n")).catch(() => undefined);
    }
    await writer.close().catch(() => undefined);
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await child.status;
    clearTimeout(killer);
  }
  const out = await output;
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  assert(finished, `${command} ${args.join(" ")} did not get there in ${timeoutMs} ms:\n${text}`);
  return text;
}

/** Uploads one file with OpenMSIStream's `UploadDataFile`, in 16 KiB chunks. */
export function uploadDataFile(
  bin: string,
  path: string,
  config: string,
  topic: string,
): Promise<string> {
  return runTool(bin, "UploadDataFile", [
    path,
    "--config",
    config,
    "--topic_name",
    topic,
    "--chunk_size",
    "16384",
  ]);
}
