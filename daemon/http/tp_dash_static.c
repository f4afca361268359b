/* tp_dash_static — the dashboard page's files; see tp_dash.h. The page is
 * a handful of small files read at request time (evbuffer_add_file: the
 * kernel copies them), so an upgrade needs no restart. */
#include "tp_dash.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES (8 << 20) /* the page is a few tens of KiB; anything bigger is not ours */
#define MAX_PATH_LEN   200

#ifndef TP_DASH_ROOT_INSTALLED
#define TP_DASH_ROOT_INSTALLED "/usr/share/touchpointd/dashboard"
#endif

static const struct {
    const char *ext, *type;
} s_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".json", "application/json" },
    { ".txt", "text/plain; charset=utf-8" },
};

static const char *s_type(const char *rel) {
    const char *dot = strrchr(rel, '.');
    for (size_t i = 0; dot && i < sizeof s_types / sizeof s_types[0]; i++)
        if (!strcmp(dot, s_types[i].ext))
            return s_types[i].type;
    return NULL;
}

/* Letters, digits, '-', '_', '.' and '/' only, and no segment that is
 * empty or starts with a dot: no "..", no hidden files, no "//". */
static bool s_safe(const char *rel) {
    size_t len = strlen(rel);
    if (len == 0 || len > MAX_PATH_LEN)
        return false;
    bool seg_start = true;
    for (const char *p = rel; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '/';
        if (!ok || (seg_start && (c == '.' || c == '/')))
            return false;
        seg_start = c == '/';
    }
    return !seg_start;
}

const char *tp_dash_static_root(const tp_config_t *cfg) {
    if (cfg->http.dashboard.root && *cfg->http.dashboard.root)
        return cfg->http.dashboard.root;
    /* The install prefix's, the .deb's (CPack installs to /usr whatever
     * the build's prefix), and a build tree's: the page beside the
     * sources, so the README's demo works before anything is installed. */
    static const char *const candidates[] = {
        TP_DASH_ROOT_INSTALLED,
        "/usr/share/touchpointd/dashboard",
#ifdef TP_DASH_ROOT_SOURCE
        TP_DASH_ROOT_SOURCE,
#endif
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char index[4200];
        snprintf(index, sizeof index, "%s/index.html", candidates[i]);
        if (access(index, R_OK) == 0)
            return candidates[i];
    }
    return TP_DASH_ROOT_INSTALLED;
}

void tp_dash_static_serve(const char *root, struct evhttp_request *req, const char *rel) {
    if (!*rel)
        rel = "index.html";
    const char *type = s_type(rel);
    char        path[4096 + MAX_PATH_LEN + 2];
    if (!type || !s_safe(rel) ||
        snprintf(path, sizeof path, "%s/%s", root, rel) >= (int)sizeof path) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    /* O_NOFOLLOW: a symlink planted in the root does not lead out of it. */
    int         fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
        if (fd >= 0)
            close(fd);
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    /* evbuffer_add_file owns fd from here, on failure too. */
    if (!b || evbuffer_add_file(b, fd, 0, st.st_size) < 0) {
        if (b)
            evbuffer_free(b);
        else
            close(fd);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    /* Revalidate every time: an upgraded daemon serves the page that
     * matches its API, and the files are small. */
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                      "connect-src 'self'; frame-ancestors 'none'");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}
