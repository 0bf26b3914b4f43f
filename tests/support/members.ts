/**
 * Members of one consumer group as separate processes, each with its own output folder, that a
 * test kills (`kill -9`) and starts again: every start is an incarnation with its own run id
 * and log (its stderr, read as it comes), so a test can tell which incarnation did what
 * and when. The scaling tests and the handover benchmark use it.
 *
 * @module
 */

import { type ProcessorRun, startProcessor } from "./processor.ts";
import { sleep } from "./wait.ts";

/** One start of a member. */
export interface Incarnation {
  /** `<member>-<n>`: the processor's `--run-id`. */
  runId: string;
  /** When it was spawned (ms since the epoch). */
  startedAt: number;
  /** When it was killed, if it was. */
  killedAt?: number;
  /** What it wrote to stderr so far (its log lines). */
  stderr: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Its exit. */
  result: Promise<ProcessorRun>;
}

/** How a member runs: its script and the arguments of one incarnation. */
export interface MemberOptions {
  /** The processor script (relative to the repository). */
  script: string;
  /** The arguments of an incarnation, given its run id and log file. */
  args: (runId: string) => string[];
  /** Kill an incarnation still running after this long (ms). */
  timeoutMs: number;
  /** Whether to add `--bootstrap-servers` for the shared test broker; default true. */
  bootstrap?: boolean;
}

/** A member of a group: a name, an output folder, and its incarnations. */
export class Member {
  readonly name: string;
  /** The member's own folder (output directory, logs). */
  readonly dir: string;
  readonly incarnations: Incarnation[] = [];
  readonly #options: MemberOptions;

  constructor(name: string, dir: string, options: MemberOptions) {
    this.name = name;
    this.dir = dir;
    this.#options = options;
  }

  /** The running incarnation, if any. */
  get current(): Incarnation | undefined {
    const last = this.incarnations.at(-1);
    return last && last.killedAt === undefined ? last : undefined;
  }

  /** Starts a new incarnation. */
  start(): Incarnation {
    const runId = `${this.name}-${this.incarnations.length}`;
    const incarnation: Partial<Incarnation> = { runId, startedAt: Date.now(), stderr: "" };
    const started = startProcessor(
      this.#options.script,
      [...this.#options.args(runId), "--run-id", runId],
      {
        timeoutMs: this.#options.timeoutMs,
        bootstrap: this.#options.bootstrap,
        onStderr: (text) => incarnation.stderr += text,
      },
    );
    Object.assign(incarnation, started);
    this.incarnations.push(incarnation as Incarnation);
    return incarnation as Incarnation;
  }

  /** `kill -9` of the running incarnation; resolves once it is gone. */
  async kill(): Promise<Incarnation> {
    const current = this.current;
    if (!current) throw new Error(`${this.name} is not running.`);
    current.killedAt = Date.now();
    current.child.kill("SIGKILL");
    await current.result;
    return current;
  }

  /** The log of an incarnation so far (its stderr). */
  log(incarnation: Incarnation): Promise<string> {
    return Promise.resolve(incarnation.stderr);
  }

  /**
   * The partitions an incarnation held at the end of its log (after its assignments, revokes
   * and losses, as the runners log them).
   */
  async held(incarnation: Incarnation): Promise<Set<number>> {
    const held = new Set<number>();
    for (const line of (await this.log(incarnation)).split("\n")) {
      const assigned = /Assigned partitions ([\d, ]+) of /.exec(line) ??
        /Partitions ([\d, ]+) of \S+ assigned/.exec(line);
      const gone = /Partitions ([\d, ]+) of \S+ (revoked|lost)/.exec(line);
      const numbers = (text: string) => text.split(",").map((n) => Number(n.trim()));
      if (assigned) { for (const p of numbers(assigned[1])) held.add(p); }
      if (gone) { for (const p of numbers(gone[1])) held.delete(p); }
    }
    return held;
  }

  /**
   * How long after its start an incarnation had its first assignment, from its log line
   * (`N s after joining`), waiting up to `timeoutMs`.
   */
  async joinSeconds(incarnation: Incarnation, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /(\d+(?:\.\d+)?) s after joining/.exec(await this.log(incarnation));
      if (match) return Number(match[1]);
      if (Date.now() > deadline) {
        throw new Error(`${incarnation.runId} had no assignment after ${timeoutMs} ms.`);
      }
      await sleep(100);
    }
  }
}

/**
 * The time of a log line as the processors print it (`2026-12-05 10:29:56.307 [INF] ...`, local
 * time), in ms since the epoch; `undefined` for a line without one.
 */
export function logLineTime(line: string): number | undefined {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})/.exec(line);
  return match ? new Date(`${match[1]}T${match[2]}`).getTime() : undefined;
}

/**
 * When the first of `members`' running incarnations logged an assignment of one of
 * `partitions` after `since` (ms since the epoch), waiting up to `timeoutMs`.
 */
export async function waitForAssignment(
  members: readonly Member[],
  partitions: ReadonlySet<number>,
  since: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The earliest over the members (not the first member's that has one).
    let first: number | undefined;
    for (const member of members) {
      const current = member.current;
      if (!current) continue;
      for (const line of current.stderr.split("\n")) {
        const at = logLineTime(line);
        const match = /Assigned partitions ([\d, ]+) of /.exec(line) ??
          /Partitions ([\d, ]+) of \S+ assigned/.exec(line);
        if (at === undefined || at < since || !match) continue;
        if (match[1].split(",").some((p) => partitions.has(Number(p.trim())))) {
          first = Math.min(at, first ?? at);
          break;
        }
      }
    }
    if (first !== undefined) return first;
    if (Date.now() > deadline) {
      throw new Error(`No member took partitions over in ${timeoutMs} ms.`);
    }
    await sleep(100);
  }
}

/** A random whole number of milliseconds from `min` to `max`. */
export function randomMs(min: number, max: number): number {
  return Math.round(min + Math.random() * (max - min));
}
