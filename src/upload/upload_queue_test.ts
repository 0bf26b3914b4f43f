/** The upload queue: slots, files awaiting acknowledgements, the backlog figures. */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import type { FileOutcome } from "./file_uploader.ts";
import { UploadQueue } from "./upload_queue.ts";

/** A fake upload the test finishes by hand: first "all sent", then "done". */
interface Job {
  path: string;
  allSent: () => void;
  done: () => void;
}

function outcome(path: string): FileOutcome {
  return { status: "skipped", reason: "empty", path, size: 0 };
}

Deno.test("a slot frees when a file's chunks are all sent; the next file starts at once", async () => {
  const jobs: Job[] = [];
  const finished: string[] = [];
  const queue = new UploadQueue((path, onAllSent) => {
    const done = Promise.withResolvers<FileOutcome>();
    jobs.push({ path, allSent: onAllSent, done: () => done.resolve(outcome(path)) });
    return done.promise;
  }, { concurrency: 2, maxAwaitingAcks: 2, onDone: (path) => finished.push(path) });
  for (const path of ["a", "b", "c", "d", "e", "f"]) queue.push(path);
  queue.push("c"); // already queued: keeps its place
  assertEquals(jobs.map((j) => j.path), ["a", "b"]);
  assertEquals(queue.stats().waiting, 4);
  assertEquals(queue.stats().reading, 2);
  assert(queue.stats().oldestWaitingMs >= 0);
  assert(queue.has("c") && !queue.inFlight("c") && queue.inFlight("a"));

  jobs[0].allSent(); // a awaits acks: c starts
  assertEquals(jobs.map((j) => j.path), ["a", "b", "c"]);
  jobs[1].allSent();
  jobs[2].allSent(); // none reading, but 3 awaiting acks (more than 2): nothing starts
  assertEquals(jobs.map((j) => j.path), ["a", "b", "c"]);
  assertEquals(queue.stats().awaitingAcks, 3);
  jobs[0].done();
  jobs[1].done(); // 1 awaiting acks: two reading slots free
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(jobs.map((j) => j.path), ["a", "b", "c", "d", "e"]);
  const drained = queue.drain();
  while (finished.length < 6) {
    for (const job of jobs) job.done();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await drained;
  assertEquals(finished.sort(), ["a", "b", "c", "d", "e", "f"]);
  assertEquals(queue.stats(), { waiting: 0, oldestWaitingMs: 0, reading: 0, awaitingAcks: 0 });
});

Deno.test("once the signal is aborted, queued files are dropped and drain waits for those in flight", async () => {
  const stop = new AbortController();
  const started: string[] = [];
  const release = Promise.withResolvers<void>();
  const queue = new UploadQueue(async (path) => {
    started.push(path);
    await release.promise;
    return outcome(path);
  }, { concurrency: 1, signal: stop.signal });
  queue.push("a");
  queue.push("b");
  stop.abort();
  const drained = queue.drain();
  release.resolve();
  await drained;
  assertEquals(started, ["a"]);
});
