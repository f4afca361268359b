/* tp_testnotify — see tp_testnotify.h. */
#include "tp_testnotify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
