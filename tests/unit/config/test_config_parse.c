/* test_config_parse — tp_config accepting what it should: defaults (empty
 * file and the embedded config), the design sample and the example file,
 * every key type, durations, field names, feedback scales and step SLAs,
 * loading from disk. */
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

static void assert_defaults(const tp_config_t *c) {
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
    assert_int_equal(c->call_late.submit_within_ms, 48 * TP_TEST_HOUR);
    assert_true(c->call_unsubmitted.enabled);
    assert_int_equal(c->call_unsubmitted.submit_within_ms, 48 * TP_TEST_HOUR);
    assert_true(c->follow_up_missing.enabled);
    assert_int_equal(c->follow_up_missing.follow_up_within_ms, 7 * TP_TEST_DAY);
    assert_int_equal(c->follow_up_missing.nps_max, 6);
    assert_int_equal(c->follow_up_missing.effort_min, 5);
    assert_true(c->uncoordinated_contact.enabled);
    assert_int_equal(c->uncoordinated_contact.window_ms, 7 * TP_TEST_DAY);
    assert_int_equal(c->uncoordinated_contact.min_reps, 3);
    assert_true(c->channel_mismatch.enabled);
    assert_int_equal(c->channel_mismatch.last_calls, 3);
    assert_true(c->step_slow.enabled);
    assert_int_equal(c->step_slow.default_sla_ms, 5 * TP_TEST_DAY);
    assert_int_equal(c->step_slow.n_by_step, 0);
    assert_true(c->case_stalled.enabled);
    assert_int_equal(c->case_stalled.stall_after_ms, 10 * TP_TEST_DAY);
    assert_true(c->rework.enabled);
    assert_int_equal(c->rework.min_returns, 2);
    assert_true(c->handoffs.enabled);
    assert_int_equal(c->handoffs.max_owners, 3);
    assert_true(c->hcp_burden.enabled);
    assert_int_equal(c->hcp_burden.max_hcp_actions, 4);
    assert_true(c->cycle_time.enabled);
    assert_int_equal(c->cycle_time.target_ms[1], 14 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[2], 21 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[3], 21 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[4], 60 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[5], 45 * TP_TEST_DAY);
    assert_true(c->negative_feedback.enabled);
    assert_int_equal(c->negative_feedback.nps_max, 6);
    assert_int_equal(c->negative_feedback.effort_min, 5);
}

static void test_defaults_empty(void **state) {
    (void)state;
    static const char *const docs[] = { "",    "# only a comment\n", "---\n",
                                        "~\n", "rules:\n",           "rules: {}\nlimits:\n" };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        tp_config_t *c = tp_test_parse_ok(docs[i]);
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

static void test_defaults_embedded(void **state) {
    (void)state;
    const char  *y = tp_config_default_yaml();
    tp_config_t *c = NULL;
    assert_int_equal(tp_config_parse(y, strlen(y), "<embedded>", tp_test_config_err,
                                     sizeof tp_test_config_err, &c),
                     0);
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

static void test_design_sample(void **state) {
    (void)state;
    tp_config_t *c = tp_test_parse_ok(s_design_sample);
    assert_int_equal(c->n_inputs, 1);
    assert_string_equal(c->inputs[0].endpoint, "tcp://127.0.0.1:7601");
    assert_string_equal(c->output.endpoint, "tcp://127.0.0.1:7602");
    assert_true(c->call_incomplete.has_channel[4]);
    assert_int_equal(c->call_incomplete.by_channel[4], TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(tp_config_required_fields(c, 4), TP_FIELD_PRODUCTS | TP_FIELD_NOTES);
    assert_int_equal(tp_config_required_fields(c, 1),
                     TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES | TP_FIELD_NEXT_STEP);
    assert_int_equal(c->step_slow.n_by_step, 2);
    assert_int_equal(tp_config_step_sla(c, "FMV_REVIEW", 0), 3 * TP_TEST_DAY);
    assert_int_equal(tp_config_step_sla(c, "COMPLIANCE_APPROVAL", 0), 7 * TP_TEST_DAY);
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 0), 5 * TP_TEST_DAY);
    assert_int_equal(tp_config_step_sla(c, NULL, 0), 5 * TP_TEST_DAY);
    assert_int_equal(c->call_late.submit_within_ms, 48 * TP_TEST_HOUR);
    tp_config_destroy(&c);
}

static void test_example_file(void **state) {
    (void)state;
    tp_config_t *c = NULL;
    int          r = tp_config_load(TP_SOURCE_DIR "/examples/touchpointd.yaml", tp_test_config_err,
                                    sizeof tp_test_config_err, &c);
    if (r != 0)
        fail_msg("%s", tp_test_config_err);
    assert_defaults(c); /* the example spells out every default */
    tp_config_destroy(&c);
}

static void test_types(void **state) {
    (void)state;
    tp_config_t *c = tp_test_parse_ok(
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
    assert_int_equal(c->uncoordinated_contact.window_ms, 14 * TP_TEST_DAY);
    assert_int_equal(c->uncoordinated_contact.min_reps, 5);
    assert_int_equal(c->hcp_burden.max_hcp_actions, 0);
    /* A partial targets map overrides only the types it lists. */
    assert_int_equal(c->cycle_time.target_ms[1], 14 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[4], 30 * TP_TEST_DAY);
    assert_int_equal(c->cycle_time.target_ms[5], 7 * TP_TEST_DAY);
    assert_false(c->case_stalled.enabled);
    assert_int_equal(c->case_stalled.stall_after_ms, 90 * 60000);
    assert_true(c->call_late.enabled);
    tp_config_destroy(&c);

    /* Sixteen inputs is the limit; the same endpoint twice is fine when connecting. */
    char big[4096] = "inputs:\n";
    for (int i = 0; i < TP_MAX_INPUTS; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big),
                 "  - { endpoint: \"tcp://h:%d\", mode: connect }\n", i % 2);
    c = tp_test_parse_ok(big);
    assert_int_equal(c->n_inputs, TP_MAX_INPUTS);
    tp_config_destroy(&c);
}

static void test_durations(void **state) {
    (void)state;
    static const struct {
        const char *s;
        int64_t     ms;
    } good[] = {
        { "1ms", 1 },
        { "250ms", 250 },
        { "90s", 90000 },
        { "30m", 1800000 },
        { "48h", 48 * TP_TEST_HOUR },
        { "7d", 7 * TP_TEST_DAY },
        { "2w", 14 * TP_TEST_DAY },
        { "007s", 7000 },
        { "9223372036854775807ms", INT64_MAX },
        { "15250284452w", 15250284452 * 7 * TP_TEST_DAY },
    };
    static const char *const bad[] = {
        "",
        "48",
        "h",
        "0ms",
        "0w",
        "-1h",
        "+1h",
        " 1h",
        "1h ",
        "1 h",
        "1.5h",
        "1H",
        "1hr",
        "1y",
        "1msx",
        "9223372036854775808ms",
        "106751991167301d",
        "15250284453w",
        "99999999999999999999999s",
        "0x10s",
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

static void test_field_names(void **state) {
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

static void test_feedback_sources_and_type_slas(void **state) {
    (void)state;
    const char  *yaml = "feedback_sources:\n"
                        "  qualtrics-eu: { nps_max: 6 }\n"
                        "  medallia: { nps_max: 7, effort_scale: 5, effort_high_is_hard: false,\n"
                        "              effort_threshold: 2 }\n"
                        "rules:\n"
                        "  step_slow:\n"
                        "    default_sla: 5d\n"
                        "    by_step: { FMV_REVIEW: 3d }\n"
                        "    by_contract_type: { GRANT: 10d }\n";
    char         err[256];
    tp_config_t *c = NULL;
    assert_int_equal(tp_config_parse(yaml, strlen(yaml), "t.yaml", err, sizeof err, &c), 0);
    assert_int_equal(c->n_feedback_sources, 2);
    const tp_feedback_source_t *q = tp_config_feedback_source(c, "qualtrics-eu");
    assert_non_null(q);
    assert_int_equal(q->nps_max, 6);
    assert_int_equal(q->effort_scale, 7); /* defaults fill what is not said */
    assert_true(q->effort_high_is_hard);
    assert_int_equal(q->effort_threshold, 5);
    const tp_feedback_source_t *m = tp_config_feedback_source(c, "medallia");
    assert_int_equal(m->nps_max, 7);
    assert_int_equal(m->effort_scale, 5);
    assert_false(m->effort_high_is_hard);
    assert_int_equal(m->effort_threshold, 2);
    assert_null(tp_config_feedback_source(c, "other"));
    assert_null(tp_config_feedback_source(c, NULL));
    assert_int_equal(tp_config_step_sla(c, "FMV_REVIEW", 5), 3 * TP_TEST_DAY); /* by_step first */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 5), 10 * TP_TEST_DAY);   /* then the type */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 1), 5 * TP_TEST_DAY); /* then the default */
    assert_int_equal(tp_config_step_sla(c, "PAYMENT", 99), 5 * TP_TEST_DAY);
    tp_config_destroy(&c);
}

static void test_load(void **state) {
    (void)state;
    char path[] = "/tmp/test_config.XXXXXX";
    int  fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "# operator's file\nclock: event\nrules:\n  rework: { min_returns: 4 }\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);

    tp_config_t *c = NULL;
    assert_int_equal(tp_config_load(path, tp_test_config_err, sizeof tp_test_config_err, &c), 0);
    assert_string_equal(c->path, path);
    assert_int_equal(c->clock, TP_CLOCK_EVENT);
    assert_int_equal(c->rework.min_returns, 4);
    tp_config_destroy(&c);

    /* Errors are named after the file. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("clock: wall\nrules:\n  rework: { min_returns: many }\n", f);
    fclose(f);
    assert_int_equal(tp_config_load(path, tp_test_config_err, sizeof tp_test_config_err, &c),
                     -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: rules.rework.min_returns: invalid number", path);
    assert_memory_equal(tp_test_config_err, want, strlen(want));
    assert_null(c);

    /* One byte over 1 MiB is refused before parsing. */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1024 * 1024; i++)
        fputc(i % 64 == 63 ? '\n' : '#', f);
    fclose(f);
    assert_int_equal(tp_config_load(path, tp_test_config_err, sizeof tp_test_config_err, &c),
                     0); /* exactly 1 MiB */
    tp_config_destroy(&c);
    f = fopen(path, "a");
    fputc('\n', f);
    fclose(f);
    assert_int_equal(tp_config_load(path, tp_test_config_err, sizeof tp_test_config_err, &c),
                     -EFBIG);
    assert_non_null(strstr(tp_test_config_err, "file larger than 1048576 bytes"));
    assert_null(c);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(tp_config_load(path, tp_test_config_err, sizeof tp_test_config_err, &c),
                     -ENOENT);
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(tp_test_config_err, want);
    assert_int_equal(tp_config_load("/tmp", tp_test_config_err, sizeof tp_test_config_err, &c),
                     -EISDIR);
    assert_null(c);
}

TP_TEST_MAIN(cmocka_unit_test(test_defaults_empty), cmocka_unit_test(test_defaults_embedded),
             cmocka_unit_test(test_design_sample), cmocka_unit_test(test_example_file),
             cmocka_unit_test(test_types), cmocka_unit_test(test_durations),
             cmocka_unit_test(test_field_names),
             cmocka_unit_test(test_feedback_sources_and_type_slas), cmocka_unit_test(test_load))
