/* tp_testtool — see tp_testtool.h. */
#include "tp_testtool.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

/* ipc://<dir>/name, the fixture's. */
static char *s_ipc(tp_tool_fx_t *f, const char *name) {
    char *ep = NULL;
    assert_true(asprintf(&ep, "ipc://%s/%s", f->dir, name) > 0);
    return tp_tool_keep(f, ep);
}

int tp_tool_setup(void **state) {
    tp_tool_fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->proc.pidfd = -1;
    f->dir = tp_tool_keep(f, tp_tmpdir());
    f->endpoint = s_ipc(f, "bus.sock");
    f->replay_ep = s_ipc(f, "replay.sock");
    f->ctx = zmq_ctx_new();
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

int tp_tool_teardown(void **state) {
    tp_tool_fx_t *f = *state;
    tp_proc_reap(&f->proc);
    if (f->sock)
        zmq_close(f->sock);
    if (f->router)
        zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    tp_rmrf(f->dir);
    for (size_t i = 0; i < f->n_kept; i++)
        free(f->kept[i]);
    free(f);
    return 0;
}

static void *s_socket(tp_tool_fx_t *f, int type) {
    int   zero = 0;
    void *s = zmq_socket(f->ctx, type);
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

void tp_tool_bind(tp_tool_fx_t *f, int type) {
    f->sock = s_socket(f, type);
    if (type == ZMQ_SUB)
        assert_int_equal(zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, "crm.", 4), 0);
    assert_int_equal(zmq_bind(f->sock, f->endpoint), 0);
}

void tp_tool_bind_router(tp_tool_fx_t *f, const char *endpoint) {
    f->router = s_socket(f, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(f->router, endpoint), 0);
}

size_t tp_tool_recv(void *sock, int timeout_ms, char *frames[4], size_t lens[4]) {
    long long      deadline = tp_now_ms() + timeout_ms;
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    for (;;) {
        long long left = deadline - tp_now_ms();
        if (left < 0)
            left = 0;
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            return 0;
        break;
    }
    size_t n = 0;
    int    more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
        more = zmq_msg_more(&m);
        assert_true(n < 4);
        lens[n] = zmq_msg_size(&m);
        frames[n] = malloc(lens[n] + 1);
        assert_non_null(frames[n]);
        memcpy(frames[n], zmq_msg_data(&m), lens[n]);
        frames[n][lens[n]] = '\0';
        zmq_msg_close(&m);
        n++;
    }
    return n;
}

void tp_tool_free_frames(char *frames[4], size_t n) {
    for (size_t i = 0; i < n; i++)
        free(frames[i]);
}

char *tp_tool_keep(tp_tool_fx_t *f, char *p) {
    assert_non_null(p);
    assert_true(f->n_kept < sizeof f->kept / sizeof f->kept[0]);
    return f->kept[f->n_kept++] = p;
}

char *tp_tool_file(tp_tool_fx_t *f, const char *name, const char *text) {
    char *path = tp_tool_keep(f, tp_path(f->dir, name));
    assert_int_equal(tp_write_file(path, text), 0);
    return path;
}

void tp_tool_spawn(tp_tool_fx_t *f, const char *const argv[], const char *stdin_path) {
    static const char *const vg[] = { "/usr/bin/valgrind", "-q", "--leak-check=full",
                                      "--errors-for-leak-kinds=definite,indirect",
                                      "--error-exitcode=99" };
    size_t                   n = 0, nvg = getenv("TP_TEST_VALGRIND") ? sizeof vg / sizeof vg[0] : 0;
    for (size_t i = 0; i < nvg; i++)
        f->argv[n++] = vg[i];
    for (size_t i = 0; argv[i]; i++) {
        assert_true(n < sizeof f->argv / sizeof f->argv[0] - 1);
        f->argv[n++] = argv[i];
    }
    f->argv[n] = NULL;
    char *out = tp_path(f->dir, "out"), *err = tp_path(f->dir, "err");
    assert_int_equal(tp_proc_spawn(&f->proc, f->argv, stdin_path, out, err), 0);
    free(out);
    free(err);
}

int tp_tool_run(tp_tool_fx_t *f, const char *const argv[], const char *stdin_path, int timeout_ms) {
    tp_tool_spawn(f, argv, stdin_path);
    return tp_proc_wait(&f->proc, timeout_ms);
}

char *tp_tool_output(tp_tool_fx_t *f, const char *name) {
    char *path = tp_path(f->dir, name), *text = tp_read_file(path);
    free(path);
    return tp_tool_keep(f, text);
}
