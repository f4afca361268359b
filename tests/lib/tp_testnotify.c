/* tp_testnotify — see tp_testnotify.h. */
#include "tp_testnotify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

void tp_notify_open(tp_notify_t *n) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    n->dir = tp_tmpdir();
    snprintf(n->path, sizeof n->path, "%s/notify", n->dir);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", n->path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(n->fd >= 0);
    assert_int_equal(bind(n->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

void tp_notify_close(tp_notify_t *n) {
    close(n->fd);
    tp_rmrf(n->dir);
    free(n->dir);
}

void tp_notify_recv(const tp_notify_t *n, char *buf, size_t len) {
    zmq_pollitem_t item = { .fd = n->fd, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
    ssize_t got = recv(n->fd, buf, len - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
}

tp_dfx_t *tp_dfx_start_notified(const tp_notify_t *n, const char *watchdog_usec) {
    /* The child inherits these; the test's own process must not keep them. */
    setenv("NOTIFY_SOCKET", n->path, 1);
    setenv("WATCHDOG_USEC", watchdog_usec, 1);
    tp_dfx_t *d = tp_dfx_start("event", NULL);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    return d;
}

void tp_dfx_publish_file(tp_dfx_t *d, const char *path, size_t n) {
    const char *argv[] = { TP_PUB_BIN, "--endpoint", d->in_ep, path, NULL };
    tp_proc_t   pub;
    assert_int_equal(tp_proc_spawn(&pub, argv, NULL, NULL, NULL), 0);
    assert_int_equal(tp_proc_wait(&pub, TP_WAIT_MS), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
}

void tp_dfx_expect_alerts(const tp_dfx_t *d, const tp_want_alert_t *want, size_t n) {
    assert_true(d->got.n >= n);
    for (size_t i = 0; i < n; i++) {
        const Touchpoint__V1__Alert *a = d->got.alerts[i];
        assert_string_equal(d->got.topics[i], want[i].topic);
        assert_string_equal(a->alert_id, want[i].id);
        assert_int_equal(a->status, want[i].status);
        assert_int_equal(a->detected_at_ms, want[i].detected_at);
        if (want[i].resolution) {
            const char *r = tp_test_evidence(a, "resolution");
            assert_string_equal(r ? r : "(missing)", want[i].resolution);
        }
    }
}
