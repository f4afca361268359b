/* tp_str — building alert subjects and index keys without printf.
 *
 * Rules build a subject ("call/<id>", "contract/<id>/step/<name>") or a
 * timer key for nearly every event they see, only to look it up. snprintf
 * spends ~1,000 instructions parsing its format for that; these copy the
 * pieces with memcpy (callgrind: 19% of the daemon's instructions per event
 * went to the rules' snprintf before). Summaries and other text meant for
 * people, built only when an alert fires, keep snprintf. Comma-separated
 * lists for evidence ("MSL-1,FMV-2") are built here once, with what does
 * not fit cut off.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Concatenates the NULL-terminated list `parts` into buf (len bytes, NUL
 * included). Returns the length written, or -ENAMETOOLONG with buf ""
 * when it does not fit (ids are at most 128 bytes: tp_codec). */
static inline int tp_str_join(char *buf, size_t len, const char *const *parts) {
    size_t off = 0;
    for (; *parts; parts++) {
        size_t n = strlen(*parts);
        if (n >= len - off) {
            if (len)
                buf[0] = '\0';
            return -ENAMETOOLONG;
        }
        memcpy(buf + off, *parts, n);
        off += n;
    }
    if (len)
        buf[off] = '\0';
    return len ? (int)off : -ENAMETOOLONG;
}

/* tp_str_join(buf, len, "call/", id): the pieces as arguments. */
#define TP_STR_JOIN(buf, len, ...) \
    tp_str_join((buf), (len), (const char *const[]){ __VA_ARGS__, NULL })

/* Appends `item` to the comma-separated list in buf (len bytes, NUL
 * included) whose length is *off (0: an empty list). What does not fit is
 * cut off and the list is full from then on; buf stays NUL-terminated.
 * 0, or -ENOBUFS when the item was cut or the list was full already. */
static inline int tp_str_list_add(char *buf, size_t len, size_t *off, const char *item) {
    size_t o = *off;
    if (o + 1 >= len) { /* no room but for the NUL (len 0: not even that) */
        if (len && o == 0)
            buf[0] = '\0';
        return -ENOBUFS;
    }
    if (o)
        buf[o++] = ',';
    size_t n = strlen(item), room = len - 1 - o;
    int    r = n > room ? -ENOBUFS : 0;
    if (n > room)
        n = room;
    memcpy(buf + o, item, n);
    buf[o + n] = '\0';
    *off = o + n; /* cut: len - 1, full */
    return r;
}

/* What snprintf(buf, len, "%s%s...", parts...) writes, without parsing a
 * format: the pieces of the NULL-terminated list `parts` concatenated, cut
 * at len - 1 bytes, NUL-terminated when len > 0. Returns the length the
 * whole would have had. For text built when an alert fires (summaries,
 * evidence), where a printf cost thousands of instructions per alert. */
static inline size_t tp_str_cat(char *buf, size_t len, const char *const *parts) {
    size_t off = 0, total = 0;
    for (; *parts; parts++) {
        size_t n = strlen(*parts);
        total += n;
        if (off + 1 < len) {
            size_t k = n < len - 1 - off ? n : len - 1 - off;
            memcpy(buf + off, *parts, k);
            off += k;
        }
    }
    if (len)
        buf[off] = '\0';
    return total;
}

/* tp_str_cat(buf, len, "HCP ", id, ...): the pieces as arguments. */
#define TP_STR_CAT(buf, len, ...) \
    tp_str_cat((buf), (len), (const char *const[]){ __VA_ARGS__, NULL })

/* What snprintf(buf, len, "%d", v) writes (cut at len - 1 bytes). */
static inline void tp_str_int(char *buf, size_t len, int64_t v) {
    char     tmp[21];
    size_t   n = sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    if (!len)
        return;
    size_t k = sizeof tmp - n < len - 1 ? sizeof tmp - n : len - 1;
    memcpy(buf, tmp + n, k);
    buf[k] = '\0';
}

/* `v` in decimal into buf (at least 21 bytes); returns buf. */
static inline char *tp_str_u64(char *buf, uint64_t v) {
    char   tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* Sets the heap string *dst (NULL or owned) to a copy of src (NULL counts
 * as ""), keeping *dst when it already says src: a correction naming the
 * same value again costs no strdup/free. 0, or -ENOMEM with *dst kept. */
static inline int tp_str_set(char **dst, const char *src) {
    if (!src)
        src = "";
    if (*dst && strcmp(*dst, src) == 0)
        return 0;
    char *copy = strdup(src);
    if (!copy)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}
