import { assert, assertEquals } from "../support/assert.ts";
import { BOOTSTRAP, committedOffsets, uniqueName, withTopic } from "../support/broker.ts";
import { waitUntil } from "../support/wait.ts";
import {
  type ConsumedMessage,
  Consumer,
  ErrorCode,
  KafkaError,
  partitionKey,
  Producer,
  type RebalanceEvent,
} from "../../src/kafka/mod.ts";

const PARTITIONS = 4;
const PER_PARTITION = 500;

async function fill(topic: string): Promise<void> {
  await using producer = new Producer({ "bootstrap.servers": BOOTSTRAP, "linger.ms": 5 });
  const deliveries = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < PER_PARTITION; i++) {
      const pending = await producer.send({
        topic,
        partition: p,
        value: new Uint8Array([p, i & 0xff]),
      });
      deliveries.push(pending.delivered);
    }
  }
  await Promise.all(deliveries);
}

/**
 * A group member that stores the offset of a message only after "processing" it. Fetched
 * messages wait in a backlog while the member is held at its limit; it keeps polling, so it
 * keeps serving rebalances, and drops the backlog of partitions taken away from it.
 */
class Member {
  readonly consumer: Consumer;
  readonly processed = new Set<string>();
  readonly events: RebalanceEvent[] = [];
  /** Commits the coordinator refused during a rebalance (see #commitStored). */
  refusedCommits = 0;
  /** Process at most this many messages for now. */
  limit = Infinity;
  #backlog: ConsumedMessage[] = [];
  #running: Promise<void> | undefined;
  #stop = false;

  constructor(group: string, strategy: string) {
    this.consumer = new Consumer({
      "bootstrap.servers": BOOTSTRAP,
      "group.id": group,
      "auto.offset.reset": "earliest",
      "enable.auto.commit": false,
      "enable.auto.offset.store": false,
      "partition.assignment.strategy": strategy,
      "session.timeout.ms": 6000,
      "heartbeat.interval.ms": 500,
    }, {
      onRebalance: async (event) => {
        this.events.push(event);
        if (event.kind === "assigned") return;
        const gone = new Set(event.partitions.map(partitionKey));
        this.#backlog = this.#backlog.filter((m) => !gone.has(partitionKey(m)));
        // Last chance before the partitions go: commit what is settled (stored).
        if (event.kind === "revoked") await this.#commitStored();
      },
    });
  }

  start(topic: string): void {
    this.consumer.subscribe([topic]);
    this.#running = (async () => {
      while (!this.#stop) {
        this.#backlog.push(...await this.consumer.poll({ timeoutMs: 100, maxMessages: 50 }));
        let stored = false;
        while (this.#backlog.length > 0 && this.processed.size < this.limit) {
          const message = this.#backlog.shift()!;
          this.processed.add(`${message.partition}/${message.offset}`);
          this.consumer.storeOffsets([{ ...message, offset: message.offset + 1 }]);
          stored = true;
        }
        if (stored) await this.#commitStored();
      }
    })();
  }

  /**
   * Commits the stored offsets. Between a cooperative rebalance's rounds the coordinator
   * refuses commits (ILLEGAL_GENERATION, or REBALANCE_IN_PROGRESS); librdkafka 2.10+ keeps the
   * assignment then (before, it counted it lost: confluentinc/librdkafka#4059), and the offsets
   * stay stored for the next commit.
   */
  async #commitStored(): Promise<void> {
    try {
      await this.consumer.commit();
    } catch (error) {
      const refused: number[] = [ErrorCode.ILLEGAL_GENERATION, ErrorCode.REBALANCE_IN_PROGRESS];
      if (!(error instanceof KafkaError && refused.includes(error.code))) throw error;
      this.refusedCommits++;
    }
  }

  assigned(): string[] {
    return this.consumer.assignment().map(partitionKey).sort();
  }

  async leave(): Promise<void> {
    this.#stop = true;
    await this.#running;
    await this.consumer.close();
  }
}

for (const strategy of ["range", "cooperative-sticky"]) {
  Deno.test(`two consumers split a group, one leaves, the other takes over (${strategy})`, async () => {
    await withTopic(PARTITIONS, async (topic) => {
      await fill(topic);
      const group = uniqueName("group");
      const a = new Member(group, strategy);
      const b = new Member(group, strategy);
      try {
        a.limit = 200; // both process part of the topic while sharing it
        b.limit = 300;
        a.start(topic);
        b.start(topic);
        await waitUntil(
          () =>
            a.assigned().length > 0 && b.assigned().length > 0 &&
            a.assigned().length + b.assigned().length === PARTITIONS,
          "both members hold partitions",
        );
        const split = [...a.assigned(), ...b.assigned()];
        assertEquals(new Set(split).size, PARTITIONS, "the members' partitions are disjoint");
        await waitUntil(() => b.processed.size >= b.limit, "b processed its share");

        // b leaves mid-stream with fetched but unprocessed messages; a must take them over.
        await b.leave();
        const afterLeave = await committedOffsets(group, topic, PARTITIONS);
        for (let p = 0; p < PARTITIONS; p++) {
          for (let o = 0; o < Math.max(0, afterLeave[p]); o++) {
            const key = `${p}/${o}`;
            assert(
              a.processed.has(key) || b.processed.has(key),
              `offset ${key} committed unprocessed`,
            );
          }
        }
        a.limit = Infinity;
        await waitUntil(() => a.assigned().length === PARTITIONS, "a holds every partition");
        await waitUntil(() => {
          const all = new Set([...a.processed, ...b.processed]);
          return all.size === PARTITIONS * PER_PARTITION;
        }, "every message processed at least once");
        await a.leave();
        assertEquals(
          await committedOffsets(group, topic, PARTITIONS),
          new Array(PARTITIONS).fill(PER_PARTITION),
        );
        const kinds = b.events.map((e) => e.kind);
        assertEquals(kinds[0], "assigned");
        assertEquals(kinds.at(-1), "revoked", "b's last rebalance is the revoke of leaving");
        assert(
          b.events.every((e) => e.protocol === (strategy === "range" ? "EAGER" : "COOPERATIVE")),
        );
      } finally {
        if (!a.consumer.closed) await a.leave();
        if (!b.consumer.closed) await b.leave();
      }
    });
  });
}

Deno.test("committed offsets survive closing and reopening a consumer", async () => {
  await withTopic(PARTITIONS, async (topic) => {
    await fill(topic);
    const group = uniqueName("reopen");
    const config = {
      "bootstrap.servers": BOOTSTRAP,
      "group.id": group,
      "auto.offset.reset": "earliest",
      "enable.auto.commit": false,
    };
    let firstOffsets = new Map<number, number>();
    {
      await using consumer = new Consumer(config);
      await consumer.assign([{ topic, partition: 1, offset: -2 }]);
      let got = 0;
      while (got < 100) {
        for (const message of await consumer.poll({ maxMessages: 100 - got })) {
          got++;
          firstOffsets.set(message.partition, message.offset);
        }
      }
      await consumer.commit([{ topic, partition: 1, offset: firstOffsets.get(1)! + 1 }]);
    }
    assertEquals(firstOffsets.get(1), 99);
    firstOffsets = new Map();
    await using reopened = new Consumer(config);
    assertEquals(
      (await reopened.committed([{ topic, partition: 1 }])).map((tp) => tp.offset),
      [100],
    );
    await reopened.assign([{ topic, partition: 1, offset: -1000 }]);
    let first: number | undefined;
    while (first === undefined) {
      const batch = await reopened.poll();
      if (batch.length > 0) first = batch[0].offset;
    }
    assertEquals(first, 100, "the reopened consumer starts after the committed offset");
  });
});
