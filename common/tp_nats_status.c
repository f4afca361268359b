/* tp_nats_status — see tp_nats_status.h. */
#include "tp_nats_status.h"

#include <errno.h>
#include <stdio.h>

int tp_nats_status_errno(natsStatus s) {
    switch (s) {
    case NATS_OK: return 0;
    case NATS_NO_MEMORY: return -ENOMEM;
    case NATS_TIMEOUT: return -ETIMEDOUT;
    case NATS_NOT_FOUND: return -ENOENT;
    case NATS_NO_SERVER: return -ECONNREFUSED;
    case NATS_INVALID_ARG: return -EINVAL;
    case NATS_CONNECTION_CLOSED: return -ENOTCONN;
    default: return -EIO;
    }
}

int tp_nats_status_fail(natsStatus s, const char *what, char *why, size_t whylen) {
    const char *detail = nats_GetLastError(NULL);
    snprintf(why, whylen, "%s: %s%s%s", what, natsStatus_GetText(s), detail ? ": " : "",
             detail ? detail : "");
    return tp_nats_status_errno(s);
}
