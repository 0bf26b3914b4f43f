/**
 * Run markers: the small file a running processor (or `ferry download`) keeps in its output
 * directory, `.ferry/running/<host>-<pid>.json`, so that `ferry status` can say whether a process
 * is working on the directory. Written when the run starts, removed when it stops; a crash
 * leaves it behind, and `ferry status` then sees that the process is gone.
 *
 * @module
 */

import { join } from "node:path";
import { runMarkerPath, RUNNING_DIR } from "./layout.ts";

/** What a run marker records. */
export interface RunMarker {
  /** The process id. */
  pid: number;
  /** The host it runs on (`Deno.hostname()`); `""` when the process may not read it. */
  hostname: string;
  /** When the run started, ISO 8601. */
  startedAt: string;
  /**
   * The executable (`Deno.execPath()`), to tell the process from a later one with its pid; `""`
   * when the process may not read it.
   */
  exec: string;
  /** The processor's name. */
  name?: string;
  /** The topic it reads. */
  topic?: string;
  /** Its consumer group. */
  group?: string;
}

/** A run marker as read back, with the file it is in (relative to the output directory). */
export interface FoundRunMarker extends RunMarker {
  /** The marker file, relative to the output directory. */
  file: string;
  /**
   * Whether the process still runs: true or false on this host (Linux, from `/proc`), `null`
   * when it cannot be told (another host, or no `/proc`).
   */
  alive: boolean | null;
}

/**
 * The host name, or `""` when this process may not read it (`--allow-sys=hostname` is not among
 * the narrow permissions `ferry permissions` prints).
 */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

function execPath(): string {
  try {
    return Deno.execPath();
  } catch {
    return ""; // no read permission for it
  }
}

/**
 * Writes this process's run marker into `outputDir`; dispose of the result (or call `remove`)
 * when the run stops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunMarkers, writeRunMarker } from "./run_marker.ts";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using _marker = await writeRunMarker(dir, { name: "checksum", topic: "raw" });
 *   const [found] = await readRunMarkers(dir);
 *   assert.equal(found.pid, Deno.pid);
 *   if (Deno.build.os === "linux") assert.equal(found.alive, true);
 * }
 * assert.deepEqual(await readRunMarkers(dir), []);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param outputDir The run's output directory.
 * @param about The processor's name, topic and group.
 * @returns A handle that removes the marker.
 */
export async function writeRunMarker(
  outputDir: string,
  about: { name?: string; topic?: string; group?: string } = {},
): Promise<{ path: string; remove(): Promise<void> } & AsyncDisposable> {
  const marker: RunMarker = {
    pid: Deno.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    exec: execPath(),
    ...about,
  };
  const path = join(outputDir, runMarkerPath(marker.hostname || "unknown-host", marker.pid));
  await Deno.mkdir(join(outputDir, RUNNING_DIR), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(marker) + "\n");
  const remove = async () => {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  return { path, remove, [Symbol.asyncDispose]: remove };
}

/**
 * Whether process `pid` on this host still runs as `exec` (any program when `exec` is `""`);
 * null when it cannot be told.
 */
async function isAlive(pid: number, exec: string): Promise<boolean | null> {
  if (Deno.build.os !== "linux") return pid === Deno.pid ? true : null;
  try {
    await Deno.stat(`/proc/${pid}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    return null;
  }
  if (exec === "") return true;
  try {
    // Another program given the same pid after a crash is not the run.
    return await Deno.readLink(`/proc/${pid}/exe`) === exec;
  } catch {
    return true; // running, under another user: the pid cannot be checked further
  }
}

/**
 * The run markers in `outputDir`, each with whether its process still runs; unreadable files
 * are skipped.
 *
 * @param outputDir The output directory.
 * @returns The markers, oldest first.
 */
export async function readRunMarkers(outputDir: string): Promise<FoundRunMarker[]> {
  const found: FoundRunMarker[] = [];
  const here = hostname();
  try {
    for await (const entry of Deno.readDir(join(outputDir, RUNNING_DIR))) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      const file = `${RUNNING_DIR}/${entry.name}`;
      let marker: RunMarker;
      try {
        marker = JSON.parse(await Deno.readTextFile(join(outputDir, file)));
      } catch {
        continue; // being written, or damaged
      }
      if (typeof marker?.pid !== "number" || typeof marker.hostname !== "string") continue;
      // A marker without a host name is checked here (output directories are rarely shared).
      const local = marker.hostname === here || marker.hostname === "";
      const alive = local ? await isAlive(marker.pid, String(marker.exec ?? "")) : null;
      found.push({ ...marker, file, alive });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return found.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
}
