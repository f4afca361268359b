/* tp_snapio: buffered, checksummed varint I/O for snapshots (see the header). */
#include "tp_snapio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

enum { BUF = 1 << 16 };

struct tp_snapw {
    int           fd;
    int           err;
    size_t        used;
    uint64_t      size;
    XXH3_state_t *sum;
    unsigned char buf[BUF];
};

struct tp_snapr {
    int            fd;
    int            err;
    uint64_t       left; /* bytes the limit still allows from the file */
    size_t         pos, len;
    XXH3_state_t  *sum;
    unsigned char *scratch; /* a string longer than the buffer */
    size_t         scratch_cap;
    unsigned char  buf[BUF];
};

static int s_write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int tp_snapw_new(int fd, tp_snapw_t **ret) {
    tp_snapw_t *w = malloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    w->sum = XXH3_createState();
    if (!w->sum) {
        free(w);
        return -ENOMEM;
    }
    XXH3_64bits_reset(w->sum);
    w->fd = fd;
    w->err = 0;
    w->used = 0;
    w->size = 0;
    *ret = w;
    return 0;
}

void tp_snapw_destroy(tp_snapw_t **pw) {
    if (!*pw)
        return;
    XXH3_freeState((*pw)->sum);
    free(*pw);
    *pw = NULL;
}

static void s_drain(tp_snapw_t *w) {
    if (w->err == 0 && w->used > 0) {
        XXH3_64bits_update(w->sum, w->buf, w->used);
        w->err = s_write_all(w->fd, w->buf, w->used);
    }
    w->used = 0;
}

static void s_put(tp_snapw_t *w, const void *p, size_t n) {
    const unsigned char *c = p;
    w->size += n;
    while (n > 0) {
        if (w->used == BUF)
            s_drain(w);
        size_t k = BUF - w->used < n ? BUF - w->used : n;
        memcpy(w->buf + w->used, c, k);
        w->used += k;
        c += k;
        n -= k;
    }
}

void tp_snapw_u64(tp_snapw_t *w, uint64_t v) {
    unsigned char b[10];
    size_t        n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    s_put(w, b, n);
}

void tp_snapw_i64(tp_snapw_t *w, int64_t v) {
    tp_snapw_u64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void tp_snapw_f64(tp_snapw_t *w, double v) {
    unsigned char b[8];
    memcpy(b, &v, sizeof b);
    s_put(w, b, sizeof b);
}

void tp_snapw_bool(tp_snapw_t *w, bool v) {
    tp_snapw_u64(w, v ? 1 : 0);
}

void tp_snapw_section(tp_snapw_t *w, uint32_t tag, uint32_t version) {
    tp_snapw_u64(w, tag);
    tp_snapw_u64(w, version);
}

void tp_snapw_bytes(tp_snapw_t *w, const void *p, size_t n) {
    tp_snapw_u64(w, n);
    s_put(w, p, n);
}

/* 0 is NULL, n + 1 a string of n bytes. */
void tp_snapw_str(tp_snapw_t *w, const char *s) {
    if (!s) {
        tp_snapw_u64(w, 0);
        return;
    }
    size_t n = strlen(s);
    tp_snapw_u64(w, (uint64_t)n + 1);
    s_put(w, s, n);
}

void tp_snapw_fail(tp_snapw_t *w, int err) {
    if (w->err == 0)
        w->err = err;
}

int tp_snapw_flush(tp_snapw_t *w, uint64_t *ret_sum) {
    s_drain(w);
    if (w->err == 0 && ret_sum)
        *ret_sum = XXH3_64bits_digest(w->sum);
    return w->err;
}

uint64_t tp_snapw_size(const tp_snapw_t *w) {
    return w->size;
}

int tp_snapr_new(int fd, uint64_t limit, tp_snapr_t **ret) {
    tp_snapr_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->sum = XXH3_createState();
    if (!r->sum) {
        free(r);
        return -ENOMEM;
    }
    XXH3_64bits_reset(r->sum);
    r->fd = fd;
    r->left = limit ? limit : UINT64_MAX;
    *ret = r;
    return 0;
}

void tp_snapr_destroy(tp_snapr_t **pr) {
    if (!*pr)
        return;
    XXH3_freeState((*pr)->sum);
    free((*pr)->scratch);
    free(*pr);
    *pr = NULL;
}

/* Refills the buffer; false at the end (or the limit) or on error. */
static bool s_fill(tp_snapr_t *r) {
    if (r->err)
        return false;
    size_t want = r->left < BUF ? (size_t)r->left : BUF;
    if (want == 0)
        return false;
    ssize_t k;
    do
        k = read(r->fd, r->buf, want);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        r->err = -errno;
        return false;
    }
    if (k == 0)
        return false;
    XXH3_64bits_update(r->sum, r->buf, (size_t)k);
    r->left -= (uint64_t)k;
    r->pos = 0;
    r->len = (size_t)k;
    return true;
}

static int s_fail(tp_snapr_t *r, int err) {
    if (r->err == 0)
        r->err = err;
    return r->err;
}

static int s_get(tp_snapr_t *r, void *p, size_t n) {
    unsigned char *c = p;
    while (n > 0) {
        if (r->err)
            return r->err;
        if (r->pos == r->len && !s_fill(r))
            return s_fail(r, -EBADMSG);
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(c, r->buf + r->pos, k);
        r->pos += k;
        c += k;
        n -= k;
    }
    return r->err;
}

int tp_snapr_u64(tp_snapr_t *r, uint64_t *ret) {
    uint64_t v = 0;
    /* Most varints lie wholly in the buffer: decoded in place, not byte by
     * byte through s_get (a load is mostly varints). */
    if (r->err == 0 && r->len - r->pos >= 10) {
        const unsigned char *p = r->buf + r->pos;
        for (unsigned i = 0; i < 10; i++) {
            if (i == 9 && p[i] > 1)
                break; /* more than 64 bits */
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (!(p[i] & 0x80)) {
                r->pos += i + 1;
                *ret = v;
                return 0;
            }
        }
        return s_fail(r, -EBADMSG);
    }
    for (unsigned shift = 0; shift < 64; shift += 7) {
        unsigned char b;
        if (s_get(r, &b, 1) < 0)
            return r->err;
        if (shift == 63 && b > 1)
            break; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return s_fail(r, -EBADMSG);
}

int tp_snapr_i64(tp_snapr_t *r, int64_t *ret) {
    uint64_t u;
    if (tp_snapr_u64(r, &u) < 0)
        return r->err;
    *ret = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int tp_snapr_f64(tp_snapr_t *r, double *ret) {
    unsigned char b[8];
    if (s_get(r, b, sizeof b) < 0)
        return r->err;
    memcpy(ret, b, sizeof b);
    return 0;
}

int tp_snapr_bool(tp_snapr_t *r, bool *ret) {
    uint64_t u;
    if (tp_snapr_u64(r, &u) < 0)
        return r->err;
    if (u > 1)
        return s_fail(r, -EBADMSG);
    *ret = u == 1;
    return 0;
}

int tp_snapr_section(tp_snapr_t *r, uint32_t tag, uint32_t max_version, uint32_t *ret_version) {
    uint64_t t, v;
    if (tp_snapr_u64(r, &t) < 0 || tp_snapr_u64(r, &v) < 0)
        return r->err;
    if (t != tag || v > max_version)
        return s_fail(r, -EPROTO);
    if (ret_version)
        *ret_version = (uint32_t)v;
    return 0;
}

/* n bytes, in place when the buffer holds them, else through scratch. */
static int s_view(tp_snapr_t *r, size_t n, const void **ret) {
    if (r->len - r->pos >= n) {
        *ret = r->buf + r->pos;
        r->pos += n;
        return 0;
    }
    if (n > r->scratch_cap) {
        unsigned char *s = realloc(r->scratch, n);
        if (!s)
            return s_fail(r, -ENOMEM);
        r->scratch = s;
        r->scratch_cap = n;
    }
    if (s_get(r, r->scratch, n) < 0)
        return r->err;
    *ret = r->scratch;
    return 0;
}

int tp_snapr_bytes(tp_snapr_t *r, size_t max, const void **ret, size_t *ret_len) {
    uint64_t n;
    if (tp_snapr_u64(r, &n) < 0)
        return r->err;
    if (n > max)
        return s_fail(r, -EBADMSG);
    static const char empty[1];
    const void       *p = empty;
    if (n > 0 && s_view(r, (size_t)n, &p) < 0)
        return r->err;
    *ret = p;
    *ret_len = (size_t)n;
    return 0;
}

int tp_snapr_str(tp_snapr_t *r, size_t max, char **ret) {
    uint64_t n;
    if (tp_snapr_u64(r, &n) < 0)
        return r->err;
    if (n == 0) {
        *ret = NULL;
        return 0;
    }
    if (n - 1 > max)
        return s_fail(r, -EBADMSG);
    const void *p = "";
    if (n > 1 && s_view(r, (size_t)(n - 1), &p) < 0)
        return r->err;
    if (memchr(p, '\0', (size_t)(n - 1)))
        return s_fail(r, -EBADMSG);
    char *s = malloc((size_t)n);
    if (!s)
        return s_fail(r, -ENOMEM);
    memcpy(s, p, (size_t)(n - 1));
    s[n - 1] = '\0';
    *ret = s;
    return 0;
}

int tp_snapr_strbuf(tp_snapr_t *r, char *buf, size_t size) {
    uint64_t n;
    buf[0] = '\0';
    if (tp_snapr_u64(r, &n) < 0)
        return r->err;
    if (n == 0)
        return 1;
    if (n > size)
        return s_fail(r, -EBADMSG);
    const void *p = "";
    if (n > 1 && s_view(r, (size_t)(n - 1), &p) < 0)
        return r->err;
    if (memchr(p, '\0', (size_t)(n - 1)))
        return s_fail(r, -EBADMSG);
    memcpy(buf, p, (size_t)(n - 1));
    buf[n - 1] = '\0';
    return 0;
}

int tp_snapr_error(const tp_snapr_t *r) {
    return r->err;
}

uint64_t tp_snapr_sum(const tp_snapr_t *r) {
    return XXH3_64bits_digest(r->sum);
}

bool tp_snapr_at_end(tp_snapr_t *r) {
    return r->pos == r->len && !s_fill(r) && r->err == 0;
}

void tp_snap_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void tp_snap_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t tp_snap_get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int tp_snap_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

int tp_snap_pread_all(int fd, void *buf, size_t n, off_t off) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}
