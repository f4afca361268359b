/* tp_sink_file — tp-tail's JSON-lines output to stdout or to --output FILE.
 *
 * Appends one line per message. For a FILE, SIGHUP reopens it by name
 * (logrotate's "move, then HUP"): the new file is opened before the old
 * one is closed, and every write finished before the reopen, so no line is
 * lost or split between the two files. With `fsync` each line is synced
 * before it counts as delivered.
 */
#pragma once

#include <stdbool.h>

#include "tp_sink.h"

/* A sink writing to `path` (created 0644 if missing, appended to), or to
 * stdout when `path` is NULL; `path` is copied. 0; -ENOMEM; other negative
 * errno when FILE cannot be opened (`why` says so). */
int tp_sink_file_new(const char *path, bool fsync, char *why, size_t whylen, tp_sink_t **ret);
