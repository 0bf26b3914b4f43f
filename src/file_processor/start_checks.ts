/**
 * What a file processor checks as it starts, before it reads a message: the broker and the
 * topics (first, so that a bad config or topic leaves nothing half-started), that Ferry's folder
 * in the output directory is a real folder, and whether the group already committed offsets
 * that an output directory with no record of it would silently start after. Apart from the
 * runner because each is a question to the user's setup, answered with a clear message.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Admin, type Consumer, type KafkaConfig } from "../kafka/mod.ts";
import { configForRole } from "../kafka/config.ts";
import { checkOutputTopic } from "../processor/output_topic.ts";
import { errorText } from "../processor/errors.ts";
import { resolveInside, UnsafePathError } from "../files/path.ts";
import { PARTIAL_DIR } from "../files/layout.ts";

const logger = getLogger(["ferry", "file-processor"]);

/**
 * Checks the broker and the input topic, and the output topic when there is one.
 *
 * @returns the input topic's partition count.
 * @throws when the broker does not answer or a topic is missing or unusable.
 */
export async function checkTopics(
  kafka: KafkaConfig,
  topic: string,
  outputTopic: string | undefined,
): Promise<number> {
  await using admin = new Admin(configForRole(kafka, "admin"), { onError: () => {} });
  const partitionCount = await admin.partitionCount(topic, 15_000);
  if (outputTopic !== undefined) await checkOutputTopic(admin, outputTopic);
  return partitionCount;
}

/**
 * Makes the output directory, and checks that Ferry's folder in it is not a link out of it.
 *
 * @throws naming the link and what to do.
 */
export async function checkOutputDir(outputDir: string): Promise<void> {
  await Deno.mkdir(outputDir, { recursive: true });
  try {
    await resolveInside(outputDir, PARTIAL_DIR);
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    throw new Error(
      `Ferry's folder in the output directory must be a real folder: ${error.message} ` +
        `Remove the link or choose another --output-dir.`,
    );
  }
}

/**
 * An output directory with no record of this group meets a group that committed offsets
 * already (another output directory, or one emptied): the files before those offsets are not
 * read again. Said loudly, with how to start over; the run goes on.
 *
 * @param consumer the run's consumer (in the group).
 */
export async function warnIfGroupMovedOn(
  consumer: Pick<Consumer, "committed">,
  run: { topic: string; group: string; outputDir: string; partitionCount: number },
): Promise<void> {
  const partitions = Array.from({ length: run.partitionCount }, (_, partition) => ({
    topic: run.topic,
    partition,
  }));
  let committed;
  try {
    committed = await consumer.committed(partitions, 10_000);
  } catch (error) {
    logger.debug("Could not read the committed offsets of {group}: {error}", {
      group: run.group,
      error: errorText(error),
    });
    return;
  }
  const ahead = committed.filter((p) => p.offset > 0);
  if (ahead.length === 0) return;
  logger.warn(
    "The output directory {outputDir} has no record of group {group}, but the group has " +
      "committed offsets on {topic} ({offsets}): files before them will not be read into " +
      "this directory. To process the topic from its start here, stop and run again with a " +
      "new group (--group {suggestion}); to go on where the group is, ignore this.",
    {
      outputDir: run.outputDir,
      group: run.group,
      topic: run.topic,
      offsets: ahead.map((p) => `partition ${p.partition} at ${p.offset}`).join(", "),
      suggestion: `${run.group}-${new Date().toISOString().slice(0, 10)}`,
    },
  );
}
