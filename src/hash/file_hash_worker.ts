/**
 * The worker behind {@linkcode FileHashLane} (`file_hash_lane.ts`): keeps one incremental SHA-512
 * per file and feeds it the chunks it is sent, in the order sent. It runs no user code, so it
 * is never held up by a slow `process`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { hashHex, Sha512Hasher } from "./sha512.ts";
import type { FromHashWorker, ToHashWorker } from "./file_hash_lane.ts";

/** The most files hashed at once; beyond, the least recently fed is forgotten. */
const MAX_FILES = 10_000;

const hashers = new Map<string, Sha512Hasher>();

/**
 * Says a chunk was hashed, and lets go of its memory: a buffer handed over for recycling goes
 * back to the coordinator (by transfer); any other is freed now rather than at this worker's
 * next garbage collection (which its small heap rarely needs): detaching it drops its store.
 */
function done(message: { data: Uint8Array; recycle?: boolean }): void {
  const bytes = message.data.byteLength;
  const buffer = message.data.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) {
    self.postMessage({ type: "updated", bytes } satisfies FromHashWorker);
  } else if (message.recycle) {
    self.postMessage({ type: "updated", bytes, buffer } satisfies FromHashWorker, [buffer]);
  } else {
    buffer.transfer(0);
    self.postMessage({ type: "updated", bytes } satisfies FromHashWorker);
  }
}

function send(message: FromHashWorker): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<ToHashWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "update": {
      let hasher = hashers.get(message.key);
      if (message.first || hasher === undefined) {
        if (!message.first) {
          // Forgotten (too many files at once): the coordinator hashes it another way.
          done(message);
          return;
        }
        hasher = new Sha512Hasher();
        if (hashers.size >= MAX_FILES) hashers.delete(hashers.keys().next().value!);
      } else hashers.delete(message.key); // re-inserted below: the map stays in use order
      hashers.set(message.key, hasher);
      hasher.update(message.data);
      done(message);
      break;
    }
    case "digest": {
      const hasher = hashers.get(message.key);
      hashers.delete(message.key);
      send({ type: "digest", id: message.id, sha512: hasher ? hashHex(hasher.digest()) : null });
      break;
    }
    case "drop":
      hashers.delete(message.key);
      break;
  }
};
