/**
 * Ferry's Kafka client: librdkafka through Deno's FFI.
 *
 * @module
 */

export { Admin } from "./admin.ts";
export type {
  ClusterMetadata,
  CreateTopicsOptions,
  NewTopic,
  PartitionMetadata,
  TopicMetadata,
} from "./admin.ts";
export { KafkaClient } from "./client.ts";
export type { ClientOptions } from "./client.ts";
export { isSecretProperty, KafkaConfigError, redact, secretValues } from "./config.ts";
export type { KafkaConfig } from "./config.ts";
export { Consumer } from "./consumer.ts";
export type { ConsumerGroupDescription, ConsumerGroupState, GroupMember } from "./groups.ts";
export type {
  ConsumedMessage,
  ConsumerOptions,
  PollBatchOptions,
  PollOptions,
  RebalanceEvent,
  RebalanceKind,
  Watermarks,
} from "./consumer.ts";
export { MessageBatchBuilder } from "./message_batch.ts";
export type { MessageBatch } from "./message_batch.ts";
export { ErrorCode, isFencingError, KafkaError } from "./errors.ts";
export { LibraryLoadError, librdkafkaVersion, loadedLibraryPath } from "./ffi.ts";
export { hasLibraryFeature, LIBRARY_FEATURES } from "./library_features.ts";
export type { LibraryFeature } from "./library_features.ts";
export { Offset, partitionKey } from "./partitions.ts";
export type { TopicPartition, TopicPartitionOffset } from "./partitions.ts";
export { Producer } from "./producer.ts";
export { TransactionalProducer } from "./transactions.ts";
export type {
  DeliveryReport,
  KafkaHeader,
  PendingDelivery,
  ProducerMessage,
  ProducerOptions,
} from "./producer.ts";
export {
  checkBrokerGroupProtocol,
  checkGroupProtocol,
  CLASSIC_ONLY_PROPERTIES,
  GROUP_PROTOCOLS,
  groupProtocolConfig,
  groupProtocolOf,
} from "./group_protocol.ts";
export type { GroupProtocol } from "./group_protocol.ts";
