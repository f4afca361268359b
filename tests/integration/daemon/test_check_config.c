/* test_check_config — `touchpointd --check-config` says what start-up
 * says: a bearer token file others may read, an empty one, a CURVE secret
 * key others may read. For each, --check-config exits 1 naming the file,
 * and starting the daemon on the same config is refused with the same
 * reason; made right, --check-config says OK. Real binary, real files. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testutil.h"

typedef struct {
    char *dir, *cfg, *out, *err, *file; /* file: the secret file under test */
} fx_t;

/* A temp dir and the paths in it; the secret file under test is `file_name`. */
static fx_t *s_setup(const char *file_name) {
    fx_t *f = calloc(1, sizeof *f);
    f->dir = tp_tmpdir();
    f->cfg = tp_path(f->dir, "touchpointd.yaml");
    f->out = tp_path(f->dir, "out");
    f->err = tp_path(f->dir, "err");
    f->file = tp_path(f->dir, file_name);
    return f;
}

/* The config: ipc:// endpoints in the temp dir, then `extra`. */
static void s_config(const fx_t *f, const char *extra) {
    char *yaml = NULL;
    assert_true(asprintf(&yaml,
                         "inputs: [{ endpoint: \"ipc://%s/in\" }]\n"
                         "output: { endpoint: \"ipc://%s/out\" }\n"
                         "replay: { endpoint: \"ipc://%s/replay\" }\n"
                         "reliable_input: { endpoint: \"ipc://%s/rel\" }\n"
                         "state_dir: %s/state\nclock: event\n%s",
                         f->dir, f->dir, f->dir, f->dir, f->dir, extra) > 0);
    assert_int_equal(tp_write_file(f->cfg, yaml), 0);
    free(yaml);
}

/* http: with ingest or the dashboard on, its token file f->file. */
static void s_config_token(const fx_t *f, const char *section, bool enabled) {
    char extra[1024];
    snprintf(extra, sizeof extra,
             "http: { listen: \"127.0.0.1:0\", %s: { enabled: %s, bearer_token_file: \"%s\" } }\n",
             section, enabled ? "true" : "false", f->file);
    s_config(f, extra);
}

static void s_free(fx_t *f) {
    tp_rmrf(f->dir);
    free(f->dir), free(f->cfg), free(f->out), free(f->err), free(f->file), free(f);
}

static void s_write(const char *path, const char *text, mode_t mode) {
    assert_int_equal(tp_write_file(path, text), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* Runs touchpointd with `mode_arg` (--check-config, or NULL to start it):
 * its exit code, and its stderr in *ret_err (caller frees). */
static int s_run(const fx_t *f, const char *mode_arg, char **ret_err) {
    const char *check[] = { TP_DAEMON_BIN, "--check-config", "--config", f->cfg, NULL };
    const char *start[] = { TP_DAEMON_BIN, "--config", f->cfg, NULL };
    tp_proc_t   p;
    assert_int_equal(tp_proc_spawn(&p, mode_arg ? check : start, NULL, f->out, f->err), 0);
    int code = tp_proc_wait(&p, 20000);
    if (code < 0) {
        tp_proc_reap(&p);
        fail_msg("touchpointd %s did not exit", mode_arg ? mode_arg : "(start)");
    }
    *ret_err = tp_read_file(f->err);
    return code;
}

/* --check-config and start-up both refuse, naming the file and `reason`. */
static void s_both_refuse(const fx_t *f, const char *reason) {
    char *err;
    for (int start = 0; start < 2; start++) {
        int code = s_run(f, start ? NULL : "--check-config", &err);
        if (code != 1 || !strstr(err, f->file) || !strstr(err, reason))
            fail_msg("%s: exit %d, want 1 and \"%s\" naming %s; stderr:\n%s",
                     start ? "start-up" : "--check-config", code, reason, f->file, err);
        if (start)
            assert_non_null(strstr(err, "Refusing to start"));
        free(err);
    }
}

static void s_check_ok(const fx_t *f) {
    char *err;
    int   code = s_run(f, "--check-config", &err);
    if (code != 0)
        fail_msg("--check-config: exit %d; stderr:\n%s", code, err);
    free(err);
}

#define INGEST \
    "http: { listen: \"127.0.0.1:0\", ingest: { enabled: true, bearer_token_file: \"%s\" } }\n"
#define DASH \
    "http: { listen: \"127.0.0.1:0\", dashboard: { enabled: true, bearer_token_file: \"%s\" } }\n"

/* A token file others may read or write is refused, whichever endpoint
 * it guards; with its mode fixed the config passes. */
static void test_world_readable_tokens(void **state) {
    (void)state;
    static const struct {
        const char *file, *section;
        mode_t      open, closed;
    } tokens[] = { { "ingest.token", "ingest", 0644, 0600 },
                   { "dash.token", "dashboard", 0604, 0640 } };
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        fx_t *f = s_setup(tokens[i].file);
        s_config_token(f, tokens[i].section, true);
        s_write(f->file, "s3cret\n", tokens[i].open);
        s_both_refuse(f, "readable or writable by others");
        assert_int_equal(chmod(f->file, tokens[i].closed), 0);
        s_check_ok(f);
        s_free(f);
    }
}

static void test_empty_ingest_token(void **state) {
    (void)state;
    fx_t *f = s_setup("ingest.token");
    s_config_token(f, "ingest", true);
    s_write(f->file, "", 0600);
    s_both_refuse(f, "holds no token");
    s_write(f->file, "# comments only\n\n", 0600);
    s_both_refuse(f, "holds no token");
    s_write(f->file, "s3cret\n", 0600);
    s_check_ok(f);
    s_free(f);
}

/* A token file for a switched-off ingest is not read, at start or here. */
static void test_unused_token_file_is_not_read(void **state) {
    (void)state;
    fx_t *f = s_setup("ingest.token");
    s_config_token(f, "ingest", false);
    s_check_ok(f); /* the file does not even exist */
    s_free(f);
}

static void test_world_readable_curve_key(void **state) {
    (void)state;
    fx_t *f = s_setup("server.key");
    /* The allow-list every bound endpoint needs, and a real key. */
    char *clients = tp_path(f->dir, "clients"), pub[41], sec[41], *yaml = NULL, key[64];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(tp_write_file(clients, ""), 0);
    snprintf(key, sizeof key, "%s\n", sec);
    s_write(f->file, key, 0644);
    assert_true(asprintf(&yaml,
                         "inputs: [{ endpoint: \"ipc://%s/in\", curve_clients: \"%s\" }]\n"
                         "output: { endpoint: \"ipc://%s/out\", curve_clients: \"%s\" }\n"
                         "replay: { endpoint: \"ipc://%s/replay\", curve_clients: \"%s\" }\n"
                         "reliable_input: { endpoint: \"ipc://%s/rel\", curve_clients: \"%s\" }\n"
                         "curve: { secret_key_file: \"%s\" }\n"
                         "http: { enabled: false }\nstate_dir: %s/state\nclock: event\n",
                         f->dir, clients, f->dir, clients, f->dir, clients, f->dir, clients,
                         f->file, f->dir) > 0);
    assert_int_equal(tp_write_file(f->cfg, yaml), 0);
    s_both_refuse(f, "readable or writable by others");
    assert_int_equal(chmod(f->file, 0640), 0);
    s_check_ok(f);
    /* A key file without a key is refused the same way. */
    s_write(f->file, "# nothing here\n", 0600);
    s_both_refuse(f, "holds no Z85 secret key");
    /* And an allow-list with a line that is not a key, by file and line. */
    s_write(f->file, key, 0600);
    char bad[128];
    snprintf(bad, sizeof bad, "# producers\n%s\nnot-a-key\n", pub);
    assert_int_equal(tp_write_file(clients, bad), 0);
    char *err;
    for (int start = 0; start < 2; start++) {
        assert_int_equal(s_run(f, start ? NULL : "--check-config", &err), 1);
        char want[4200];
        snprintf(want, sizeof want, "%s:3: not a Z85 public key", clients);
        if (!strstr(err, want))
            fail_msg("want \"%s\" in:\n%s", want, err);
        free(err);
    }
    free(yaml);
    free(clients);
    s_free(f);
}

TP_TEST_MAIN(cmocka_unit_test(test_world_readable_tokens),
             cmocka_unit_test(test_empty_ingest_token),
             cmocka_unit_test(test_unused_token_file_is_not_read),
             cmocka_unit_test(test_world_readable_curve_key))
