/**
 * Example: a record processor counting the records of each key, per partition, and
 * checkpointing every few seconds. Each partition's counts are saved to
 * `<output-dir>/counts-<partition>.json` with the offset they run up to, just before each
 * checkpoint, so a restart (even after `kill -9`) counts every record exactly once: records
 * the file already covers are skipped when they come again.
 *
 *     deno run -A examples/record_counts.ts --topic events --bootstrap-servers 127.0.0.1:19092 \
 *       --output-dir record-counts --every-seconds 5
 *
 * Ctrl-C (or `--exit-when-idle`) stops it gracefully: every partition saves and checkpoints once
 * more. Several copies in the same group (`--group`) share the partitions.
 *
 * @module
 */

import { defineRecordProcessor } from "../mod.ts";

/** What `counts-<partition>.json` holds. */
interface SavedCounts {
  /** The offset after the last record counted. */
  nextOffset: number;
  /** Records per key (`(none)` for records without a key). */
  counts: Record<string, number>;
}

/** A partition's counts and where they are saved. */
interface PartitionCounts extends SavedCounts {
  file: string;
  savedAt: number;
  everyMs: number;
}

/** Each partition's state, by its instance (`this` is a new object for every partition). */
const states = new WeakMap<object, PartitionCounts>();
const decoder = new TextDecoder();

async function save(state: PartitionCounts): Promise<void> {
  const { nextOffset, counts } = state;
  await Deno.writeTextFile(`${state.file}.tmp`, JSON.stringify({ nextOffset, counts }, null, 1));
  await Deno.rename(`${state.file}.tmp`, state.file); // whole file or the old one, never half
  state.savedAt = Date.now();
}

const processor = defineRecordProcessor({
  name: "record-counts",
  description: "Counts records per key in <output-dir>/counts-<partition>.json.",
  options: {
    outputDir: { type: "string", description: "where the counts go", default: "record-counts" },
    everySeconds: { type: "number", description: "seconds between checkpoints", default: 5 },
  },
  async initialize({ partition, options }) {
    await Deno.mkdir(options.outputDir, { recursive: true });
    const file = `${options.outputDir}/counts-${partition}.json`;
    let saved: SavedCounts = { nextOffset: 0, counts: {} };
    try {
      saved = JSON.parse(await Deno.readTextFile(file));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    states.set(this, { ...saved, file, savedAt: Date.now(), everyMs: options.everySeconds * 1000 });
  },
  async processRecords(records, checkpointer) {
    const state = states.get(this)!;
    for (const record of records) {
      if (record.offset < state.nextOffset) continue; // counted before a crash
      const key = record.key === null ? "(none)" : decoder.decode(record.key);
      state.counts[key] = (state.counts[key] ?? 0) + 1;
      state.nextOffset = record.offset + 1;
    }
    if (Date.now() - state.savedAt >= state.everyMs) {
      await save(state);
      await checkpointer.checkpoint();
    }
  },
  async shutdownRequested(checkpointer) {
    // Revoked or stopping: save and checkpoint what was counted since the last time.
    await save(states.get(this)!);
    await checkpointer.checkpoint();
  },
  // A lost partition (its owner changed without notice) must not save: the next owner goes
  // on from the saved file and the last checkpoint.
});

if (import.meta.main) await processor.runFromCommandLine();
