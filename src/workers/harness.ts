/**
 * The entry module of every Ferry worker. It installs the registration hook, imports the
 * user's script (whose `defineProcessor` call then only registers the definition, and whose
 * `import.meta.main` is false here), and runs `process` on the files it is sent after checking
 * each file's SHA-512.
 *
 * What only some workers need is imported when first needed (the record processor's modules,
 * the hash, the failed-copy layout): each module costs every worker's start CPU time
 * (`node:crypto` alone about 15 ms), and the coordinator usually hashes a file while its chunks
 * arrive.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { type WireResult, wireResults } from "../processor/results.ts";
import { configure, getLogger, type Logger, type LogRecord } from "@logtape/logtape";
import type { InstanceRequests, PartitionInstance } from "../record_processor/instance.ts";
import { processorLogger } from "../processor/logger.ts";
import { isCloneError, workerLog } from "./log.ts";
import type { RecordProcessorDefinition } from "../record_processor/types.ts";
import type { DownloadedFile } from "../files/downloaded_file.ts";
import {
  type OptionSpecs,
  type OptionValues,
  type ProcessorContext,
  type ProcessorDefinition,
  type RegisteredDefinition,
  WORKER_REGISTRATION,
} from "../processor/definition.ts";
import { createProcessLock } from "./lock.ts";
import {
  type CheckpointFailure,
  type FileJobMessage,
  type FromWorker,
  hashMismatchResult,
  type RecordToWorker,
  serializeError,
  type ToWorker,
  type WorkerInit,
} from "./protocol.ts";

let definition: ProcessorDefinition | undefined;
let context: ProcessorContext<OptionValues<OptionSpecs>> | undefined;
let registered: RegisteredDefinition | undefined;
let recordDefinition: RecordProcessorDefinition | undefined;
/** The record processor's instance module, imported by `init` for a record processor. */
let recordInstances: typeof import("../record_processor/instance.ts") | undefined;
let workerIndex = 0;
let options: Record<string, unknown> = {};
let logger: Logger = getLogger(["ferry", "worker"]);
const instances = new Map<string, PartitionInstance>();
/** Answers the coordinator owes this worker's instances, by request id. */
const checkpointWaiters = new Map<number, (failure: CheckpointFailure | undefined) => void>();
const skipWaiters = new Map<number, (error: string | undefined) => void>();
let nextRequestId = 1;

const instanceRequests: InstanceRequests = {
  commit(key, offset, results) {
    const requestId = nextRequestId++;
    return new Promise((resolve) => {
      checkpointWaiters.set(requestId, resolve);
      send({
        type: "checkpoint",
        key,
        requestId,
        offset,
        ...(results.length === 0 ? {} : { results }),
      });
    });
  },
  skip(key, records, error) {
    const requestId = nextRequestId++;
    return new Promise((resolve) => {
      skipWaiters.set(requestId, resolve);
      send({ type: "skip", key, requestId, records, error });
    });
  },
};

async function handleRecordMessage(message: RecordToWorker): Promise<void> {
  switch (message.type) {
    case "open": {
      const instance = new recordInstances!.PartitionInstance(
        recordDefinition!,
        message,
        instanceRequests,
        logger,
      );
      instances.set(message.key, instance);
      try {
        await instance.initialize(workerIndex, options);
        send({ type: "opened", key: message.key });
      } catch (error) {
        send({ type: "opened", key: message.key, error: serializeError(error) });
      }
      break;
    }
    case "records": {
      const instance = instances.get(message.key);
      const progress = (done: { processed: number; skipped: number }) =>
        send({
          type: "batch-progress",
          key: message.key,
          batchId: message.batchId,
          processed: done.processed,
          skipped: done.skipped,
        });
      const outcome = instance ? await instance.process(message.records, message.lag, progress) : {
        processed: 0,
        skipped: 0,
        error: { name: "Error", message: `No processor instance for "${message.key}".` },
        failed: (await import("../record_processor/batch.ts")).unpackRecords(message.records),
      };
      const { failed, ...rest } = outcome;
      send({
        type: "batch-done",
        key: message.key,
        batchId: message.batchId,
        ...rest,
        ...(failed ? { records: failed } : {}),
      });
      break;
    }
    case "yield":
      instances.get(message.key)?.yieldBatch();
      break;
    case "checkpoint-result": {
      const resolve = checkpointWaiters.get(message.requestId);
      checkpointWaiters.delete(message.requestId);
      resolve?.(message.error);
      break;
    }
    case "skip-result": {
      const resolve = skipWaiters.get(message.requestId);
      skipWaiters.delete(message.requestId);
      resolve?.(message.error);
      break;
    }
    case "close": {
      const instance = instances.get(message.key);
      await instance?.close(message.reason);
      // A new instance for a partition assigned again meanwhile stays.
      if (instances.get(message.key) === instance) instances.delete(message.key);
      send({ type: "closed", key: message.key });
      break;
    }
  }
}

function send(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

// A worker that ends itself (`self.close()`, `Deno.exit()`) gives its parent no event in Deno:
// say so first, so that the coordinator fails the running job and replaces the worker.
const closeWorker = self.close.bind(self);
self.close = () => {
  send({ type: "closing", reason: "the processor's code called self.close()" });
  closeWorker();
};
const exitWorker = Deno.exit;
(Deno as { exit: (code?: number) => never }).exit = (code?: number): never => {
  send({ type: "closing", reason: `the processor's code called Deno.exit(${code ?? ""})` });
  return exitWorker(code);
};

(globalThis as { [WORKER_REGISTRATION]?: (r: RegisteredDefinition) => void })[
  WORKER_REGISTRATION
] = (r) => {
  registered ??= r;
};

async function init(message: WorkerInit): Promise<void> {
  if (message.logLevel !== undefined) {
    await configure({
      sinks: {
        // The record itself, re-emitted as it is on the coordinator (never re-parsed there);
        // values postMessage cannot copy go as their inspected text.
        parent: (record: LogRecord) => {
          try {
            send(workerLog(record));
          } catch (error) {
            if (!isCloneError(error)) throw error;
            send(workerLog(record, true));
          }
        },
      },
      loggers: [
        {
          category: ["ferry"],
          lowestLevel: message.logLevel as LogRecord["level"],
          sinks: ["parent"],
        },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["parent"] },
      ],
    });
  }
  await import(message.scriptUrl);
  if (registered === undefined) {
    throw new Error(
      `The script "${message.scriptUrl}" did not call defineProcessor() or ` +
        `defineRecordProcessor() when imported.`,
    );
  }
  workerIndex = message.workerIndex;
  options = message.options;
  logger = getLogger(["ferry", "processor", message.name]);
  if (registered.kind === "records") {
    recordDefinition = registered.definition as RecordProcessorDefinition;
    recordInstances = await import("../record_processor/instance.ts");
    return;
  }
  definition = registered.definition;
  context = {
    name: message.name,
    outputDir: message.outputDir,
    topic: message.topic,
    workerIndex: message.workerIndex,
    options: message.options as OptionValues<OptionSpecs>,
    logger: processorLogger(message.name),
  };
  await definition.initialize?.(context);
}

/**
 * Keeps a failed file's bytes (memory mode) under `.ferry/failed/` for a retry on the next
 * start; returns the path relative to the output directory, or undefined when it could not.
 */
async function keep(
  sha512: string,
  filename: string,
  bytes: Uint8Array,
): Promise<string | undefined> {
  const [{ failedCopyPath }, { resolveInside }] = await Promise.all([
    import("../files/layout.ts"),
    import("../files/path.ts"),
  ]);
  const relative = failedCopyPath(sha512, filename);
  try {
    // Never through a symlink planted in the output directory.
    const target = await resolveInside(context!.outputDir, relative);
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await resolveInside(context!.outputDir, relative);
    await Deno.writeFile(target, bytes);
    return relative;
  } catch (error) {
    getLogger(["ferry", "worker"]).error("Could not keep the failed file {filename}: {error}", {
      filename,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** The SHA-512 (hex) of a file sent to this worker: of its bytes, or of the file on disk. */
async function fileDigest(message: FileJobMessage, bytes: Uint8Array | undefined): Promise<string> {
  const meta = message.file;
  // `checked`: the coordinator hashed the file while its chunks arrived; not again here.
  if (message.checked) return meta.sha512;
  const { hashHex, sha512, sha512File } = await import("../hash/sha512.ts");
  if (bytes !== undefined) return hashHex(sha512(bytes));
  return hashHex(meta.path === undefined ? sha512(new Uint8Array()) : await sha512File(meta.path));
}

/** The files sent to this worker, run one after the other. */
let fileQueue: Promise<void> = Promise.resolve();
/** Set by `shutdown`: files not started yet are not run (they are answered `stopped`). */
let stopping = false;

async function runFile(message: FileJobMessage): Promise<void> {
  const { file: meta, chunks } = message;
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  if (chunks) {
    if (chunks.length === 1 && chunks[0].offset === 0) {
      bytes = chunks[0].data as Uint8Array<ArrayBuffer>;
    } else {
      bytes = new Uint8Array(meta.size);
      for (const chunk of chunks) bytes.set(chunk.data, chunk.offset);
    }
  }
  const digest = await fileDigest(message, bytes);
  if (digest !== meta.sha512) {
    send(hashMismatchResult(message.id, meta.relativePath, digest, meta.sha512));
    return;
  }
  const file: DownloadedFile = bytes === undefined ? { ...meta } : { ...meta, bytes };
  const started = performance.now();
  let outcome: unknown;
  try {
    outcome = await definition!.process(file, createProcessLock(context!.name), context!);
  } catch (error) {
    outcome = error instanceof Error ? error : new Error(String(error));
  }
  const ms = performance.now() - started;
  if (outcome instanceof Error) {
    const kept = bytes !== undefined && meta.path === undefined
      ? await keep(meta.sha512, meta.filename, bytes)
      : undefined;
    send({
      type: "result",
      id: message.id,
      outcome: "failed",
      ms,
      error: serializeError(outcome),
      ...(kept === undefined ? {} : { kept }),
    });
  } else {
    let results: WireResult[];
    try {
      results = wireResults(outcome);
    } catch (error) {
      send({ type: "result", id: message.id, outcome: "failed", ms, error: serializeError(error) });
      return;
    }
    send({
      type: "result",
      id: message.id,
      outcome: "processed",
      ms,
      ...(results.length === 0 ? {} : { results }),
    });
  }
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      try {
        await init(message);
        send({ type: "ready" });
      } catch (error) {
        send({ type: "init-failed", error: serializeError(error) });
      }
      break;
    case "file":
      // The coordinator may send the next file while one runs: run them one at a time. Once
      // stopping, a file not started yet is not run: its answer says so (it stays unsettled).
      fileQueue = fileQueue.then(() =>
        stopping
          ? send({ type: "result", id: message.id, outcome: "stopped", ms: 0 })
          : runFile(message)
      );
      await fileQueue;
      break;
    case "open":
    case "records":
    case "yield":
    case "checkpoint-result":
    case "skip-result":
    case "close":
      await handleRecordMessage(message);
      break;
    case "shutdown":
      // From now on no file starts; the running one finishes (its result goes before
      // `stopped`), then the processor's `shutdown` runs. The coordinator terminates the
      // worker if this takes longer than its stop grace.
      stopping = true;
      try {
        await fileQueue.catch(() => undefined);
        if (context) await definition?.shutdown?.(context);
      } finally {
        send({ type: "stopped" });
      }
      break;
  }
};
