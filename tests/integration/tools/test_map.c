/* test_map — tp-pub --map: mapping files (tp_map), CSV records with their
 * physical lines (tp_csv), the shared input path (tp_input), and the real
 * tp-pub feeding a real daemon from the shipped Veeva example.
 *
 * The shipped mappings are tested on the shipped examples, so the README's
 * "From CRM exports to alerts" cannot silently rot. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "touchpoint/v1/events.pb-c.h"
#include "tp_input.h"
#include "tp_map.h"
#include "tp_testdaemon.h"
#include "tp_timefmt.h"
#include "tp_testutil.h"

#define MAX_ROWS 64

typedef Touchpoint__V1__Envelope env_t;

struct rows {
    size_t n, n_bad;
    env_t *env[MAX_ROWS];
    size_t line[MAX_ROWS];
    char   bad[MAX_ROWS][600]; /* "LINE: reason" of each bad row */
    int    fatal;              /* the fatal error, if any */
    char   fatal_err[512];
};

static void s_rows_free(struct rows *r) {
    for (size_t i = 0; i < r->n; i++)
        protobuf_c_message_free_unpacked(&r->env[i]->base, NULL);
    free(r);
}

/* Every row of `data_path` through mapping `map_path` (both relative to
 * the source tree unless absolute). */
static struct rows *s_read(const char *map_path, const char *data_path) {
    char mp[1024], dp[1024], err[512];
    snprintf(mp, sizeof mp, "%s%s%s", *map_path == '/' ? "" : TP_SOURCE_DIR,
             *map_path == '/' ? "" : "/", map_path);
    snprintf(dp, sizeof dp, "%s%s%s", *data_path == '/' ? "" : TP_SOURCE_DIR,
             *data_path == '/' ? "" : "/", data_path);
    tp_map_t   *m = NULL;
    tp_input_t *in = NULL;
    int         r = tp_map_new_from_file(mp, err, sizeof err, &m);
    if (r < 0)
        fail_msg("%s", err);
    FILE *f = fopen(dp, "re");
    assert_non_null(f);
    assert_int_equal(tp_input_new(f, m, 1024 * 1024, &in), 0);
    struct rows *rows = calloc(1, sizeof *rows);
    assert_non_null(rows);
    for (;;) {
        ProtobufCMessage *msg = NULL;
        size_t            line = 0;
        r = tp_input_next(in, &msg, &line, err, sizeof err);
        if (r == 0)
            break;
        if (r == -EINVAL) {
            assert_true(rows->n_bad < MAX_ROWS);
            snprintf(rows->bad[rows->n_bad++], sizeof rows->bad[0], "%zu: %s", line, err);
            continue;
        }
        if (r < 0) {
            rows->fatal = r;
            snprintf(rows->fatal_err, sizeof rows->fatal_err, "%s", err);
            break;
        }
        assert_true(rows->n < MAX_ROWS);
        rows->line[rows->n] = line;
        rows->env[rows->n++] = (env_t *)msg;
    }
    tp_input_destroy(&in);
    tp_map_destroy(&m);
    fclose(f);
    return rows;
}

static char *s_write_tmp(const char *dir, const char *name, const char *text) {
    char *p = tp_path(dir, name);
    assert_int_equal(tp_write_file(p, text), 0);
    return p;
}

static void test_veeva_calls_example(void **state) {
    (void)state;
    struct rows *r = s_read("mappings/veeva_calls.yaml", "examples/veeva_calls.csv");
    assert_int_equal(r->n_bad, 0);
    assert_int_equal(r->n, 11);
    /* Row 2 has a quoted two-line note, so row 3 starts on line 5. */
    assert_int_equal(r->line[0], 2);
    assert_int_equal(r->line[1], 3);
    assert_int_equal(r->line[2], 5);
    const env_t *e = r->env[1];
    assert_string_equal(e->event_id, "a0C7Q00000Xk001UAE:2026-01-05T16:10:00.000Z");
    assert_string_equal(e->source, "veeva-eu");
    assert_int_equal(e->occurred_at_ms, 1767629400000LL); /* 2026-01-05T16:10Z */
    assert_int_equal(e->payload_case, TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL);
    const Touchpoint__V1__CallLogged *c = e->call;
    assert_string_equal(c->call_id, "a0C7Q00000Xk001UAE");
    assert_string_equal(c->hcp_id, "0017Q00001Hc101QAA");
    assert_string_equal(c->rep_id, "0057Q000002Rp17AAA");
    assert_string_equal(c->account_id, "0017Q00000Ho01AAA");
    assert_int_equal(c->channel, TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON);
    assert_int_equal(c->status, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED);
    assert_int_equal(c->call_at_ms, 1767601800000LL); /* 01/05/2026 09:30 at +01:00 */
    assert_int_equal(c->submitted_at_ms, 1767629400000LL);
    assert_int_equal(c->n_products, 2);
    assert_string_equal(c->products[1], "Neurolix");
    assert_string_equal(c->notes, "Dr. Weber asked for the renal subgroup data,\nespecially for "
                                  "patients with eGFR < 30 (\"the ones we worry about\").");
    /* The planned call: no submission time, no topics. */
    c = r->env[0]->call;
    assert_int_equal(c->status, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED);
    assert_int_equal(c->channel, TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE);
    assert_int_equal(c->submitted_at_ms, 0);
    assert_int_equal(c->n_topics, 0);
    /* The incomplete one: no topics, no next step. */
    c = r->env[2]->call;
    assert_string_equal(c->call_id, "a0C7Q00000Xk002UAE");
    assert_int_equal(c->n_topics, 0);
    assert_string_equal(c->next_step, "");
    s_rows_free(r);
}

static void test_speaker_contracting_example(void **state) {
    (void)state;
    struct rows *r =
        s_read("mappings/speaker_contracting.yaml", "examples/speaker_contracting.csv");
    assert_int_equal(r->n_bad, 0);
    assert_int_equal(r->n, 16);
    const Touchpoint__V1__ContractingStep *s = r->env[0]->contracting;
    assert_string_equal(r->env[0]->event_id,
                        "K-SPK-2026-001/Nomination/In Progress/2026-01-05 09:00");
    assert_string_equal(r->env[0]->source, "speaker-tracker");
    assert_string_equal(s->contract_id, "K-SPK-2026-001");
    assert_int_equal(s->contract_type, TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_SPEAKER);
    assert_string_equal(s->step, "NOMINATION");
    assert_int_equal(s->state, TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED);
    assert_int_equal(s->at_ms, 1767600000000LL); /* 2026-01-05 09:00 at +01:00 */
    assert_false(s->hcp_action);
    s = r->env[4]->contracting;
    assert_string_equal(s->step, "FMV_REVIEW");
    assert_string_equal(s->owner_id, "FMV-11");
    assert_true(s->hcp_action);
    s = r->env[5]->contracting;
    assert_int_equal(s->contract_type, TOUCHPOINT__V1__CONTRACT_TYPE__CONTRACT_TYPE_ADVISORY_BOARD);
    assert_string_equal(s->hcp_id, "HCP-DE-0311");
    s = r->env[15]->contracting;
    assert_string_equal(s->step, "PAYMENT");
    assert_int_equal(s->state, TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED);
    assert_true(s->case_closed);
    s_rows_free(r);
}

static void test_survey_nps_example(void **state) {
    (void)state;
    struct rows *r = s_read("mappings/survey_nps.yaml", "examples/survey_nps.csv");
    assert_int_equal(r->n_bad, 0);
    assert_int_equal(r->n, 9);
    const Touchpoint__V1__Feedback *f = r->env[2]->feedback;
    assert_string_equal(r->env[2]->event_id, "R_3c4D5e6F7g8H9i0");
    assert_string_equal(f->hcp_id, "HCP-DE-0520");
    assert_int_equal(f->nps_value_case, TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS);
    assert_int_equal(f->nps, 3);
    assert_int_equal(f->effort_score, 6);
    assert_int_equal(f->preferred_channel, TOUCHPOINT__V1__CHANNEL__CHANNEL_PHONE);
    assert_string_equal(f->subject_type, "general");
    assert_int_equal(f->at_ms, 1767967391000LL); /* 2026-01-09 14:03:11 UTC */
    /* Skipped effort question: absent, not 0; "No preference": unset. */
    f = r->env[3]->feedback;
    assert_int_equal(f->nps, 8);
    assert_int_equal(f->effort_score_value_case,
                     TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE__NOT_SET);
    assert_int_equal(f->preferred_channel, TOUCHPOINT__V1__CHANNEL__CHANNEL_UNSPECIFIED);
    assert_string_equal(f->subject_type, "contract");
    assert_string_equal(f->subject_id, "K-ADV-2026-007");
    /* Skipped NPS, effort 5: absent NPS. */
    f = r->env[5]->feedback;
    assert_int_equal(f->nps_value_case, TOUCHPOINT__V1__FEEDBACK__NPS_VALUE__NOT_SET);
    assert_int_equal(f->effort_score, 5);
    s_rows_free(r);
}

/* Bad rows: the physical line (after a quoted cell holding a newline and
 * the delimiter), the column, the reason; good rows after them still map. */
static void test_bad_rows(void **state) {
    (void)state;
    char             *dir = tp_tmpdir();
    static const char hdr[] =
        "Id,Account_vod__c,Location_vod__c,OwnerId,Territory_vod__c,Call_Datetime_vod__c,"
        "Call_Channel_vod__c,Status_vod__c,Detailed_Products_vod__c,Discussion_Topics__c,"
        "Call_Notes_vod__c,Next_Call_Notes_vod__c,Submitted_Date_vod__c,LastModifiedDate\n";
    char *csv = NULL;
    assert_true(
        asprintf(
            &csv,
            "%s"
            "C1,H1,L1,R1,T1,01/05/2026 09:30,Phone_vod,Submitted_vod,A;B,x,\"one, two\nthree\",n,"
            "2026-01-05T10:00:00Z,2026-01-05T10:00:00Z\n" /* 2-3 */
            "\n"                                          /* 4 */
            "C2,H1,L1,R1,T1,01/05/2026 09:30,Phone_vod,Pending,,,,,,2026-01-05T11:00:00Z\n" /* 5 */
            "C3,H1,L1,R1,T1,13/45/2026 09:30,Phone_vod,Saved_vod,,,,,,2026-01-05T11:00:00Z\n" /* 6 */
            ",H1,L1,R1,T1,01/05/2026 09:30,Phone_vod,Saved_vod,,,,,,2026-01-05T11:00:00Z\n" /* 7 */
            "C5,H1,L1,R1,T1,01/05/2026 09:30,Fax_vod,Saved_vod,,,,,,2026-01-05T11:00:00Z\n" /* 8 */
            "C6,H1\n"                                                                       /* 9 */
            "C7,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,\"a \"\"b\"\" "
            "c\",,,2026-01-05T12:00:00Z\n"
            "C8,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,x\"y,,,2026-01-05T12:00:00Z\n" /* 11 */
            "C9,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,,,,2026-01-05T13:00:00Z\n",    /* 12 */
            hdr) > 0);
    char        *path = s_write_tmp(dir, "calls.csv", csv);
    struct rows *r = s_read("mappings/veeva_calls.yaml", path);
    assert_int_equal(r->fatal, 0);
    assert_int_equal(r->n_bad, 6);
    assert_string_equal(r->bad[0], "5: column Status_vod__c: unknown value \"Pending\" (expected "
                                   "one of Planned_vod, Saved_vod, Submitted_vod, Cancelled_vod)");
    assert_string_equal(r->bad[1], "6: column Call_Datetime_vod__c: bad time \"13/45/2026 09:30\" "
                                   "for call_at_ms (expected %m/%d/%Y %H:%M)");
    assert_string_equal(r->bad[2], "7: column Id: empty, but event_id is made from it");
    assert_string_equal(r->bad[3],
                        "8: column Call_Channel_vod__c: unknown value \"Fax_vod\" "
                        "(expected one of Face_to_face_vod, Phone_vod, Video_vod, Email_vod, "
                        "Message_vod, Webinar_vod)");
    assert_string_equal(r->bad[4], "9: 2 cells, but the header has 14");
    assert_string_equal(r->bad[5], "11: malformed CSV on line 11: a quote inside an unquoted "
                                   "cell, or text after a closing quote");
    assert_int_equal(r->n, 3);
    assert_int_equal(r->line[0], 2);
    assert_string_equal(r->env[0]->call->notes, "one, two\nthree");
    assert_int_equal(r->env[0]->call->n_products, 2);
    assert_int_equal(r->line[1], 10);
    assert_string_equal(r->env[1]->call->notes, "a \"b\" c");
    assert_int_equal(r->env[1]->call->channel,
                     TOUCHPOINT__V1__CHANNEL__CHANNEL_IN_PERSON); /* default */
    assert_int_equal(r->line[2], 12);
    s_rows_free(r);
    free(path);

    /* A required field's cell empty (Id is also the event id's, so use the HCP). */
    path = s_write_tmp(dir, "hcp.csv", hdr);
    FILE *f = fopen(path, "ae");
    fputs("C1,,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,,,,2026-01-05T11:00:00Z\n", f);
    fputs("C2,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,,,,2026-01-05T11:00:00Z\n", f);
    fputs("C3,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,\"never closed\n", f);
    fclose(f);
    r = s_read("mappings/veeva_calls.yaml", path);
    assert_int_equal(r->n_bad, 2);
    assert_string_equal(r->bad[0], "2: column Account_vod__c: empty, but hcp_id is required");
    assert_string_equal(r->bad[1], "4: unterminated quoted cell (opened on line 4, still open at "
                                   "the end of the file)");
    assert_int_equal(r->n, 1);
    s_rows_free(r);
    free(path);

    /* A header without a column the mapping reads: fatal, nothing mapped. */
    path = s_write_tmp(dir, "nohdr.csv", "Id,Account_vod__c\nC1,H1\n");
    r = s_read("mappings/veeva_calls.yaml", path);
    assert_int_equal(r->fatal, -EBADMSG);
    assert_int_equal(r->n, 0);
    assert_non_null(strstr(
        r->fatal_err, "header (line 1) has no column LastModifiedDate, which the mapping reads"));
    s_rows_free(r);
    free(path);
    free(csv);
    tp_rmrf(dir);
    free(dir);
}

static void s_expect_map_error(const char *dir, const char *yaml, const char *want) {
    char     *path = s_write_tmp(dir, "m.yaml", yaml), err[512] = "", *exp = NULL;
    tp_map_t *m = NULL;
    assert_int_equal(tp_map_new_from_file(path, err, sizeof err, &m), -EINVAL);
    assert_null(m);
    assert_true(asprintf(&exp, "%s:%s", path, want) > 0);
    assert_string_equal(err, exp);
    free(exp);
    free(path);
}

#define HEAD "format: csv\npayload: feedback\nsource: s\nevent_id: \"{Id}\"\noccurred_at: At\n"

static void test_mapping_errors(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    s_expect_map_error(dir,
                       HEAD "fields:\n  feedback_id: Id\n  hcp_id: { colum: Hcp }\n  at_ms: At\n",
                       "8: hcp_id: unknown key \"colum\" (expected column, values, split, time, "
                       "timezone, default, required)");
    s_expect_map_error(dir, "format: csv\npayload: feedback\nsorce: s\n",
                       "3: unknown key \"sorce\" (expected format, delimiter, payload, source, "
                       "event_id, occurred_at, fields)");
    s_expect_map_error(dir, HEAD "fields:\n  feedback_id: Id\n  score: Nps\n",
                       "8: fields: unknown feedback field \"score\" (expected one of feedback_id, "
                       "hcp_id, subject_type, subject_id, nps, effort_score, comment, "
                       "preferred_channel, at_ms)");
    s_expect_map_error(dir, HEAD "fields:\n  feedback_id: Id\n  at_ms: At\n",
                       "6: fields: feedback.hcp_id is required by the contract and not mapped");
    s_expect_map_error(dir,
                       HEAD "fields:\n  feedback_id: Id\n  hcp_id: H\n  at_ms: At\n"
                            "  preferred_channel:\n    column: P\n    values: { Mail: E_MAIL }\n",
                       "12: preferred_channel: value \"E_MAIL\" refused by the contract: "
                       "preferred_channel: unknown enum value \"E_MAIL\"");
    s_expect_map_error(dir,
                       HEAD "fields:\n  feedback_id: Id\n  hcp_id: H\n  at_ms: { column: At, "
                            "time: \"dd.mm.yyyy\" }\n",
                       "9: at_ms: time \"dd.mm.yyyy\": expected iso8601, unix_ms, unix_s or a "
                       "strptime pattern such as \"%m/%d/%Y %H:%M\"");
    s_expect_map_error(dir, "format: xml\n", "1: format: \"xml\": expected csv or jsonl");
    tp_rmrf(dir);
    free(dir);
}

/* format: jsonl: the export's own field names; numbers and booleans are
 * read as their text. Also a tab delimiter and unix-ms times for CSV. */
static void test_jsonl_and_tab_csv(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *map =
        s_write_tmp(dir, "fb.yaml",
                    "format: jsonl\npayload: feedback\nsource: \"{tool}\"\nevent_id: \"fb:{id}\"\n"
                    "occurred_at: { column: ts, time: unix_s }\n"
                    "fields:\n  feedback_id: id\n  hcpId: hcp\n  nps: score\n"
                    "  at_ms: { column: ts, time: unix_s }\n");
    char        *data = s_write_tmp(dir, "fb.jsonl",
                                    "{\"id\": \"F1\", \"tool\": \"medallia\", \"hcp\": \"H1\", \"score\": "
                                           "4, \"ts\": 1767225600}\n"
                                           "\n"
                                           "{\"id\": \"F2\", \"tool\": \"medallia\", \"hcp\": \"H2\", \"score\": "
                                           "11, \"ts\": 1767225600}\n"
                                           "[1]\n");
    struct rows *r = s_read(map, data);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->env[0]->event_id, "fb:F1");
    assert_string_equal(r->env[0]->source, "medallia");
    assert_int_equal(r->env[0]->feedback->nps, 4);
    assert_int_equal(r->env[0]->feedback->at_ms, 1767225600000LL);
    assert_int_equal(r->n_bad, 1);
    assert_string_equal(r->bad[0], "4: expected a JSON object");
    /* nps 11 fits int32, so it maps as a JSON line would; the daemon's
     * range check refuses it. */
    assert_int_equal(r->env[1]->feedback->nps, 11);
    s_rows_free(r);
    free(map);
    free(data);

    map = s_write_tmp(
        dir, "tab.yaml",
        "format: csv\ndelimiter: \"\\t\"\npayload: call\nsource: x\nevent_id: \"{id}\"\n"
        "occurred_at: { column: at, time: unix_ms }\n"
        "fields:\n  call_id: id\n  hcp_id: h\n  rep_id: r\n  status: { column: s, default: SAVED "
        "}\n"
        "  call_at_ms: { column: at, time: unix_ms }\n  attendees: { column: who, split: \"|\" "
        "}\n");
    data = s_write_tmp(dir, "tab.csv",
                       "id\th\tr\ts\tat\twho\n"
                       "C1\tH1\tR1\t\t1767225600000\t\"Dr. A,\tDr. B | Dr. C|\"\n");
    r = s_read(map, data);
    for (size_t i = 0; i < r->n_bad; i++)
        print_error("%s\n", r->bad[i]);
    assert_int_equal(r->n_bad, 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->env[0]->call->status, TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED);
    assert_int_equal(r->env[0]->call->n_attendees, 2);
    assert_string_equal(r->env[0]->call->attendees[0], "Dr. A,\tDr. B");
    assert_string_equal(r->env[0]->call->attendees[1], "Dr. C");
    s_rows_free(r);
    free(map);
    free(data);
    tp_rmrf(dir);
    free(dir);
}

static void test_timefmt(void **state) {
    (void)state;
    int64_t ms;
    int32_t off;
    assert_int_equal(tp_timefmt_parse("2026-01-01", "iso8601", 0, &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(tp_timefmt_parse("2026-01-01T01:00:00.250+01:00", "iso8601", 0, &ms), 0);
    assert_int_equal(ms, 1767225600250LL);
    assert_int_equal(tp_timefmt_parse("2026-01-01 00:00", "iso8601", 3600, &ms), 0);
    assert_int_equal(ms, 1767225600000LL - 3600000);
    assert_int_equal(tp_timefmt_parse("2026-02-30", "iso8601", 0, &ms), -EINVAL);
    assert_int_equal(tp_timefmt_parse("2026-01-01T00:00Zjunk", "iso8601", 0, &ms), -EINVAL);
    assert_int_equal(tp_timefmt_parse("1/1/2026 12:00 AM", "%m/%d/%Y %I:%M %p", 0, &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(tp_timefmt_parse("01.01.2026 01:00 +0100", "%d.%m.%Y %H:%M %z", 0, &ms), 0);
    assert_int_equal(ms, 1767225600000LL);
    assert_int_equal(tp_timefmt_parse_offset("-05:30", &off), 0);
    assert_int_equal(off, -19800);
    assert_int_equal(tp_timefmt_parse_offset("Europe/Berlin", &off), -EINVAL);
}

/* tp-pub --map feeds the shipped Veeva example to a real daemon (event
 * clock): the alerts the README promises arrive, in order; then the same
 * over the reliable input, every row acknowledged. */
static void s_expect_veeva_alerts(tp_dfx_t *d) {
    static const struct {
        const char *id;
        int         status;
    } want[] = {
        { "call_incomplete:call/a0C7Q00000Xk002UAE",
          TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING },
        { "call_unsubmitted:call/a0C7Q00000Xk003UAE",
          TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING },
        { "call_late:call/a0C7Q00000Xk004UAE", TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING },
        { "call_late:call/a0C7Q00000Xk004UAE",
          TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        assert_string_equal(d->got.alerts[i]->alert_id, want[i].id);
        assert_int_equal(d->got.alerts[i]->status, want[i].status);
    }
    assert_string_equal(d->got.alerts[0]->territory, "DE-BERLIN");
    tp_dfx_expect_nothing_more(d);
}

static void test_pub_map_to_daemon(void **state) {
    (void)state;
    for (int reliable = 0; reliable < 2; reliable++) {
        tp_dfx_t   *d = tp_dfx_start("event", NULL);
        char       *err = tp_path(d->dir, "pub.err");
        const char *argv[] = { TP_PUB_BIN,
                               "--map",
                               TP_SOURCE_DIR "/mappings/veeva_calls.yaml",
                               "--endpoint",
                               reliable ? d->reliable_ep : d->in_ep,
                               reliable ? "--reliable" : "--keep-going",
                               TP_SOURCE_DIR "/examples/veeva_calls.csv",
                               NULL };
        assert_int_equal(tp_run(argv, NULL, err, TP_WAIT_MS), 0);
        s_expect_veeva_alerts(d);
        TP_EXPECT_FILE_HAS(err, reliable ? "published 11, acknowledged 11, refused 0"
                                         : "published 11, bad lines 0");
        free(err);
        free(tp_dfx_stop(d));
        tp_dfx_free(d);
    }
}

/* tp-pub's side of a bad row: FILE:LINE: column ..., counted, exit 1;
 * --stop-on-error stops there; a refused mapping is exit 2 with its line. */
static void test_pub_map_bad_rows(void **state) {
    (void)state;
    char *dir = tp_tmpdir();
    char *csv = s_write_tmp(
        dir, "c.csv",
        "Id,Account_vod__c,Location_vod__c,OwnerId,Territory_vod__c,Call_Datetime_vod__c,"
        "Call_Channel_vod__c,Status_vod__c,Detailed_Products_vod__c,Discussion_Topics__c,"
        "Call_Notes_vod__c,Next_Call_Notes_vod__c,Submitted_Date_vod__c,LastModifiedDate\n"
        "C1,H1,L1,R1,T1,01/05/2026 09:30,,Pending,,,,,,2026-01-05T11:00:00Z\n"
        "C2,H1,L1,R1,T1,01/05/2026 09:30,,Saved_vod,,,,,,2026-01-05T11:00:00Z\n");
    char *out = tp_path(dir, "out"), *err = tp_path(dir, "err");
    char *bad_map = s_write_tmp(dir, "bad.yaml", "format: csv\npayload: call\nfilds: {}\n");
    for (int stop = 0; stop < 3; stop++) {
        const char *argv[] = { TP_PUB_BIN,
                               "--dry-run",
                               "--map",
                               stop == 2 ? bad_map : TP_SOURCE_DIR "/mappings/veeva_calls.yaml",
                               stop ? "--stop-on-error" : "--keep-going",
                               csv,
                               NULL };
        tp_proc_t   p;
        assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
        assert_int_equal(tp_proc_wait(&p, TP_WAIT_MS), stop == 2 ? 2 : 1);
        char *text = tp_read_file(err), *printed = tp_read_file(out), *want = NULL;
        if (stop == 2) {
            assert_true(asprintf(&want, "tp-pub: %s:3: unknown key \"filds\"", bad_map) > 0);
        } else {
            assert_true(asprintf(&want,
                                 "tp-pub: %s:2: column Status_vod__c: unknown value "
                                 "\"Pending\" (expected one of Planned_vod, Saved_vod, "
                                 "Submitted_vod, Cancelled_vod)\n",
                                 csv) > 0);
            assert_non_null(
                strstr(text, stop ? "checked 0, bad lines 1" : "checked 1, bad lines 1"));
            assert_int_equal(tp_count_lines(printed, "\"callId\":\"C2\""), stop ? 0 : 1);
        }
        assert_non_null(strstr(text, want));
        free(want);
        free(text);
        free(printed);
    }
    free(bad_map);
    free(csv);
    free(out);
    free(err);
    tp_rmrf(dir);
    free(dir);
}

TP_TEST_MAIN(cmocka_unit_test(test_veeva_calls_example),
             cmocka_unit_test(test_speaker_contracting_example),
             cmocka_unit_test(test_survey_nps_example), cmocka_unit_test(test_bad_rows),
             cmocka_unit_test(test_mapping_errors), cmocka_unit_test(test_jsonl_and_tab_csv),
             cmocka_unit_test(test_timefmt), cmocka_unit_test(test_pub_map_bad_rows),
             cmocka_unit_test(test_pub_map_to_daemon))
