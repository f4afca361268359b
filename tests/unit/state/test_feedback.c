/* test_feedback — detractors by each survey tool's convention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tp_feedback.h"
#include "tp_testutil.h"

static tp_feedback_verdict_t s_judge(const tp_config_t *c, const char *source, int nps,
                                     int effort) {
    Touchpoint__V1__Feedback f;
    touchpoint__v1__feedback__init(&f);
    if (nps >= 0) {
        f.nps_value_case = TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
        f.nps = nps;
    }
    if (effort >= 0) {
        f.effort_score_value_case = TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE;
        f.effort_score = effort;
    }
    tp_feedback_verdict_t v;
    tp_feedback_judge(c, source, &f, 6, 5, &v);
    return v;
}

static void test_default_and_per_source(void **state) {
    (void)state;
    const char  *yaml = "feedback_sources:\n"
                        "  medallia: { nps_max: 4, effort_scale: 5, effort_high_is_hard: false,"
                        " effort_threshold: 2 }\n";
    char         err[256];
    tp_config_t *c;
    assert_int_equal(tp_config_parse(yaml, strlen(yaml), "t", err, sizeof err, &c), 0);
    /* Unlisted source: the rule's thresholds on 1..7, high = hard. */
    assert_true(s_judge(c, "other", 6, -1).detractor);
    assert_false(s_judge(c, "other", 7, -1).detractor);
    assert_true(s_judge(c, "other", 0, -1).nps_bad); /* 0 is a score, not absence */
    assert_true(s_judge(c, "other", -1, 5).effort_bad);
    assert_false(s_judge(c, "other", -1, 4).detractor);
    assert_false(s_judge(c, "other", -1, -1).detractor); /* nothing to judge */
    /* medallia: NPS band 0..4; effort 1..5 where 1 is the hardest. */
    assert_false(s_judge(c, "medallia", 5, -1).detractor);
    assert_true(s_judge(c, "medallia", 4, -1).detractor);
    assert_true(s_judge(c, "medallia", -1, 2).effort_bad);
    assert_false(s_judge(c, "medallia", -1, 3).detractor);
    assert_false(s_judge(c, "medallia", -1, 7).detractor); /* outside its scale: not judged */
    tp_feedback_verdict_t v = s_judge(c, "medallia", -1, 1);
    char                  text[32];
    tp_feedback_scale_text(&v, text, sizeof text);
    assert_string_equal(text, "1-5, low = hard");
    tp_config_destroy(&c);
}

TP_TEST_MAIN(cmocka_unit_test(test_default_and_per_source))
