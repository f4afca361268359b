/* tp_cli — see tp_cli.h. */
#include "tp_cli.h"

#include <errno.h>
#include <stdlib.h>

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
