/* tp_str — building alert subjects and index keys without printf.
 *
 * Rules build a subject ("call/<id>", "contract/<id>/step/<name>") or a
 * timer key for nearly every event they see, only to look it up. snprintf
 * spends ~1,000 instructions parsing its format for that; these copy the
 * pieces with memcpy (callgrind: 19% of the daemon's instructions per event
 * went to the rules' snprintf before). Summaries and other text meant for
 * people, built only when an alert fires, keep snprintf.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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
#define TP_STR_JOIN(buf, len, ...) tp_str_join((buf), (len), (const char *const[]){ __VA_ARGS__, NULL })

/* `v` in decimal into buf (at least 21 bytes); returns buf. */
static inline char *tp_str_u64(char *buf, uint64_t v) {
    char tmp[21];
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
