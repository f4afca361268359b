/* tp_http_reply — one complete answer to an evhttp request: a body with
 * its Content-Type, never cached (every endpoint here serves live state).
 * Shared by the health/metrics endpoint, the dashboard and ingest, so the
 * out-of-memory path (a bare 500) is written once. */
#pragma once

#include <stddef.h>

struct evhttp_request;

/* Answers `code` `reason` with `len` bytes of `body`, then `trailer` when
 * it is not NULL (ingest ends its JSON with a newline). When the buffer
 * cannot be built, answers 500 instead. */
void tp_http_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                   const char *body, size_t len, const char *trailer);
