/* test_config — tp_config: defaults, every key type, every error with its
 * line, durations, loading from disk, and the lookup helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tp_config.h"

#define HOUR ((int64_t)3600000)
#define DAY  (24 * HOUR)

static char s_err[512];

static tp_config_t *parse_ok(const char *yaml)
{
    tp_config_t *c = NULL;
    int r = tp_config_parse(yaml, strlen(yaml), "t.yaml", s_err, sizeof(s_err), &c);
    if (r != 0)
        fail_msg("unexpected error %d: %s", r, s_err);
    assert_non_null(c);
    return c;
}

/* Parses `yaml`, expects -EINVAL, an error starting "t.yaml:<line>: " and
 * containing `needle`, and *ret left alone. */
static void parse_fails(const char *yaml, unsigned line, const char *needle)
{
    tp_config_t *sentinel = (tp_config_t *)&s_err, *c = sentinel;
    char prefix[32];
    int r = tp_config_parse(yaml, strlen(yaml), "t.yaml", s_err, sizeof(s_err), &c);
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(c, sentinel);
    snprintf(prefix, sizeof(prefix), "t.yaml:%u: ", line);
    if (strncmp(s_err, prefix, strlen(prefix)) || !strstr(s_err, needle))
        fail_msg("yaml:\n%s\nwant \"%s...%s\", got \"%s\"", yaml, prefix, needle, s_err);
    assert_null(strchr(s_err, '\n'));
}

static void assert_defaults(const tp_config_t *c)
{
    assert_int_equal(c->n_inputs, 1);
    assert_string_equal(c->inputs[0].endpoint, "tcp://127.0.0.1:7601");
    assert_int_equal(c->inputs[0].mode, TP_MODE_BIND);
    assert_int_equal(c->inputs[0].hwm, 100000);
    assert_string_equal(c->output.endpoint, "tcp://127.0.0.1:7602");
    assert_int_equal(c->output.mode, TP_MODE_BIND);
    assert_int_equal(c->output.hwm, 100000);
    assert_null(c->curve.secret_key_file);
    assert_null(c->inputs[0].curve_clients);
    assert_null(c->inputs[0].curve_server_key);
    assert_null(c->output.curve_clients);
    assert_null(c->output.curve_server_key);
    assert_null(c->replay.endpoint.curve_clients);
    assert_null(c->reliable_input.endpoint.curve_server_key);
    assert_string_equal(c->inputs[0].name, "inputs[0]");
    assert_string_equal(c->output.name, "output");
    assert_string_equal(c->replay.endpoint.name, "replay");
    assert_string_equal(c->reliable_input.endpoint.name, "reliable_input");
    assert_int_equal(c->clock, TP_CLOCK_WALL);
    assert_string_equal(c->state_dir, "./var/touchpointd");
    assert_int_equal(c->dedup_window, 200000);
    assert_int_equal(c->max_sources, 1024);
    assert_int_equal(c->max_message_bytes, 1048576);
    assert_int_equal(c->max_open_cases_per_hcp, 1000);
    assert_int_equal(c->log_interval_ms, 10000);
    assert_int_equal(c->log_burst, 10);
    assert_true(c->http.enabled);
    assert_string_equal(c->http.listen, "127.0.0.1:7605");
    assert_false(c->http.ingest.enabled);
    assert_int_equal(c->http.ingest.max_body_bytes, 1048576);
    assert_null(c->http.ingest.bearer_token_file);
    assert_false(c->nats.enabled);
    assert_string_equal(c->nats.url, "nats://127.0.0.1:4222");
    assert_int_equal(c->nats.partition_count, 16);
    assert_int_equal(c->nats.n_partitions, 0);
    assert_string_equal(c->nats.events_stream, "TP_EVENTS");
    assert_string_equal(c->nats.alerts_stream, "TP_ALERTS");
    assert_string_equal(c->nats.consumer, "touchpointd");
    assert_int_equal(c->nats.ack_wait_ms, 30000);
    assert_int_equal(c->nats.ownership, TP_OWNERSHIP_STATIC);
    assert_null(c->nats.instance);
    assert_string_equal(c->nats.lease_bucket, "TP_LEASES");
    assert_int_equal(c->nats.lease_ttl_ms, 10000);
    assert_int_equal(c->nats.replicas, 1);
    assert_int_equal(c->nats.duplicate_window_ms, 600000);

    assert_true(c->call_incomplete.enabled);
    assert_int_equal(c->call_incomplete.required,
                     TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP);
    for (int ch = 0; ch < TP_CHANNEL_COUNT; ch++)
        assert_false(c->call_incomplete.has_channel[ch]);
    assert_true(c->call_late.enabled);
    assert_int_equal(c->call_late.submit_within_ms, 48 * HOUR);
    assert_true(c->call_unsubmitted.enabled);
    assert_int_equal(c->call_unsubmitted.submit_within_ms, 48 * HOUR);
    assert_true(c->follow_up_missing.enabled);
    assert_int_equal(c->follow_up_missing.follow_up_within_ms, 7 * DAY);
    assert_int_equal(c->follow_up_missing.nps_max, 6);
    assert_int_equal(c->follow_up_missing.effort_min, 5);
    assert_true(c->uncoordinated_contact.enabled);
    assert_int_equal(c->uncoordinated_contact.window_ms, 7 * DAY);
    assert_int_equal(c->uncoordinated_contact.min_reps, 3);
    assert_true(c->channel_mismatch.enabled);
    assert_int_equal(c->channel_mismatch.last_calls, 3);
    assert_true(c->step_slow.enabled);
    assert_int_equal(c->step_slow.default_sla_ms, 5 * DAY);
    assert_int_equal(c->step_slow.n_by_step, 0);
    assert_true(c->case_stalled.enabled);
    assert_int_equal(c->case_stalled.stall_after_ms, 10 * DAY);
    assert_true(c->rework.enabled);
    assert_int_equal(c->rework.min_returns, 2);
    assert_true(c->handoffs.enabled);
    assert_int_equal(c->handoffs.max_owners, 3);
    assert_true(c->hcp_burden.enabled);
    assert_int_equal(c->hcp_burden.max_hcp_actions, 4);
    assert_true(c->cycle_time.enabled);
    assert_int_equal(c->cycle_time.target_ms[1], 14 * DAY);
    assert_int_equal(c->cycle_time.target_ms[2], 21 * DAY);
    assert_int_equal(c->cycle_time.target_ms[3], 21 * DAY);
    assert_int_equal(c->cycle_time.target_ms[4], 60 * DAY);
    assert_int_equal(c->cycle_time.target_ms[5], 45 * DAY);
    assert_true(c->negative_feedback.enabled);
    assert_int_equal(c->negative_feedback.nps_max, 6);
    assert_int_equal(c->negative_feedback.effort_min, 5);
}

static void test_defaults_empty(void **state)
{
    (void)state;
    static const char *const docs[] = { "", "# only a comment\n", "---\n", "~\n", "rules:\n",
                                        "rules: {}\nlimits:\n" };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        tp_config_t *c = parse_ok(docs[i]);
        assert_defaults(c);
        assert_string_equal(c->path, "t.yaml");
        tp_config_destroy(&c);
        assert_null(c);
    }
    /* NULL text of length 0 is an empty document too. */
    tp_config_t *c = NULL;
    assert_int_equal(tp_config_parse(NULL, 0, NULL, NULL, 0, &c), 0);
    assert_defaults(c);
    tp_config_destroy(&c);
    tp_config_destroy(&c);
    tp_config_destroy(NULL);
}

static void test_defaults_embedded(void **state)
{
    (void)state;
    const char *y = tp_config_default_yaml();
    tp_config_t *c = NULL;
    assert_int_equal(tp_config_parse(y, strlen(y), "<embedded>", s_err, sizeof(s_err), &c), 0);
    assert_defaults(c);
    assert_string_equal(c->path, "<embedded>");
    tp_config_destroy(&c);
}

static const char s_design_sample[] =
    "inputs:                         # one or more; each a SUB socket subscribed to \"crm.\"\n"
    "  - endpoint: tcp://127.0.0.1:7601\n"
    "    mode: bind                  # bind | connect\n"
    "output:\n"
    "  endpoint: tcp://127.0.0.1:7602  # PUB socket for alerts\n"
    "  mode: bind\n"
    "clock: wall                     # wall | event\n"
    "state_dir: ./var/touchpointd\n"
    "rules:\n"
    "  call_incomplete:\n"
    "    enabled: true\n"
    "    required: [products, topics, notes, next_step]\n"
    "    by_channel:\n"
    "      EMAIL: [products, notes]\n"
    "  call_late:        { submit_within: 48h }\n"
    "  call_unsubmitted: { submit_within: 48h }\n"
    "  step_slow:\n"
    "    default_sla: 5d\n"
    "    by_step: { FMV_REVIEW: 3d, COMPLIANCE_APPROVAL: 7d }\n";

static void test_design_sample(void **state)
{
    (void)state;
    tp_config_t *c = parse_ok(s_design_sample);
    assert_int_equal(c->n_inputs, 1);
    assert_string_equal(c->inputs[0].endpoint, "tcp://127.0.0.1:7601");
    assert_string_equal(c->output.endpoint, "tcp://127.0.0.1:7602");
    assert_true(c->call_incomplete.has_channel[4]);
    assert_int_equal(c->call_incomplete.by_channel[4], TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(tp_config_required_fields(c, 4), TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(tp_config_required_fields(c, 1),
                     TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP);
    assert_int_equal(c->step_slow.n_by_step, 2);
    assert_int_equal(tp_config_step_sla(c, "FMV_REVIEW", 0), 3 * DAY);
    assert_int_equal(tp_config_step_sla(c, "COMPLIANCE_APPROVAL", 0), 7 * DAY);
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 0), 5 * DAY);
    assert_int_equal(tp_config_step_sla(c, NULL, 0), 5 * DAY);
    assert_int_equal(c->call_late.submit_within_ms, 48 * HOUR);
    tp_config_destroy(&c);
}

static void test_example_file(void **state)
{
    (void)state;
    tp_config_t *c = NULL;
    int r = tp_config_load(TP_SOURCE_DIR "/examples/touchpointd.yaml", s_err, sizeof(s_err), &c);
    if (r != 0)
        fail_msg("%s", s_err);
    assert_defaults(c);     /* the example spells out every default */
    tp_config_destroy(&c);
}

/* http.listen: numeric IPv4 or bracketed IPv6, port 0 = any free port. */
static void test_http_listen(void **state)
{
    (void)state;
    tp_config_t *c = parse_ok("http: { enabled: false, listen: \"[::1]:0\" }\n");
    assert_false(c->http.enabled);
    assert_string_equal(c->http.listen, "[::1]:0");
    char host[64];
    unsigned port = 1;
    assert_int_equal(tp_config_listen_parse(c->http.listen, host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(tp_config_listen_parse("0.0.0.0:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 65535);
    assert_int_equal(tp_config_listen_parse("10.0.0.1:80", host, 4, &port), -EINVAL);   /* host too long */
    assert_int_equal(tp_config_listen_parse("10.0.0.1:", host, sizeof host, &port), -EINVAL);
    tp_config_destroy(&c);

    /* http.ingest: every key; "" turns the token off again. */
    c = parse_ok("http:\n  ingest: { enabled: true, max_body_bytes: 4096,\n"
                 "            bearer_token_file: /etc/touchpointd/ingest.token }\n");
    assert_true(c->http.ingest.enabled);
    assert_int_equal(c->http.ingest.max_body_bytes, 4096);
    assert_string_equal(c->http.ingest.bearer_token_file, "/etc/touchpointd/ingest.token");
    tp_config_destroy(&c);
    c = parse_ok("http: { ingest: { bearer_token_file: \"\" } }\n");
    assert_null(c->http.ingest.bearer_token_file);
    tp_config_destroy(&c);
}

static void test_types(void **state)
{
    (void)state;
    tp_config_t *c = parse_ok(
        "inputs:\n"
        "  - endpoint: ipc:///tmp/tp-in\n"
        "  - { endpoint: \"tcp://10.0.0.1:7601\", mode: connect, hwm: 0 }\n"
        "output: { endpoint: inproc://alerts, mode: connect, hwm: 5 }\n"
        "clock: event\n"
        "state_dir: /var/lib/touchpointd\n"
        "limits: { dedup_window: 1, max_sources: 7, max_message_bytes: 64 }\n"
        "log: { bad_input_interval: 250ms, bad_input_burst: 3 }\n"
        "rules:\n"
        "  call_incomplete:\n"
        "    enabled: false\n"
        "    required: []\n"
        "    by_channel: { CHANNEL_PHONE: [attendees, account_id], WEBINAR: [territory] }\n"
        "  follow_up_missing: { nps_max: 0, effort_min: 7 }\n"
        "  negative_feedback: { nps_max: 10, effort_min: 1 }\n"
        "  uncoordinated_contact: { window: 2w, min_reps: 5 }\n"
        "  hcp_burden: { max_hcp_actions: 0 }\n"
        "  cycle_time: { targets: { ISS: 30d, CONTRACT_TYPE_GRANT: 1w } }\n"
        "  case_stalled: { enabled: false, stall_after: 90m }\n");
    assert_int_equal(c->n_inputs, 2);
    assert_string_equal(c->inputs[0].endpoint, "ipc:///tmp/tp-in");
    assert_int_equal(c->inputs[0].mode, TP_MODE_BIND);
    assert_int_equal(c->inputs[0].hwm, 100000);
    assert_string_equal(c->inputs[1].endpoint, "tcp://10.0.0.1:7601");
    assert_int_equal(c->inputs[1].mode, TP_MODE_CONNECT);
    assert_int_equal(c->inputs[1].hwm, 0);
    assert_string_equal(c->output.endpoint, "inproc://alerts");
    assert_int_equal(c->output.mode, TP_MODE_CONNECT);
    assert_int_equal(c->output.hwm, 5);
    assert_int_equal(c->clock, TP_CLOCK_EVENT);
    assert_string_equal(c->state_dir, "/var/lib/touchpointd");
    assert_int_equal(c->dedup_window, 1);
    assert_int_equal(c->max_sources, 7);
    assert_int_equal(c->max_message_bytes, 64);
    assert_int_equal(c->log_interval_ms, 250);
    assert_int_equal(c->log_burst, 3);
    assert_false(c->call_incomplete.enabled);
    assert_int_equal(c->call_incomplete.required, 0);
    assert_int_equal(tp_config_required_fields(c, 2), TP_FIELD_ATTENDEES | TP_FIELD_ACCOUNT_ID);
    assert_int_equal(tp_config_required_fields(c, 6), TP_FIELD_TERRITORY);
    assert_int_equal(tp_config_required_fields(c, 4), 0);
    assert_int_equal(tp_config_required_fields(c, 0), 0);
    assert_int_equal(tp_config_required_fields(c, -1), 0);
    assert_int_equal(tp_config_required_fields(c, 99), 0);
    assert_int_equal(c->follow_up_missing.nps_max, 0);
    assert_int_equal(c->follow_up_missing.effort_min, 7);
    assert_int_equal(c->negative_feedback.nps_max, 10);
    assert_int_equal(c->negative_feedback.effort_min, 1);
    assert_int_equal(c->uncoordinated_contact.window_ms, 14 * DAY);
    assert_int_equal(c->uncoordinated_contact.min_reps, 5);
    assert_int_equal(c->hcp_burden.max_hcp_actions, 0);
    /* A partial targets map overrides only the types it lists. */
    assert_int_equal(c->cycle_time.target_ms[1], 14 * DAY);
    assert_int_equal(c->cycle_time.target_ms[4], 30 * DAY);
    assert_int_equal(c->cycle_time.target_ms[5], 7 * DAY);
    assert_false(c->case_stalled.enabled);
    assert_int_equal(c->case_stalled.stall_after_ms, 90 * 60000);
    assert_true(c->call_late.enabled);
    tp_config_destroy(&c);

    /* Sixteen inputs is the limit; the same endpoint twice is fine when connecting. */
    char big[4096] = "inputs:\n";
    for (int i = 0; i < TP_MAX_INPUTS; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big),
                 "  - { endpoint: \"tcp://h:%d\", mode: connect }\n", i % 2);
    c = parse_ok(big);
    assert_int_equal(c->n_inputs, TP_MAX_INPUTS);
    tp_config_destroy(&c);
}

/* CURVE on with every endpoint equipped; a valid Z85 key is accepted. */
static void test_curve(void **state)
{
    (void)state;
    tp_config_t *c = parse_ok(
        "curve: { secret_key_file: /etc/touchpointd/server.key }\n"
        "inputs:\n  - { endpoint: tcp://127.0.0.1:1, curve_clients: /etc/in.clients }\n"
        "  - { endpoint: tcp://10.0.0.1:2, mode: connect,\n"
        "      curve_server_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\" }\n"
        "output: { curve_clients: /etc/out.clients }\n"
        "replay: { curve_clients: /etc/replay.clients }\n"
        "reliable_input: { curve_clients: /etc/in.clients }\n");
    assert_string_equal(c->curve.secret_key_file, "/etc/touchpointd/server.key");
    assert_string_equal(c->inputs[0].curve_clients, "/etc/in.clients");
    assert_null(c->inputs[0].curve_server_key);
    assert_string_equal(c->inputs[1].curve_server_key, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    assert_string_equal(c->inputs[1].name, "inputs[1]");
    assert_string_equal(c->output.curve_clients, "/etc/out.clients");
    assert_string_equal(c->replay.endpoint.curve_clients, "/etc/replay.clients");
    assert_string_equal(c->reliable_input.endpoint.curve_clients, "/etc/in.clients");
    tp_config_destroy(&c);
}

static void test_step_sla_limits(void **state)
{
    (void)state;
    char y[8192] = "rules:\n  step_slow:\n    by_step:\n";
    for (int i = 0; i < TP_MAX_STEP_SLAS; i++)
        snprintf(y + strlen(y), sizeof(y) - strlen(y), "      S%d: %dh\n", i, i + 1);
    tp_config_t *c = parse_ok(y);
    assert_int_equal(c->step_slow.n_by_step, TP_MAX_STEP_SLAS);
    assert_int_equal(tp_config_step_sla(c, "S63", 0), 64 * HOUR);
    assert_int_equal(tp_config_step_sla(c, "S6", 0), 7 * HOUR);
    assert_int_equal(tp_config_step_sla(c, "S", 0), 5 * DAY);
    tp_config_destroy(&c);
    strcat(y, "      ONE_TOO_MANY: 1h\n");
    parse_fails(y, 4 + TP_MAX_STEP_SLAS, "rules.step_slow.by_step: too many steps (at most 64)");

    char name[TP_STEP_NAME_MAX + 1];
    memset(name, 'X', TP_STEP_NAME_MAX - 1);
    name[TP_STEP_NAME_MAX - 1] = '\0';
    snprintf(y, sizeof(y), "rules: { step_slow: { by_step: { %s: 1d } } }\n", name);
    c = parse_ok(y);
    assert_int_equal(tp_config_step_sla(c, name, 0), DAY);
    tp_config_destroy(&c);
    strcat(name, "X");
    snprintf(y, sizeof(y), "rules: { step_slow: { by_step: { %s: 1d } } }\n", name);
    parse_fails(y, 1, "must be 1 to 63 characters");
}

typedef struct { const char *yaml; unsigned line; const char *needle; } bad_t;

static const bad_t s_bad[] = {
    /* unknown keys, at every depth */
    { "clock: wall\nclocks: wall\n", 2, "unknown key \"clocks\"" },
    { "rules:\n  call_late:\n    submit_within: 1h\n    sumbit_within: 2h\n", 4,
      "unknown key \"rules.call_late.sumbit_within\"" },
    { "rules:\n  call_lat: {}\n", 2, "unknown key \"rules.call_lat\"" },
    { "inputs:\n  - endpoint: tcp://a:1\n    hwn: 5\n", 3, "unknown key \"inputs[0].hwn\"" },
    { "reliable_inputs: { endpoint: tcp://127.0.0.1:7603 }\n", 1, "unknown key \"reliable_inputs\"" },
    /* wrong node types */
    { "rules: yes\n", 1, "rules: expected a mapping, got a scalar" },
    { "rules:\n  call_late: [1, 2]\n", 2, "rules.call_late: expected a mapping, got a list" },
    { "clock: [wall]\n", 1, "clock: expected a scalar, got a list" },
    { "- a\n- b\n", 1, "top level: expected a mapping, got a list" },
    { "inputs: tcp://127.0.0.1:1\n", 1, "inputs: expected a list, got a scalar" },
    { "inputs:\n  - tcp://127.0.0.1:1\n", 2, "inputs[0]: expected a mapping, got a scalar" },
    { "rules: { call_incomplete: { required: products } }\n", 1,
      "rules.call_incomplete.required: expected a list, got a scalar" },
    { "rules:\n  call_incomplete:\n    by_channel: [EMAIL]\n", 3,
      "rules.call_incomplete.by_channel: expected a mapping, got a list" },
    { "rules: { cycle_time: { targets: [] } }\n", 1, "targets: expected a mapping, got a list" },
    { "rules:\n  step_slow:\n    by_step: 5d\n", 3, "by_step: expected a mapping, got a scalar" },
    { "? [a]\n: 1\n", 1, "top level: expected a scalar, got a list" },
    /* bad scalars */
    { "rules:\n  rework:\n    enabled: yes\n", 3,
      "rules.rework.enabled: invalid boolean \"yes\" (expected true or false)" },
    { "rules:\n  rework:\n    enabled:\n", 3, "invalid boolean \"\"" },
    { "clock: lamport\n", 1, "clock: invalid value \"lamport\" (expected wall or event)" },
    { "output:\n  mode: Bind\n", 2, "output.mode: invalid value \"Bind\" (expected bind or connect)" },
    { "inputs:\n  - endpoint: tcp://a:1\n    mode: listen\n", 3, "inputs[0].mode: invalid value" },
    { "limits:\n  dedup_window: 0\n", 2,
      "limits.dedup_window: out of range \"0\" (expected an integer from 1 to" },
    { "limits: { max_message_bytes: 63 }\n", 1, "out of range \"63\" (expected an integer from 64" },
    { "limits: { max_sources: -1 }\n", 1, "limits.max_sources: invalid number \"-1\"" },
    { "limits: { max_sources: 1e3 }\n", 1, "invalid number \"1e3\"" },
    { "limits: { max_sources: 0x10 }\n", 1, "invalid number \"0x10\"" },
    { "limits: { max_sources: 99999999999999999999999 }\n", 1, "out of range" },
    { "log: { bad_input_burst: \" 5\" }\n", 1, "invalid number \" 5\"" },
    /* feedback sources and SLAs per contract type */
    { "feedback_sources:\n  medallia: { effort_scale: 5, effort_threshold: 6 }\n", 2,
      "feedback_sources.medallia.effort_threshold: 6 is outside the scale 1..5" },
    { "feedback_sources:\n  m: { nps_max: 6 }\n  m: { nps_max: 5 }\n", 3, "duplicate key" },
    { "feedback_sources:\n  m: { effort_scale: 5, effort_high_is_hard: false }\n", 2,
      "feedback_sources.m.effort_threshold: 5 would make every effort score a detractor" },
    { "feedback_sources:\n  m: { effort_threshold: 1 }\n", 2, "every effort score a detractor" },
    { "feedback_sources:\n  m: { nps_mx: 6 }\n", 2, "unknown key \"feedback_sources.m.nps_mx\"" },
    { "feedback_sources: [m]\n", 1, "feedback_sources: expected a mapping, got a list" },
    { "rules:\n  step_slow:\n    by_contract_type: { GRANTS: 5d }\n", 3, "unknown contract type" },
    { "rules: { follow_up_missing: { nps_max: 11 } }\n", 1,
      "rules.follow_up_missing.nps_max: out of range \"11\" (expected an integer from 0 to 10)" },
    { "rules: { negative_feedback: { effort_min: 0 } }\n", 1, "(expected an integer from 1 to 7)" },
    { "rules: { negative_feedback: { nps_max: -1 } }\n", 1, "out of range \"-1\"" },
    { "rules: { uncoordinated_contact: { min_reps: 1 } }\n", 1, "from 2 to 1000" },
    { "output: { hwm: -5 }\n", 1, "output.hwm: out of range \"-5\"" },
    { "state_dir: \"\"\n", 1, "state_dir: expected a non-empty string" },
    { "http:\n  listen: localhost:7605\n", 2, "http.listen: invalid address \"localhost:7605\"" },
    { "http: { listen: \"127.0.0.1\" }\n", 1, "http.listen: invalid address" },
    { "http: { listen: \"127.0.0.1:65536\" }\n", 1, "http.listen: invalid address" },
    { "http: { listen: \"127.0.0.1:-1\" }\n", 1, "http.listen: invalid address" },
    { "http: { listen: \"::1:7605\" }\n", 1, "http.listen: invalid address" },
    { "http: { listen: \"[::1]\" }\n", 1, "http.listen: invalid address" },
    { "http: { listen: \"[nope]:1\" }\n", 1, "http.listen: invalid address" },
    { "http: { enabled: yes }\n", 1, "http.enabled: invalid boolean" },
    { "http:\n  ingest:\n    enabled: on\n", 3, "http.ingest.enabled: invalid boolean" },
    { "http: { ingest: { max_body_bytes: 1023 } }\n", 1,
      "http.ingest.max_body_bytes: out of range \"1023\" (expected an integer from 1024 to 268435456)" },
    { "http: { ingest: { max_body_bytes: 1MiB } }\n", 1,
      "http.ingest.max_body_bytes: invalid number \"1MiB\"" },
    { "http: { ingest: { bearer_token_file: [a] } }\n", 1,
      "http.ingest.bearer_token_file: expected a scalar, got a list" },
    { "http: { ingest: { token_file: x } }\n", 1, "unknown key \"http.ingest.token_file\"" },
    { "http: { ingest: [] }\n", 1, "http.ingest: expected a mapping, got a list" },
    { "state_dir: \"a\\0b\"\n", 1, "state_dir: value contains a NUL byte" },
    { "rules:\n\n\n  call_incomplete:\n    required: [products, product]\n", 5,
      "rules.call_incomplete.required: unknown field \"product\" (expected products" },
    { "rules:\n  call_incomplete:\n    required:\n      - notes\n      - [topics]\n", 5,
      "required: expected a scalar, got a list" },
    { "rules:\n  call_incomplete:\n    by_channel:\n      FAX: [notes]\n", 4,
      "rules.call_incomplete.by_channel: unknown channel \"FAX\" (expected IN_PERSON" },
    { "rules: { call_incomplete: { by_channel: { UNSPECIFIED: [] } } }\n", 1, "unknown channel" },
    { "rules: { call_incomplete: { by_channel: { email: [] } } }\n", 1, "unknown channel \"email\"" },
    { "rules:\n  call_incomplete:\n    by_channel:\n      EMAIL: [notes]\n      CHANNEL_EMAIL: []\n", 5,
      "channel \"CHANNEL_EMAIL\" given twice" },
    { "rules:\n  call_incomplete:\n    by_channel:\n      EMAIL: [notes, fax]\n", 4,
      "unknown field \"fax\"" },
    { "rules:\n  cycle_time:\n    targets:\n      SPEAKER: 3d\n      WEBINAR: 3d\n", 5,
      "rules.cycle_time.targets: unknown contract type \"WEBINAR\"" },
    { "rules:\n  cycle_time:\n    targets:\n      ISS: 3d\n      CONTRACT_TYPE_ISS: 4d\n", 5,
      "contract type \"CONTRACT_TYPE_ISS\" given twice" },
    { "rules:\n  cycle_time:\n    targets:\n      ISS: 3\n", 4,
      "rules.cycle_time.targets: invalid duration \"3\"" },
    { "rules:\n  step_slow:\n    by_step:\n      FMV_REVIEW: soon\n", 4,
      "rules.step_slow.by_step: invalid duration \"soon\"" },
    { "rules: { step_slow: { by_step: { \"\": 1d } } }\n", 1, "step name \"\" must be 1 to 63" },
    /* durations */
    { "clock: wall\nrules:\n  call_incomplete: {}\n  call_late:\n    enabled: true\n\n"
      "    submit_within: 48\n", 7,
      "rules.call_late.submit_within: invalid duration \"48\" (expected a number with a unit: "
      "ms, s, m, h, d, w)" },
    { "rules: { call_late: { submit_within: 0h } }\n", 1,
      "rules.call_late.submit_within: duration \"0h\" out of range (expected more than 0 and at most 3650d)" },
    { "rules: { case_stalled: { stall_after: -1d } }\n", 1, "invalid duration \"-1d\"" },
    { "rules: { case_stalled: { stall_after: 3651d } }\n", 1, "out of range" },
    { "rules: { case_stalled: { stall_after: 99999999999999999999w } }\n", 1, "out of range" },
    { "log: { bad_input_interval: 10 s }\n", 1, "invalid duration \"10 s\"" },
    { "log: { bad_input_interval: 1.5h }\n", 1, "invalid duration \"1.5h\"" },
    { "log: { bad_input_interval: {} }\n", 1, "log.bad_input_interval: expected a scalar" },
    /* endpoints */
    { "output:\n  endpoint: udp://127.0.0.1:1\n", 2,
      "output.endpoint: invalid endpoint \"udp://127.0.0.1:1\" (expected tcp://, ipc:// or inproc://)" },
    { "inputs:\n  - endpoint: 127.0.0.1:7601\n", 2, "inputs[0].endpoint: invalid endpoint" },
    { "inputs:\n  - mode: connect\n", 2, "inputs[0]: missing required key \"endpoint\"" },
    { "inputs: []\n", 1, "inputs: expected 1 to 16 endpoints, got 0" },
    { "inputs:\n  - endpoint: tcp://127.0.0.1:1\n  - endpoint: ipc://x\n"
      "  - endpoint: tcp://127.0.0.1:1\n", 4,
      "inputs[2].endpoint: \"tcp://127.0.0.1:1\" is already bound by inputs[0]" },
    { "inputs:\n  - endpoint: tcp://127.0.0.1:7602\n", 2,
      "inputs[0].endpoint: \"tcp://127.0.0.1:7602\" is already bound by output" },
    { "clock: wall\noutput:\n  endpoint: tcp://127.0.0.1:7601\n", 3,
      "output.endpoint: \"tcp://127.0.0.1:7601\" is already bound by inputs[0]" },
    { "output:\n  endpoint: tcp://127.0.0.1:9\ninputs:\n  - endpoint: tcp://127.0.0.1:9\n", 4,
      "inputs[0].endpoint: \"tcp://127.0.0.1:9\" is already bound by output" },
    /* CURVE */
    { "inputs:\n  - endpoint: tcp://a:1\n    mode: connect\n    curve_server_key: abc\n", 4,
      "inputs[0].curve_server_key: invalid CURVE key \"abc\" (expected 40 Z85 characters" },
    { "output:\n  curve_server_key: \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~\"\n", 2,
      "output.curve_server_key: invalid CURVE key" },   /* '~' is not Z85 */
    { "curve:\n  secret_key_file: /etc/tp.key\ninputs:\n  - endpoint: tcp://a:1\n", 4,
      "inputs[0].curve_clients: required with curve.secret_key_file" },
    { "curve: { secret_key_file: /k }\ninputs: [{ endpoint: tcp://a:1, curve_clients: /c }]\n", 1,
      "output.curve_clients: required with curve.secret_key_file" },
    { "curve: { secret_key_file: /k }\ninputs: [{ endpoint: tcp://a:1, curve_clients: /c }]\n"
      "output: { curve_clients: /c }\nreplay: { enabled: false }\n"
      "reliable_input:\n  mode: connect\n  endpoint: tcp://b:2\n", 7,
      "reliable_input.curve_server_key: required with curve.secret_key_file" },
    { "output:\n  curve_clients: /etc/clients\n", 1,
      "output.curve_clients is set but CURVE is off" },
    /* duplicate keys */
    { "clock: wall\nstate_dir: /x\nclock: event\n", 3, "duplicate key \"clock\"" },
    { "rules:\n  call_late: {}\n  call_late: {}\n", 3, "duplicate key \"rules.call_late\"" },
    { "rules:\n  step_slow:\n    by_step:\n      A: 1d\n      A: 2d\n", 5,
      "duplicate key \"rules.step_slow.by_step.A\"" },
    { "inputs:\n  - endpoint: tcp://a:1\n    endpoint: tcp://a:2\n", 3,
      "duplicate key \"inputs[0].endpoint\"" },
    /* YAML syntax */
    { "clock: wall\nrules:\n  call_late: { submit_within: 48h\n", 4, "YAML syntax error: " },
    { "clock: wall\n  state_dir: x\n", 2, "YAML syntax error: mapping values are not allowed" },
    { "a: *nowhere\n", 1, "YAML syntax error: " },
    { "clock: \"wall\n", 2, "YAML syntax error: found unexpected end of stream" },
    { "clock: wall\n--- \nclock: event\n", 2, "expected a single YAML document" },
    { "clock: wall\n---\n- [\n", 2, "expected a single YAML document" },
    { "clock: wall\nrules:\n  - [\n", 4, "YAML syntax error: did not find expected node content" },
    { "clock: wall\nrules: { rework: { min_returns: 2 } }\n---\n", 3, "expected a single YAML document" },
    /* control characters never split the error line */
    { "\"a\\nb\": 1\n", 1, "unknown key \"a?b\"" },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++)
        parse_fails(s_bad[i].yaml, s_bad[i].line, s_bad[i].needle);
}

/* nats: partitions within partition_count, names usable as NATS tokens. */
static void test_nats(void **state)
{
    (void)state;
    tp_config_t *c = parse_ok("nats: { enabled: true, url: \"nats://10.0.0.1:4222\", "
                              "partition_count: 8, partitions: [0, 7, 3], consumer: tp-a, "
                              "ack_wait: 2s }\n");
    assert_true(c->nats.enabled);
    assert_string_equal(c->nats.url, "nats://10.0.0.1:4222");
    assert_int_equal(c->nats.partition_count, 8);
    assert_int_equal(c->nats.n_partitions, 3);
    assert_int_equal(c->nats.partitions[1], 7);
    assert_string_equal(c->nats.consumer, "tp-a");
    assert_int_equal(c->nats.ack_wait_ms, 2000);
    tp_config_destroy(&c);
    parse_fails("nats:\n  partitions: [1, 1]\n", 2, "partition 1 listed twice");
    parse_fails("nats:\n  partitions: [-1]\n", 2, "is not a partition number 0..1023");
    parse_fails("nats:\n  ack_wait: 10ms\n", 2, "nats.ack_wait");
    /* Lease mode (phase 2). */
    c = parse_ok("nats: { ownership: lease, instance: host-a_1, lease_bucket: L, lease_ttl: 3s, "
                 "replicas: 3, duplicate_window: 20m }\n");
    assert_int_equal(c->nats.ownership, TP_OWNERSHIP_LEASE);
    assert_string_equal(c->nats.instance, "host-a_1");
    assert_string_equal(c->nats.lease_bucket, "L");
    assert_int_equal(c->nats.lease_ttl_ms, 3000);
    assert_int_equal(c->nats.replicas, 3);
    assert_int_equal(c->nats.duplicate_window_ms, 1200000);
    tp_config_destroy(&c);
    parse_fails("nats:\n  ownership: leased\n", 2, "expected static or lease");
    parse_fails("nats:\n  replicas: 7\n", 2, "nats.replicas");
    parse_fails("nats:\n  lease_ttl: 500ms\n", 2, "nats.lease_ttl");
    const char *bad[] = { "nats: { partition_count: 4, partitions: [4] }\n",
                          "nats: { consumer: \"a.b\" }\n",
                          "nats: { ownership: lease, partitions: [1] }\n",
                          "nats: { instance: \"host:1\" }\n",
                          "nats: { lease_bucket: \"a.b\" }\n" };
    const char *needle[] = { "nats.partitions: partition 4 is not below nats.partition_count (4)",
                             "nats.consumer: \"a.b\" is not a NATS name",
                             "nats.partitions: a static list has no meaning with nats.ownership: lease",
                             "nats.instance: \"host:1\" may hold only letters",
                             "nats.lease_bucket: \"a.b\" is not a NATS name" };
    for (size_t i = 0; i < 5; i++) {
        c = NULL;
        assert_int_equal(tp_config_parse(bad[i], strlen(bad[i]), "t.yaml", s_err, sizeof s_err, &c),
                         -EINVAL);
        if (!strstr(s_err, needle[i]))
            fail_msg("want \"%s\", got \"%s\"", needle[i], s_err);
    }
}

static void test_error_buffer(void **state)
{
    (void)state;
    tp_config_t *c = NULL;
    char small[12];
    const char *y = "clock: lamport\n";
    /* No buffer, or a tiny one: still refused, never overrun. */
    assert_int_equal(tp_config_parse(y, strlen(y), "t.yaml", NULL, 0, &c), -EINVAL);
    assert_int_equal(tp_config_parse(y, strlen(y), "t.yaml", small, sizeof(small), &c), -EINVAL);
    assert_string_equal(small, "t.yaml:1: c");
    assert_int_equal(tp_config_parse(y, strlen(y), "a-very-long-file-name.yaml", small,
                                     sizeof(small), &c), -EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_null(c);
    assert_int_equal(tp_config_parse(y, strlen(y), "t", s_err, sizeof(s_err), NULL), -EINVAL);

    char *huge = malloc(1024 * 1024 + 2);
    assert_non_null(huge);
    memset(huge, '#', 1024 * 1024 + 1);
    huge[1024 * 1024 + 1] = '\0';
    assert_int_equal(tp_config_parse(huge, strlen(huge), "t.yaml", s_err, sizeof(s_err), &c),
                     -EINVAL);
    assert_string_equal(s_err, "t.yaml: config larger than 1048576 bytes");
    free(huge);
}

/* libyaml's scanner is quadratic in flow depth: a 1 MiB "[[[[..." once
 * took minutes; the depth limit refuses it in milliseconds. */
static void test_deep_nesting(void **state)
{
    (void)state;
    size_t n = 1024 * 1024 - 16;
    char *y = malloc(n + 1);
    assert_non_null(y);
    memcpy(y, "rules:\n  x: ", 12);
    memset(y + 12, '[', n - 12);
    y[n] = '\0';
    parse_fails(y, 2, "nesting deeper than 32 levels");
    free(y);

    char ok[256] = "rules:\n  rework: ";
    for (int i = 0; i < 30; i++)
        strcat(ok, "[");
    for (int i = 0; i < 30; i++)
        strcat(ok, "]");
    parse_fails(ok, 2, "rules.rework: expected a mapping, got a list");
}

static void test_durations(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ms; } good[] = {
        { "1ms", 1 }, { "250ms", 250 }, { "90s", 90000 }, { "30m", 1800000 },
        { "48h", 48 * HOUR }, { "7d", 7 * DAY }, { "2w", 14 * DAY }, { "007s", 7000 },
        { "9223372036854775807ms", INT64_MAX }, { "15250284452w", 15250284452 * 7 * DAY },
    };
    static const char *const bad[] = {
        "", "48", "h", "0ms", "0w", "-1h", "+1h", " 1h", "1h ", "1 h", "1.5h", "1H", "1hr",
        "1y", "1msx", "9223372036854775808ms", "106751991167301d", "15250284453w",
        "99999999999999999999999s", "0x10s",
    };
    int64_t ms;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ms = -1;
        assert_int_equal(tp_config_duration_parse(good[i].s, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 42;
        if (tp_config_duration_parse(bad[i], &ms) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(ms, 42);
    }
    assert_int_equal(tp_config_duration_parse(NULL, &ms), -EINVAL);
    assert_int_equal(tp_config_duration_parse("1s", NULL), -EINVAL);
}

static void test_field_names(void **state)
{
    (void)state;
    static const char *const names[TP_FIELD_COUNT] = {
        "products", "topics", "notes", "next_step", "attendees", "account_id", "territory",
    };
    for (unsigned i = 0; i < TP_FIELD_COUNT; i++) {
        assert_int_equal(tp_config_field_from_name(names[i]), 1u << i);
        assert_string_equal(tp_config_field_name(1u << i), names[i]);
    }
    assert_int_equal(tp_config_field_from_name("Products"), 0);
    assert_int_equal(tp_config_field_from_name(""), 0);
    assert_int_equal(tp_config_field_from_name(NULL), 0);
    assert_null(tp_config_field_name(0));
    assert_null(tp_config_field_name(TP_FIELD_NOTES | TP_FIELD_TOPICS));
    assert_null(tp_config_field_name(1u << TP_FIELD_COUNT));
}

static void test_feedback_sources_and_type_slas(void **state)
{
    (void)state;
    const char *yaml = "feedback_sources:\n"
                       "  qualtrics-eu: { nps_max: 6 }\n"
                       "  medallia: { nps_max: 7, effort_scale: 5, effort_high_is_hard: false,\n"
                       "              effort_threshold: 2 }\n"
                       "rules:\n"
                       "  step_slow:\n"
                       "    default_sla: 5d\n"
                       "    by_step: { FMV_REVIEW: 3d }\n"
                       "    by_contract_type: { GRANT: 10d }\n";
    char err[256];
    tp_config_t *c = NULL;
    assert_int_equal(tp_config_parse(yaml, strlen(yaml), "t.yaml", err, sizeof err, &c), 0);
    assert_int_equal(c->n_feedback_sources, 2);
    const tp_feedback_source_t *q = tp_config_feedback_source(c, "qualtrics-eu");
    assert_non_null(q);
    assert_int_equal(q->nps_max, 6);
    assert_int_equal(q->effort_scale, 7);          /* defaults fill what is not said */
    assert_true(q->effort_high_is_hard);
    assert_int_equal(q->effort_threshold, 5);
    const tp_feedback_source_t *m = tp_config_feedback_source(c, "medallia");
    assert_int_equal(m->nps_max, 7);
    assert_int_equal(m->effort_scale, 5);
    assert_false(m->effort_high_is_hard);
    assert_int_equal(m->effort_threshold, 2);
    assert_null(tp_config_feedback_source(c, "other"));
    assert_null(tp_config_feedback_source(c, NULL));
    assert_int_equal(tp_config_step_sla(c, "FMV_REVIEW", 5), 3 * DAY);   /* by_step first */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 5), 10 * DAY);     /* then the type */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 1), 5 * DAY);      /* then the default */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 99), 5 * DAY);
    tp_config_destroy(&c);
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "# operator's file\nclock: event\nrules:\n  rework: { min_returns: 4 }\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);

    tp_config_t *c = NULL;
    assert_int_equal(tp_config_load(path, s_err, sizeof(s_err), &c), 0);
    assert_string_equal(c->path, path);
    assert_int_equal(c->clock, TP_CLOCK_EVENT);
    assert_int_equal(c->rework.min_returns, 4);
    tp_config_destroy(&c);

    /* Errors are named after the file. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("clock: wall\nrules:\n  rework: { min_returns: many }\n", f);
    fclose(f);
    assert_int_equal(tp_config_load(path, s_err, sizeof(s_err), &c), -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: rules.rework.min_returns: invalid number", path);
    assert_memory_equal(s_err, want, strlen(want));
    assert_null(c);

    /* One byte over 1 MiB is refused before parsing. */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1024 * 1024; i++)
        fputc(i % 64 == 63 ? '\n' : '#', f);
    fclose(f);
    assert_int_equal(tp_config_load(path, s_err, sizeof(s_err), &c), 0);   /* exactly 1 MiB */
    tp_config_destroy(&c);
    f = fopen(path, "a");
    fputc('\n', f);
    fclose(f);
    assert_int_equal(tp_config_load(path, s_err, sizeof(s_err), &c), -EFBIG);
    assert_non_null(strstr(s_err, "file larger than 1048576 bytes"));
    assert_null(c);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(tp_config_load(path, s_err, sizeof(s_err), &c), -ENOENT);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(s_err, want);
    assert_int_equal(tp_config_load("/tmp", s_err, sizeof(s_err), &c), -EISDIR);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_empty),
        cmocka_unit_test(test_defaults_embedded),
        cmocka_unit_test(test_design_sample),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_http_listen),
        cmocka_unit_test(test_step_sla_limits),
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nats),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_feedback_sources_and_type_slas),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
