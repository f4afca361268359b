/* tp_config — touchpointd's configuration: YAML in, one immutable struct out.
 *
 * Called by main() at start-up and on reload, and by `--check-config`. A
 * config is parsed and validated as a whole into a fresh tp_config_t; any
 * error refuses the whole file with "file:line: message", so a running
 * daemon keeps its old config (never half-applied). Every key is optional
 * and falls back to the defaults in shared/DESIGN.md.
 *
 * Keys are table-driven (tp_config_keys.c): one entry per dotted path with
 * its type, default, offset and a one-line description. Unknown keys are
 * errors, so a typo never silently becomes a default. The module's parts:
 * tp_config.c (load, free, the rules' questions), tp_config_yaml.c (the
 * walker), tp_config_types.c (a setter per key type), tp_config_values.c
 * (durations, addresses, field names), tp_config_checks.c (rules spanning
 * keys), tp_config_files.c (the secret files a config names),
 * tp_config_reload.c (what a reload may not change).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_MAX_INPUTS           16
#define TP_CHANNEL_COUNT        7 /* Channel enum values 0..6 (0 = UNSPECIFIED) */
#define TP_CONTRACT_TYPE_COUNT  6
#define TP_MAX_STEP_SLAS        64
#define TP_STEP_NAME_MAX        64
#define TP_MAX_FEEDBACK_SOURCES 32
#define TP_NATS_MAX_PARTITIONS  1024 /* nats.partition_count at most */
#define TP_MAX_LUA_RULES        32

typedef enum { TP_MODE_BIND = 0, TP_MODE_CONNECT = 1 } tp_mode_t;
typedef enum { TP_CLOCK_WALL = 0, TP_CLOCK_EVENT = 1 } tp_clock_mode_t;
/* nats.ownership: phase 1's static partition list, or KV leases (tp_cluster). */
enum { TP_OWNERSHIP_STATIC = 0, TP_OWNERSHIP_LEASE = 1 };
enum { TP_LATE_HOURS = 0, TP_LATE_MONTHLY = 1 }; /* rules.call_late.style */

/* Call fields a rule can require, as a bit mask. Names in the YAML are the
 * CallLogged field names: products, topics, notes, next_step, attendees,
 * account_id, territory. */
enum {
    TP_FIELD_PRODUCTS = 1u << 0,
    TP_FIELD_TOPICS = 1u << 1,
    TP_FIELD_NOTES = 1u << 2,
    TP_FIELD_NEXT_STEP = 1u << 3,
    TP_FIELD_ATTENDEES = 1u << 4,
    TP_FIELD_ACCOUNT_ID = 1u << 5,
    TP_FIELD_TERRITORY = 1u << 6,
};
#define TP_FIELD_COUNT 7

#define TP_Z85_KEY_LEN 40 /* a CURVE key in Z85: 32 bytes as 40 characters */

typedef struct {
    char     *endpoint;      /* owned; "tcp://127.0.0.1:7601", "ipc://..." */
    tp_mode_t mode;          /* bind or connect */
    int       hwm;           /* ZMQ_RCVHWM / ZMQ_SNDHWM, 0 = unlimited */
    char     *curve_clients; /* owned; allow-list file (bind, CURVE on), NULL = none */
    char *curve_server_key;  /* owned; the peer's Z85 public key (connect, CURVE on), NULL = none */
    char  name[32];          /* "inputs[0]", "output", "replay", "reliable_input": set by
                                  * tp_config_parse; logs and the ZAP domain use it */
} tp_endpoint_t;

typedef struct {
    char    name[TP_STEP_NAME_MAX]; /* step name, e.g. "FMV_REVIEW" */
    int64_t sla_ms;
} tp_step_sla_t;

/* How one survey tool scores (feedback_sources.<source>): scales differ in
 * length and direction, so "detractor" is decided per source. */
typedef struct {
    char *name;                /* owned; Envelope.source, e.g. "qualtrics-eu" */
    int   nps_max;             /* nps at or below this is a detractor (0..10) */
    int   effort_scale;        /* effort scores run 1..effort_scale (3..10) */
    bool  effort_high_is_hard; /* true: 7 = very hard; false: 1 = very hard */
    int   effort_threshold;    /* this hard or harder is a detractor */
} tp_feedback_source_t;

/* lua_rules[].config as the YAML wrote it, for the rule's ctx.config:
 * a map of scalars, lists and maps. A plain scalar that reads as a
 * duration ("30d") is a number of ms, as a number a number, true/false a
 * boolean; anything else (and anything quoted) a string. */
typedef enum {
    TP_TREE_STRING,
    TP_TREE_INTEGER,
    TP_TREE_NUMBER,
    TP_TREE_BOOL,
    TP_TREE_LIST,
    TP_TREE_MAP,
} tp_tree_kind_t;

typedef struct tp_config_tree {
    tp_tree_kind_t         kind;
    char                  *key;     /* owned; in a map, NULL in a list */
    char                  *str;     /* owned; STRING */
    int64_t                integer; /* INTEGER (durations in ms), BOOL (0/1) */
    double                 number;  /* NUMBER */
    struct tp_config_tree *items;   /* owned; LIST, MAP */
    size_t                 n_items;
} tp_config_tree_t;

/* One user-defined rule (lua_rules[i], daemon/rules/lua). */
typedef struct {
    char            *file;         /* owned; the rule's .lua file */
    tp_config_tree_t config;       /* a MAP, handed to the rule as ctx.config */
    uint64_t         instructions; /* Lua VM instructions per call */
    uint64_t         memory;       /* bytes the rule's Lua state may hold */
} tp_lua_rule_conf_t;

typedef struct tp_config {
    char         *path;                  /* owned; file it came from, "<embedded>" */
    tp_endpoint_t inputs[TP_MAX_INPUTS]; /* SUB sockets subscribed to "crm." */
    size_t        n_inputs;
    tp_endpoint_t output; /* PUB socket for alerts */
    struct {
        bool          enabled;
        tp_endpoint_t endpoint;         /* ROUTER: ["REPLAY", "<n>"] -> alerts after n */
        int64_t       stall_timeout_ms; /* a replay that sends nothing this long is dropped */
        unsigned      max_per_peer;     /* replays at once from one peer address */
    } replay;
    struct {
        bool          enabled;
        tp_endpoint_t endpoint; /* ROUTER: [topic, Envelope] -> ACK after commit */
    } reliable_input;
    struct {
        char *secret_key_file; /* owned; NULL = CURVE off on every endpoint */
    } curve;
    struct {
        bool     enabled;                /* alerts go to <state_dir>/journal.db first */
        int64_t  retention_ms;           /* prune alerts older than this (0 = keep) */
        uint64_t max_alerts;             /* keep at most this many (0 = no limit) */
        int64_t  event_retention_ms;     /* event log kept for rebuilding state */
        int64_t  commit_interval_ms;     /* 0: commit every loop turn; else at most this often */
        int64_t  checkpoint_interval_ms; /* the WAL is copied into the database this often */
        uint64_t wal_max_bytes;          /* past this the WAL is truncated (and cut back to it) */
    } journal;
    struct {
        bool     enabled;          /* snapshots of the engine's state (needs journal.enabled) */
        uint64_t every;            /* one after this many logged events (0 = not by count) */
        int64_t  interval_ms;      /* one at least this often when events came (0 = not by time) */
        uint64_t keep;             /* snapshots kept; the log is cut behind the oldest */
        int64_t  log_retention_ms; /* event log kept this long even behind a snapshot (audit) */
        int64_t  timeout_ms;       /* a writer child running longer is killed */
    } snapshot;
    struct {
        bool     enabled;            /* serve /healthz, /metrics, /status */
        char    *listen;             /* owned; "127.0.0.1:7605", "[::1]:7605" */
        unsigned max_connections;    /* concurrent connections; more get 503 */
        int64_t  request_timeout_ms; /* header + body of one request within this */
        int64_t  idle_timeout_ms;    /* silent between requests this long: closed */
        struct {
            bool   enabled;           /* POST /v1/events takes JSON events */
            size_t max_body_bytes;    /* larger request bodies get 413 */
            char  *bearer_token_file; /* owned; NULL = no token required */
        } ingest;
        struct {
            bool     enabled;           /* /dashboard/, /v1/alerts[/stream], /v1/kpi */
            char    *bearer_token_file; /* owned; NULL = no token required */
            char    *root;              /* owned; NULL = the installed page (tp_dash.h) */
            unsigned max_clients;       /* concurrent alert streams */
            size_t   max_client_buffer; /* bytes queued to one stream before it is cut */
            int64_t  keepalive_ms;      /* SSE comment period (and snapshot stall) */
        } dashboard;
    } http;
    struct {
        int64_t  trend_bucket_ms;    /* a trend period, aligned on Mondays 00:00 UTC */
        int64_t  trend_retention_ms; /* periods kept (at most 1040) */
        unsigned trend_max_groups;   /* territories kept apart; then "_other" */
    } kpi;
    struct {
        bool     enabled;         /* events from JetStream, alerts to it too */
        char    *url;             /* owned; "nats://127.0.0.1:4222" (comma-separated list) */
        unsigned partition_count; /* partitions of tp.events.<p>.<kind> */
        unsigned partitions[TP_NATS_MAX_PARTITIONS]; /* the ones this instance consumes */
        size_t   n_partitions;                       /* 0: every partition */
        char    *events_stream;                      /* owned; stream holding tp.events.> */
        char    *alerts_stream;                      /* owned; stream holding tp.alerts.> */
        char    *consumer;            /* owned; durable name prefix, "<consumer>-p<N>" */
        int64_t  ack_wait_ms;         /* an unacknowledged event is redelivered after this */
        int      ownership;           /* TP_OWNERSHIP_*: static list or KV leases */
        char    *instance;            /* owned; lease holder id, NULL = "<hostname>-<pid>" */
        char    *lease_bucket;        /* owned; KV bucket of partition leases */
        int64_t  lease_ttl_ms;        /* a lease not renewed within this is free */
        unsigned snapshot_every;      /* lease mode: a partition's snapshot every N events */
        char    *snapshot_stream;     /* owned; stream of the partitions' snapshots */
        unsigned snapshot_keep;       /* lease mode: snapshots kept per partition */
        unsigned replicas;            /* replicas of streams and bucket we create */
        int64_t  duplicate_window_ms; /* Nats-Msg-Id window of streams we create */
    } nats;
    tp_clock_mode_t clock;                  /* wall | event */
    char           *state_dir;              /* owned */
    size_t          dedup_window;           /* event_ids remembered for idempotency */
    size_t          max_sources;            /* per-source sequence trackers */
    size_t          max_message_bytes;      /* larger input messages are counted and dropped */
    size_t          max_open_cases_per_hcp; /* new contracts beyond this are refused */
    int64_t         call_retention_ms;      /* keep a call this long past its last deadline */
    int64_t         case_retention_ms;      /* keep a closed case this long after closing */
    int64_t         open_case_horizon_ms;   /* forget an open case this long after its last step */
    tp_feedback_source_t feedback_sources[TP_MAX_FEEDBACK_SOURCES];
    size_t               n_feedback_sources;
    tp_lua_rule_conf_t   lua_rules[TP_MAX_LUA_RULES];
    size_t               n_lua_rules;
    int64_t              log_interval_ms; /* rate-limit window for bad-input logs */
    unsigned             log_burst;       /* bad-input lines per window */

    struct {
        bool     enabled;
        unsigned required;                      /* TP_FIELD_* mask */
        unsigned by_channel[TP_CHANNEL_COUNT];  /* override per Channel value */
        bool     has_channel[TP_CHANNEL_COUNT]; /* true where by_channel is set */
    } call_incomplete;
    struct {
        bool     enabled;
        int64_t  submit_within_ms;    /* style hours: after call_at */
        int      style;               /* TP_LATE_HOURS or TP_LATE_MONTHLY */
        unsigned cutoff_day;          /* monthly: day N of month M+1 (UTC) */
        unsigned cutoff_by_month[13]; /* [1..12] per call month; 0 = cutoff_day */
    } call_late;
    struct {
        bool    enabled;
        int64_t submit_within_ms;
    } call_unsubmitted;
    struct {
        bool    enabled;
        int64_t follow_up_within_ms;
        int     nps_max;
        int     effort_min;
    } follow_up_missing;
    struct {
        bool     enabled;
        int64_t  window_ms;
        unsigned min_reps;
    } uncoordinated_contact;
    struct {
        bool     enabled;
        unsigned last_calls;
    } channel_mismatch;

    struct {
        bool          enabled;
        int64_t       default_sla_ms;
        tp_step_sla_t by_step[TP_MAX_STEP_SLAS];
        size_t        n_by_step;
        int64_t       by_contract_type_ms[TP_CONTRACT_TYPE_COUNT]; /* 0 = not set */
    } step_slow;
    struct {
        bool    enabled;
        int64_t stall_after_ms;
    } case_stalled;
    struct {
        bool     enabled;
        unsigned min_returns;
    } rework;
    struct {
        bool     enabled;
        unsigned max_owners;
    } handoffs;
    struct {
        bool     enabled;
        unsigned max_hcp_actions;
    } hcp_burden;
    struct {
        bool    enabled;
        int64_t target_ms[TP_CONTRACT_TYPE_COUNT];
    } cycle_time;
    struct {
        bool enabled;
        int  nps_max;
        int  effort_min;
    } negative_feedback;
} tp_config_t;

/* Parse YAML text. `name` is used in error messages ("name:line: ...").
 * On success returns 0 and stores a new config in *ret (caller owns, free
 * with tp_config_destroy). On failure returns a negative errno (-EINVAL for
 * a bad config, -ENOMEM) and, if err != NULL, writes one NUL-terminated line
 * "name:line: message" into err (errlen bytes). *ret is untouched on error. */
int tp_config_parse(const char *yaml, size_t len, const char *name, char *err, size_t errlen,
                    tp_config_t **ret);

/* As tp_config_parse, reading the file at `path`. A missing or unreadable
 * file is "path: <strerror>" and a negative errno. */
int tp_config_load(const char *path, char *err, size_t errlen, tp_config_t **ret);

/* Checks the files `c` names as the daemon reads them at start and on
 * reload: each bearer token file in use (http.ingest, http.dashboard) holds
 * a token and is not open to others, the CURVE secret key file holds a key
 * and is not open to others, and every bound endpoint's curve_clients file
 * holds only public keys. 0, or the reader's negative errno (-EPERM,
 * -EBADMSG, -ENOENT, ...) with one line "config: key 'file' reason" in err.
 * Used by --check-config, start-up and SIGHUP alike. */
int tp_config_check_files(const tp_config_t *c, char *err, size_t errlen);

/* The first key a reload from `old` to `next` would change that only a
 * restart can (state_dir, journal.enabled, curve.secret_key_file, clock,
 * limits.dedup_window, limits.max_sources, and any nats.* key while
 * JetStream mode is on), as the file names it; NULL if there is none. */
const char *tp_config_restart_key(const tp_config_t *old, const tp_config_t *next);

/* The embedded default config (loopback endpoints, ./var/touchpointd),
 * as YAML text; tp_config_parse() of it always succeeds. */
const char *tp_config_default_yaml(void);

/* Duration string with a unit: "250ms", "90s", "30m", "48h", "7d", "2w".
 * Returns 0 and stores milliseconds in *ret_ms, or -EINVAL. */
int tp_config_duration_parse(const char *s, int64_t *ret_ms);

/* Splits an http.listen address, "host:port" or "[ipv6]:port", with a
 * numeric IPv4 or IPv6 host (no name lookup) and a port 0..65535 (0 = any
 * free port). Returns 0, or -EINVAL with nothing written. */
int tp_config_listen_parse(const char *s, char *ret_host, size_t hostlen, unsigned *ret_port);

/* Field name <-> TP_FIELD_* bit; NULL / 0 when unknown. */
unsigned    tp_config_field_from_name(const char *name);
const char *tp_config_field_name(unsigned bit);

/* Required fields for a call on `channel` (Channel enum value). */
unsigned tp_config_required_fields(const tp_config_t *c, int channel);

/* SLA for a contracting step: by_step[step], else by_contract_type[type],
 * else default_sla. */
int64_t tp_config_step_sla(const tp_config_t *c, const char *step, int contract_type);

/* rules.call_late: the last on-time instant (unix ms) for a call at
 * call_at_ms — style hours, call_at + submit_within; style monthly,
 * 23:59:59.999 UTC on the cut-off day of the next month. Shared by the
 * call_late rule and the late-submission KPI, so both judge alike. */
int64_t tp_config_call_due(const tp_config_t *c, int64_t call_at_ms);

/* rules.call_late, style monthly: cut-off day N for calls of month0 (0 = JAN). */
unsigned tp_config_call_cutoff_day(const tp_config_t *c, int month0);

/* The scoring convention of feedback `source`, or NULL if it is not listed
 * (then each rule's nps_max / effort_min apply on a 1..7, high = hard scale). */
/* Frees what a tree node owns (not the node); accepts a zeroed one. */
void tp_config_tree_clear(tp_config_tree_t *t);

const tp_feedback_source_t *tp_config_feedback_source(const tp_config_t *c, const char *source);

/* How long after max(call_at, last version) a call can still be the
 * subject of a rule deadline (unsubmitted, late); the engine forgets a call
 * call_retention after that. */
int64_t tp_config_call_horizon(const tp_config_t *c);

/* Frees the config and NULLs the pointer; accepts NULL and *p == NULL. */
void tp_config_destroy(tp_config_t **p);
