/* test_codec — decode and validation of bus messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_codec.h"
#include "tp_testutil.h"

static Touchpoint__V1__Envelope s_env;
static Touchpoint__V1__Feedback s_fb;
static char                     s_why[256];

static int s_setup(void **state) {
    (void)state;
    touchpoint__v1__envelope__init(&s_env);
    touchpoint__v1__feedback__init(&s_fb);
    s_env.event_id = "e1";
    s_env.source = "survey";
    s_env.occurred_at_ms = 1000;
    s_env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK;
    s_env.feedback = &s_fb;
    s_fb.feedback_id = "F-1";
    s_fb.hcp_id = "H-1";
    s_fb.subject_type = "contract";
    s_fb.at_ms = 1000;
    return 0;
}

static tp_bad_t s_validate(void) {
    s_why[0] = '\0';
    return tp_codec_validate(&s_env, s_why, sizeof s_why);
}

static void test_valid_feedback(void **state) {
    (void)state;
    assert_int_equal(s_validate(), TP_BAD_NONE);
    s_fb.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    s_fb.nps = 0; /* 0 is a real score, not "absent" */
    assert_int_equal(s_validate(), TP_BAD_NONE);
}

static void test_scores_out_of_range(void **state) {
    (void)state;
    s_fb.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
    s_fb.nps = 11;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_string_equal(s_why, "feedback.nps 11 is out of range 0..10");
    s_fb.nps = 3;
    s_fb.effort_score_value_case = TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE;
    s_fb.effort_score = 0;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "effort_score"));
}

static void test_ids_bounded_and_printable(void **state) {
    (void)state;
    char longid[TP_ID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    s_env.event_id = longid;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "event_id is longer"));
    longid[TP_ID_MAX] = '\0'; /* exactly TP_ID_MAX: fine */
    assert_int_equal(s_validate(), TP_BAD_NONE);
    s_env.event_id = "e1";
    s_fb.hcp_id = "H\n1";
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_string_equal(s_why, "feedback.hcp_id contains a control character");
    s_fb.hcp_id = "";
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_string_equal(s_why, "feedback.hcp_id is missing");
}

/* Every byte below 0x20 and 0x7f is refused at every position of an id
 * (the check runs 8 bytes at a time), and every other byte (UTF-8 ones
 * included) is accepted there. */
static void test_control_characters_anywhere(void **state) {
    (void)state;
    char id[40];
    for (size_t pos = 0; pos < sizeof id - 1; pos++) {
        for (unsigned ch = 1; ch < 256; ch++) {
            memset(id, 'a', sizeof id - 1);
            id[sizeof id - 1] = '\0';
            id[pos] = (char)ch;
            s_fb.hcp_id = id;
            bool control = ch < 0x20 || ch == 0x7f;
            assert_int_equal(s_validate(), control ? TP_BAD_INVALID : TP_BAD_NONE);
        }
    }
}

static void test_subject_type_and_times(void **state) {
    (void)state;
    s_fb.subject_type = "meeting";
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    s_fb.subject_type = "general";
    s_env.occurred_at_ms = 0;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "occurred_at_ms"));
    s_env.occurred_at_ms = -5;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
}

/* Found by fuzz_engine (fuzz/corpus/fuzz_engine/regress-time-overflow-*,
 * regress-watermark-end-of-time): times near INT64_MAX were valid, and
 * deadlines (time + duration) overflowed; a watermark at INT64_MAX fired
 * periodic deadlines for ever. Every time field ends at year 9999. */
static void test_times_end_at_year_9999(void **state) {
    (void)state;
    s_env.occurred_at_ms = TP_TIME_MAX_MS;
    assert_int_equal(s_validate(), TP_BAD_NONE);
    s_env.occurred_at_ms = TP_TIME_MAX_MS + 1;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "occurred_at_ms"));
    s_env.occurred_at_ms = INT64_MAX;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    s_env.occurred_at_ms = 1000;
    s_fb.at_ms = INT64_MAX;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "feedback.at_ms"));

    Touchpoint__V1__Watermark wm = TOUCHPOINT__V1__WATERMARK__INIT;
    wm.now_ms = INT64_MAX;
    s_env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
    s_env.watermark = &wm;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "watermark.now_ms"));

    Touchpoint__V1__CallLogged call = TOUCHPOINT__V1__CALL_LOGGED__INIT;
    call.call_id = "C-1";
    call.hcp_id = "H-1";
    call.rep_id = "R-1";
    call.status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
    call.call_at_ms = 1000;
    s_env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL;
    s_env.call = &call;
    assert_int_equal(s_validate(), TP_BAD_NONE); /* submitted_at unset: fine */
    call.submitted_at_ms = INT64_MAX;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "call.submitted_at_ms"));
    call.submitted_at_ms = 2000;
    call.call_at_ms = TP_TIME_MAX_MS + 1;
    assert_int_equal(s_validate(), TP_BAD_INVALID);
    assert_non_null(strstr(s_why, "call.call_at_ms"));
}

static void test_decode_frames(void **state) {
    (void)state;
    size_t   len = touchpoint__v1__envelope__get_packed_size(&s_env);
    uint8_t *buf = malloc(len);
    touchpoint__v1__envelope__pack(&s_env, buf);
    tp_frame_t                frames[2] = { { "crm.feedback", 12 }, { buf, len } };
    Touchpoint__V1__Envelope *env = NULL;
    assert_int_equal(tp_codec_decode(frames, 2, NULL, &env, s_why, sizeof s_why), TP_BAD_NONE);
    assert_string_equal(env->feedback->feedback_id, "F-1");
    touchpoint__v1__envelope__free_unpacked(env, NULL);
    /* A topic that is a prefix of a real one, or with a NUL, is unknown. */
    frames[0] = (tp_frame_t){ "crm.feed", 8 };
    assert_int_equal(tp_codec_decode(frames, 2, NULL, &env, s_why, sizeof s_why), TP_BAD_TOPIC);
    frames[0] = (tp_frame_t){ "crm.feedback\0", 13 };
    assert_int_equal(tp_codec_decode(frames, 2, NULL, &env, s_why, sizeof s_why), TP_BAD_TOPIC);
    assert_string_equal(s_why, "unknown topic \"crm.feedback?\"");
    /* An empty frame 2 is its own reason, not a topic/payload mismatch. */
    frames[0] = (tp_frame_t){ "crm.feedback", 12 };
    frames[1] = (tp_frame_t){ "", 0 };
    assert_int_equal(tp_codec_decode(frames, 2, NULL, &env, s_why, sizeof s_why), TP_BAD_EMPTY);
    assert_string_equal(tp_bad_name(TP_BAD_EMPTY), "empty");
    frames[1] = (tp_frame_t){ buf, len };
    /* Every truncation of a valid envelope is refused or decodes to something
     * valid, never a crash (ASan watches). */
    frames[0] = (tp_frame_t){ "crm.feedback", 12 };
    for (size_t cut = 0; cut < len; cut++) {
        frames[1].len = cut;
        env = NULL;
        if (tp_codec_decode(frames, 2, NULL, &env, s_why, sizeof s_why) == TP_BAD_NONE)
            touchpoint__v1__envelope__free_unpacked(env, NULL);
    }
    free(buf);
}

TP_TEST_MAIN(cmocka_unit_test_setup(test_valid_feedback, s_setup),
             cmocka_unit_test_setup(test_scores_out_of_range, s_setup),
             cmocka_unit_test_setup(test_ids_bounded_and_printable, s_setup),
             cmocka_unit_test_setup(test_control_characters_anywhere, s_setup),
             cmocka_unit_test_setup(test_subject_type_and_times, s_setup),
             cmocka_unit_test_setup(test_times_end_at_year_9999, s_setup),
             cmocka_unit_test_setup(test_decode_frames, s_setup))
