/* tp_testtool — the fixture of the tool tests (test_tp_pub,
 * test_tp_pub_reliable, test_tp_tail): the real tp-pub or tp-tail binary as
 * a child, and ZeroMQ sockets owned by the test playing the daemon, on
 * ipc:// endpoints in a temp dir.
 *
 * Every wait has a deadline; nothing sleeps to "let a socket connect": a
 * test waits for the subscription instead (XPUB) or lets the tool wait for
 * it. With TP_TEST_VALGRIND set, the child runs under valgrind and any
 * memory error or leak makes it exit 99, which fails the exit-code
 * assertions. (The test itself cannot run under valgrind 3.19: it does not
 * know pidfd_open.) Helpers assert (CMocka) instead of returning errors.
 */
#pragma once

#include <stddef.h>

#include "tp_testutil.h"

#define TP_TOOL_WAIT_MS 10000 /* generous: the suite also runs under valgrind */

typedef struct {
    char       *dir;      /* temp dir, removed at teardown */
    char       *endpoint; /* ipc://dir/bus.sock */
    void       *ctx;
    void       *sock;      /* the test's end: SUB (tp-pub tests) or XPUB (tp-tail tests) */
    char       *replay_ep; /* ipc://dir/replay.sock */
    void       *router;    /* the test's ROUTER: replay (tp-tail --durable) or
                               reliable input (tp-pub --reliable) */
    tp_proc_t   proc;      /* the child under test */
    const char *argv[32];  /* argv as spawned, maybe behind valgrind */
    char       *kept[64];  /* what tp_tool_file / tp_tool_output gave out */
    size_t      n_kept;
} tp_tool_fx_t;

/* CMocka setup and teardown: *state is a fresh tp_tool_fx_t; teardown
 * kills the child if it still runs, closes the sockets, removes the dir. */
int tp_tool_setup(void **state);
int tp_tool_teardown(void **state);

/* Binds f->sock, of `type`, on f->endpoint; a SUB subscribes to "crm.".
 * Linger 0 so teardown never blocks. */
void tp_tool_bind(tp_tool_fx_t *f, int type);

/* Binds f->router, a ROUTER, on `endpoint`; linger 0. */
void tp_tool_bind_router(tp_tool_fx_t *f, const char *endpoint);

/* Receives one message of up to 4 frames within timeout_ms. Returns the
 * number of frames, 0 on timeout. Frames are malloc'd, NUL-terminated. */
size_t tp_tool_recv(void *sock, int timeout_ms, char *frames[4], size_t lens[4]);
void   tp_tool_free_frames(char *frames[4], size_t n);

/* p (asserted not NULL), now the fixture's: freed at teardown. */
char *tp_tool_keep(tp_tool_fx_t *f, char *p);

/* Writes `text` as dir/name, returns the path (the fixture's: freed at
 * teardown, so a failed assertion leaks nothing). */
char *tp_tool_file(tp_tool_fx_t *f, const char *name, const char *text);

/* Starts argv with stdout/stderr to dir/out, dir/err (maybe under
 * valgrind, see above). */
void tp_tool_spawn(tp_tool_fx_t *f, const char *const argv[], const char *stdin_path);

/* Runs argv to completion and returns its exit code. Only for runs that need
 * no socket of the test: a bound ZeroMQ socket attaches new peers (and sends
 * them its subscriptions) only while the test thread calls into it. */
int tp_tool_run(tp_tool_fx_t *f, const char *const argv[], const char *stdin_path, int timeout_ms);

/* The child's dir/name ("out", "err") as a string (the fixture's, as
 * above: each call reads the file anew). */
char *tp_tool_output(tp_tool_fx_t *f, const char *name);
