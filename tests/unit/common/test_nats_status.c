/* test_nats_status — the one natsStatus mapping (common/tp_nats_status):
 * the errno each status becomes, and the message, with and without a
 * libnats last error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tp_nats_status.h"
#include "tp_testutil.h"

static void test_errno(void **state) {
    (void)state;
    assert_int_equal(tp_nats_status_errno(NATS_OK), 0);
    assert_int_equal(tp_nats_status_errno(NATS_NO_MEMORY), -ENOMEM);
    assert_int_equal(tp_nats_status_errno(NATS_TIMEOUT), -ETIMEDOUT);
    assert_int_equal(tp_nats_status_errno(NATS_NOT_FOUND), -ENOENT);
    assert_int_equal(tp_nats_status_errno(NATS_NO_SERVER), -ECONNREFUSED);
    assert_int_equal(tp_nats_status_errno(NATS_INVALID_ARG), -EINVAL);
    assert_int_equal(tp_nats_status_errno(NATS_CONNECTION_CLOSED), -ENOTCONN);
    assert_int_equal(tp_nats_status_errno(NATS_ERR), -EIO);
    assert_int_equal(tp_nats_status_errno(NATS_STALE_CONNECTION), -EIO);
}

/* No last error on this thread: "what: <status text>", nothing after it. */
static void test_message_without_detail(void **state) {
    (void)state;
    char why[256], want[256];
    assert_null(nats_GetLastError(NULL));
    assert_int_equal(tp_nats_status_fail(NATS_TIMEOUT, "JetStream context", why, sizeof why),
                     -ETIMEDOUT);
    snprintf(want, sizeof want, "JetStream context: %s", natsStatus_GetText(NATS_TIMEOUT));
    assert_string_equal(why, want);
}

/* A real failure leaves libnats' last error, which follows the text. */
static void test_message_with_detail(void **state) {
    (void)state;
    natsConnection *nc = NULL;
    natsStatus      s = natsConnection_ConnectTo(&nc, "nats://127.0.0.1:1");
    assert_int_equal(s, NATS_NO_SERVER);
    const char *detail = nats_GetLastError(NULL);
    assert_non_null(detail);
    char why[512], want[512];
    assert_int_equal(tp_nats_status_fail(s, "nats://127.0.0.1:1", why, sizeof why), -ECONNREFUSED);
    snprintf(want, sizeof want, "nats://127.0.0.1:1: %s: %s", natsStatus_GetText(s), detail);
    assert_string_equal(why, want);
    nats_Close();
}

TP_TEST_MAIN(cmocka_unit_test(test_errno), cmocka_unit_test(test_message_without_detail),
             cmocka_unit_test(test_message_with_detail))
