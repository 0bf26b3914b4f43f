/**
 * Poll sizing and backpressure (`PollPacing`): polls take about as many messages as make the
 * files there is room for ahead of the workers; backpressure waits for running jobs, then pauses
 * the assigned partitions, and resumes them (not those held for new partitions) once there is
 * room again.
 */

import { assert, assertEquals } from "../../tests/support/assert.ts";
import {
  JOBS_AHEAD_BYTES,
  type PacedConsumer,
  POLL_MAX_MESSAGES,
  PollPacing,
  type PollPacingOptions,
} from "./poll_pacing.ts";
import type { TopicPartition } from "../kafka/mod.ts";

const tp = (partition: number): TopicPartition => ({ topic: "t", partition });

interface Fixture {
  pacing: PollPacing;
  jobs: Set<Promise<void>>;
  calls: string[];
  outcomes: { jobs: Set<Promise<void>>; processMs: number | undefined };
}

function fixture(options: Partial<PollPacingOptions> = {}): Fixture {
  const jobs = new Set<Promise<void>>();
  const calls: string[] = [];
  const names = (tps: readonly TopicPartition[]) => tps.map((t) => t.partition).join(",");
  const consumer: PacedConsumer = {
    assignment: () => [tp(0), tp(1), tp(2)],
    pause: (tps) => calls.push(`pause ${names(tps)}`),
    resume: (tps) => calls.push(`resume ${names(tps)}`),
  };
  const outcomes = { jobs, processMs: undefined as number | undefined };
  const pacing = new PollPacing({
    workers: 1,
    outcomes,
    consumer,
    runningBytes: () => 0,
    held: () => false,
    stopping: () => false,
    waitMs: 20,
    ...options,
  });
  return { pacing, jobs, calls, outcomes };
}

/** A job that never finishes (its file still in `process`). */
const running = (): Promise<void> => new Promise<void>(() => {});

Deno.test("a poll takes the messages of the files there is room for ahead of the workers", () => {
  const { pacing, jobs } = fixture({ workers: 3 });
  assertEquals(pacing.pollSize(), 6); // two files per worker, one message a file at first
  pacing.notePolled(8, 0); // no file complete yet: counted toward the next one
  pacing.notePolled(4, 3); // 12 messages, 3 files: 4 a file
  assertEquals(pacing.pollSize(), 24);
  jobs.add(running()).add(running()).add(running()).add(running());
  assertEquals(pacing.pollSize(), 8); // room for two more files
  for (let i = 0; i < 4; i++) jobs.add(running());
  assertEquals(pacing.pollSize(), 4); // no room: still one file's worth
});

Deno.test("a poll takes at most POLL_MAX_MESSAGES, and the messages per file move slowly", () => {
  const { pacing } = fixture({ workers: 8 });
  pacing.notePolled(10, 1);
  assertEquals(pacing.pollSize(), POLL_MAX_MESSAGES);
  const { pacing: slow } = fixture({ workers: 1 });
  slow.notePolled(2, 1); // 2 a file
  slow.notePolled(10, 1); // 10 a file: the average moves an eighth of the way, to 3
  assertEquals(slow.pollSize(), 6);
});

Deno.test("quick files let more ahead of the workers than two each", () => {
  const { pacing, outcomes } = fixture({ workers: 1 });
  outcomes.processMs = 10; // 100 ms of them per worker: 10 more
  assertEquals(pacing.pollSize(), 12);
  outcomes.processMs = 1000; // slow: none more
  assertEquals(pacing.pollSize(), 2);
});

Deno.test("backpressure pauses the assigned partitions when the jobs stay ahead", async () => {
  const { pacing, jobs, calls } = fixture({ workers: 1 });
  jobs.add(running()).add(running());
  await pacing.applyBackpressure();
  assert(pacing.paused);
  assertEquals(calls, ["pause 0,1,2"]);
  await pacing.applyBackpressure(); // paused already: nothing more
  assertEquals(calls, ["pause 0,1,2"]);
  jobs.clear();
  await pacing.applyBackpressure();
  assert(!pacing.paused);
  assertEquals(calls, ["pause 0,1,2", "resume 0,1,2"]);
});

Deno.test("backpressure waits for a job that finishes instead of pausing", async () => {
  const { pacing, jobs, calls } = fixture({ workers: 1, waitMs: 60_000 });
  let finish = (): void => {};
  const job = new Promise<void>((resolve) => finish = resolve);
  job.finally(() => jobs.delete(job));
  jobs.add(running()).add(job);
  setTimeout(finish, 10);
  await pacing.applyBackpressure();
  assert(!pacing.paused);
  assertEquals(calls, []);
});

Deno.test("files let ahead beyond two per worker count only while they are small", async () => {
  let bytes = 0;
  const { pacing, jobs, calls, outcomes } = fixture({ workers: 1, runningBytes: () => bytes });
  outcomes.processMs = 10;
  jobs.add(running()).add(running()).add(running());
  await pacing.applyBackpressure();
  assertEquals(calls, []);
  bytes = JOBS_AHEAD_BYTES;
  await pacing.applyBackpressure();
  assertEquals(calls, ["pause 0,1,2"]);
});

Deno.test("resuming leaves the partitions held for new ones paused", async () => {
  const { pacing, jobs, calls } = fixture({ workers: 1, held: (p) => p === 1 });
  jobs.add(running()).add(running());
  await pacing.applyBackpressure();
  jobs.clear();
  await pacing.applyBackpressure();
  assertEquals(calls, ["pause 0,1,2", "resume 0,2"]);
});

Deno.test("a stopping run does not wait for the jobs", async () => {
  const { pacing, jobs, calls } = fixture({ workers: 1, waitMs: 60_000, stopping: () => true });
  jobs.add(running()).add(running());
  await pacing.applyBackpressure();
  assertEquals(calls, ["pause 0,1,2"]);
});
