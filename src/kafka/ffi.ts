/**
 * The librdkafka symbol table and library loading.
 *
 * Every symbol Ferry calls is listed here once, with its C prototype. Only
 * calls that can wait (a poll with a timeout, a synchronous commit, a metadata
 * request, destroying a handle) are `nonblocking`; they run on Deno's FFI
 * thread pool and return a promise. Everything else is a fast synchronous call.
 * Only symbols present in librdkafka 2.0.2 (Debian 12) are used; what newer releases fix or
 * add is told apart by version (`library_features.ts`). The byte offsets of the
 * structs read and written through these symbols are in `structs.ts` beside this file.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const symbols = {
  // const char *rd_kafka_version_str(void);
  rd_kafka_version_str: { parameters: [], result: "pointer" },
  // int rd_kafka_version(void);
  rd_kafka_version: { parameters: [], result: "i32" },
  // const char *rd_kafka_err2str(rd_kafka_resp_err_t err);
  rd_kafka_err2str: { parameters: ["i32"], result: "pointer" },
  // const char *rd_kafka_err2name(rd_kafka_resp_err_t err);
  rd_kafka_err2name: { parameters: ["i32"], result: "pointer" },

  // rd_kafka_conf_t *rd_kafka_conf_new(void);
  rd_kafka_conf_new: { parameters: [], result: "pointer" },
  // void rd_kafka_conf_destroy(rd_kafka_conf_t *conf);
  rd_kafka_conf_destroy: { parameters: ["pointer"], result: "void" },
  // rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
  //                                       const char *value, char *errstr, size_t errstr_size);
  rd_kafka_conf_set: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  // void rd_kafka_conf_set_events(rd_kafka_conf_t *conf, int events);
  rd_kafka_conf_set_events: { parameters: ["pointer", "i32"], result: "void" },

  // rd_kafka_t *rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
  //                          char *errstr, size_t errstr_size);
  rd_kafka_new: { parameters: ["i32", "pointer", "buffer", "usize"], result: "pointer" },
  // void rd_kafka_destroy(rd_kafka_t *rk);  (waits for librdkafka's threads)
  rd_kafka_destroy: { parameters: ["pointer"], result: "void", nonblocking: true },
  // const char *rd_kafka_name(const rd_kafka_t *rk);
  rd_kafka_name: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_resp_err_t rd_kafka_fatal_error(rd_kafka_t *rk, char *errstr, size_t errstr_size);
  rd_kafka_fatal_error: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_set_log_queue(rd_kafka_t *rk, rd_kafka_queue_t *rkqu);
  rd_kafka_set_log_queue: { parameters: ["pointer", "pointer"], result: "i32" },
  // int rd_kafka_outq_len(rd_kafka_t *rk);
  rd_kafka_outq_len: { parameters: ["pointer"], result: "i32" },
  // void rd_kafka_mem_free(rd_kafka_t *rk, void *ptr);
  rd_kafka_mem_free: { parameters: ["pointer", "pointer"], result: "void" },

  // rd_kafka_queue_t *rd_kafka_queue_get_main(rd_kafka_t *rk);
  rd_kafka_queue_get_main: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_queue_t *rd_kafka_queue_get_consumer(rd_kafka_t *rk);
  rd_kafka_queue_get_consumer: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_queue_t *rd_kafka_queue_new(rd_kafka_t *rk);
  rd_kafka_queue_new: { parameters: ["pointer"], result: "pointer" },
  // void rd_kafka_queue_destroy(rd_kafka_queue_t *rkqu);
  rd_kafka_queue_destroy: { parameters: ["pointer"], result: "void" },
  // rd_kafka_event_t *rd_kafka_queue_poll(rd_kafka_queue_t *rkqu, int timeout_ms);
  // Called with timeout 0 only: never waits.
  rd_kafka_queue_poll: { parameters: ["pointer", "i32"], result: "pointer" },
  // The same function, for a poll that waits up to its timeout.
  rd_kafka_queue_poll_wait: {
    name: "rd_kafka_queue_poll",
    parameters: ["pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // void rd_kafka_queue_yield(rd_kafka_queue_t *rkqu);
  rd_kafka_queue_yield: { parameters: ["pointer"], result: "void" },

  // rd_kafka_event_type_t rd_kafka_event_type(const rd_kafka_event_t *rkev);
  rd_kafka_event_type: { parameters: ["pointer"], result: "i32" },
  // void rd_kafka_event_destroy(rd_kafka_event_t *rkev);
  rd_kafka_event_destroy: { parameters: ["pointer"], result: "void" },
  // const rd_kafka_message_t *rd_kafka_event_message_next(rd_kafka_event_t *rkev);
  rd_kafka_event_message_next: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_resp_err_t rd_kafka_event_error(rd_kafka_event_t *rkev);
  rd_kafka_event_error: { parameters: ["pointer"], result: "i32" },
  // const char *rd_kafka_event_error_string(rd_kafka_event_t *rkev);
  rd_kafka_event_error_string: { parameters: ["pointer"], result: "pointer" },
  // int rd_kafka_event_error_is_fatal(rd_kafka_event_t *rkev);
  rd_kafka_event_error_is_fatal: { parameters: ["pointer"], result: "i32" },
  // int rd_kafka_event_log(rd_kafka_event_t *rkev, const char **fac, const char **str, int *level);
  rd_kafka_event_log: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32" },
  // rd_kafka_topic_partition_list_t *rd_kafka_event_topic_partition_list(rd_kafka_event_t *rkev);
  rd_kafka_event_topic_partition_list: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_CreateTopics_result_t *rd_kafka_event_CreateTopics_result(rd_kafka_event_t *);
  rd_kafka_event_CreateTopics_result: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_DeleteTopics_result_t *rd_kafka_event_DeleteTopics_result(rd_kafka_event_t *);
  rd_kafka_event_DeleteTopics_result: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_DescribeConsumerGroups_result_t *
  //     rd_kafka_event_DescribeConsumerGroups_result(rd_kafka_event_t *rkev);
  rd_kafka_event_DescribeConsumerGroups_result: { parameters: ["pointer"], result: "pointer" },

  // rd_kafka_resp_err_t rd_kafka_error_code(const rd_kafka_error_t *error);
  rd_kafka_error_code: { parameters: ["pointer"], result: "i32" },
  // const char *rd_kafka_error_string(const rd_kafka_error_t *error);
  rd_kafka_error_string: { parameters: ["pointer"], result: "pointer" },
  // int rd_kafka_error_is_fatal(const rd_kafka_error_t *error);
  rd_kafka_error_is_fatal: { parameters: ["pointer"], result: "i32" },
  // int rd_kafka_error_is_retriable(const rd_kafka_error_t *error);
  rd_kafka_error_is_retriable: { parameters: ["pointer"], result: "i32" },
  // void rd_kafka_error_destroy(rd_kafka_error_t *error);
  rd_kafka_error_destroy: { parameters: ["pointer"], result: "void" },
  // int rd_kafka_error_txn_requires_abort(const rd_kafka_error_t *error);
  rd_kafka_error_txn_requires_abort: { parameters: ["pointer"], result: "i32" },

  // rd_kafka_error_t *rd_kafka_produceva(rd_kafka_t *rk, const rd_kafka_vu_t *vus, size_t cnt);
  rd_kafka_produceva: { parameters: ["pointer", "buffer", "usize"], result: "pointer" },
  // Transactions (a producer with transactional.id). Every call but begin waits for the
  // transaction coordinator, up to its timeout: nonblocking.
  // rd_kafka_error_t *rd_kafka_init_transactions(rd_kafka_t *rk, int timeout_ms);
  rd_kafka_init_transactions: {
    parameters: ["pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // rd_kafka_error_t *rd_kafka_begin_transaction(rd_kafka_t *rk);  (local: never waits)
  rd_kafka_begin_transaction: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_error_t *rd_kafka_send_offsets_to_transaction(rd_kafka_t *rk,
  //     const rd_kafka_topic_partition_list_t *offsets,
  //     const rd_kafka_consumer_group_metadata_t *cgmetadata, int timeout_ms);
  rd_kafka_send_offsets_to_transaction: {
    parameters: ["pointer", "pointer", "pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // rd_kafka_error_t *rd_kafka_commit_transaction(rd_kafka_t *rk, int timeout_ms);
  rd_kafka_commit_transaction: {
    parameters: ["pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // rd_kafka_error_t *rd_kafka_abort_transaction(rd_kafka_t *rk, int timeout_ms);
  rd_kafka_abort_transaction: {
    parameters: ["pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // rd_kafka_consumer_group_metadata_t *rd_kafka_consumer_group_metadata(rd_kafka_t *rk);
  rd_kafka_consumer_group_metadata: { parameters: ["pointer"], result: "pointer" },
  // void rd_kafka_consumer_group_metadata_destroy(rd_kafka_consumer_group_metadata_t *);
  rd_kafka_consumer_group_metadata_destroy: { parameters: ["pointer"], result: "void" },
  // rd_kafka_resp_err_t rd_kafka_purge(rd_kafka_t *rk, int purge_flags);
  // Called with RD_KAFKA_PURGE_F_NON_BLOCKING only: never waits for librdkafka's threads.
  rd_kafka_purge: { parameters: ["pointer", "i32"], result: "i32" },

  // rd_kafka_resp_err_t rd_kafka_message_headers(const rd_kafka_message_t *rkmessage,
  //                                              rd_kafka_headers_t **hdrsp);
  rd_kafka_message_headers: { parameters: ["pointer", "buffer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_header_get_all(const rd_kafka_headers_t *hdrs, size_t idx,
  //                          const char **namep, const void **valuep, size_t *sizep);
  rd_kafka_header_get_all: {
    parameters: ["pointer", "usize", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // int64_t rd_kafka_message_timestamp(const rd_kafka_message_t *rkmessage,
  //                                    rd_kafka_timestamp_type_t *tstype);
  rd_kafka_message_timestamp: { parameters: ["pointer", "buffer"], result: "i64" },
  // const char *rd_kafka_message_errstr(const rd_kafka_message_t *rkmessage);
  rd_kafka_message_errstr: { parameters: ["pointer"], result: "pointer" },
  // const char *rd_kafka_topic_name(const rd_kafka_topic_t *rkt);
  rd_kafka_topic_name: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_topic_t *rd_kafka_topic_new(rd_kafka_t *rk, const char *topic,
  //                                      rd_kafka_topic_conf_t *conf);
  rd_kafka_topic_new: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  // void rd_kafka_topic_destroy(rd_kafka_topic_t *rkt);
  rd_kafka_topic_destroy: { parameters: ["pointer"], result: "void" },

  // rd_kafka_topic_partition_list_t *rd_kafka_topic_partition_list_new(int size);
  rd_kafka_topic_partition_list_new: { parameters: ["i32"], result: "pointer" },
  // rd_kafka_topic_partition_t *rd_kafka_topic_partition_list_add(
  //     rd_kafka_topic_partition_list_t *rktparlist, const char *topic, int32_t partition);
  rd_kafka_topic_partition_list_add: {
    parameters: ["pointer", "buffer", "i32"],
    result: "pointer",
  },
  // void rd_kafka_topic_partition_list_destroy(rd_kafka_topic_partition_list_t *rkparlist);
  rd_kafka_topic_partition_list_destroy: { parameters: ["pointer"], result: "void" },

  // rd_kafka_resp_err_t rd_kafka_poll_set_consumer(rd_kafka_t *rk);
  rd_kafka_poll_set_consumer: { parameters: ["pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_subscribe(rd_kafka_t *rk,
  //                                        const rd_kafka_topic_partition_list_t *topics);
  rd_kafka_subscribe: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_unsubscribe(rd_kafka_t *rk);
  rd_kafka_unsubscribe: { parameters: ["pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_assign(rd_kafka_t *rk,
  //                                     const rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_assign: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_error_t *rd_kafka_incremental_assign(rd_kafka_t *rk,
  //                              const rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_incremental_assign: { parameters: ["pointer", "pointer"], result: "pointer" },
  // rd_kafka_error_t *rd_kafka_incremental_unassign(rd_kafka_t *rk,
  //                              const rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_incremental_unassign: { parameters: ["pointer", "pointer"], result: "pointer" },
  // const char *rd_kafka_rebalance_protocol(rd_kafka_t *rk);
  rd_kafka_rebalance_protocol: { parameters: ["pointer"], result: "pointer" },
  // int rd_kafka_assignment_lost(rd_kafka_t *rk);
  rd_kafka_assignment_lost: { parameters: ["pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_offsets_store(rd_kafka_t *rk,
  //                                            rd_kafka_topic_partition_list_t *offsets);
  rd_kafka_offsets_store: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_commit(rd_kafka_t *rk,
  //                        const rd_kafka_topic_partition_list_t *offsets, int async);
  rd_kafka_commit: { parameters: ["pointer", "pointer", "i32"], result: "i32", nonblocking: true },
  // rd_kafka_resp_err_t rd_kafka_committed(rd_kafka_t *rk,
  //                        rd_kafka_topic_partition_list_t *partitions, int timeout_ms);
  rd_kafka_committed: {
    parameters: ["pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // rd_kafka_resp_err_t rd_kafka_position(rd_kafka_t *rk,
  //                                       rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_position: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_pause_partitions(rd_kafka_t *rk,
  //                                               rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_pause_partitions: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_resp_err_t rd_kafka_resume_partitions(rd_kafka_t *rk,
  //                                                rd_kafka_topic_partition_list_t *partitions);
  rd_kafka_resume_partitions: { parameters: ["pointer", "pointer"], result: "i32" },
  // rd_kafka_error_t *rd_kafka_seek_partitions(rd_kafka_t *rk,
  //                     rd_kafka_topic_partition_list_t *partitions, int timeout_ms);
  rd_kafka_seek_partitions: {
    parameters: ["pointer", "pointer", "i32"],
    result: "pointer",
    nonblocking: true,
  },
  // rd_kafka_error_t *rd_kafka_consumer_close_queue(rd_kafka_t *rk, rd_kafka_queue_t *rkqu);
  rd_kafka_consumer_close_queue: { parameters: ["pointer", "pointer"], result: "pointer" },
  // int rd_kafka_consumer_closed(rd_kafka_t *rk);
  rd_kafka_consumer_closed: { parameters: ["pointer"], result: "i32" },
  // char *rd_kafka_memberid(const rd_kafka_t *rk);  (free with rd_kafka_mem_free)
  rd_kafka_memberid: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_resp_err_t rd_kafka_query_watermark_offsets(rd_kafka_t *rk, const char *topic,
  //                        int32_t partition, int64_t *low, int64_t *high, int timeout_ms);
  rd_kafka_query_watermark_offsets: {
    parameters: ["pointer", "buffer", "i32", "buffer", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // rd_kafka_resp_err_t rd_kafka_get_watermark_offsets(rd_kafka_t *rk, const char *topic,
  //                        int32_t partition, int64_t *low, int64_t *high);
  rd_kafka_get_watermark_offsets: {
    parameters: ["pointer", "buffer", "i32", "buffer", "buffer"],
    result: "i32",
  },

  // rd_kafka_resp_err_t rd_kafka_metadata(rd_kafka_t *rk, int all_topics,
  //     rd_kafka_topic_t *only_rkt, const struct rd_kafka_metadata **metadatap, int timeout_ms);
  rd_kafka_metadata: {
    parameters: ["pointer", "i32", "pointer", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // void rd_kafka_metadata_destroy(const struct rd_kafka_metadata *metadata);
  rd_kafka_metadata_destroy: { parameters: ["pointer"], result: "void" },

  // rd_kafka_AdminOptions_t *rd_kafka_AdminOptions_new(rd_kafka_t *rk, rd_kafka_admin_op_t for_api);
  rd_kafka_AdminOptions_new: { parameters: ["pointer", "i32"], result: "pointer" },
  // rd_kafka_resp_err_t rd_kafka_AdminOptions_set_operation_timeout(
  //     rd_kafka_AdminOptions_t *options, int timeout_ms, char *errstr, size_t errstr_size);
  rd_kafka_AdminOptions_set_operation_timeout: {
    parameters: ["pointer", "i32", "buffer", "usize"],
    result: "i32",
  },
  // rd_kafka_resp_err_t rd_kafka_AdminOptions_set_request_timeout(
  //     rd_kafka_AdminOptions_t *options, int timeout_ms, char *errstr, size_t errstr_size);
  rd_kafka_AdminOptions_set_request_timeout: {
    parameters: ["pointer", "i32", "buffer", "usize"],
    result: "i32",
  },
  // void rd_kafka_AdminOptions_destroy(rd_kafka_AdminOptions_t *options);
  rd_kafka_AdminOptions_destroy: { parameters: ["pointer"], result: "void" },
  // rd_kafka_NewTopic_t *rd_kafka_NewTopic_new(const char *topic, int num_partitions,
  //     int replication_factor, char *errstr, size_t errstr_size);
  rd_kafka_NewTopic_new: {
    parameters: ["buffer", "i32", "i32", "buffer", "usize"],
    result: "pointer",
  },
  // rd_kafka_resp_err_t rd_kafka_NewTopic_set_config(rd_kafka_NewTopic_t *new_topic,
  //                                                  const char *name, const char *value);
  rd_kafka_NewTopic_set_config: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  // void rd_kafka_NewTopic_destroy(rd_kafka_NewTopic_t *new_topic);
  rd_kafka_NewTopic_destroy: { parameters: ["pointer"], result: "void" },
  // void rd_kafka_CreateTopics(rd_kafka_t *rk, rd_kafka_NewTopic_t **new_topics,
  //     size_t new_topic_cnt, const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *rkqu);
  rd_kafka_CreateTopics: {
    parameters: ["pointer", "buffer", "usize", "pointer", "pointer"],
    result: "void",
  },
  // rd_kafka_DeleteTopic_t *rd_kafka_DeleteTopic_new(const char *topic);
  rd_kafka_DeleteTopic_new: { parameters: ["buffer"], result: "pointer" },
  // void rd_kafka_DeleteTopic_destroy(rd_kafka_DeleteTopic_t *del_topic);
  rd_kafka_DeleteTopic_destroy: { parameters: ["pointer"], result: "void" },
  // void rd_kafka_DeleteTopics(rd_kafka_t *rk, rd_kafka_DeleteTopic_t **del_topics,
  //     size_t del_topic_cnt, const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *rkqu);
  rd_kafka_DeleteTopics: {
    parameters: ["pointer", "buffer", "usize", "pointer", "pointer"],
    result: "void",
  },
  // const rd_kafka_topic_result_t **rd_kafka_CreateTopics_result_topics(
  //     const rd_kafka_CreateTopics_result_t *result, size_t *cntp);
  rd_kafka_CreateTopics_result_topics: { parameters: ["pointer", "buffer"], result: "pointer" },
  // const rd_kafka_topic_result_t **rd_kafka_DeleteTopics_result_topics(
  //     const rd_kafka_DeleteTopics_result_t *result, size_t *cntp);
  rd_kafka_DeleteTopics_result_topics: { parameters: ["pointer", "buffer"], result: "pointer" },
  // rd_kafka_resp_err_t rd_kafka_topic_result_error(const rd_kafka_topic_result_t *topicres);
  rd_kafka_topic_result_error: { parameters: ["pointer"], result: "i32" },
  // const char *rd_kafka_topic_result_error_string(const rd_kafka_topic_result_t *topicres);
  rd_kafka_topic_result_error_string: { parameters: ["pointer"], result: "pointer" },
  // const char *rd_kafka_topic_result_name(const rd_kafka_topic_result_t *topicres);
  rd_kafka_topic_result_name: { parameters: ["pointer"], result: "pointer" },

  // DescribeConsumerGroups (librdkafka 2.0.0+): a group's state and its members' assignments.
  // Every object read below lives as long as the result event.
  // void rd_kafka_DescribeConsumerGroups(rd_kafka_t *rk, const char **groups, size_t groups_cnt,
  //     const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *rkqu);
  rd_kafka_DescribeConsumerGroups: {
    parameters: ["pointer", "buffer", "usize", "pointer", "pointer"],
    result: "void",
  },
  // const rd_kafka_ConsumerGroupDescription_t **rd_kafka_DescribeConsumerGroups_result_groups(
  //     const rd_kafka_DescribeConsumerGroups_result_t *result, size_t *cntp);
  rd_kafka_DescribeConsumerGroups_result_groups: {
    parameters: ["pointer", "buffer"],
    result: "pointer",
  },
  // const char *rd_kafka_ConsumerGroupDescription_group_id(
  //     const rd_kafka_ConsumerGroupDescription_t *grpdesc);
  rd_kafka_ConsumerGroupDescription_group_id: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_error_t *rd_kafka_ConsumerGroupDescription_error(
  //     const rd_kafka_ConsumerGroupDescription_t *grpdesc);  (NULL for none; not to destroy)
  rd_kafka_ConsumerGroupDescription_error: { parameters: ["pointer"], result: "pointer" },
  // rd_kafka_consumer_group_state_t rd_kafka_ConsumerGroupDescription_state(
  //     const rd_kafka_ConsumerGroupDescription_t *grpdesc);
  rd_kafka_ConsumerGroupDescription_state: { parameters: ["pointer"], result: "i32" },
  // size_t rd_kafka_ConsumerGroupDescription_member_count(
  //     const rd_kafka_ConsumerGroupDescription_t *grpdesc);
  rd_kafka_ConsumerGroupDescription_member_count: { parameters: ["pointer"], result: "usize" },
  // const rd_kafka_MemberDescription_t *rd_kafka_ConsumerGroupDescription_member(
  //     const rd_kafka_ConsumerGroupDescription_t *grpdesc, size_t idx);
  rd_kafka_ConsumerGroupDescription_member: {
    parameters: ["pointer", "usize"],
    result: "pointer",
  },
  // const char *rd_kafka_MemberDescription_consumer_id(const rd_kafka_MemberDescription_t *member);
  rd_kafka_MemberDescription_consumer_id: { parameters: ["pointer"], result: "pointer" },
  // const char *rd_kafka_MemberDescription_client_id(const rd_kafka_MemberDescription_t *member);
  rd_kafka_MemberDescription_client_id: { parameters: ["pointer"], result: "pointer" },
  // const char *rd_kafka_MemberDescription_host(const rd_kafka_MemberDescription_t *member);
  rd_kafka_MemberDescription_host: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_MemberAssignment_t *rd_kafka_MemberDescription_assignment(
  //     const rd_kafka_MemberDescription_t *member);
  rd_kafka_MemberDescription_assignment: { parameters: ["pointer"], result: "pointer" },
  // const rd_kafka_topic_partition_list_t *rd_kafka_MemberAssignment_partitions(
  //     const rd_kafka_MemberAssignment_t *assignment);
  rd_kafka_MemberAssignment_partitions: { parameters: ["pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The typed librdkafka library handle. */
export type RdKafka = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** Names tried, in order, after `FERRY_RDKAFKA_PATH`. */
const SYSTEM_LIBRARY_NAMES: Record<string, string[]> = {
  linux: ["librdkafka.so.1", "librdkafka.so"],
  darwin: [
    "librdkafka.1.dylib",
    "librdkafka.dylib",
    "/opt/homebrew/lib/librdkafka.1.dylib",
    "/usr/local/lib/librdkafka.1.dylib",
  ],
  windows: ["librdkafka.dll"],
};

/** How to install librdkafka, for the error message when it cannot be loaded. */
const INSTALL_HINT = "Install librdkafka (Debian/Ubuntu: `apt-get install librdkafka1`, " +
  "macOS: `brew install librdkafka`) or set FERRY_RDKAFKA_PATH to the full path of the library.";

/** What to do when Deno refuses FFI. */
const FFI_HINT = "Ferry loads librdkafka through Deno's FFI and reads its structures with " +
  "Deno.UnsafePointerView, which needs --allow-ffi without a path: run Deno with --allow-ffi " +
  "(`ferry permissions <script> --output-dir <dir>` prints every flag a processor needs).";

/** Raised when librdkafka cannot be loaded: names every path tried and how to install it. */
export class LibraryLoadError extends Error {
  /** Every path or library name that was tried, in order. */
  readonly tried: string[];

  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LibraryLoadError } from "./ffi.ts";
   * const error = new LibraryLoadError(["librdkafka.so.1"], ["not found"]);
   * assert.ok(error.message.includes("librdkafka.so.1"));
   * ```
   */
  constructor(tried: string[], reasons: string[], hint: string = INSTALL_HINT) {
    const lines = tried.map((path, i) => `  "${path}": ${reasons[i] ?? "failed"}`);
    super(`Could not load librdkafka. Tried:\n${lines.join("\n")}\n${hint}`);
    this.name = "LibraryLoadError";
    this.tried = tried;
  }
}

let loaded: { lib: RdKafka; path: string } | undefined;

/** The candidate paths for librdkafka, `FERRY_RDKAFKA_PATH` first when it is set. */
export function libraryCandidates(): string[] {
  const fromEnv = readEnv("FERRY_RDKAFKA_PATH");
  if (fromEnv) return [fromEnv];
  return SYSTEM_LIBRARY_NAMES[Deno.build.os] ?? SYSTEM_LIBRARY_NAMES.linux;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return undefined; // Without --allow-env the system names are tried.
    }
    throw error;
  }
}

/**
 * Loads librdkafka once per thread and returns its symbols.
 *
 * @throws {LibraryLoadError} when no candidate loads, or when `--allow-ffi` is missing.
 */
export function rdkafka(): RdKafka {
  if (loaded) return loaded.lib;
  const tried: string[] = [];
  const reasons: string[] = [];
  for (const path of libraryCandidates()) {
    tried.push(path);
    try {
      const handle = Deno.dlopen(path, symbols);
      // A scoped --allow-ffi=<path> loads the library, but Deno allows pointer reads only with
      // --allow-ffi for every library (denoland/deno#15511): say so now, not at the first read.
      Deno.UnsafePointer.of(new Uint8Array(1));
      loaded = { lib: handle.symbols, path };
      return handle.symbols;
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new LibraryLoadError(tried, ["permission denied"], FFI_HINT);
      }
      reasons.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new LibraryLoadError(tried, reasons);
}

let announced = false;

/**
 * Logs (debug, `ferry.kafka`, once per thread) which librdkafka was loaded: its version and
 * path. Called when the first client is created, after the command has set up its logging
 * (the library itself is often loaded earlier, to check the configuration).
 */
export function announceLibrary(): void {
  if (announced || !loaded) return;
  announced = true;
  getLogger(["ferry", "kafka"]).debug("Loaded librdkafka {version} from {path}.", {
    version: librdkafkaVersion(),
    path: loaded.path,
  });
}

/**
 * The path librdkafka was loaded from, after the first successful {@linkcode rdkafka} call.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { librdkafkaVersion, loadedLibraryPath } from "../../mod.ts";
 *
 * librdkafkaVersion(); // loads the library
 * assert.ok(loadedLibraryPath()?.includes("rdkafka"));
 * ```
 */
export function loadedLibraryPath(): string | undefined {
  return loaded?.path;
}

/**
 * librdkafka's version as a string, such as `"2.0.2"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { librdkafkaVersion } from "../../mod.ts";
 *
 * assert.match(librdkafkaVersion(), /^\d+\.\d+\.\d+/);
 * ```
 */
export function librdkafkaVersion(): string {
  return readCString(rdkafka().rd_kafka_version_str()) ?? "unknown";
}

const encoder = new TextEncoder();

/** Encodes a JavaScript string as a NUL-terminated C string. */
export function cString(value: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(value.length * 3 + 1);
  const { written } = encoder.encodeInto(value, bytes);
  return bytes.subarray(0, written + 1);
}

/** Reads a NUL-terminated C string, or `undefined` for a null pointer. */
export function readCString(pointer: Deno.PointerValue): string | undefined {
  return pointer === null ? undefined : Deno.UnsafePointerView.getCString(pointer);
}

/** A buffer for a C string that librdkafka writes an error message into. */
export function errorBuffer(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(512);
}

/** Decodes the NUL-terminated text librdkafka wrote into an {@linkcode errorBuffer}. */
export function errorBufferText(buffer: Uint8Array): string {
  const end = buffer.indexOf(0);
  return new TextDecoder().decode(buffer.subarray(0, end < 0 ? buffer.length : end));
}

/** Reads the pointer stored in an out-parameter cell. */
export function pointerCell(cell: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(cell[0]);
}
