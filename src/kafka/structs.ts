/**
 * Byte offsets of the librdkafka structures Ferry reads or writes through
 * `Deno.UnsafePointerView` and `DataView`, beside the symbol table in `ffi.ts`.
 *
 * Each block below copies one struct from `rdkafka.h` (librdkafka 2.0.2, Debian 12's
 * `librdkafka-dev`) with each field's offset and size for LP64 (x86_64 and aarch64 Linux and
 * macOS), and an object of those offsets: every key but `SIZEOF` is the C member designator,
 * such as `key_len` or `u.mem.size`, and its value is `offsetof(struct, designator)`;
 * `SIZEOF` is `sizeof(struct)`, the stride of an array of them. These structs are part of
 * librdkafka's stable ABI: later 2.x versions have the same layouts.
 * `structs_test.ts` beside this file compiles a C program against the real header and checks
 * every number here against what `offsetof` and `sizeof` say.
 *
 * @module
 */

/**
 * `sizeof(void *)`: the stride of the arrays of pointers librdkafka takes and returns
 * (`const char **groups`, `rd_kafka_NewTopic_t **`, `const rd_kafka_topic_result_t **`, ...).
 */
export const POINTER_SIZE = 8;

/**
 * `rd_kafka_message_t`: a consumed message, or a delivery report's message.
 *
 * ```c
 * typedef struct rd_kafka_message_s {  // offset  size
 *   rd_kafka_resp_err_t err;           //   0      4  (enum: int)
 *   rd_kafka_topic_t *rkt;             //   8      8
 *   int32_t partition;                 //  16      4
 *   void *payload;                     //  24      8
 *   size_t len;                        //  32      8
 *   void *key;                         //  40      8
 *   size_t key_len;                    //  48      8
 *   int64_t offset;                    //  56      8
 *   void *_private;                    //  64      8  (producer: the message's opaque)
 * } rd_kafka_message_t;                // sizeof 72
 * ```
 */
export const RdKafkaMessage = {
  SIZEOF: 72,
  err: 0,
  rkt: 8,
  partition: 16,
  payload: 24,
  len: 32,
  key: 40,
  key_len: 48,
  offset: 56,
  _private: 64,
} as const;

/**
 * `rd_kafka_topic_partition_t`: one element of a partition list.
 *
 * ```c
 * typedef struct rd_kafka_topic_partition_s {  // offset  size
 *   char *topic;                               //   0      8
 *   int32_t partition;                         //   8      4
 *   int64_t offset;                            //  16      8
 *   void *metadata;                            //  24      8
 *   size_t metadata_size;                      //  32      8
 *   void *opaque;                              //  40      8
 *   rd_kafka_resp_err_t err;                   //  48      4  (enum: int)
 *   void *_private;                            //  56      8
 * } rd_kafka_topic_partition_t;                // sizeof 64
 * ```
 */
export const RdKafkaTopicPartition = {
  SIZEOF: 64,
  topic: 0,
  partition: 8,
  offset: 16,
  metadata: 24,
  metadata_size: 32,
  opaque: 40,
  err: 48,
  _private: 56,
} as const;

/**
 * `rd_kafka_topic_partition_list_t`: a growable array of {@linkcode RdKafkaTopicPartition}.
 *
 * ```c
 * typedef struct rd_kafka_topic_partition_list_s {  // offset  size
 *   int cnt;                                        //   0      4
 *   int size;                                       //   4      4
 *   rd_kafka_topic_partition_t *elems;              //   8      8
 * } rd_kafka_topic_partition_list_t;                // sizeof 16
 * ```
 */
export const RdKafkaTopicPartitionList = {
  SIZEOF: 16,
  cnt: 0,
  size: 4,
  elems: 8,
} as const;

/**
 * `struct rd_kafka_metadata` (`rd_kafka_metadata_t`), as `rd_kafka_metadata` returns it.
 *
 * ```c
 * typedef struct rd_kafka_metadata {          // offset  size
 *   int broker_cnt;                           //   0      4
 *   struct rd_kafka_metadata_broker *brokers; //   8      8
 *   int topic_cnt;                            //  16      4
 *   struct rd_kafka_metadata_topic *topics;   //  24      8
 *   int32_t orig_broker_id;                   //  32      4
 *   char *orig_broker_name;                   //  40      8
 * } rd_kafka_metadata_t;                      // sizeof 48
 * ```
 */
export const RdKafkaMetadata = {
  SIZEOF: 48,
  broker_cnt: 0,
  brokers: 8,
  topic_cnt: 16,
  topics: 24,
  orig_broker_id: 32,
  orig_broker_name: 40,
} as const;

/**
 * `struct rd_kafka_metadata_broker`: an element of {@linkcode RdKafkaMetadata}'s `brokers`.
 *
 * ```c
 * typedef struct rd_kafka_metadata_broker {  // offset  size
 *   int32_t id;                              //   0      4
 *   char *host;                              //   8      8
 *   int port;                                //  16      4
 * } rd_kafka_metadata_broker_t;              // sizeof 24
 * ```
 */
export const RdKafkaMetadataBroker = {
  SIZEOF: 24,
  id: 0,
  host: 8,
  port: 16,
} as const;

/**
 * `struct rd_kafka_metadata_topic`: an element of {@linkcode RdKafkaMetadata}'s `topics`.
 *
 * ```c
 * typedef struct rd_kafka_metadata_topic {            // offset  size
 *   char *topic;                                      //   0      8
 *   int partition_cnt;                                //   8      4
 *   struct rd_kafka_metadata_partition *partitions;   //  16      8
 *   rd_kafka_resp_err_t err;                          //  24      4  (enum: int)
 * } rd_kafka_metadata_topic_t;                        // sizeof 32
 * ```
 */
export const RdKafkaMetadataTopic = {
  SIZEOF: 32,
  topic: 0,
  partition_cnt: 8,
  partitions: 16,
  err: 24,
} as const;

/**
 * `struct rd_kafka_metadata_partition`: an element of {@linkcode RdKafkaMetadataTopic}'s
 * `partitions`.
 *
 * ```c
 * typedef struct rd_kafka_metadata_partition {  // offset  size
 *   int32_t id;                                 //   0      4
 *   rd_kafka_resp_err_t err;                    //   4      4  (enum: int)
 *   int32_t leader;                             //   8      4
 *   int replica_cnt;                            //  12      4
 *   int32_t *replicas;                          //  16      8
 *   int isr_cnt;                                //  24      4
 *   int32_t *isrs;                              //  32      8
 * } rd_kafka_metadata_partition_t;              // sizeof 40
 * ```
 */
export const RdKafkaMetadataPartition = {
  SIZEOF: 40,
  id: 0,
  err: 4,
  leader: 8,
  replica_cnt: 12,
  replicas: 16,
  isr_cnt: 24,
  isrs: 32,
} as const;

/**
 * `rd_kafka_vu_t`: one (vtype, value) pair of the array `rd_kafka_produceva` takes; which
 * member of the union `u` is used depends on `vtype` ({@linkcode RdKafkaVtype}). Offsets are
 * from the start of the element.
 *
 * ```c
 * typedef struct rd_kafka_vu_s {        // offset  size
 *   rd_kafka_vtype_t vtype;             //   0      4  (enum: int)
 *   union {                             //   8     64
 *     const char *cstr;                 //   8      8  TOPIC
 *     rd_kafka_topic_t *rkt;            //   8      8
 *     int i;                            //   8      4  MSGFLAGS
 *     int32_t i32;                      //   8      4  PARTITION
 *     int64_t i64;                      //   8      8  TIMESTAMP
 *     struct {
 *       void *ptr;                      //   8      8  VALUE, KEY
 *       size_t size;                    //  16      8
 *     } mem;
 *     struct {
 *       const char *name;               //   8      8  HEADER
 *       const void *val;                //  16      8
 *       ssize_t size;                   //  24      8  (-1: a header without a value)
 *     } header;
 *     rd_kafka_headers_t *headers;      //   8      8
 *     void *ptr;                        //   8      8  OPAQUE
 *     char _pad[64];                    //   8     64
 *   } u;
 * } rd_kafka_vu_t;                      // sizeof 72
 * ```
 */
export const RdKafkaVu = {
  SIZEOF: 72,
  vtype: 0,
  u: 8,
  "u.cstr": 8,
  "u.i": 8,
  "u.i32": 8,
  "u.i64": 8,
  "u.mem.ptr": 8,
  "u.mem.size": 16,
  "u.header.name": 8,
  "u.header.val": 16,
  "u.header.size": 24,
  "u.ptr": 8,
} as const;

/**
 * `rd_kafka_vtype_t`: what an {@linkcode RdKafkaVu} element holds (the ones Ferry uses).
 *
 * ```c
 * typedef enum rd_kafka_vtype_t {
 *   RD_KAFKA_VTYPE_END,        // 0
 *   RD_KAFKA_VTYPE_TOPIC,      // 1  u.cstr
 *   RD_KAFKA_VTYPE_RKT,        // 2  u.rkt
 *   RD_KAFKA_VTYPE_PARTITION,  // 3  u.i32
 *   RD_KAFKA_VTYPE_VALUE,      // 4  u.mem
 *   RD_KAFKA_VTYPE_KEY,        // 5  u.mem
 *   RD_KAFKA_VTYPE_OPAQUE,     // 6  u.ptr
 *   RD_KAFKA_VTYPE_MSGFLAGS,   // 7  u.i
 *   RD_KAFKA_VTYPE_TIMESTAMP,  // 8  u.i64
 *   RD_KAFKA_VTYPE_HEADER,     // 9  u.header
 *   RD_KAFKA_VTYPE_HEADERS,    // 10 u.headers
 * } rd_kafka_vtype_t;
 * ```
 */
export const RdKafkaVtype = {
  TOPIC: 1,
  PARTITION: 3,
  VALUE: 4,
  KEY: 5,
  OPAQUE: 6,
  MSGFLAGS: 7,
  TIMESTAMP: 8,
  HEADER: 9,
} as const;
