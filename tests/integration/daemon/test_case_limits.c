/* test_case_limits — the bounds on contracting cases, over the reliable
 * input of the real daemon: a step event that would give a contract more
 * than TP_CASE_MAX_STEPS (32) distinct steps, and a contract that would
 * give an HCP more than limits.max_open_cases_per_hcp open cases, are
 * NACKed at once with the event id and the reason, counted (steps_dropped,
 * cases_over_hcp_limit), and the connection stays usable; a closed case
 * makes room again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define MAX_STEPS 32 /* TP_CASE_MAX_STEPS */
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED

/* A DEALER on d's reliable input. */
static void *s_dealer(tp_dfx_t *d) {
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    assert_non_null(s);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->reliable_ep), 0);
    return s;
}

/* Sends one step and asserts the reply: `what` ("ACK"/"NACK") for its
 * event id, and for a NACK a reason containing `reason`. */
static void s_step(void *sock, const tp_test_step_t *st, const char *what, const char *reason) {
    uint8_t *buf;
    size_t   len = tp_test_pack_step(st, &buf);
    assert_int_equal(zmq_send(sock, "crm.contracting", 15, ZMQ_SNDMORE), 15);
    assert_int_equal(zmq_send(sock, buf, len, 0), (int)len);
    free(buf);
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
    char got[8] = "", id[64] = "", why[256] = "";
    assert_true(zmq_recv(sock, got, sizeof got - 1, 0) > 0);
    assert_true(zmq_recv(sock, id, sizeof id - 1, 0) >= 0);
    int    more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    if (more)
        assert_true(zmq_recv(sock, why, sizeof why - 1, 0) >= 0);
    if (strcmp(got, what) != 0)
        fail_msg("%s: got %s (%s), want %s", st->event_id, got, why, what);
    assert_string_equal(id, st->event_id);
    if (reason && !strstr(why, reason))
        fail_msg("%s: NACK reason '%s' lacks '%s'", st->event_id, why, reason);
}

static void test_step_beyond_max_distinct_steps_is_nacked(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start("event", NULL);
    void          *s = s_dealer(d);
    char           ev[32], step[32];
    tp_test_step_t st = {
        .event_id = ev, .contract_id = "K-MANY", .step = step, .state = COMPLETED
    };
    for (int i = 0; i < MAX_STEPS; i++) {
        snprintf(ev, sizeof ev, "st-%d", i);
        snprintf(step, sizeof step, "STEP_%02d", i);
        st.at_ms = T0 + i * 1000;
        s_step(s, &st, "ACK", NULL);
    }
    snprintf(ev, sizeof ev, "st-%d", MAX_STEPS);
    snprintf(step, sizeof step, "STEP_%02d", MAX_STEPS);
    st.at_ms = T0 + MAX_STEPS * 1000;
    s_step(s, &st, "NACK",
           "contract 'K-MANY' has 32 distinct steps already; dropped step 'STEP_32'");
    /* A step it has already: still accepted. */
    snprintf(ev, sizeof ev, "st-again");
    snprintf(step, sizeof step, "STEP_00");
    s_step(s, &st, "ACK", NULL);
    zmq_close(s);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "steps_dropped"), 1);
    /* Accepted: the 32 distinct steps and the repeat; the dropped one is
     * counted as steps_dropped only (received = accepted + refusals). */
    assert_int_equal(tp_dfx_stat(log, "contracting"), MAX_STEPS + 1);
    free(log);
}

static void test_case_beyond_max_open_per_hcp_is_nacked(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start("event", "limits: { max_open_cases_per_hcp: 2 }\n");
    void          *s = s_dealer(d);
    tp_test_step_t st = { .event_id = "k1",
                          .at_ms = T0,
                          .contract_id = "K-1",
                          .hcp_id = "HCP-X",
                          .step = "NOMINATION",
                          .state = COMPLETED };
    s_step(s, &st, "ACK", NULL);
    st.event_id = "k2";
    st.contract_id = "K-2";
    s_step(s, &st, "ACK", NULL);
    st.event_id = "k3";
    st.contract_id = "K-3";
    s_step(s, &st, "NACK", "HCP 'HCP-X' has 2 open contracts already");
    /* Another HCP is not limited by HCP-X's cases. */
    st.event_id = "y1";
    st.hcp_id = "HCP-Y";
    s_step(s, &st, "ACK", NULL);
    /* K-1 closes: room for K-3 (sent again under a new event id). */
    tp_test_step_t close = { .event_id = "k1-closed",
                             .at_ms = T0 + 1000,
                             .contract_id = "K-1",
                             .hcp_id = "HCP-X",
                             .step = "PAYMENT",
                             .state = COMPLETED,
                             .case_closed = true };
    s_step(s, &close, "ACK", NULL);
    st.event_id = "k3-again";
    st.hcp_id = "HCP-X";
    st.at_ms = T0 + 2000;
    s_step(s, &st, "ACK", NULL);
    zmq_close(s);
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "cases_over_hcp_limit", 1 }, { "steps_dropped", 0 });
    assert_non_null(strstr(log, "not opening 'K-3'"));
    free(log);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_step_beyond_max_distinct_steps_is_nacked,
                                       tp_dfx_teardown),
             cmocka_unit_test_teardown(test_case_beyond_max_open_per_hcp_is_nacked,
                                       tp_dfx_teardown))
