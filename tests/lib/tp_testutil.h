/* tp_testutil — helpers for process-level tests: temp dirs, files, and
 * child processes (the real touchpointd, tp-pub, tp-tail) whose stdout and
 * stderr go to files, waited for with a deadline (pidfd + poll, no sleeps);
 * and TP_TEST_MAIN, the main() every test program shares.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int   pidfd;  /* -1 once reaped, -2 no pidfd (valgrind) */
    int   status; /* wait status once reaped */
} tp_proc_t;

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string and
 * removes the tree with tp_rmrf(). NULL on failure. */
char *tp_tmpdir(void);
void  tp_rmrf(const char *dir);

/* "dir/name" in a static-free malloc'd string. */
char *tp_path(const char *dir, const char *name);

/* Whole file as a NUL-terminated string (caller frees); NULL if missing. */
char *tp_read_file(const char *path);
int   tp_write_file(const char *path, const char *text);

/* Starts argv[0] with stdin/stdout/stderr from/to the given paths (NULL:
 * /dev/null). Returns 0 or a negative errno. */
int tp_proc_spawn(tp_proc_t *p, const char *const argv[], const char *stdin_path,
                  const char *stdout_path, const char *stderr_path);

/* Waits up to timeout_ms for the child to exit. Returns its exit code
 * (0..255), 128+signal if it died on a signal, or -ETIMEDOUT (child still
 * running). */
int tp_proc_wait(tp_proc_t *p, int timeout_ms);

/* tp_proc_spawn (no stdin) then tp_proc_wait: the exit code of argv run to
 * its end, a negative errno if it could not start, or -ETIMEDOUT (the
 * child is then killed). */
int tp_run(const char *const argv[], const char *out_path, const char *err_path, int timeout_ms);

/* Sends sig; 0 or negative errno. */
int tp_proc_signal(tp_proc_t *p, int sig);

/* SIGKILL + reap if still running; safe to call twice. */
void tp_proc_reap(tp_proc_t *p);

/* Counts lines of `text` containing `needle`. */
size_t tp_count_lines(const char *text, const char *needle);

/* "" when each of needles[] (NULL-terminated) is on exactly one line of
 * text, else the first that is not. TP_EXPECT_ONCE asserts it (cmocka):
 *   TP_EXPECT_ONCE(err, "tp-pub: published 2", ":3: call.status"); */
const char *tp_not_once(const char *text, const char *const needles[]);
#define TP_EXPECT_ONCE(text, ...) \
    assert_string_equal(tp_not_once((text), (const char *const[]){ __VA_ARGS__, NULL }), "")

/* A snapshot section round trip through an unlinked temporary file (what
 * every save/load test does): tp_test_snap_file makes the file and a
 * writer on it, tp_test_snap_written flushes (asserting no error) and
 * frees the writer, tp_test_snap_reader reads the file from its start, at
 * most `limit` bytes (0: all); call it again to read it once more. */
typedef struct tp_snapw tp_snapw_t;
typedef struct tp_snapr tp_snapr_t;
FILE                   *tp_test_snap_file(tp_snapw_t **ret_w);
void                    tp_test_snap_written(tp_snapw_t **w);
tp_snapr_t             *tp_test_snap_reader(FILE *f, uint64_t limit);

/* "" when the file at path holds needle, else needle: TP_EXPECT_FILE_HAS
 * asserts it (cmocka), naming what is missing. */
const char *tp_file_lacks(const char *path, const char *needle);
#define TP_EXPECT_FILE_HAS(path, needle) assert_string_equal(tp_file_lacks((path), (needle)), "")

/* Monotonic milliseconds, for deadlines in test loops. */
long long tp_now_ms(void);

/* Waits until the file at `path` exists and has at least `lines` lines
 * containing `needle` ("" for any line); false after timeout_ms. Polls
 * every 20 ms: a file another process writes has no event to wait for. */
bool tp_wait_lines(const char *path, const char *needle, size_t lines, int timeout_ms);

/* A loopback TCP port nobody listens on right now (bound, read, closed):
 * for servers a test starts. 0 on failure. */
unsigned tp_free_port(void);

/* The fixture a setup left in *state, or skip() for the test when it
 * left NULL: something the test needs is not installed (the setup says
 * which, and fails instead under TP_TEST_REQUIRE_ALL=1). */
void *tp_fixture_or_skip(void **state);

/* The main() of a test program (after <cmocka.h>): runs the tests given,
 * `cmocka_unit_test(test_x), ...`, as one group without group fixtures. */
#define TP_TEST_MAIN(...)                                  \
    int main(void) {                                       \
        const struct CMUnitTest tests[] = { __VA_ARGS__ }; \
        return cmocka_run_group_tests(tests, NULL, NULL);  \
    }

/* The same where every test runs on the file's fixture: each test given
 * (`cmocka_unit_test(test_x), ...`) gets setup and teardown. */
#define TP_TEST_MAIN_WITH(setup, teardown, ...)                     \
    int main(void) {                                                \
        struct CMUnitTest tests[] = { __VA_ARGS__ };                \
        for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) { \
            tests[i].setup_func = (setup);                          \
            tests[i].teardown_func = (teardown);                    \
        }                                                           \
        return cmocka_run_group_tests(tests, NULL, NULL);           \
    }
