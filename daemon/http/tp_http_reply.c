/* tp_http_reply — see tp_http_reply.h. */
#include "tp_http_reply.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

void tp_http_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                   const char *body, size_t len, const char *trailer) {
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Content-Type", type);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    struct evbuffer *b = evbuffer_new();
    if (!b || evbuffer_add(b, body, len) < 0 ||
        (trailer && evbuffer_add(b, trailer, strlen(trailer)) < 0)) {
        if (b) /* evbuffer_free(NULL) is not a no-op */
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}
