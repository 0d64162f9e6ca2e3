-- The tables and views of a modeltel 0.1.0 store (its baseline migration), as it created
-- them in the database db_0_1_0; a test opens such a store and migrates it.
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`modeltel_limits` (
    name LowCardinality(String),
    value UInt64,
    updated_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_traces` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_traces_trace_id_ts` (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_logs` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_metrics_gauge` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_metrics_sum` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_metrics_histogram` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_metrics_exponential_histogram` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_metrics_summary` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested (
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_span_source` (
    Timestamp DateTime64(9),
    TraceId String,
    SpanId String,
    ServiceName LowCardinality(String),
    Duration UInt64,
    StatusCode LowCardinality(String),
    SpanAttributes Map(LowCardinality(String), String)
) ENGINE = Null();
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_spans` (
    Timestamp DateTime64(9),
    TraceId String,
    SpanId String,
    ServiceName LowCardinality(String),
    Duration UInt64,
    StatusCode LowCardinality(String),
    SpanAttributes Map(LowCardinality(String), String),
    model String,
    version String,
    feature_map Map(LowCardinality(String), String),
    attribution_map Map(LowCardinality(String), String),
    is_batch UInt8,
    n UInt64,
    rows UInt64,
    ids Array(String),
    projectable UInt8,
    issue String,
    issue_size UInt64,
    issue_limit UInt64,
    declared_size UInt64
) ENGINE = Null();
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_predictions` (
    model LowCardinality(String),
    version LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String CODEC(ZSTD(1)),
    task LowCardinality(String),
    prediction_label Nullable(String) CODEC(ZSTD(1)),
    prediction_score Nullable(Float64) CODEC(ZSTD(1)),
    prediction_value Nullable(Float64) CODEC(ZSTD(1)),
    latency_s Float64 CODEC(ZSTD(1)),
    batch_size UInt32 CODEC(T64, ZSTD(1)),
    row_index UInt32 CODEC(T64, ZSTD(1)),
    is_error UInt8,
    service_name LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    id_key UInt128 MATERIALIZED reinterpretAsUInt128(sipHash128(prediction_id)),
    INDEX idx_prediction_id prediction_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, timestamp)
SETTINGS index_granularity = 8192;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_features` (
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String,
    value_num Nullable(Float64),
    value Nullable(String),
    categorical UInt8
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, feature, timestamp)
SETTINGS index_granularity = 8192;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_labels` (
    model LowCardinality(String),
    prediction_id String CODEC(ZSTD(1)),
    label Nullable(String) CODEC(ZSTD(1)),
    label_value Nullable(Float64) CODEC(ZSTD(1)),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    received_at DateTime64(9) DEFAULT now64(9) CODEC(Delta(8), ZSTD(1)),
    source LowCardinality(String),
    id_key UInt128 MATERIALIZED reinterpretAsUInt128(sipHash128(prediction_id))
) ENGINE = ReplacingMergeTree(received_at)
ORDER BY (model, prediction_id)
SETTINGS index_granularity = 8192;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_reference` (
    model LowCardinality(String),
    version LowCardinality(String),
    reference LowCardinality(String),
    feature LowCardinality(String),
    row_id UInt64 CODEC(Delta, ZSTD(1)),
    value Nullable(String) CODEC(ZSTD(1)),
    value_num Nullable(Float64) CODEC(ZSTD(1)),
    categorical UInt8,
    uploaded_at DateTime64(3) DEFAULT now64(3)
) ENGINE = MergeTree()
ORDER BY (model, version, reference, feature, row_id)
SETTINGS index_granularity = 8192;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_results` (
    model LowCardinality(String),
    version LowCardinality(String),
    window_start DateTime64(3),
    window_end DateTime64(3),
    kind LowCardinality(String),
    segment String DEFAULT '',
    feature Nullable(String),
    method LowCardinality(String) DEFAULT '',
    metric LowCardinality(String) DEFAULT '',
    value Nullable(Float64),
    threshold Nullable(Float64),
    status LowCardinality(String),
    source LowCardinality(String) DEFAULT 'realized',
    reference_size UInt64 DEFAULT 0,
    current_size UInt64 DEFAULT 0,
    details String DEFAULT '' CODEC(ZSTD(1)),
    run_id String DEFAULT '',
    computed_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, version, kind, window_start, window_end, segment,
          ifNull(feature, ''), method, metric, source)
SETTINGS index_granularity = 8192, allow_nullable_key = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`otel_traces_ingest` (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    SpanAttributesF64 Map(LowCardinality(String), Array(Nullable(Float64))),
    MlModel String,
    MlVersion String,
    MlTask String,
    MlIds Array(String),
    MlLabels Array(Nullable(String)),
    MlScores Array(Nullable(Float64)),
    MlValues Array(Nullable(Float64)),
    MlFeatures Array(String),
    MlCategorical Array(UInt8),
    MlFeatureNum Array(Array(Nullable(Float64))),
    MlFeatureText Array(Array(Nullable(String))),
    MlAttributions Array(String),
    MlAttributionNum Array(Array(Nullable(Float64))),
    MlAttributionText Array(Array(Nullable(String))),
    MlRows UInt64,
    MlDeclaredSize UInt64,
    MlIssue String,
    MlIssueSize UInt64,
    MlIssueLimit UInt64
) ENGINE = Null();
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_results_latest` (
    model LowCardinality(String),
    version LowCardinality(String),
    kind LowCardinality(String),
    segment String,
    feature Nullable(String),
    method LowCardinality(String),
    metric LowCardinality(String),
    source LowCardinality(String),
    window_start DateTime64(3),
    window_end DateTime64(3),
    value Nullable(Float64),
    threshold Nullable(Float64),
    status LowCardinality(String),
    computed_at DateTime64(3)
) ENGINE = ReplacingMergeTree(window_end)
ORDER BY (model, version, kind, segment, ifNull(feature, ''), method, metric, source)
SETTINGS index_granularity = 1024, allow_nullable_key = 1;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_attributions` (
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    prediction_id String CODEC(ZSTD(1)),
    value Float64 CODEC(ZSTD(1))
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (model, version, feature, timestamp)
SETTINGS index_granularity = 8192;
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_reference_profiles` (
    model LowCardinality(String),
    version LowCardinality(String),
    reference LowCardinality(String),
    uploaded_at DateTime64(3),
    reference_rows UInt64,
    feature String,
    categorical UInt8,
    rows UInt64,
    finite UInt64,
    distinct UInt64,
    minimum Float64,
    maximum Float64,
    std Float64,
    q_low Float64,
    q_high Float64,
    computed_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (model, version, reference, uploaded_at, reference_rows, feature);
-- next
CREATE TABLE IF NOT EXISTS `db_0_1_0`.`ml_ingest_issues` (
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    received_at DateTime64(3) DEFAULT now64(3),
    source LowCardinality(String),
    model LowCardinality(String),
    version LowCardinality(String),
    service_name LowCardinality(String),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    reason LowCardinality(String),
    skipped UInt8,
    predictions UInt64,
    declared_size UInt64,
    size UInt64,
    max_size UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (source, reason, model, timestamp)
SETTINGS index_granularity = 8192;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`otel_traces_trace_id_ts_mv` TO `db_0_1_0`.`otel_traces_trace_id_ts` AS
SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM `db_0_1_0`.`otel_traces`
WHERE TraceId != ''
GROUP BY TraceId;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_spans_mv` TO `db_0_1_0`.`ml_spans` AS
SELECT
    Timestamp, TraceId, SpanId, ServiceName, Duration, StatusCode, SpanAttributes, model,
    version, feature_map, attribution_map, is_batch, n, rows,
    if(ids_is_array AND projectable,
       arrayMap((id, i) -> if(id = '', concat(SpanId, '-', toString(i - 1)), id),
                JSONExtract(ids_raw, 'Array(String)') AS id_array, arrayEnumerate(id_array)),
       if(is_batch,
          arrayMap(i -> concat(SpanId, '-', toString(i)), range(rows)),
          [if(ids_raw = '', SpanId, ids_raw)])) AS ids,
    projectable, issue, multiIf(issue = 'attributes', attribute_count, issue = 'key_length', longest_key, issue = 'value_length', longest_value, issue = 'span_rows', n, issue = 'projected_rows', projected, ifNull(declared, 0)) AS issue_size, multiIf(issue = 'attributes', limits.max_attributes, issue = 'key_length', limits.max_key_bytes, issue = 'value_length', limits.max_value_bytes, issue = 'span_rows', limits.max_span_rows, issue = 'projected_rows', limits.max_projected_rows, 0) AS issue_limit,
    ifNull(declared, 0) AS declared_size
FROM
(
    SELECT *,
        multiIf(attribute_count > limits.max_attributes, 'attributes', longest_key > limits.max_key_bytes, 'key_length', longest_value > limits.max_value_bytes, 'value_length', n > limits.max_span_rows, 'span_rows', projected > limits.max_projected_rows, 'projected_rows', has_declared AND (declared IS NULL OR declared != n), 'batch_size_mismatch', '') AS issue,
        issue IN ('', 'batch_size_mismatch') AS projectable,
        if(projectable, n, 0) AS rows
    FROM
    (
        SELECT *,
            toUInt64(if(ids_is_array, JSONLength(ids_raw),
                        if(is_batch, least(ifNull(declared, 0), longest), 1))) AS n,
            n * (1 + length(feature_map) + length(attribution_map)) AS projected
        FROM
        (
            SELECT
                Timestamp, TraceId, SpanId, ServiceName, Duration, StatusCode, SpanAttributes,
                SpanAttributes['ml.model.name'] AS model,
                if(SpanAttributes['ml.model.version'] = '', 'unversioned',
                   SpanAttributes['ml.model.version']) AS version,
                (SELECT CAST(tuple(ifNull(argMaxIfOrNull(value, updated_at, name = 'max_span_rows'), 100000), ifNull(argMaxIfOrNull(value, updated_at, name = 'max_projected_rows'), 2000000), ifNull(argMaxIfOrNull(value, updated_at, name = 'max_attributes'), 4096), ifNull(argMaxIfOrNull(value, updated_at, name = 'max_key_bytes'), 1024), ifNull(argMaxIfOrNull(value, updated_at, name = 'max_value_bytes'), 1048576)), 'Tuple(max_span_rows UInt64, max_projected_rows UInt64, max_attributes UInt64, max_key_bytes UInt64, max_value_bytes UInt64)') FROM `db_0_1_0`.`modeltel_limits`) AS limits,
                SpanAttributes['ml.prediction.id'] AS ids_raw,
                startsWith(ids_raw, '[') AND isValidJSON(ids_raw) AS ids_is_array,
                mapContains(SpanAttributes, 'ml.batch.size') AS has_declared,
                SpanAttributes['ml.batch.size'] AS declared_raw,
                if(match(declared_raw, '^[0-9]+$') AND length(declared_raw) <= 18,
                   toUInt64OrNull(declared_raw), NULL) AS declared,
                mapFilter((k, v) -> startsWith(k, 'ml.feature.')
                                    AND k != 'ml.feature.categorical', SpanAttributes)
                    AS feature_map,
                mapFilter((k, v) -> startsWith(k, 'ml.attribution.'), SpanAttributes)
                    AS attribution_map,
                NOT ids_is_array AND ifNull(declared, 0) > 1 AS size_only,
                -- a batch declared by size alone holds as many rows as its longest value array
                if(size_only,
                   arrayMax(mapValues(mapApply((k, v) -> (k,
                       if(startsWith(v, '['), JSONLength(v), 0)), mapFilter((k, v) ->
                           (startsWith(k, 'ml.feature.') AND k != 'ml.feature.categorical')
                           OR startsWith(k, 'ml.attribution.')
                           OR k IN ('ml.prediction.label', 'ml.prediction.score',
                                    'ml.prediction.value'), SpanAttributes)))),
                   0) AS longest,
                ids_is_array OR (size_only AND longest > 0) AS is_batch,
                toUInt64(length(SpanAttributes)) AS attribute_count,
                toUInt64(arrayMax(arrayMap(k -> length(k), mapKeys(SpanAttributes))))
                    AS longest_key,
                toUInt64(arrayMax(arrayMap(v -> if(startsWith(v, '['), 0, length(v)),
                                           mapValues(SpanAttributes)))) AS longest_value
            FROM `db_0_1_0`.`ml_span_source`
        )
    )
);
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_span_source_mv` TO `db_0_1_0`.`ml_span_source` AS
SELECT Timestamp, TraceId, SpanId, ServiceName, Duration, StatusCode, SpanAttributes
FROM `db_0_1_0`.`otel_traces`
WHERE SpanAttributes['ml.model.name'] != ''
  AND getSetting('log_comment') != 'modeltel-receiver-staged';
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_predictions_mv` TO `db_0_1_0`.`ml_predictions` AS
SELECT
    model, version, timestamp, prediction_id, task, prediction_label, prediction_score,
    prediction_value, latency_s, n AS batch_size, toUInt32(row_number - 1) AS row_index,
    is_error, service_name,
    trace_id, span_id
FROM
(
    SELECT
        model, version, Timestamp AS timestamp, n, ids,
        SpanAttributes['ml.task'] AS task,
        SpanAttributes['ml.prediction.label'] AS label_raw,
        SpanAttributes['ml.prediction.score'] AS score_raw,
        SpanAttributes['ml.prediction.value'] AS value_raw,
        if(is_batch, arrayResize(JSONExtract(label_raw, 'Array(Nullable(String))'), rows),
           [if(has(mapKeys(SpanAttributes), 'ml.prediction.label'), label_raw, NULL)]) AS labels,
        if(is_batch, arrayResize(JSONExtract(score_raw, 'Array(Nullable(Float64))'), rows),
           [toFloat64OrNull(score_raw)]) AS scores,
        if(is_batch, arrayResize(JSONExtract(value_raw, 'Array(Nullable(Float64))'), rows),
           [toFloat64OrNull(value_raw)]) AS values,
        Duration / 1e9 AS latency_s,
        toUInt8(StatusCode = 'Error') AS is_error,
        ServiceName AS service_name,
        TraceId AS trace_id,
        SpanId AS span_id
    FROM `db_0_1_0`.`ml_spans`
    WHERE projectable
)
ARRAY JOIN
    ids AS prediction_id,
    labels AS prediction_label,
    scores AS prediction_score,
    values AS prediction_value,
    arrayEnumerate(ids) AS row_number;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_features_mv` TO `db_0_1_0`.`ml_features` AS
SELECT
    model, version, substring(feature_key, 12) AS feature, timestamp, prediction_id,
    toFloat64OrNull(raw_value) AS value_num,
    if(categorical OR value_num IS NULL, raw_value, NULL) AS value,
    toUInt8(has(categorical_names, feature)) AS categorical
FROM
(
    SELECT
        model, version, Timestamp AS timestamp, is_batch, rows, ids, feature_map,
        JSONExtract(SpanAttributes['ml.feature.categorical'], 'Array(String)') AS categorical_names
    FROM `db_0_1_0`.`ml_spans`
    WHERE projectable
)
ARRAY JOIN
    mapKeys(feature_map) AS feature_key,
    mapValues(feature_map) AS feature_raw
ARRAY JOIN
    if(is_batch,
       arrayResize(
           if(startsWith(feature_raw, '[') AND position(feature_raw, '"') = 0,
              -- numbers only: a plain split is exact and far cheaper than a JSON parse
              arrayMap(x -> if(x = 'null', NULL, x), CAST(splitByChar(',',
                  substring(feature_raw, 2, length(feature_raw) - 2)), 'Array(Nullable(String))')),
              JSONExtract(feature_raw, 'Array(Nullable(String))')),
           rows),
       [if(startsWith(feature_raw, 'json: unsupported value'), NULL, feature_raw)]) AS raw_value,
    ids AS prediction_id;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_labels_mv` TO `db_0_1_0`.`ml_labels` AS
SELECT
    model, prediction_id, label,
    coalesce(label_value_given, toFloat64OrNull(label)) AS label_value,
    timestamp, now64(9) AS received_at, 'otlp' AS source
FROM
(
    SELECT
        LogAttributes['ml.model.name'] AS model,
        LogAttributes['ml.prediction.id'] AS ids_raw,
        startsWith(ids_raw, '[') AND isValidJSON(ids_raw) AS is_batch,
        if(is_batch, JSONExtract(ids_raw, 'Array(String)'), [ids_raw]) AS ids,
        length(ids) AS n,
        if(Timestamp = 0, now64(9), Timestamp) AS timestamp,
        LogAttributes['ml.label'] AS label_raw,
        LogAttributes['ml.label.value'] AS label_value_raw,
        if(is_batch, arrayResize(JSONExtract(label_raw, 'Array(Nullable(String))'), n),
           [if(has(mapKeys(LogAttributes), 'ml.label'), label_raw, NULL)]) AS labels,
        if(is_batch, arrayResize(JSONExtract(label_value_raw, 'Array(Nullable(Float64))'), n),
           [toFloat64OrNull(label_value_raw)]) AS label_values
    FROM `db_0_1_0`.`otel_logs`
    WHERE LogAttributes['ml.model.name'] != ''
      AND (EventName = 'ml.label' OR LogAttributes['event.name'] = 'ml.label')
)
ARRAY JOIN
    ids AS prediction_id,
    labels AS label,
    label_values AS label_value_given
WHERE prediction_id != '';
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`otel_traces_ingest_mv` TO `db_0_1_0`.`otel_traces` AS
SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion,
    if(empty(SpanAttributesF64), SpanAttributes,
       mapUpdate(SpanAttributes, mapApply((k, v) -> (k, concat('[',
           arrayStringConcat(arrayMap(x -> if(isNull(x), 'null', if(position(toString(assumeNotNull(x)), 'e') > 0 AND position(toString(assumeNotNull(x)), 'e-') = 0, replaceOne(toString(assumeNotNull(x)), 'e', 'e+'), toString(assumeNotNull(x)))), v), ','), ']')), SpanAttributesF64))
    ) AS SpanAttributes,
    Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`,
    `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`
FROM `db_0_1_0`.`otel_traces_ingest`;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_predictions_ingest_mv` TO `db_0_1_0`.`ml_predictions` AS
SELECT
    MlModel AS model, MlVersion AS version, Timestamp AS timestamp, prediction_id,
    MlTask AS task, prediction_label, prediction_score, prediction_value,
    Duration / 1e9 AS latency_s, toUInt32(length(MlIds)) AS batch_size,
    toUInt32(row_number - 1) AS row_index, toUInt8(StatusCode = 'Error') AS is_error,
    ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id
FROM `db_0_1_0`.`otel_traces_ingest`
ARRAY JOIN
    MlIds AS prediction_id,
    MlLabels AS prediction_label,
    MlScores AS prediction_score,
    MlValues AS prediction_value,
    arrayEnumerate(MlIds) AS row_number
WHERE MlModel != '';
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_features_ingest_mv` TO `db_0_1_0`.`ml_features` AS
SELECT
    MlModel AS model, MlVersion AS version, feature, Timestamp AS timestamp, prediction_id,
    if(notEmpty(numbers), number, toFloat64OrNull(text)) AS value_num,
    if(notEmpty(numbers),
       if(categorical = 1 AND number IS NOT NULL, if(position(toString(assumeNotNull(number)), 'e') > 0 AND position(toString(assumeNotNull(number)), 'e-') = 0, replaceOne(toString(assumeNotNull(number)), 'e', 'e+'), toString(assumeNotNull(number))), NULL),
       if(categorical = 1 OR value_num IS NULL, text, NULL)) AS value,
    categorical
FROM `db_0_1_0`.`otel_traces_ingest`
ARRAY JOIN
    MlFeatures AS feature,
    MlCategorical AS categorical,
    MlFeatureNum AS numbers,
    MlFeatureText AS texts
ARRAY JOIN
    arrayResize(numbers, length(MlIds)) AS number,
    arrayResize(texts, length(MlIds)) AS text,
    MlIds AS prediction_id
WHERE MlModel != '';
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_results_latest_mv` TO `db_0_1_0`.`ml_results_latest` AS
SELECT model, version, kind, segment, feature, method, metric, source, window_start, window_end, value, threshold, status, computed_at FROM `db_0_1_0`.`ml_results`;
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_attributions_mv` TO `db_0_1_0`.`ml_attributions` AS
SELECT
    model, version, substring(attribution_key, 16) AS feature, timestamp, prediction_id,
    assumeNotNull(toFloat64OrNull(raw_value)) AS value
FROM
(
    SELECT model, version, Timestamp AS timestamp, is_batch, rows, ids, attribution_map
    FROM `db_0_1_0`.`ml_spans`
    WHERE projectable
)
ARRAY JOIN
    mapKeys(attribution_map) AS attribution_key,
    mapValues(attribution_map) AS attribution_raw
ARRAY JOIN
    if(is_batch,
       arrayResize(
           if(startsWith(attribution_raw, '[') AND position(attribution_raw, '"') = 0,
              arrayMap(x -> if(x = 'null', NULL, x), CAST(splitByChar(',',
                  substring(attribution_raw, 2, length(attribution_raw) - 2)),
                  'Array(Nullable(String))')),
              JSONExtract(attribution_raw, 'Array(Nullable(String))')),
           rows),
       [if(startsWith(attribution_raw, 'json: unsupported value'), NULL, attribution_raw)])
       AS raw_value,
    ids AS prediction_id
WHERE isFinite(ifNull(toFloat64OrNull(raw_value), nan));
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_attributions_ingest_mv` TO `db_0_1_0`.`ml_attributions` AS
SELECT
    MlModel AS model, MlVersion AS version, feature, Timestamp AS timestamp, prediction_id,
    assumeNotNull(if(notEmpty(numbers), number, toFloat64OrNull(text))) AS value
FROM `db_0_1_0`.`otel_traces_ingest`
ARRAY JOIN
    MlAttributions AS feature,
    MlAttributionNum AS numbers,
    MlAttributionText AS texts
ARRAY JOIN
    arrayResize(numbers, length(MlIds)) AS number,
    arrayResize(texts, length(MlIds)) AS text,
    MlIds AS prediction_id
WHERE MlModel != ''
  AND isFinite(ifNull(if(notEmpty(numbers), number, toFloat64OrNull(text)), nan));
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_ingest_issues_mv` TO `db_0_1_0`.`ml_ingest_issues` AS
SELECT
    Timestamp AS timestamp, now64(3) AS received_at, 'otel_traces' AS source, model, version,
    ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id, issue AS reason,
    toUInt8(issue != 'batch_size_mismatch') AS skipped, n AS predictions, declared_size,
    issue_size AS size, issue_limit AS max_size
FROM `db_0_1_0`.`ml_spans`
WHERE issue != '';
-- next
CREATE MATERIALIZED VIEW IF NOT EXISTS `db_0_1_0`.`ml_ingest_issues_ingest_mv` TO `db_0_1_0`.`ml_ingest_issues` AS
SELECT
    Timestamp AS timestamp, now64(3) AS received_at, 'receiver' AS source, MlModel AS model,
    MlVersion AS version, ServiceName AS service_name, TraceId AS trace_id, SpanId AS span_id,
    MlIssue AS reason, toUInt8(MlIssue != 'batch_size_mismatch') AS skipped,
    MlRows AS predictions, MlDeclaredSize AS declared_size, MlIssueSize AS size,
    MlIssueLimit AS max_size
FROM `db_0_1_0`.`otel_traces_ingest`
WHERE MlModel != '' AND MlIssue != '';
-- next
