/* test_sink_https — tp-tail's HTTP sinks over TLS: --webhook and
 * --alertmanager against a local HTTPS server with a test CA, --ca-file,
 * --bearer-token-file, --basic-auth-file, and a wrong CA refused.
 *
 * The certificates are made at test time with the openssl command (never
 * committed); the server is Python's http.server wrapped in its ssl
 * module, which logs each request (path, Authorization, body) as a JSON
 * line. Alerts come from the real daemon, as in test_sinks. Skipped without
 * openssl or python3 unless TP_TEST_REQUIRE_ALL=1 (CI). */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define OPENSSL "/usr/bin/openssl"
#define PYTHON  "/usr/bin/python3"

static const char s_server_py[] =
    "import http.server, json, ssl, sys\n"
    "port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        body = self.rfile.read(int(self.headers.get('Content-Length', 0))).decode()\n"
    "        with open(log, 'a') as f:\n"
    "            f.write(json.dumps({'path': self.path, 'body': body,\n"
    "                                'auth': self.headers.get('Authorization', '')}) + '\\n')\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', '0')\n"
    "        self.end_headers()\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "srv = http.server.HTTPServer(('127.0.0.1', port), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(cert, key)\n"
    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
    "open(log + '.ready', 'w').close()\n"
    "srv.serve_forever()\n";

/* A CA, a server certificate for IP 127.0.0.1 signed by it, and a second,
 * unrelated CA. EC keys: quick to make. */
static const char s_certs_sh[] =
    "set -e; cd \"$0\"; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 -subj /CN=tp-test-ca\n"
    "openssl req -x509 $k -keyout wrong.key -out wrong.pem -days 2 -subj /CN=tp-wrong-ca\n"
    "openssl req $k -keyout srv.key -out srv.csr -subj /CN=127.0.0.1\n"
    "printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
    "-days 2 -extfile ext.cnf\n";

typedef struct {
    tp_tailfx_t t;
    tp_proc_t   srv;
    unsigned    port;
    char       *log, *ca, *wrong, url[96];
} fx_t;

static int s_setup(void **state) {
    *state = NULL;
    if (access(OPENSSL, X_OK) < 0 || access(PYTHON, X_OK) < 0) {
        const char *req = getenv("TP_TEST_REQUIRE_ALL");
        if (req && strcmp(req, "1") == 0) {
            fprintf(stderr, "openssl or python3 missing and TP_TEST_REQUIRE_ALL=1\n");
            return -1;
        }
        printf("# SKIP: %s or %s not installed\n", OPENSSL, PYTHON);
        return 0;
    }
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tp_tailfx_init(&f->t);
    const char *dir = f->t.d->dir;
    f->log = tp_path(dir, "requests.log");
    f->ca = tp_path(dir, "ca.pem");
    f->wrong = tp_path(dir, "wrong.pem");
    char       *certs_err = tp_path(dir, "certs.err");
    const char *sh[] = { "/bin/sh", "-c", s_certs_sh, dir, NULL };
    assert_int_equal(tp_run(sh, NULL, certs_err, TP_WAIT_MS), 0);
    free(certs_err);

    char *py = tp_path(dir, "server.py"), *cert = tp_path(dir, "srv.pem");
    char *key = tp_path(dir, "srv.key"), *ready = NULL, port[16];
    assert_int_equal(tp_write_file(py, s_server_py), 0);
    f->port = tp_free_port();
    assert_true(f->port > 0);
    snprintf(port, sizeof port, "%u", f->port);
    const char *argv[] = { PYTHON, py, port, cert, key, f->log, NULL };
    assert_int_equal(tp_proc_spawn(&f->srv, argv, NULL, NULL, NULL), 0);
    assert_true(asprintf(&ready, "%s.ready", f->log) > 0);
    assert_true(tp_wait_lines(ready, "", 0, TP_WAIT_MS));
    free(ready);
    free(py);
    free(cert);
    free(key);
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    fx_t *f = *state;
    if (!f)
        return 0;
    if (f->srv.pid)
        tp_proc_reap(&f->srv);
    free(f->log);
    free(f->ca);
    free(f->wrong);
    tp_tailfx_fini(&f->t);
    free(f);
    return 0;
}

/* Fires n incomplete calls by REP-1, each to its own HCP, and positions
 * --durable just before them. */
static void s_fire(fx_t *f, const char *prefix, unsigned n) {
    tp_dfx_t *d = f->t.d;
    tp_dfx_fire_with(d, prefix, n,
                     &(tp_dfx_fire_t){ .rep_id = "REP-1", .own_hcp = true, .keep = true });
    tp_tailfx_resume_at(&f->t, d->got.alerts[0]->sequence);
}

static char *s_secret(fx_t *f, const char *name, const char *text, mode_t mode) {
    char *path = tp_path(f->t.d->dir, name);
    assert_int_equal(tp_write_file(path, text), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* https:// with the test CA and a bearer token from a 0600 file: every
 * alert arrives once, with the token. */
static void test_webhook_https_bearer(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_fire(f, "wh", 2);
    char *tok = s_secret(f, "token", "# the receiver's token\ns3cret-token\n", 0600);
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u/hook", f->port);
    tp_tailfx_start(&f->t,
                    (const char *const[]){ "--webhook", f->url, "--ca-file", f->ca,
                                           "--bearer-token-file", tok, "--count", "2", NULL });
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    char *log = tp_read_file(f->log);
    assert_non_null(log);
    assert_int_equal(tp_count_lines(log, "\"path\": \"/hook\""), 2);
    assert_int_equal(tp_count_lines(log, "\"auth\": \"Bearer s3cret-token\""), 2);
    TP_EXPECT_ONCE(log, "wh-0", "wh-1");
    free(log);
    free(tok);
}

/* A server certificate from another CA is refused: nothing is sent, the
 * failure is reported and retried, the alert stays pending. */
static void test_wrong_ca_refused(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_fire(f, "wrong", 1);
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u/hook", f->port);
    tp_tailfx_start(&f->t,
                    (const char *const[]){ "--webhook", f->url, "--ca-file", f->wrong, NULL });
    assert_true(tp_wait_lines(f->t.err, "certificate", 1, TP_WAIT_MS));
    assert_int_equal(tp_proc_signal(&f->t.tail, SIGTERM), 0);
    assert_int_equal(tp_proc_wait(&f->t.tail, TP_WAIT_MS), 0);
    char *err = tp_read_file(f->t.err);
    assert_non_null(strstr(err, "delivered 0,"));
    assert_non_null(strstr(err, "pending 1"));
    free(err);
    assert_int_equal(access(f->log, F_OK), -1); /* not one request got through */
}

/* --alertmanager over https with basic auth: the Alertmanager API body. */
static void test_alertmanager_https_basic(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    s_fire(f, "amtls", 1);
    char *basic = s_secret(f, "basic", "alerts:pa55word\n", 0600);
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u", f->port);
    tp_tailfx_start(&f->t, (const char *const[]){ "--alertmanager", f->url, "--ca-file", f->ca,
                                                  "--basic-auth-file", basic, NULL });
    assert_true(tp_wait_lines(f->log, "amtls-0", 1, TP_WAIT_MS));
    char *log = tp_read_file(f->log), *line = strstr(log, "amtls-0");
    while (line > log && line[-1] != '\n')
        line--;
    json_t *req = json_loadb(line, strcspn(line, "\n"), 0, NULL);
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(req, "path")), "/api/v2/alerts");
    /* base64("alerts:pa55word") */
    assert_string_equal(json_string_value(json_object_get(req, "auth")),
                        "Basic YWxlcnRzOnBhNTV3b3Jk");
    json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
    assert_true(json_is_array(body));
    json_t *labels = json_object_get(json_array_get(body, json_array_size(body) - 1), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "alertname")), "call_incomplete");
    json_decref(body);
    json_decref(req);
    free(log);
    free(basic);
}

/* Credentials files others may read, a basic-auth file without a colon, a
 * missing CA file, credentials without an HTTP sink: usage errors (2). */
static void test_credential_usage(void **state) {
    fx_t *f = tp_fixture_or_skip(state);
    char *open_tok = s_secret(f, "open-token", "tok\n", 0644);
    char *no_colon = s_secret(f, "no-colon", "justauser\n", 0600);
    char *missing = tp_path(f->t.d->dir, "missing.pem");
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u/hook", f->port);
    const char *const bad[][6] = {
        { "--webhook", f->url, "--bearer-token-file", open_tok, NULL },
        { "--alertmanager", f->url, "--basic-auth-file", no_colon, NULL },
        { "--webhook", f->url, "--ca-file", missing, NULL },
        { "--ca-file", f->ca, NULL },
        { "--alertmanager", f->url, "--webhook", f->url, NULL },
        { "--alertmanager", "ftp://127.0.0.1/", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tp_tailfx_run(&f->t, bad[i]), 2);
        if (i == 0) {
            TP_EXPECT_FILE_HAS(f->t.err, "open-token");
        }
    }
    free(open_tok);
    free(no_colon);
    free(missing);
}

TP_TEST_MAIN_WITH(s_setup, s_teardown, cmocka_unit_test(test_webhook_https_bearer),
                  cmocka_unit_test(test_wrong_ca_refused),
                  cmocka_unit_test(test_alertmanager_https_basic),
                  cmocka_unit_test(test_credential_usage))
