/* test_config_checks — tp_config refusing what it should, whole and with
 * the line: every error of the table below, limits of values and lists, the
 * cross-key checks (CURVE, NATS, addresses), deep nesting, an error buffer
 * of any size, and the keys a reload may not change. */
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
#include "tp_testconfig.h"
#include "tp_testutil.h"

/* http.listen: numeric IPv4 or bracketed IPv6, port 0 = any free port. */
static void test_http_listen(void **state) {
    (void)state;
    tp_config_t *c = tp_test_parse_ok("http: { enabled: false, listen: \"[::1]:0\" }\n");
    assert_false(c->http.enabled);
    assert_string_equal(c->http.listen, "[::1]:0");
    char     host[64];
    unsigned port = 1;
    assert_int_equal(tp_config_listen_parse(c->http.listen, host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(tp_config_listen_parse("0.0.0.0:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 65535);
    assert_int_equal(tp_config_listen_parse("10.0.0.1:80", host, 4, &port),
                     -EINVAL); /* host too long */
    assert_int_equal(tp_config_listen_parse("10.0.0.1:", host, sizeof host, &port), -EINVAL);
    tp_config_destroy(&c);

    /* http.ingest: every key; "" turns the token off again. */
    c = tp_test_parse_ok("http:\n  ingest: { enabled: true, max_body_bytes: 4096,\n"
                         "            bearer_token_file: /etc/touchpointd/ingest.token }\n");
    assert_true(c->http.ingest.enabled);
    assert_int_equal(c->http.ingest.max_body_bytes, 4096);
    assert_string_equal(c->http.ingest.bearer_token_file, "/etc/touchpointd/ingest.token");
    tp_config_destroy(&c);
    c = tp_test_parse_ok("http: { ingest: { bearer_token_file: \"\" } }\n");
    assert_null(c->http.ingest.bearer_token_file);
    tp_config_destroy(&c);
}

/* CURVE on with every endpoint equipped; a valid Z85 key is accepted. */
static void test_curve(void **state) {
    (void)state;
    tp_config_t *c = tp_test_parse_ok(
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

static void test_step_sla_limits(void **state) {
    (void)state;
    char y[8192] = "rules:\n  step_slow:\n    by_step:\n";
    for (int i = 0; i < TP_MAX_STEP_SLAS; i++)
        snprintf(y + strlen(y), sizeof(y) - strlen(y), "      S%d: %dh\n", i, i + 1);
    tp_config_t *c = tp_test_parse_ok(y);
    assert_int_equal(c->step_slow.n_by_step, TP_MAX_STEP_SLAS);
    assert_int_equal(tp_config_step_sla(c, "S63", 0), 64 * TP_TEST_HOUR);
    assert_int_equal(tp_config_step_sla(c, "S6", 0), 7 * TP_TEST_HOUR);
    assert_int_equal(tp_config_step_sla(c, "S", 0), 5 * TP_TEST_DAY);
    tp_config_destroy(&c);
    strcat(y, "      ONE_TOO_MANY: 1h\n");
    tp_test_parse_fails(y, 4 + TP_MAX_STEP_SLAS,
                        "rules.step_slow.by_step: too many steps (at most 64)");

    char name[TP_STEP_NAME_MAX + 1];
    memset(name, 'X', TP_STEP_NAME_MAX - 1);
    name[TP_STEP_NAME_MAX - 1] = '\0';
    snprintf(y, sizeof(y), "rules: { step_slow: { by_step: { %s: 1d } } }\n", name);
    c = tp_test_parse_ok(y);
    assert_int_equal(tp_config_step_sla(c, name, 0), TP_TEST_DAY);
    tp_config_destroy(&c);
    strcat(name, "X");
    snprintf(y, sizeof(y), "rules: { step_slow: { by_step: { %s: 1d } } }\n", name);
    tp_test_parse_fails(y, 1, "must be 1 to 63 characters");
}

typedef struct {
    const char *yaml;
    unsigned    line;
    const char *needle;
} bad_t;

static const bad_t s_bad[] = {
    /* unknown keys, at every depth */
    { "clock: wall\nclocks: wall\n", 2, "unknown key \"clocks\"" },
    { "rules:\n  call_late:\n    submit_within: 1h\n    sumbit_within: 2h\n", 4,
      "unknown key \"rules.call_late.sumbit_within\"" },
    { "rules:\n  call_lat: {}\n", 2, "unknown key \"rules.call_lat\"" },
    { "inputs:\n  - endpoint: tcp://a:1\n    hwn: 5\n", 3, "unknown key \"inputs[0].hwn\"" },
    { "reliable_inputs: { endpoint: tcp://127.0.0.1:7603 }\n", 1,
      "unknown key \"reliable_inputs\"" },
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
    { "output:\n  mode: Bind\n", 2,
      "output.mode: invalid value \"Bind\" (expected bind or connect)" },
    { "inputs:\n  - endpoint: tcp://a:1\n    mode: listen\n", 3, "inputs[0].mode: invalid value" },
    { "limits:\n  dedup_window: 0\n", 2,
      "limits.dedup_window: out of range \"0\" (expected an integer from 1 to" },
    { "limits: { max_message_bytes: 63 }\n", 1,
      "out of range \"63\" (expected an integer from 64" },
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
      "http.ingest.max_body_bytes: out of range \"1023\" (expected an integer from 1024 to "
      "268435456)" },
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
    { "rules: { call_incomplete: { by_channel: { email: [] } } }\n", 1,
      "unknown channel \"email\"" },
    { "rules:\n  call_incomplete:\n    by_channel:\n      EMAIL: [notes]\n      CHANNEL_EMAIL: "
      "[]\n",
      5, "channel \"CHANNEL_EMAIL\" given twice" },
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
      "    submit_within: 48\n",
      7,
      "rules.call_late.submit_within: invalid duration \"48\" (expected a number with a unit: "
      "ms, s, m, h, d, w)" },
    { "rules: { call_late: { submit_within: 0h } }\n", 1,
      "rules.call_late.submit_within: duration \"0h\" out of range (expected more than 0 and at "
      "most 3650d)" },
    { "rules: { case_stalled: { stall_after: -1d } }\n", 1, "invalid duration \"-1d\"" },
    { "rules: { case_stalled: { stall_after: 3651d } }\n", 1, "out of range" },
    { "rules: { case_stalled: { stall_after: 99999999999999999999w } }\n", 1, "out of range" },
    { "log: { bad_input_interval: 10 s }\n", 1, "invalid duration \"10 s\"" },
    { "log: { bad_input_interval: 1.5h }\n", 1, "invalid duration \"1.5h\"" },
    { "log: { bad_input_interval: {} }\n", 1, "log.bad_input_interval: expected a scalar" },
    /* endpoints */
    { "output:\n  endpoint: udp://127.0.0.1:1\n", 2,
      "output.endpoint: invalid endpoint \"udp://127.0.0.1:1\" (expected tcp://, ipc:// or "
      "inproc://)" },
    { "inputs:\n  - endpoint: 127.0.0.1:7601\n", 2, "inputs[0].endpoint: invalid endpoint" },
    { "inputs:\n  - mode: connect\n", 2, "inputs[0]: missing required key \"endpoint\"" },
    { "inputs: []\n", 1, "inputs: expected 1 to 16 endpoints, got 0" },
    { "inputs:\n  - endpoint: tcp://127.0.0.1:1\n  - endpoint: ipc://x\n"
      "  - endpoint: tcp://127.0.0.1:1\n",
      4, "inputs[2].endpoint: \"tcp://127.0.0.1:1\" is already bound by inputs[0]" },
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
      "output.curve_server_key: invalid CURVE key" }, /* '~' is not Z85 */
    { "curve:\n  secret_key_file: /etc/tp.key\ninputs:\n  - endpoint: tcp://a:1\n", 4,
      "inputs[0].curve_clients: required with curve.secret_key_file" },
    { "curve: { secret_key_file: /k }\ninputs: [{ endpoint: tcp://a:1, curve_clients: /c }]\n", 1,
      "output.curve_clients: required with curve.secret_key_file" },
    { "curve: { secret_key_file: /k }\ninputs: [{ endpoint: tcp://a:1, curve_clients: /c }]\n"
      "output: { curve_clients: /c }\nreplay: { enabled: false }\n"
      "reliable_input:\n  mode: connect\n  endpoint: tcp://b:2\n",
      7, "reliable_input.curve_server_key: required with curve.secret_key_file" },
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
    { "clock: wall\nrules: { rework: { min_returns: 2 } }\n---\n", 3,
      "expected a single YAML document" },
    /* control characters never split the error line */
    { "\"a\\nb\": 1\n", 1, "unknown key \"a?b\"" },
};

static void test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++)
        tp_test_parse_fails(s_bad[i].yaml, s_bad[i].line, s_bad[i].needle);
}

/* nats: partitions within partition_count, names usable as NATS tokens. */
static void test_nats(void **state) {
    (void)state;
    tp_config_t *c = tp_test_parse_ok("nats: { enabled: true, url: \"nats://10.0.0.1:4222\", "
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
    tp_test_parse_fails("nats:\n  partitions: [1, 1]\n", 2, "partition 1 listed twice");
    tp_test_parse_fails("nats:\n  partitions: [-1]\n", 2, "is not a partition number 0..1023");
    tp_test_parse_fails("nats:\n  ack_wait: 10ms\n", 2, "nats.ack_wait");
    /* Lease mode (phase 2). */
    c = tp_test_parse_ok(
        "nats: { ownership: lease, instance: host-a_1, lease_bucket: L, lease_ttl: 3s, "
        "replicas: 3, duplicate_window: 20m }\n");
    assert_int_equal(c->nats.ownership, TP_OWNERSHIP_LEASE);
    assert_string_equal(c->nats.instance, "host-a_1");
    assert_string_equal(c->nats.lease_bucket, "L");
    assert_int_equal(c->nats.lease_ttl_ms, 3000);
    assert_int_equal(c->nats.replicas, 3);
    assert_int_equal(c->nats.duplicate_window_ms, 1200000);
    tp_config_destroy(&c);
    tp_test_parse_fails("nats:\n  ownership: leased\n", 2, "expected static or lease");
    tp_test_parse_fails("nats:\n  replicas: 7\n", 2, "nats.replicas");
    tp_test_parse_fails("nats:\n  lease_ttl: 500ms\n", 2, "nats.lease_ttl");
    const char *bad[] = { "nats: { partition_count: 4, partitions: [4] }\n",
                          "nats: { consumer: \"a.b\" }\n",
                          "nats: { ownership: lease, partitions: [1] }\n",
                          "nats: { instance: \"host:1\" }\n", "nats: { lease_bucket: \"a.b\" }\n" };
    const char *needle[] = {
        "nats.partitions: partition 4 is not below nats.partition_count (4)",
        "nats.consumer: \"a.b\" is not a NATS name",
        "nats.partitions: a static list has no meaning with nats.ownership: lease",
        "nats.instance: \"host:1\" may hold only letters",
        "nats.lease_bucket: \"a.b\" is not a NATS name"
    };
    for (size_t i = 0; i < 5; i++) {
        c = NULL;
        assert_int_equal(tp_config_parse(bad[i], strlen(bad[i]), "t.yaml", tp_test_config_err,
                                         sizeof tp_test_config_err, &c),
                         -EINVAL);
        if (!strstr(tp_test_config_err, needle[i]))
            fail_msg("want \"%s\", got \"%s\"", needle[i], tp_test_config_err);
    }
}

static void test_error_buffer(void **state) {
    (void)state;
    tp_config_t *c = NULL;
    char         small[12];
    const char  *y = "clock: lamport\n";
    /* No buffer, or a tiny one: still refused, never overrun. */
    assert_int_equal(tp_config_parse(y, strlen(y), "t.yaml", NULL, 0, &c), -EINVAL);
    assert_int_equal(tp_config_parse(y, strlen(y), "t.yaml", small, sizeof(small), &c), -EINVAL);
    assert_string_equal(small, "t.yaml:1: c");
    assert_int_equal(
        tp_config_parse(y, strlen(y), "a-very-long-file-name.yaml", small, sizeof(small), &c),
        -EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_null(c);
    assert_int_equal(
        tp_config_parse(y, strlen(y), "t", tp_test_config_err, sizeof tp_test_config_err, NULL),
        -EINVAL);

    char *huge = malloc(1024 * 1024 + 2);
    assert_non_null(huge);
    memset(huge, '#', 1024 * 1024 + 1);
    huge[1024 * 1024 + 1] = '\0';
    assert_int_equal(tp_config_parse(huge, strlen(huge), "t.yaml", tp_test_config_err,
                                     sizeof tp_test_config_err, &c),
                     -EINVAL);
    assert_string_equal(tp_test_config_err, "t.yaml: config larger than 1048576 bytes");
    free(huge);
}

/* libyaml's scanner is quadratic in flow depth: a 1 MiB "[[[[..." once
 * took minutes; the depth limit refuses it in milliseconds. */
static void test_deep_nesting(void **state) {
    (void)state;
    size_t n = 1024 * 1024 - 16;
    char  *y = malloc(n + 1);
    assert_non_null(y);
    memcpy(y, "rules:\n  x: ", 12);
    memset(y + 12, '[', n - 12);
    y[n] = '\0';
    tp_test_parse_fails(y, 2, "nesting deeper than 32 levels");
    free(y);

    char ok[256] = "rules:\n  rework: ";
    for (int i = 0; i < 30; i++)
        strcat(ok, "[");
    for (int i = 0; i < 30; i++)
        strcat(ok, "]");
    tp_test_parse_fails(ok, 2, "rules.rework: expected a mapping, got a list");
}

/* The keys a reload may not change, each named as the file names it;
 * thresholds and endpoints may change. */
static void test_restart_keys(void **state) {
    (void)state;
    static const struct {
        const char *yaml, *key; /* key NULL: a reload may make this change */
    } cases[] = {
        { "state_dir: /var/lib/other\n", "state_dir" },
        { "journal: { enabled: false }\nreliable_input: { enabled: false }\n"
          "replay: { enabled: false }\n",
          "journal.enabled" },
        { "clock: event\n", "clock" },
        { "limits: { dedup_window: 10 }\n", "limits.dedup_window" },
        { "limits: { max_sources: 10 }\n", "limits.max_sources" },
        { "nats: { enabled: true }\n", "nats.enabled" },
        { "nats: { url: \"nats://10.0.0.9:4222\" }\n", NULL }, /* JetStream off */
        { "rules: { call_unsubmitted: { submit_within: 1h } }\n", NULL },
        { "limits: { max_message_bytes: 4096 }\n", NULL },
        { "output: { endpoint: \"tcp://127.0.0.1:9999\" }\n", NULL },
    };
    tp_config_t *base = tp_test_parse_ok("");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tp_config_t *next = tp_test_parse_ok(cases[i].yaml);
        const char  *got = tp_config_restart_key(base, next);
        if (cases[i].key ? !got || strcmp(got, cases[i].key) : got != NULL)
            fail_msg("%s: got %s, want %s", cases[i].yaml, got ? got : "NULL",
                     cases[i].key ? cases[i].key : "NULL");
        tp_config_destroy(&next);
    }
    tp_config_destroy(&base);
    /* JetStream on: every nats key, by name. */
    base = tp_test_parse_ok("nats: { enabled: true }\n");
    static const char *const nats[][2] = {
        { "nats: { enabled: true, url: \"nats://10.0.0.9:4222\" }\n", "nats.url" },
        { "nats: { enabled: true, partitions: [1] }\n", "nats.partitions" },
        { "nats: { enabled: true, ack_wait: 1m }\n", "nats.ack_wait" },
        { "nats: { enabled: true, instance: a-1 }\n", "nats.instance" },
    };
    for (size_t i = 0; i < sizeof nats / sizeof nats[0]; i++) {
        tp_config_t *next = tp_test_parse_ok(nats[i][0]);
        const char  *got = tp_config_restart_key(base, next);
        assert_non_null(got);
        assert_string_equal(got, nats[i][1]);
        tp_config_destroy(&next);
    }
    tp_config_t *same = tp_test_parse_ok("nats: { enabled: true }\n");
    assert_null(tp_config_restart_key(base, same));
    tp_config_destroy(&same);
    tp_config_destroy(&base);
}

TP_TEST_MAIN(cmocka_unit_test(test_http_listen), cmocka_unit_test(test_step_sla_limits),
             cmocka_unit_test(test_curve), cmocka_unit_test(test_errors),
             cmocka_unit_test(test_nats), cmocka_unit_test(test_error_buffer),
             cmocka_unit_test(test_deep_nesting), cmocka_unit_test(test_restart_keys))
