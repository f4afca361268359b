/* tp_http — see tp_http.h. */
#include "tp_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>

#include <curl/curl.h>

#define TP_HTTP_ANSWER_MAX 128 /* start of a refusal's body kept for the log */

struct tp_http_req {
    tp_http_req_t *next; /* the client's list */
    tp_http_t     *h;
    CURL          *easy;
    char          *url;
    bool           busy; /* POST started, result not yet taken */
    bool           done; /* curl finished it */
    CURLcode       cc;   /* curl's result when done */
    long           code; /* HTTP status, 0 = no answer */
    char           errbuf[CURL_ERROR_SIZE];
    char           answer[TP_HTTP_ANSWER_MAX];
    size_t         answer_len;
};

struct tp_http {
    CURLM             *multi;
    struct curl_slist *headers; /* shared by every request */
    char              *ca_file, *basic_auth;
    uint64_t           timeout_ms;
    tp_http_req_t     *reqs;
};

static size_t s_write_cb(char *data, size_t size, size_t n, void *arg) {
    tp_http_req_t *r = arg;
    size_t         len = size * n, room = sizeof r->answer - 1 - r->answer_len;
    size_t         k = len < room ? len : room;
    memcpy(r->answer + r->answer_len, data, k);
    r->answer_len += k;
    r->answer[r->answer_len] = '\0';
    return len; /* the rest is read and dropped */
}

static struct curl_slist *s_append(struct curl_slist *l, const char *line, bool *ok) {
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n)
        *ok = false;
    return n ? n : l;
}

int tp_http_new(const struct tp_http_config *cfg, tp_http_t **ret) {
    static bool global;
    if (!global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -EIO;
        global = true;
    }
    tp_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    bool ok = true, ctype = false;
    h->timeout_ms = cfg->timeout_ms;
    for (size_t i = 0; i < cfg->n_headers; i++) {
        h->headers = s_append(h->headers, cfg->headers[i], &ok);
        ctype |= strncasecmp(cfg->headers[i], "Content-Type:", 13) == 0;
    }
    if (!ctype)
        h->headers = s_append(h->headers, "Content-Type: application/json", &ok);
    /* curl would wait up to a second for "100 Continue" on bodies > 1 KiB */
    h->headers = s_append(h->headers, "Expect:", &ok);
    if (cfg->bearer_token) {
        char *line = NULL;
        if (asprintf(&line, "Authorization: Bearer %s", cfg->bearer_token) < 0)
            ok = false;
        else
            h->headers = s_append(h->headers, line, &ok);
        if (line) {
            explicit_bzero(line, strlen(line));
            free(line);
        }
    }
    if (cfg->ca_file && !(h->ca_file = strdup(cfg->ca_file)))
        ok = false;
    if (cfg->basic_auth && !(h->basic_auth = strdup(cfg->basic_auth)))
        ok = false;
    if (ok && !(h->multi = curl_multi_init())) {
        tp_http_destroy(&h);
        return -EIO;
    }
    if (!ok) {
        tp_http_destroy(&h);
        return -ENOMEM;
    }
    *ret = h;
    return 0;
}

void tp_http_destroy(tp_http_t **p) {
    tp_http_t *h = p ? *p : NULL;
    if (!h)
        return;
    while (h->reqs) {
        tp_http_req_t *r = h->reqs;
        h->reqs = r->next;
        if (r->busy && !r->done)
            curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
        free(r->url);
        free(r);
    }
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    free(h->ca_file);
    if (h->basic_auth) {
        explicit_bzero(h->basic_auth, strlen(h->basic_auth));
        free(h->basic_auth);
    }
    free(h);
    *p = NULL;
}

int tp_http_check_url(const char *url, char *why, size_t whylen) {
    CURLU *u = curl_url();
    char  *scheme = NULL, *host = NULL;
    int    r = -EINVAL;
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        snprintf(why, whylen, "invalid URL '%.128s' (expected http[s]://host[:port][/path])", url);
    else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        snprintf(why, whylen, "URL '%.128s': only http:// and https:// are supported", url);
    else
        r = 0;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return r;
}

int tp_http_req_new(tp_http_t *h, const char *url, char *why, size_t whylen, tp_http_req_t **ret) {
    int r = tp_http_check_url(url, why, whylen);
    if (r < 0)
        return r;
    tp_http_req_t *q = calloc(1, sizeof *q);
    if (!q || !(q->url = strdup(url)) || !(q->easy = curl_easy_init())) {
        if (q)
            free(q->url);
        free(q);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    q->h = h;
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_URL, q->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->basic_auth) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, h->basic_auth);
    }
    q->next = h->reqs;
    h->reqs = q;
    *ret = q;
    return 0;
}

int tp_http_post(tp_http_req_t *r, const char *body, size_t len) {
    if (r->busy)
        return -EBUSY;
    r->done = false;
    r->code = 0;
    r->errbuf[0] = r->answer[0] = '\0';
    r->answer_len = 0;
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
        return -ENOMEM;
    if (curl_multi_add_handle(r->h->multi, r->easy) != CURLM_OK)
        return -EIO;
    r->busy = true;
    return 0;
}

bool tp_http_busy(const tp_http_req_t *r) {
    return r->busy;
}

int tp_http_perform(tp_http_t *h) {
    int running, left;
    if (curl_multi_perform(h->multi, &running) != CURLM_OK)
        return -EIO;
    CURLMsg *m;
    while ((m = curl_multi_info_read(h->multi, &left)))
        if (m->msg == CURLMSG_DONE)
            for (tp_http_req_t *r = h->reqs; r; r = r->next)
                if (r->easy == m->easy_handle) {
                    r->done = true;
                    r->cc = m->data.result;
                    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->code);
                    curl_multi_remove_handle(h->multi, r->easy);
                    break;
                }
    return 0;
}

int tp_http_result(tp_http_req_t *r, char *why, size_t whylen) {
    if (!r->busy || !r->done)
        return r->busy ? -EINPROGRESS : -EAGAIN;
    r->busy = false;
    if (r->cc != CURLE_OK) {
        snprintf(why, whylen, "POST to %s: %s", r->url,
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->cc));
        return -EAGAIN;
    }
    long c = r->code;
    if (c >= 200 && c < 300)
        return 0;
    for (char *p = r->answer; *p; p++) /* one log line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    snprintf(why, whylen, "POST to %s: HTTP %ld%s%s", r->url, c, r->answer[0] ? ": " : "",
             r->answer);
    return c >= 400 && c < 500 && c != 408 && c != 429 ? -EBADMSG : -EAGAIN;
}

size_t tp_http_pollfds(tp_http_t *h, struct pollfd *fds, size_t max, uint64_t now,
                       uint64_t *ret_next) {
    fd_set rd, wr, ex;
    int    maxfd = -1;
    long   t = -1;
    size_t n = 0;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    curl_multi_fdset(h->multi, &rd, &wr, &ex, &maxfd);
    for (int fd = 0; fd <= maxfd && n < max; fd++) {
        short ev = (FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0);
        if (ev || FD_ISSET(fd, &ex))
            fds[n++] = (struct pollfd){ .fd = fd, .events = ev ? ev : POLLIN };
    }
    curl_multi_timeout(h->multi, &t);
    bool busy = false;
    for (tp_http_req_t *r = h->reqs; r; r = r->next)
        busy |= r->busy && !r->done;
    /* no fd yet (resolving a name in curl's thread): look again soon */
    if (busy && (t < 0 || (maxfd < 0 && t > 10)))
        t = maxfd < 0 ? 10 : 100;
    *ret_next = t < 0 ? UINT64_MAX : now + (uint64_t)t;
    return n;
}
