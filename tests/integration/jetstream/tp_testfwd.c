/* tp_testfwd — see tp_testfwd.h. */
#include "tp_testfwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_CONNS 64

struct tp_testfwd {
    int             lfd;
    unsigned        port, target;
    pthread_t       thread;
    pthread_mutex_t mu;
    bool            cut, restore, stop; /* asked by the test, under mu */
    int             fd[MAX_CONNS][2];   /* [client, server]; server -1 when black-holed */
    size_t          n;
};

static void s_close_pair(tp_testfwd_t *f, size_t i) {
    for (int k = 0; k < 2; k++)
        if (f->fd[i][k] >= 0)
            close(f->fd[i][k]);
    f->fd[i][0] = f->fd[--f->n][0];
    f->fd[i][1] = f->fd[f->n][1];
}

static int s_connect(unsigned port) {
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void s_write_all(int fd, const char *buf, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the peer is gone: its read side sees it next */
        buf += w;
        n -= w;
    }
}

static void *s_thread(void *arg) {
    tp_testfwd_t *f = arg;
    char          buf[65536];
    for (;;) {
        pthread_mutex_lock(&f->mu);
        bool stop = f->stop, cut = f->cut, restore = f->restore;
        f->restore = false;
        pthread_mutex_unlock(&f->mu);
        if (stop || restore)
            while (f->n)
                s_close_pair(f, 0);
        if (stop)
            return NULL;
        struct pollfd pfd[1 + 2 * MAX_CONNS];
        size_t        np = 0;
        pfd[np++] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
        for (size_t i = 0; i < f->n; i++)
            for (int k = 0; k < 2; k++)
                pfd[np++] = (struct pollfd){ .fd = f->fd[i][k], .events = POLLIN };
        if (poll(pfd, np, 20) <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0 && f->n < MAX_CONNS) {
                f->fd[f->n][0] = c;
                f->fd[f->n][1] = cut ? -1 : s_connect(f->target);
                if (!cut && f->fd[f->n][1] < 0)
                    close(c); /* the server is down: as a refused connection */
                else
                    f->n++;
            } else if (c >= 0) {
                close(c);
            }
        }
        /* Back to front: closing a pair moves the last one into its place. */
        for (size_t i = f->n; i-- > 0;) {
            for (int k = 0; k < 2; k++) {
                struct pollfd *p = &pfd[1 + 2 * i + (size_t)k];
                if (p->fd < 0 || !(p->revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t n = read(p->fd, buf, sizeof buf);
                if (n <= 0) {
                    s_close_pair(f, i);
                    break;
                }
                if (!cut && f->fd[i][1 - k] >= 0)
                    s_write_all(f->fd[i][1 - k], buf, n);
                /* cut: dropped, as on a split network */
            }
        }
    }
}

tp_testfwd_t *tp_testfwd_start(unsigned target_port) {
    tp_testfwd_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->target = target_port;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    pthread_mutex_init(&f->mu, NULL);
    assert_int_equal(pthread_create(&f->thread, NULL, s_thread, f), 0);
    return f;
}

unsigned tp_testfwd_port(const tp_testfwd_t *f) {
    return f->port;
}

void tp_testfwd_cut(tp_testfwd_t *f) {
    pthread_mutex_lock(&f->mu);
    f->cut = true;
    pthread_mutex_unlock(&f->mu);
}

void tp_testfwd_restore(tp_testfwd_t *f) {
    pthread_mutex_lock(&f->mu);
    f->cut = false;
    f->restore = true;
    pthread_mutex_unlock(&f->mu);
}

void tp_testfwd_stop(tp_testfwd_t **pf) {
    tp_testfwd_t *f = pf ? *pf : NULL;
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *pf = NULL;
}
