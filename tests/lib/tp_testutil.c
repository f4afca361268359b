/* tp_testutil — see tp_testutil.h. */
#include "tp_testutil.h"
#include "tp_snapio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

extern char **environ;

/* Children still running when the test program exits (a failed assertion
 * skips the test's own clean-up) are killed, so no daemon outlives its test. */
#define MAX_CHILDREN 64
static pid_t s_children[MAX_CHILDREN];

static void s_kill_children(void) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
}

static void s_track(pid_t pid, bool add) {
    static bool registered;
    if (!registered) {
        atexit(s_kill_children);
        registered = true;
    }
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (add ? s_children[i] == 0 : s_children[i] == pid) {
            s_children[i] = add ? pid : 0;
            return;
        }
}

char *tp_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char       *tmpl = NULL;
    if (asprintf(&tmpl, "%s/tp-test-XXXXXX", base && *base ? base : "/tmp") < 0)
        return NULL;
    if (!mkdtemp(tmpl)) {
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

static int s_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tp_rmrf(const char *dir) {
    if (dir)
        nftw(dir, s_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *tp_path(const char *dir, const char *name) {
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

char *tp_read_file(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char  *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int tp_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    size_t n = strlen(text);
    int    r = fwrite(text, 1, n, f) == n ? 0 : -EIO;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    return r;
}

int tp_proc_spawn(tp_proc_t *p, const char *const argv[], const char *stdin_path,
                  const char *stdout_path, const char *stderr_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, stdout_path ? stdout_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path ? stderr_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int   r = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -r;
    p->pid = pid;
    p->status = 0;
    s_track(pid, true);
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    /* valgrind 3.19 does not know pidfd_open: fall back to polling
     * waitpid(WNOHANG) in tp_proc_wait, marked by pidfd == -2. */
    if (p->pidfd < 0)
        p->pidfd = -2;
    return 0;
}

static int s_decode_status(int st) {
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -EINVAL;
}

/* Without a pidfd: waitpid(WNOHANG) every 5 ms until the deadline. */
static int s_wait_polling(tp_proc_t *p, int timeout_ms) {
    long long deadline = tp_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->pidfd = -1;
            s_track(p->pid, false);
            return s_decode_status(p->status);
        }
        if (r < 0)
            return -errno;
        if (timeout_ms >= 0 && tp_now_ms() >= deadline)
            return -ETIMEDOUT;
        nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
    }
}

int tp_proc_wait(tp_proc_t *p, int timeout_ms) {
    if (p->pidfd == -2)
        return s_wait_polling(p, timeout_ms);
    if (p->pidfd < 0)
        return s_decode_status(p->status);
    struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
    int           r;
    do
        r = poll(&pfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return -ETIMEDOUT;
    if (waitpid(p->pid, &p->status, 0) < 0)
        return -errno;
    close(p->pidfd);
    p->pidfd = -1;
    s_track(p->pid, false);
    return s_decode_status(p->status);
}

int tp_proc_signal(tp_proc_t *p, int sig) {
    if (p->pidfd == -1)
        return -ESRCH;
    return kill(p->pid, sig) < 0 ? -errno : 0;
}

void tp_proc_reap(tp_proc_t *p) {
    if (p->pidfd == -1)
        return;
    kill(p->pid, SIGKILL);
    tp_proc_wait(p, -1);
}

size_t tp_count_lines(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t      len = end ? (size_t)(end - line) : strlen(line);
        const char *hit = strstr(line, needle);
        if (hit && hit < line + len)
            n++;
        line = end ? end + 1 : NULL;
    }
    return n;
}

const char *tp_not_once(const char *text, const char *const needles[]) {
    for (size_t i = 0; needles[i]; i++)
        if (!text || tp_count_lines(text, needles[i]) != 1)
            return needles[i];
    return "";
}

int tp_run(const char *const argv[], const char *out_path, const char *err_path, int timeout_ms) {
    tp_proc_t p;
    int       r = tp_proc_spawn(&p, argv, NULL, out_path, err_path);
    if (r < 0)
        return r;
    r = tp_proc_wait(&p, timeout_ms);
    if (r < 0)
        tp_proc_reap(&p);
    return r;
}

const char *tp_file_lacks(const char *path, const char *needle) {
    char *text = tp_read_file(path);
    bool  has = text && strstr(text, needle);
    free(text);
    return has ? "" : needle;
}

long long tp_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool tp_wait_lines(const char *path, const char *needle, size_t lines, int timeout_ms) {
    long long deadline = tp_now_ms() + timeout_ms;
    for (;;) {
        char  *text = tp_read_file(path);
        size_t n = text ? tp_count_lines(text, needle) : 0;
        bool   there = text && n >= lines;
        free(text);
        if (there)
            return true;
        if (tp_now_ms() > deadline)
            return false;
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

unsigned tp_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          len = sizeof a;
    unsigned           port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void *tp_fixture_or_skip(void **state) {
    if (!*state)
        skip();
    return *state;
}

FILE *tp_test_snap_file(tp_snapw_t **ret_w) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(tp_snapw_new(fileno(f), ret_w), 0);
    return f;
}

void tp_test_snap_written(tp_snapw_t **w) {
    assert_int_equal(tp_snapw_flush(*w, NULL), 0);
    tp_snapw_destroy(w);
}

tp_snapr_t *tp_test_snap_reader(FILE *f, uint64_t limit) {
    tp_snapr_t *r;
    assert_int_equal(lseek(fileno(f), 0, SEEK_SET), 0);
    assert_int_equal(tp_snapr_new(fileno(f), limit, &r), 0);
    return r;
}
