/* tp_cli — see tp_cli.h. */
#include "tp_cli.h"

#include <errno.h>
#include <fcntl.h>
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
    static const struct { const char *unit; uint64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    char num[24];
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
    ssize_t n = 0;
    int r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
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
