/* tp_config_keys — the configuration key table; see tp_config_keys.h. */
#include "tp_config_keys.h"

#include <limits.h>

const char *const tp_config_modes[] = { "bind", "connect", NULL };
const char *const tp_config_late_styles[] = { "hours", "monthly", NULL };
const char *const tp_config_month_names[12] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};
const char *const tp_config_clocks[] = { "wall", "event", NULL };

static const char *const s_ownerships[] = { "static", "lease", NULL };

const char *const tp_config_field_names[TP_FIELD_COUNT] = {
    "products", "topics", "notes", "next_step", "attendees", "account_id", "territory",
};
/* Enum value i+1 (0 is UNSPECIFIED and never configurable). */
const char *const tp_config_channel_names[TP_CHANNEL_COUNT - 1] = {
    "IN_PERSON", "PHONE", "VIDEO", "EMAIL", "MESSAGING", "WEBINAR",
};
const char *const tp_config_contract_type_names[TP_CONTRACT_TYPE_COUNT - 1] = {
    "SPEAKER", "ADVISORY_BOARD", "CONSULTING", "ISS", "GRANT",
};

#define KEY(T, path, type, member, lo, hi, names, def, desc) \
    { path, type, offsetof(T, member), sizeof(((T *)0)->member), lo, hi, names, def, desc }
#define K(path, type, member, lo, hi, def, desc) \
    KEY(tp_config_t, path, type, member, lo, hi, NULL, def, desc)
#define KD(path, member, def, desc) \
    K(path, TP_CONFIG_DURATION, member, 1, TP_CONFIG_DURATION_MAX_MS, def, desc)
#define KU(path, member, lo, hi, def, desc) K(path, TP_CONFIG_UINT, member, lo, hi, def, desc)
#define KI(path, member, lo, hi, def, desc) K(path, TP_CONFIG_INT, member, lo, hi, def, desc)

#define RULE(r, desc) K("rules." #r ".enabled", TP_CONFIG_BOOL, r.enabled, 0, 1, "true", desc)

const tp_config_key_t tp_config_keys[] = {
    K("inputs", TP_CONFIG_INPUTS, inputs, 1, TP_MAX_INPUTS,
      "[{endpoint: \"tcp://127.0.0.1:7601\", mode: bind, hwm: 100000}]",
      "SUB sockets (subscribed to \"crm.\"), 1..16 maps {endpoint, mode, hwm}"),
    K("output.endpoint", TP_CONFIG_ENDPOINT, output.endpoint, 0, 0, "tcp://127.0.0.1:7602",
      "PUB socket for alerts"),
    KEY(tp_config_t, "output.mode", TP_CONFIG_ENUM, output.mode, 0, 0, tp_config_modes, "bind",
        "bind or connect the alert socket"),
    KI("output.hwm", output.hwm, 0, INT_MAX, "100000", "ZMQ_SNDHWM, 0 = unlimited"),
    K("output.curve_clients", TP_CONFIG_OPT_STRING, output.curve_clients, 0, 0, "\"\"",
      "CURVE on, bound: file of client public keys (Z85, one a line) allowed to subscribe"),
    K("output.curve_server_key", TP_CONFIG_Z85, output.curve_server_key, 0, 0, "\"\"",
      "CURVE on, connected: the peer's public key (Z85)"),
    K("curve.secret_key_file", TP_CONFIG_OPT_STRING, curve.secret_key_file, 0, 0, "\"\"",
      "the daemon's CURVE secret key (from tp-keygen); set = CURVE on every endpoint, \"\" = off"),
    K("replay.enabled", TP_CONFIG_BOOL, replay.enabled, 0, 1, "true",
      "serve journaled alerts to consumers that missed them (needs journal.enabled)"),
    K("replay.endpoint", TP_CONFIG_ENDPOINT, replay.endpoint.endpoint, 0, 0, "tcp://127.0.0.1:7604",
      "ROUTER socket: a DEALER sends [REPLAY, n] and gets every alert after sequence n"),
    KEY(tp_config_t, "replay.mode", TP_CONFIG_ENUM, replay.endpoint.mode, 0, 0, tp_config_modes,
        "bind", "bind or connect the replay socket"),
    K("replay.curve_clients", TP_CONFIG_OPT_STRING, replay.endpoint.curve_clients, 0, 0, "\"\"",
      "CURVE on, bound: file of client public keys allowed to replay"),
    K("replay.stall_timeout", TP_CONFIG_DURATION, replay.stall_timeout_ms, 100,
      TP_CONFIG_DURATION_MAX_MS, "30s",
      "a replay whose consumer takes nothing (its queue stays full) this long is dropped and its"
      " slot freed"),
    KU("replay.max_per_peer", replay.max_per_peer, 1, 64, "8",
       "replays at once from one peer IP address (of 64 in all); ipc:// peers: one per connection"),
    K("replay.curve_server_key", TP_CONFIG_Z85, replay.endpoint.curve_server_key, 0, 0, "\"\"",
      "CURVE on, connected: the peer's public key (Z85)"),
    K("reliable_input.enabled", TP_CONFIG_BOOL, reliable_input.enabled, 0, 1, "true",
      "at-least-once ingest: ACK each event once committed (needs journal.enabled)"),
    K("reliable_input.endpoint", TP_CONFIG_ENDPOINT, reliable_input.endpoint.endpoint, 0, 0,
      "tcp://127.0.0.1:7603",
      "ROUTER: a producer's DEALER sends [topic, Envelope], gets [ACK, id]"),
    KEY(tp_config_t, "reliable_input.mode", TP_CONFIG_ENUM, reliable_input.endpoint.mode, 0, 0,
        tp_config_modes, "bind", "bind or connect the reliable input"),
    KI("reliable_input.hwm", reliable_input.endpoint.hwm, 0, INT_MAX, "100000",
       "ZMQ_RCVHWM / ZMQ_SNDHWM of the reliable input"),
    K("reliable_input.curve_clients", TP_CONFIG_OPT_STRING, reliable_input.endpoint.curve_clients,
      0, 0, "\"\"", "CURVE on, bound: file of producer public keys allowed to send"),
    K("reliable_input.curve_server_key", TP_CONFIG_Z85, reliable_input.endpoint.curve_server_key, 0,
      0, "\"\"", "CURVE on, connected: the peer's public key (Z85)"),
    K("journal.enabled", TP_CONFIG_BOOL, journal.enabled, 0, 1, "true",
      "write every alert to <state_dir>/journal.db before publishing it"),
    KD("journal.retention", journal.retention_ms, "30d", "prune journaled alerts older than this"),
    KU("journal.max_alerts", journal.max_alerts, 1000, 1000000000, "1000000",
       "keep at most this many journaled alerts"),
    KD("journal.event_retention", journal.event_retention_ms, "200d",
       "keep the event log (replayed at start to rebuild state) this long"),
    K("journal.commit_interval", TP_CONFIG_DURATION, journal.commit_interval_ms, 0, 60000, "0ms",
      "0ms: each loop turn hands what it journals to the writer thread at its end (the writer"
      " commits whatever piled up meanwhile in one transaction); else at most one hand-over per"
      " interval (fewer writer wake-ups; alerts and ACKs wait up to that long more)"),
    K("journal.checkpoint_interval", TP_CONFIG_DURATION, journal.checkpoint_interval_ms, 10, 60000,
      "1s", "a thread of its own copies the journal's write-ahead log into journal.db this often"),
    KU("journal.wal_max_bytes", journal.wal_max_bytes, 65536, (int64_t)1 << 40, "67108864",
       "when journal.db-wal is larger after a checkpoint, it is started over from its beginning"
       " (the writer thread waits for that a few ms, the event loop does not); the file itself"
       " is cut to nothing once no event has come for 200 ms"),
    K("snapshot.enabled", TP_CONFIG_BOOL, snapshot.enabled, 0, 1, "true",
      "write the engine's whole state to <state_dir>/snapshot-<position>.tpsnap now and then, so"
      " a restart loads the newest good one and replays only the event log after it (needs"
      " journal.enabled; written by a forked child, the event loop does not wait). Off: none"
      " is taken, but those on disk are still loaded at start (the log behind them is gone)"),
    KU("snapshot.every", snapshot.every, 0, (int64_t)1 << 40, "1000000",
       "take a snapshot after this many logged events (0: not by count)"),
    K("snapshot.interval", TP_CONFIG_DURATION, snapshot.interval_ms, 0, TP_CONFIG_DURATION_MAX_MS,
      "1h", "take a snapshot at least this often while events come in (0ms: not by time)"),
    KU("snapshot.keep", snapshot.keep, 1, 100, "2",
       "snapshots kept (older ones are deleted); a restart falls back to the one before when the"
       " newest is unreadable, and the event log is deleted behind the oldest one kept"),
    K("snapshot.log_retention", TP_CONFIG_DURATION, snapshot.log_retention_ms, 0,
      TP_CONFIG_DURATION_MAX_MS, "0ms",
      "keep logged events this long even once a snapshot holds them, for audit (0ms: delete them"
      " behind the oldest snapshot kept; journal.event_retention still caps their age)"),
    K("snapshot.timeout", TP_CONFIG_DURATION, snapshot.timeout_ms, 1000, TP_CONFIG_DURATION_MAX_MS,
      "10m",
      "a writer child still running after this long is killed and its snapshot counted as"
      " failed (a hung writer would otherwise block every later snapshot); the next is tried at"
      " the next trigger"),
    K("http.enabled", TP_CONFIG_BOOL, http.enabled, 0, 1, "true",
      "serve /healthz, /metrics (Prometheus) and /status (JSON) over HTTP"),
    K("http.listen", TP_CONFIG_LISTEN, http.listen, 0, 0, "127.0.0.1:7605",
      "host:port of the HTTP endpoint, numeric host, IPv6 as [::1]:7605; port 0 = any free port"),
    KU("http.max_connections", http.max_connections, 1, 100000, "256",
       "concurrent HTTP connections (dashboard streams included); more are answered 503 and "
       "closed at once (http_connections_refused_total)"),
    K("http.request_timeout", TP_CONFIG_DURATION, http.request_timeout_ms, 100, 3600000, "30s",
      "a request's header and body must arrive whole within this of its first byte (of the "
      "accept, for a connection's first); slower ones are closed (http_connections_timed_out_total)"
      ", however steadily they trickle in"),
    K("http.idle_timeout", TP_CONFIG_DURATION, http.idle_timeout_ms, 1000, 3600000, "10s",
      "a connection that sends nothing for this long between requests is closed"),
    K("http.ingest.enabled", TP_CONFIG_BOOL, http.ingest.enabled, 0, 1, "false",
      "accept events as JSON on POST /v1/events (webhooks), answered once they are committed"),
    KU("http.ingest.max_body_bytes", http.ingest.max_body_bytes, 1024, 1 << 28, "1048576",
       "larger request bodies are refused with 413"),
    K("http.ingest.bearer_token_file", TP_CONFIG_OPT_STRING, http.ingest.bearer_token_file, 0, 0,
      "\"\"",
      "file holding the token clients send as Authorization: Bearer; \"\" = no token required"),
    K("http.dashboard.enabled", TP_CONFIG_BOOL, http.dashboard.enabled, 0, 1, "false",
      "serve the live dashboard (/dashboard/) and its data: /v1/alerts, /v1/alerts/stream, "
      "/v1/kpi"),
    K("http.dashboard.bearer_token_file", TP_CONFIG_OPT_STRING, http.dashboard.bearer_token_file, 0,
      0, "\"\"",
      "file holding the token /v1/alerts* and /v1/kpi require as Authorization: Bearer;"
      " \"\" = none"),
    K("http.dashboard.root", TP_CONFIG_OPT_STRING, http.dashboard.root, 0, 0, "\"\"",
      "directory of the page's files; \"\" = the installed one (share/touchpointd/dashboard)"),
    KU("http.dashboard.max_clients", http.dashboard.max_clients, 1, 10000, "32",
       "concurrent /v1/alerts/stream clients; more get 503"),
    KU("http.dashboard.max_client_buffer", http.dashboard.max_client_buffer, 4096, 1 << 30,
       "1048576", "bytes queued to one stream client that does not read; past it, cut off"),
    K("http.dashboard.keepalive", TP_CONFIG_DURATION, http.dashboard.keepalive_ms, 100, 3600000,
      "15s",
      "an SSE comment this often on every alert stream keeps proxies and dead peers honest; a "
      "stream whose snapshot took nothing over a whole interval is cut"),
    K("kpi.trend_bucket", TP_CONFIG_DURATION, kpi.trend_bucket_ms, 3600000, 7776000000LL, "7d",
      "period of the KPI trends (/v1/kpi/trend), aligned on Mondays 00:00 UTC: 7d = ISO weeks; "
      "read at start (a reload keeps the running one)"),
    K("kpi.trend_retention", TP_CONFIG_DURATION, kpi.trend_retention_ms, 3600000,
      TP_CONFIG_DURATION_MAX_MS, "728d",
      "trend periods older than this behind the newest are dropped (at most 1040 periods kept); "
      "read at start"),
    KU("kpi.trend_max_groups", kpi.trend_max_groups, 1, 10000, "200",
       "territories the trends keep apart (memory: up to ~20 KB each per period); later ones "
       "count under \"_other\"; read at start"),
    K("nats.enabled", TP_CONFIG_BOOL, nats.enabled, 0, 1, "false",
      "JetStream mode: consume events from nats.events_stream, publish alerts to nats.alerts_stream"
      " (needs journal.enabled; restart to change any nats key)"),
    K("nats.url", TP_CONFIG_STRING, nats.url, 0, 0, "nats://127.0.0.1:4222",
      "NATS server URL(s), comma-separated"),
    KU("nats.partition_count", nats.partition_count, 1, TP_NATS_MAX_PARTITIONS, "16",
       "partitions of tp.events.<p>.<kind>; producers hash hcp_id (FNV-1a 32) modulo this"),
    K("nats.partitions", TP_CONFIG_PARTITIONS, nats.partitions, 0, TP_NATS_MAX_PARTITIONS - 1, "[]",
      "partitions this instance consumes, each 0..partition_count-1; [] = all of them"),
    K("nats.events_stream", TP_CONFIG_STRING, nats.events_stream, 0, 0, "TP_EVENTS",
      "stream of tp.events.> (created if missing)"),
    K("nats.alerts_stream", TP_CONFIG_STRING, nats.alerts_stream, 0, 0, "TP_ALERTS",
      "stream of tp.alerts.> (created if missing)"),
    K("nats.consumer", TP_CONFIG_STRING, nats.consumer, 0, 0, "touchpointd",
      "durable consumer name prefix: one consumer <prefix>-p<N> per partition"),
    K("nats.ack_wait", TP_CONFIG_DURATION, nats.ack_wait_ms, 1000, 3600000, "30s",
      "an event not acknowledged (stored) within this is redelivered"),
    KEY(tp_config_t, "nats.ownership", TP_CONFIG_ENUM, nats.ownership, 0, 0, s_ownerships, "static",
        "static: consume nats.partitions; lease: share the partitions among live instances through"
        " KV leases, state rebuilt from the events stream (docs/jetstream.md)"),
    K("nats.instance", TP_CONFIG_OPT_STRING, nats.instance, 0, 0, "\"\"",
      "lease holder id of this instance, unique in the cluster (letters, digits, -_=);"
      " \"\" = <hostname>-<pid>"),
    K("nats.lease_bucket", TP_CONFIG_STRING, nats.lease_bucket, 0, 0, "TP_LEASES",
      "KV bucket of partition leases p.<N> and members m.<instance> (created if missing)"),
    K("nats.lease_ttl", TP_CONFIG_DURATION, nats.lease_ttl_ms, 1000, 3600000, "10s",
      "a lease (or member) not renewed within this expires; renewed every third of it"),
    KU("nats.snapshot_every", nats.snapshot_every, 0, 1000000000, "10000",
       "lease mode: each partition's engine state is saved to nats.snapshot_stream after this many"
       " of its events and when the instance stops; a take-over loads it and replays only the"
       " events after it (0 = never: a take-over replays the partition's whole stream)"),
    K("nats.snapshot_stream", TP_CONFIG_STRING, nats.snapshot_stream, 0, 0, "TP_SNAPSHOTS",
      "stream of tp.snapshots.> holding the newest snapshots of each partition (lease mode;"
      " created if missing)"),
    KU("nats.snapshot_keep", nats.snapshot_keep, 1, 100, "2",
       "lease mode: snapshots kept per partition, the newest ones; each save purges the older"
       " ones. A take-over whose newest snapshot is unusable loads the one before"),
    KU("nats.replicas", nats.replicas, 1, 5, "1",
       "replicas of the streams and the lease bucket the daemon creates (3 on a 3-node cluster)"),
    K("nats.duplicate_window", TP_CONFIG_DURATION, nats.duplicate_window_ms, 1000, 86400000, "10m",
      "Nats-Msg-Id window of the streams the daemon creates; covers an alert re-derived after a"
      " failover (lease_ttl + rebuild)"),
    KEY(tp_config_t, "clock", TP_CONFIG_ENUM, clock, 0, 0, tp_config_clocks, "wall",
        "wall (live) or event (backfill: now = newest event time or watermark)"),
    K("state_dir", TP_CONFIG_STRING, state_dir, 0, 0, "./var/touchpointd", "where state is kept"),
    KU("limits.dedup_window", dedup_window, 1, 100000000, "200000",
       "event_ids remembered for idempotency"),
    KU("limits.max_sources", max_sources, 1, 1000000, "1024",
       "distinct sources whose sequence numbers are tracked"),
    KU("limits.max_message_bytes", max_message_bytes, 64, 1 << 30, "1048576",
       "larger input messages are counted (oversize) and dropped"),
    KU("limits.max_open_cases_per_hcp", max_open_cases_per_hcp, 1, 1000000, "1000",
       "open contracts per HCP; an event opening one more is refused and counted"),
    KD("limits.call_retention", call_retention_ms, "7d",
       "keep a call this long after its last deadline, to recognise late duplicates"),
    KD("limits.case_retention", case_retention_ms, "7d",
       "keep a closed contracting case this long after it closed"),
    KD("limits.open_case_horizon", open_case_horizon_ms, "180d",
       "forget an open contracting case this long after its last step event"),
    K("feedback_sources", TP_CONFIG_FEEDBACK_SOURCES, feedback_sources, 0, TP_MAX_FEEDBACK_SOURCES,
      "{}",
      "SOURCE: {nps_max, effort_scale, effort_high_is_hard, effort_threshold}, per survey tool"),
    K("lua_rules", TP_CONFIG_LUA_RULES, lua_rules, 0, TP_MAX_LUA_RULES, "[]",
      "user-defined rules in Lua 5.4 (docs/lua-rules.md), 0..32 maps {file, config, budget}"),
    KD("log.bad_input_interval", log_interval_ms, "10s", "rate-limit window for bad-input logs"),
    KU("log.bad_input_burst", log_burst, 1, 1000000, "10", "bad-input log lines per window"),

    RULE(call_incomplete, "a SUBMITTED call lacks a required field"),
    K("rules.call_incomplete.required", TP_CONFIG_FIELDSET, call_incomplete.required, 0, 0,
      "[products, topics, notes, next_step]", "fields every submitted call must have"),
    K("rules.call_incomplete.by_channel", TP_CONFIG_BY_CHANNEL, call_incomplete.by_channel, 0, 0,
      "{}", "CHANNEL: [fields], replaces `required` for that channel"),
    RULE(call_late, "a call submitted more than submit_within after it happened"),
    KD("rules.call_late.submit_within", call_late.submit_within_ms, "48h",
       "style hours: allowed delay between call_at and submission"),
    KEY(tp_config_t, "rules.call_late.style", TP_CONFIG_ENUM, call_late.style, 0, 0,
        tp_config_late_styles, "hours",
        "hours (submit_within after the call) or monthly (calls of month M by day N of M+1)"),
    KU("rules.call_late.cutoff_day", call_late.cutoff_day, 1, 28, "5",
       "style monthly: day N of the next month (UTC) by which a month's calls are due"),
    K("rules.call_late.cutoff_by_month", TP_CONFIG_BY_MONTH, call_late.cutoff_by_month, 1, 28, "{}",
      "style monthly: MONTH: day, overrides cutoff_day for calls of that month (JAN..DEC)"),
    RULE(call_unsubmitted, "a planned or saved call still not submitted at the deadline"),
    KD("rules.call_unsubmitted.submit_within", call_unsubmitted.submit_within_ms, "48h",
       "deadline after call_at"),
    RULE(follow_up_missing, "a detractor got no submitted call in time"),
    KD("rules.follow_up_missing.follow_up_within", follow_up_missing.follow_up_within_ms, "7d",
       "time allowed for the follow-up call"),
    KI("rules.follow_up_missing.nps_max", follow_up_missing.nps_max, 0, 10, "6",
       "nps at or below this is a detractor"),
    KI("rules.follow_up_missing.effort_min", follow_up_missing.effort_min, 1, 7, "5",
       "effort_score at or above this is a detractor"),
    RULE(uncoordinated_contact, "too many reps calling one HCP in a short window"),
    KD("rules.uncoordinated_contact.window", uncoordinated_contact.window_ms, "7d",
       "sliding window"),
    KU("rules.uncoordinated_contact.min_reps", uncoordinated_contact.min_reps, 2, 1000, "3",
       "distinct reps in the window that fire"),
    RULE(channel_mismatch, "recent calls ignore the HCP's preferred channel"),
    KU("rules.channel_mismatch.last_calls", channel_mismatch.last_calls, 1, 100, "3",
       "consecutive calls off the preferred channel that fire"),
    RULE(step_slow, "a contracting step open longer than its SLA"),
    KD("rules.step_slow.default_sla", step_slow.default_sla_ms, "5d",
       "SLA for steps not listed in by_step"),
    K("rules.step_slow.by_step", TP_CONFIG_BY_STEP, step_slow.by_step, 0, 0, "{}",
      "STEP_NAME: duration, at most 64 steps"),
    K("rules.step_slow.by_contract_type", TP_CONFIG_TARGETS, step_slow.by_contract_type_ms, 0, 0,
      "{}", "CONTRACT_TYPE: duration, the SLA for steps of that type not listed in by_step"),
    RULE(case_stalled, "an open contract with no step event for too long"),
    KD("rules.case_stalled.stall_after", case_stalled.stall_after_ms, "10d",
       "silence that counts as stalled"),
    RULE(rework, "one step sent back again and again"),
    KU("rules.rework.min_returns", rework.min_returns, 1, 1000, "2",
       "RETURNED count on one step that fires"),
    RULE(handoffs, "too many people handling one contract"),
    KU("rules.handoffs.max_owners", handoffs.max_owners, 1, 1000, "3",
       "distinct owners allowed; one more fires"),
    RULE(hcp_burden, "too many asks of the HCP on one contract"),
    KU("rules.hcp_burden.max_hcp_actions", hcp_burden.max_hcp_actions, 0, 1000, "4",
       "hcp_action step events allowed; one more fires"),
    RULE(cycle_time, "a contract closed later than its type's target"),
    K("rules.cycle_time.targets", TP_CONFIG_TARGETS, cycle_time.target_ms, 0, 0,
      "{SPEAKER: 14d, ADVISORY_BOARD: 21d, CONSULTING: 21d, ISS: 60d, GRANT: 45d}",
      "CONTRACT_TYPE: duration; a partial map overrides only the types listed"),
    RULE(negative_feedback, "feedback on a contract (or general) is negative"),
    KI("rules.negative_feedback.nps_max", negative_feedback.nps_max, 0, 10, "6",
       "nps at or below this is negative"),
    KI("rules.negative_feedback.effort_min", negative_feedback.effort_min, 1, 7, "5",
       "effort_score at or above this is negative"),
};

/* One item of `inputs`, relative to tp_endpoint_t. */
const tp_config_key_t tp_config_input_keys[] = {
    KEY(tp_endpoint_t, "endpoint", TP_CONFIG_ENDPOINT, endpoint, 0, 0, NULL, NULL,
        "address to bind or connect"),
    KEY(tp_endpoint_t, "mode", TP_CONFIG_ENUM, mode, 0, 0, tp_config_modes, "bind",
        "bind the address, or connect to a producer's"),
    KEY(tp_endpoint_t, "hwm", TP_CONFIG_INT, hwm, 0, INT_MAX, NULL, "100000",
        "ZMQ_RCVHWM, 0 = unlimited"),
    KEY(tp_endpoint_t, "curve_clients", TP_CONFIG_OPT_STRING, curve_clients, 0, 0, NULL, "\"\"",
        "CURVE on, bound: file of producer public keys (Z85, one a line) allowed to send"),
    KEY(tp_endpoint_t, "curve_server_key", TP_CONFIG_Z85, curve_server_key, 0, 0, NULL, "\"\"",
        "CURVE on, connected: the producer's public key (Z85)"),
};

/* One entry of `feedback_sources`, relative to tp_feedback_source_t. */
const tp_config_key_t tp_config_feedback_source_keys[] = {
    KEY(tp_feedback_source_t, "nps_max", TP_CONFIG_INT, nps_max, 0, 10, NULL, "6",
        "nps at or below this is a detractor"),
    KEY(tp_feedback_source_t, "effort_scale", TP_CONFIG_INT, effort_scale, 3, 10, NULL, "7",
        "effort scores run 1..effort_scale"),
    KEY(tp_feedback_source_t, "effort_high_is_hard", TP_CONFIG_BOOL, effort_high_is_hard, 0, 1,
        NULL, "true", "true: the highest score is the hardest; false: 1 is the hardest"),
    KEY(tp_feedback_source_t, "effort_threshold", TP_CONFIG_INT, effort_threshold, 1, 10, NULL, "5",
        "a score this hard or harder is a detractor"),
};
const size_t tp_config_n_feedback_source_keys =
    sizeof tp_config_feedback_source_keys / sizeof tp_config_feedback_source_keys[0];

/* One item of `lua_rules`, relative to tp_lua_rule_conf_t. */
const tp_config_key_t tp_config_lua_rule_keys[] = {
    KEY(tp_lua_rule_conf_t, "file", TP_CONFIG_STRING, file, 0, 0, NULL, NULL,
        "the rule's .lua file (returns its table: name, kind, events, on_event, on_deadline);"
        " re-read on SIGHUP"),
    KEY(tp_lua_rule_conf_t, "config", TP_CONFIG_TREE, config, 0, 0, NULL, "{}",
        "handed to the rule as ctx.config: numbers, booleans, strings, lists, maps; durations"
        " (30d) in ms"),
    KEY(tp_lua_rule_conf_t, "budget.instructions", TP_CONFIG_UINT, instructions, 1000, 1000000000,
        NULL, "100000", "Lua VM instructions one call may run; past it the call is abandoned"),
    KEY(tp_lua_rule_conf_t, "budget.memory", TP_CONFIG_SIZE, memory, 65536, (int64_t)1 << 30, NULL,
        "4MiB", "bytes the rule's Lua state may hold; an allocation past it fails the call"),
};
const size_t tp_config_n_lua_rule_keys =
    sizeof tp_config_lua_rule_keys / sizeof tp_config_lua_rule_keys[0];

const size_t tp_config_n_keys = sizeof tp_config_keys / sizeof tp_config_keys[0];
const size_t tp_config_n_input_keys = sizeof tp_config_input_keys / sizeof tp_config_input_keys[0];

const char *tp_config_default_yaml(void) {
    return "# touchpointd built-in defaults (see docs/configuration.md)\n"
           "inputs:\n"
           "  - { endpoint: \"tcp://127.0.0.1:7601\", mode: bind, hwm: 100000, curve_clients: "
           "\"\",\n"
           "      curve_server_key: \"\" }\n"
           "output: { endpoint: \"tcp://127.0.0.1:7602\", mode: bind, hwm: 100000, curve_clients: "
           "\"\",\n"
           "          curve_server_key: \"\" }\n"
           "replay: { enabled: true, endpoint: \"tcp://127.0.0.1:7604\", mode: bind, "
           "curve_clients: \"\",\n"
           "          curve_server_key: \"\", stall_timeout: 30s, max_per_peer: 8 }\n"
           "reliable_input: { enabled: true, endpoint: \"tcp://127.0.0.1:7603\", mode: bind,"
           " hwm: 100000,\n"
           "                  curve_clients: \"\", curve_server_key: \"\" }\n"
           "curve: { secret_key_file: \"\" }\n"
           "journal: { enabled: true, retention: 30d, max_alerts: 1000000, event_retention: 200d,"
           " commit_interval: 0ms,\n"
           "           checkpoint_interval: 1s, wal_max_bytes: 67108864 }\n"
           "snapshot: { enabled: true, every: 1000000, interval: 1h, keep: 2, log_retention: 0ms,"
           " timeout: 10m }\n"
           "http:\n"
           "  enabled: true\n"
           "  listen: \"127.0.0.1:7605\"\n"
           "  max_connections: 256\n"
           "  request_timeout: 30s\n"
           "  idle_timeout: 10s\n"
           "  ingest: { enabled: false, max_body_bytes: 1048576, bearer_token_file: \"\" }\n"
           "  dashboard: { enabled: false, bearer_token_file: \"\", root: \"\", max_clients: 32,\n"
           "               max_client_buffer: 1048576, keepalive: 15s }\n"
           "kpi: { trend_bucket: 7d, trend_retention: 728d, trend_max_groups: 200 }\n"
           "nats:\n"
           "  { enabled: false, url: \"nats://127.0.0.1:4222\", partition_count: 16, partitions: "
           "[],\n"
           "    events_stream: TP_EVENTS, alerts_stream: TP_ALERTS, consumer: touchpointd,\n"
           "    ack_wait: 30s, ownership: static, instance: \"\", lease_bucket: TP_LEASES,\n"
           "    lease_ttl: 10s, snapshot_every: 10000, snapshot_stream: TP_SNAPSHOTS,\n"
           "    snapshot_keep: 2, replicas: 1,\n"
           "    duplicate_window: 10m }\n"
           "clock: wall\n"
           "state_dir: ./var/touchpointd\n"
           "limits:\n"
           "  { dedup_window: 200000, max_sources: 1024, max_message_bytes: 1048576,\n"
           "    max_open_cases_per_hcp: 1000, call_retention: 7d,\n"
           "    case_retention: 7d, open_case_horizon: 180d }\n"
           "feedback_sources: {}\n"
           "lua_rules: []\n"
           "log: { bad_input_interval: 10s, bad_input_burst: 10 }\n"
           "rules:\n"
           "  call_incomplete:\n"
           "    enabled: true\n"
           "    required: [products, topics, notes, next_step]\n"
           "    by_channel: {}\n"
           "  call_late: { enabled: true, submit_within: 48h, style: hours, cutoff_day: 5, "
           "cutoff_by_month: {} }\n"
           "  call_unsubmitted: { enabled: true, submit_within: 48h }\n"
           "  follow_up_missing: { enabled: true, follow_up_within: 7d, nps_max: 6, effort_min: 5 "
           "}\n"
           "  uncoordinated_contact: { enabled: true, window: 7d, min_reps: 3 }\n"
           "  channel_mismatch: { enabled: true, last_calls: 3 }\n"
           "  step_slow: { enabled: true, default_sla: 5d, by_step: {}, by_contract_type: {} }\n"
           "  case_stalled: { enabled: true, stall_after: 10d }\n"
           "  rework: { enabled: true, min_returns: 2 }\n"
           "  handoffs: { enabled: true, max_owners: 3 }\n"
           "  hcp_burden: { enabled: true, max_hcp_actions: 4 }\n"
           "  cycle_time:\n"
           "    enabled: true\n"
           "    targets: { SPEAKER: 14d, ADVISORY_BOARD: 21d, CONSULTING: 21d, ISS: 60d, GRANT: "
           "45d }\n"
           "  negative_feedback: { enabled: true, nps_max: 6, effort_min: 5 }\n";
}
