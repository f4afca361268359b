/* tp_snapshot — see tp_snapshot.h. */
#include "tp_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "tp_log.h"

#define MAGIC       "TPSNAP\r\n"
#define HEADER_SIZE 48
#define PREFIX      "snapshot-"
#define SUFFIX      ".tpsnap"

/* A test can make the child stop half-way (after the body, before the
 * header and the fsync) to kill the daemon while a snapshot is written:
 * the child then creates <tmp>.stall and waits for a signal. */
#define STALL_ENV "TOUCHPOINTD_TEST_SNAPSHOT_STALL"

#define CHILD_NICE 10 /* the writer's nice value */

static void s_path(char *buf, size_t len, const char *dir, uint64_t pos, const char *ext) {
    snprintf(buf, len, "%s/" PREFIX "%020" PRIu64 "%s", dir, pos, ext);
}

static int s_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* The body after the header, then the header (so a file cut short never
 * has a valid header describing more than it holds), then fsync. */
static int s_write_fd(int fd, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                      const char *stall_path, uint64_t *ret_size) {
    if (lseek(fd, HEADER_SIZE, SEEK_SET) < 0)
        return -errno;
    tp_snapw_t *w;
    int         r = tp_snapw_new(fd, &w);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        tp_snapw_u64(w, sections[i].tag);
        sections[i].save(sections[i].ctx, w);
    }
    uint64_t sum = 0, len = 0;
    r = tp_snapw_flush(w, &sum);
    len = tp_snapw_size(w);
    tp_snapw_destroy(&w);
    if (r < 0)
        return r;
    if (stall_path) {
        int sfd = open(stall_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (sfd >= 0) {
            char pid[24];
            int  pl = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            tp_snap_pwrite_all(sfd, pid, (size_t)pl, 0);
            close(sfd);
        }
        for (;;)
            pause();
    }
    unsigned char h[HEADER_SIZE];
    memcpy(h, MAGIC, 8);
    tp_snap_le32(h + 8, TP_SNAPSHOT_FORMAT);
    tp_snap_le32(h + 12, 0);
    tp_snap_le64(h + 16, pos);
    tp_snap_le64(h + 24, len);
    tp_snap_le64(h + 32, sum);
    tp_snap_le64(h + 40, XXH3_64bits(h, 40));
    if ((r = tp_snap_pwrite_all(fd, h, sizeof h, 0)) < 0)
        return r;
    if (fsync(fd) < 0)
        return -errno;
    if (ret_size)
        *ret_size = HEADER_SIZE + len;
    return 0;
}

static int s_write(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                   bool stall, uint64_t *ret_size) {
    char tmp[4096], stall_path[4200];
    s_path(tmp, sizeof tmp, dir, pos, ".tmp");
    snprintf(stall_path, sizeof stall_path, "%s.stall", tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = s_write_fd(fd, pos, sections, n, stall ? stall_path : NULL, ret_size);
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

int tp_snapshot_write(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections,
                      size_t n, uint64_t *ret_size) {
    return s_write(dir, pos, sections, n, false, ret_size);
}

int tp_snapshot_fork(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                     pid_t *ret_pid, int *ret_pidfd) {
    bool  stall = getenv(STALL_ENV) != NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Dies with the daemon: a writer left behind by a SIGKILL would
         * hold the state directory's lock (inherited) and stop the restart
         * (the half-written file is removed by the next start). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        /* The child: the loop's signal handlers are libevent's (a pipe to
         * a loop that does not run here): back to the defaults, so a
         * SIGTERM from systemd ends the child too. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        /* Behind the event loop for the CPU: on a small machine the two
         * share cores, and the loop's latency is what matters. */
        setpriority(PRIO_PROCESS, 0, CHILD_NICE); /* best effort */
        _exit(s_write(dir, pos, sections, n, stall, NULL) == 0 ? 0 : 1);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    *ret_pid = pid;
    *ret_pidfd = pidfd;
    return 0;
}

int tp_snapshot_commit(const char *dir, uint64_t pos) {
    char tmp[4096], path[4096];
    s_path(tmp, sizeof tmp, dir, pos, ".tmp");
    s_path(path, sizeof path, dir, pos, SUFFIX);
    if (rename(tmp, path) < 0)
        return -errno;
    return s_fsync_dir(dir);
}

void tp_snapshot_discard(const char *dir, uint64_t pos) {
    char tmp[4096];
    s_path(tmp, sizeof tmp, dir, pos, ".tmp");
    unlink(tmp);
}

static int s_cmp_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int tp_snapshot_list(const char *dir, bool remove_tmp, uint64_t **ret, size_t *ret_n) {
    DIR *dh = opendir(dir);
    if (!dh)
        return errno == ENOENT ? (*ret = NULL, *ret_n = 0, 0) : -errno;
    uint64_t      *v = NULL;
    size_t         n = 0, cap = 0;
    int            r = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0)
            continue;
        const char *num = de->d_name + strlen(PREFIX);
        char       *end;
        errno = 0;
        uint64_t pos = strtoull(num, &end, 10);
        if (errno || end == num)
            continue;
        if (strncmp(end, ".tmp", 4) == 0) {
            if (remove_tmp)
                unlinkat(dirfd(dh), de->d_name, 0);
            continue;
        }
        if (strcmp(end, SUFFIX) != 0)
            continue;
        if (n == cap) {
            size_t    c = cap ? 2 * cap : 8;
            uint64_t *nv = realloc(v, c * sizeof *nv);
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = c;
        }
        v[n++] = pos;
    }
    closedir(dh);
    if (r < 0) {
        free(v);
        return r;
    }
    if (n)
        qsort(v, n, sizeof *v, s_cmp_desc);
    *ret = v;
    *ret_n = n;
    return 0;
}

int64_t tp_snapshot_prune(const char *dir, size_t keep) {
    uint64_t *v;
    size_t    n;
    int       r = tp_snapshot_list(dir, false, &v, &n);
    if (r < 0)
        return r;
    for (size_t i = keep; i < n; i++) {
        char path[4096];
        s_path(path, sizeof path, dir, v[i], SUFFIX);
        if (unlink(path) < 0 && errno != ENOENT)
            log_warning_errno(errno, "Failed to remove the old snapshot '%s': %m", path);
    }
    int64_t oldest = n == 0 ? 0 : (int64_t)v[(keep < n ? keep : n) - 1];
    free(v);
    return oldest;
}

/* The body's checksum, read once in full before any section parses it. */
static int s_check_body(int fd, uint64_t len, uint64_t want) {
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return -ENOMEM;
    XXH3_64bits_reset(st);
    static unsigned char buf[1 << 16];
    uint64_t             left = len;
    off_t                off = HEADER_SIZE;
    int                  r = 0;
    while (left > 0) {
        size_t  want_n = left < sizeof buf ? (size_t)left : sizeof buf;
        ssize_t k = pread(fd, buf, want_n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            r = k < 0 ? -errno : -EBADMSG;
            break;
        }
        XXH3_64bits_update(st, buf, (size_t)k);
        left -= (uint64_t)k;
        off += k;
    }
    if (r == 0 && XXH3_64bits_digest(st) != want)
        r = -EBADMSG;
    XXH3_freeState(st);
    return r;
}

int tp_snapshot_load(const char *dir, uint64_t pos, const tp_snapshot_section_t *sections, size_t n,
                     uint64_t *ret_size) {
    char path[4096];
    s_path(path, sizeof path, dir, pos, SUFFIX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unsigned char h[HEADER_SIZE];
    struct stat   sb;
    tp_snapr_t   *rd = NULL;
    int           r = -EBADMSG;
    if (fstat(fd, &sb) < 0 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h, MAGIC, 8) != 0 || tp_snap_get_le(h + 40, 8) != XXH3_64bits(h, 40))
        goto out;
    uint32_t format = (uint32_t)tp_snap_get_le(h + 8, 8);
    uint64_t len = tp_snap_get_le(h + 24, 8);
    if (format != TP_SNAPSHOT_FORMAT) {
        r = -EPROTO;
        goto out;
    }
    if (tp_snap_get_le(h + 16, 8) != pos || (uint64_t)sb.st_size != HEADER_SIZE + len)
        goto out;
    if ((r = s_check_body(fd, len, tp_snap_get_le(h + 32, 8))) < 0)
        goto out;
    if (lseek(fd, HEADER_SIZE, SEEK_SET) < 0 || (r = tp_snapr_new(fd, len, &rd)) < 0) {
        r = r < 0 ? r : -errno;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t tag = 0;
        if ((r = tp_snapr_u64(rd, &tag)) < 0)
            goto out;
        if (tag != sections[i].tag) {
            r = -EPROTO;
            goto out;
        }
        if ((r = sections[i].load(sections[i].ctx, rd)) < 0)
            goto out;
    }
    r = tp_snapr_error(rd);
    if (r == 0 && !tp_snapr_at_end(rd))
        r = -EPROTO; /* sections this daemon does not know */
    if (r == 0 && ret_size)
        *ret_size = (uint64_t)sb.st_size;
out:
    tp_snapr_destroy(&rd);
    close(fd);
    return r;
}
