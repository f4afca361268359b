/* tp_sink_file — see tp_sink_file.h. */
#include "tp_sink_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

struct sink_file {
    tp_sink_t base;
    char     *path;  /* NULL = stdout */
    int       fd;    /* FILE, appended to */
    bool      fsync; /* fsync every line (--fsync) */
};

static int s_open(const char *path, char *why, size_t whylen, int *ret_fd) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int r = -errno;
        snprintf(why, whylen, "cannot open '%s': %s", path, strerror(-r));
        return r;
    }
    *ret_fd = fd;
    return 0;
}

/* Writes body + '\n' completely. O_APPEND makes each writev land at the
 * end; a short write (disk full) is finished or reported as -EAGAIN, so
 * the queue retries it later. A retried line may then appear twice, cut
 * and whole: better than lost. */
static int s_deliver(tp_sink_t *base, const char *body, size_t len, char *why, size_t whylen) {
    struct sink_file *s = (struct sink_file *)base;
    if (!s->path) {
        /* stdout: flushed per line so a pipe sees it at once */
        if (fwrite(body, 1, len, stdout) != len || putchar('\n') == EOF || fflush(stdout) == EOF) {
            snprintf(why, whylen, "stdout: %s", strerror(errno));
            clearerr(stdout);
            return -EAGAIN;
        }
        return 0;
    }
    struct iovec iov[2] = { { (void *)body, len }, { "\n", 1 } };
    size_t       left = len + 1;
    while (left > 0) {
        ssize_t n = writev(s->fd, iov, 2);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, whylen, "write to '%s': %s", s->path, n < 0 ? strerror(errno) : "short");
            return -EAGAIN;
        }
        left -= (size_t)n;
        for (int i = 0; i < 2 && n > 0; i++) {
            size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            n -= (ssize_t)k;
        }
    }
    if (s->fsync && fsync(s->fd) < 0) {
        snprintf(why, whylen, "fsync '%s': %s", s->path, strerror(errno));
        return -EAGAIN;
    }
    return 0;
}

/* The new file first: if it cannot be opened the old one stays in use. */
static int s_reopen(tp_sink_t *base, char *why, size_t whylen) {
    struct sink_file *s = (struct sink_file *)base;
    int               fd = -1;
    if (!s->path)
        return 0;
    int r = s_open(s->path, why, whylen, &fd);
    if (r < 0)
        return r;
    close(s->fd);
    s->fd = fd;
    return 0;
}

static void s_destroy(tp_sink_t *base) {
    struct sink_file *s = (struct sink_file *)base;
    if (!s)
        return;
    if (s->path && s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

static const struct tp_sink_ops s_ops = {
    .name = "file",
    .deliver = s_deliver,
    .reopen = s_reopen,
    .destroy = s_destroy,
};

static const struct tp_sink_ops s_stdout_ops = {
    .name = "stdout",
    .deliver = s_deliver,
    .reopen = NULL,
    .destroy = s_destroy,
};

int tp_sink_file_new(const char *path, bool fsync, char *why, size_t whylen, tp_sink_t **ret) {
    struct sink_file *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->base.ops = path ? &s_ops : &s_stdout_ops;
    s->fd = -1;
    s->fsync = fsync;
    if (path) {
        int r;
        if (!(s->path = strdup(path))) {
            free(s);
            return -ENOMEM;
        }
        if ((r = s_open(path, why, whylen, &s->fd)) < 0) {
            s_destroy(&s->base);
            return r;
        }
    }
    *ret = &s->base;
    return 0;
}
