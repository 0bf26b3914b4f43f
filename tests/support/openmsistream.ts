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

const decoder = new TextDecoder();

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
