/* tp_cli — see tp_cli.h. */
#include "tp_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tp_cli_parse_u64(const char *s, uint64_t *ret) {
    char *end;
    if (!s || !(*s >= '0' && *s <= '9'))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *ret = v;
    return 0;
}

int tp_cli_parse_duration_ms(const char *s, uint64_t *ret_ms) {
    static const struct {
        const char *unit;
        uint64_t    ms;
    } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    char   num[24];
    size_t digits = s ? strspn(s, "0123456789") : 0;
    if (digits == 0 || digits >= sizeof num)
        return digits == 0 ? -EINVAL : -ERANGE;
    memcpy(num, s, digits);
    num[digits] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        uint64_t v;
        if (strcmp(s + digits, units[i].unit) != 0)
            continue;
        int r = tp_cli_parse_u64(num, &v);
        if (r < 0)
            return r;
        if (v == 0)
            return -EINVAL;
        if (v > UINT64_MAX / units[i].ms)
            return -ERANGE;
        *ret_ms = v * units[i].ms;
        return 0;
    }
    return -EINVAL;
}

ssize_t tp_read_private_file(const char *path, char *buf, size_t size) {
    struct stat st;
    ssize_t     n = 0;
    int         r = 0;
    int         fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (st.st_mode & 007)
        r = -EPERM;
    else if ((n = read(fd, buf, size - 1)) < 0)
        r = -errno;
    else if (n == (ssize_t)size - 1)
        r = -EFBIG;
    close(fd);
    if (r < 0)
        return r;
    buf[n] = '\0';
    return n;
}

void tp_secret_file_why(int r, const char *key, const char *path, const char *what, char *why,
                        size_t whylen) {
    if (!why || !whylen)
        return;
    if (r == -EPERM)
        snprintf(why, whylen,
                 "%s '%s' is readable or writable by others; chmod o-rwx it (0600, "
                 "or 0640 root:touchpointd)",
                 key, path);
    else if (r == -EBADMSG)
        snprintf(why, whylen, "%s '%s' holds no %s", key, path, what);
    else if (r == -EFBIG)
        snprintf(why, whylen, "%s '%s' is too large for what it should hold (%s)", key, path, what);
    else
        snprintf(why, whylen, "%s '%s': %s", key, path, strerror(-r));
}

/* Trims blanks (and the CR of a CRLF file) from both ends of s, in place. */
static char *s_trim(char *s) {
    s += strspn(s, " \t\r");
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r", s[n - 1]))
        s[--n] = '\0';
    return s;
}

int tp_token_file_read(const char *key, const char *path, char **ret_token, char *why,
                       size_t whylen) {
    if (!path) {
        *ret_token = NULL;
        return 0;
    }
    char    buf[TP_TOKEN_FILE_MAX + 1];
    char   *token = NULL;
    ssize_t n = tp_read_private_file(path, buf, sizeof buf);
    int     r = n < 0 ? (int)n : -EBADMSG;
    for (char *save = NULL, *line = n < 0 ? NULL : strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line = s_trim(line);
        if (!*line || *line == '#')
            continue;
        size_t len = strlen(line);
        bool   ok = len <= TP_TOKEN_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = line[i] > ' ' && line[i] < 0x7f; /* what a header carries unquoted */
        if (ok)
            r = (token = strdup(line)) ? 0 : -ENOMEM;
        break;
    }
    explicit_bzero(buf, sizeof buf);
    if (r < 0) {
        char what[96];
        snprintf(what, sizeof what,
                 "token (one line of at most %d printable characters, no "
                 "spaces)",
                 TP_TOKEN_MAX);
        tp_secret_file_why(r, key, path, what, why, whylen);
        return r;
    }
    *ret_token = token;
    return 0;
}
