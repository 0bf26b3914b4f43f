/**
 * The check that a processor's output topic (`--output-topic`) exists, before anything starts:
 * results for a topic that is not there would otherwise wait in librdkafka until they time out.
 *
 * @module
 */

import type { Admin } from "../kafka/mod.ts";
import { errorText } from "./errors.ts";

/**
 * Resolves with the output topic's number of partitions.
 *
 * @throws {Error} naming the topic and how to create it when it does not exist.
 */
export async function checkOutputTopic(admin: Admin, topic: string): Promise<number> {
  try {
    return await admin.partitionCount(topic, 15_000);
  } catch (error) {
    throw new Error(
      `The output topic "${topic}" (--output-topic) cannot be used: ${errorText(error)} ` +
        `Create it first, for example with \`ferry topic create ${topic} --partitions 4\`.`,
      { cause: error },
    );
  }
}
