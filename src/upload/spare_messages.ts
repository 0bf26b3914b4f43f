/**
 * Message buffers of files of one chunk, kept for the next such files: a small file is read
 * straight into its message buffer (see `first_pass.ts`), and a folder of many small files would
 * otherwise allocate (and collect) its whole size again. Moved out of `file_uploader.ts`, which
 * gives a buffer back once the producer has copied its message.
 *
 * @module
 */

/** Message buffers of one-chunk files kept for the next ones: see {@linkcode takeMessage}. */
const spareMessages: Uint8Array<ArrayBuffer>[] = [];

/** Most message buffers of one-chunk files kept for reuse (each at most a chunk and 64 KiB). */
const SPARE_MESSAGES = 8;

/**
 * A message buffer of at least `length` bytes for a file of one chunk: a spare one, or a new one
 * rounded up to 64 KiB (so that files of about the same size share them). A new buffer is
 * zeroed memory the process must fault in and V8 must account for: a folder of many small
 * files would allocate (and collect) its whole size again, in buffers of about 100 KiB.
 */
export function takeMessage(length: number): Uint8Array<ArrayBuffer> {
  for (let i = spareMessages.length - 1; i >= 0; i--) {
    if (spareMessages[i].length >= length) return spareMessages.splice(i, 1)[0];
  }
  return new Uint8Array(Math.ceil(length / 65536) * 65536);
}

/**
 * Gives back a buffer of {@linkcode takeMessage} once nothing uses it any more (the producer
 * copies each message: once every chunk is handed over).
 */
export function giveBackMessage(buffer: Uint8Array<ArrayBuffer>): void {
  if (spareMessages.length < SPARE_MESSAGES) spareMessages.push(buffer);
}
