/* tp_testdaemon — the real touchpointd process on ipc:// endpoints in a
 * temp dir, with a publisher and a subscriber wired to it.
 *
 * The publisher is an XPUB: we wait for the daemon's subscription before
 * sending, so nothing is lost to the slow-joiner effect. The subscriber is
 * synchronised by probes: throw-away incomplete calls are published until
 * one's alert comes back, so the subscription has reached the daemon's PUB.
 * Every wait has a deadline; nothing sleeps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tp_testmsg.h"
#include "tp_testutil.h"

#define TP_WAIT_MS 20000

/* Skips the current cmocka test for `why` (a missing tool), or fails it
 * when TP_TEST_REQUIRE_ALL is set (CI: every test must run; a skip would
 * look like a pass). */
void tp_test_skip(const char *why);

typedef struct {
    char            *dir, *cfg, *out, *err, *in_ep, *out_ep, *replay_ep, *reliable_ep;
    tp_proc_t        proc;
    void            *zctx, *pub, *sub;
    unsigned         probes; /* probe calls sent (each one accepted event) */
    int              output_hwm;
    tp_test_alerts_t got; /* alerts received since the sync */
    /* CURVE (tp_dfx_setup(true)): every endpoint of the daemon is a CURVE
     * server admitting the client key in clients_file; pub and sub use it. */
    bool        curve;
    char        server_public[41], server_secret[41], client_public[41], client_secret[41];
    char       *key_file;        /* the daemon's secret key, mode 0640 */
    char       *client_key_file; /* the client's secret key (tp-pub/tp-tail), 0600 */
    char       *clients_file;    /* allow-list: client_public */
    bool        http;            /* HTTP endpoint on (127.0.0.1, any free port); else off */
    unsigned    http_port;       /* the port it bound, once started */
    const char *http_yaml;       /* more keys of the http mapping, flow style
                                  * ("ingest: { enabled: true }"), or NULL */
    const char *inputs_yaml;     /* more entries of the inputs list after the
                                  * fixture's own ("  - endpoint: ...\n"), or NULL */
} tp_dfx_t;

/* Starts the daemon with `clock` ("event"/"wall") and extra YAML appended
 * to the generated config, connects, syncs (probes need call_incomplete
 * enabled). Asserts on failure. */
tp_dfx_t *tp_dfx_start(const char *clock, const char *extra_yaml);

/* The same with the output's high-water mark (output.hwm) set. */
tp_dfx_t *tp_dfx_start_with(const char *clock, const char *extra_yaml, int output_hwm);

/* A fixture with its temp dir and endpoints but no daemon yet; with
 * `curve`, keypairs generated now and the key and allow-list files
 * written. tp_dfx_spawn() starts it. */
tp_dfx_t *tp_dfx_setup(bool curve);

/* Writes d->cfg (clock, extra YAML), starts the daemon, connects and syncs. */
void tp_dfx_spawn(tp_dfx_t *d, const char *clock, const char *extra_yaml);

/* tp_dfx_setup(true) + tp_dfx_spawn: the daemon with CURVE on everywhere. */
tp_dfx_t *tp_dfx_start_curve(const char *clock, const char *extra_yaml);

/* Makes `sock` a CURVE client of d's daemon with the given keypair (Z85). */
void tp_dfx_curve_client(const tp_dfx_t *d, void *sock, const char *public_key,
                         const char *secret_key);
/* As tp_dfx_start with the HTTP endpoint on: http.listen 127.0.0.1:0,
 * and d->http_port read from <state_dir>/http.port once it is up. Without
 * this the generated config says http: { enabled: false }, so tests never
 * bind the default TCP port. */
tp_dfx_t *tp_dfx_start_http(const char *clock, const char *extra_yaml);

/* tp_dfx_start_http("event", NULL) with `http_yaml` added to the http
 * mapping (flow style, e.g. "ingest: { enabled: true }"; borrowed). */
tp_dfx_t *tp_dfx_start_http_with(const char *http_yaml);

/* Writes the config for `d` (used by tp_dfx_start; exposed for tests that
 * start a second daemon). */
void tp_dfx_write_config(tp_dfx_t *d, const char *path, const char *clock, const char *extra);

void tp_dfx_send(tp_dfx_t *d, const char *topic, const void *buf, size_t len);
void tp_dfx_send_call(tp_dfx_t *d, const tp_test_call_t *c);
void tp_dfx_send_feedback(tp_dfx_t *d, const tp_test_feedback_t *f);
void tp_dfx_send_watermark(tp_dfx_t *d, const char *event_id, int64_t now_ms);
void tp_dfx_send_step(tp_dfx_t *d, const tp_test_step_t *s);

/* Receives one alert into d->got within timeout_ms; false on timeout. */
bool tp_dfx_recv_alert(tp_dfx_t *d, int timeout_ms);

/* "Nothing more arrives", without waiting and hoping: sends a sentinel (a
 * probe: an incomplete call of its own HCP and rep, which raises
 * call_incomplete at once and touches no other rule's state, counted in
 * d->probes) on d->pub and asserts that its alert is the next one to
 * arrive. The daemon handles events in order, so an alert due to anything
 * processed before the sentinel would come first. The sentinel's alert is
 * not kept in d->got. */
void tp_dfx_expect_nothing_more(tp_dfx_t *d);

/* SIGTERM, asserts a clean exit (0), returns its stderr (caller frees). */
char *tp_dfx_stop(tp_dfx_t *d);

/* tp_dfx_stop, then asserts its stderr says `needle`. */
void tp_dfx_stop_expect(tp_dfx_t *d, const char *needle);

/* Starts the daemon on the config at d->cfg (tp_dfx_write_config) and
 * asserts that it refuses to: it exits 1 on its own, its stderr saying
 * `needle`. */
void tp_dfx_expect_refusal(tp_dfx_t *d, const char *needle);

/* Starts the daemon again on the same config and state directory (after
 * tp_dfx_stop or a SIGKILL), re-syncing the subscriber. `extra_args` (may be
 * NULL) are added to the command line. */
void tp_dfx_restart(tp_dfx_t *d, const char *extra_arg);

/* Replaces the config file with `yaml`, sends SIGHUP and waits for the
 * daemon to log the outcome: true if it reloaded, false if it refused
 * (and kept running on its previous config). */
bool tp_dfx_reload_yaml(tp_dfx_t *d, const char *yaml);

/* The same with a config generated as tp_dfx_start does (the fixture's
 * endpoints, `clock`, `extra_yaml`). */
bool tp_dfx_reload(tp_dfx_t *d, const char *clock, const char *extra_yaml);

/* New publisher and subscriber on d->in_ep / d->out_ep (after a reload
 * moved them), synced like at start. */
void tp_dfx_reconnect(tp_dfx_t *d);

/* Kills what is left, closes sockets, removes the temp dir. */
void tp_dfx_free(tp_dfx_t *d);

/* Value of counter `key` in the last "stats:" line of `log` (after a
 * stop: the final one). */
unsigned long long tp_dfx_stat(const char *log, const char *key);

/* The counters of the last stats line of `log` are as the table says:
 *   TP_EXPECT_STATS(log, { "accepted", 3 }, { "duplicates", 0 }); */
typedef struct {
    const char        *key;
    unsigned long long value;
} tp_dfx_stat_want_t;
void tp_dfx_expect_stats(const char *log, const tp_dfx_stat_want_t *want);
#define TP_EXPECT_STATS(log, ...) \
    tp_dfx_expect_stats((log), (const tp_dfx_stat_want_t[]){ __VA_ARGS__, { NULL, 0 } })

/* cmocka teardown: frees the daemon a test put in *state (`tp_dfx_t *d =
 * *state = tp_dfx_start(...)`), also when an assertion ended the test
 * early, so no daemon outlives its test. NULL-safe. */
int tp_dfx_teardown(void **state);

/* Sends n incomplete calls named prefix-0.. (n FIRING alerts) and receives
 * their n alerts (d->got is left empty). */
void tp_dfx_fire(tp_dfx_t *d, const char *prefix, unsigned n);

/* How tp_dfx_fire_with sends its calls; {0} is tp_dfx_fire. */
typedef struct {
    unsigned    reps;    /* > 0: the i-th call is by REP-<i % reps> */
    const char *rep_id;  /* else by this rep (NULL: none) */
    bool        own_hcp; /* the i-th call to HCP-<prefix>-<i>: no two share an HCP
                          * (so no uncoordinated_contact) */
    bool        keep;    /* leave the n alerts in d->got (emptied first) */
    bool        no_wait; /* only send: the alerts are not waited for */
} tp_dfx_fire_t;

void tp_dfx_fire_with(tp_dfx_t *d, const char *prefix, unsigned n, const tp_dfx_fire_t *how);

/* ---- tp-tail on the daemon: the fixture of tp-tail's sink tests ---- */

typedef struct {
    tp_dfx_t *d;         /* the daemon, event clock */
    tp_proc_t tail;      /* tp-tail once started (reaped by fini) */
    char     *pos;       /* its --durable position file */
    char     *out, *err; /* its stdout and stderr */
} tp_tailfx_t;

void tp_tailfx_init(tp_tailfx_t *t);
void tp_tailfx_fini(tp_tailfx_t *t);

/* Writes the --durable position so that a tp-tail started next replays
 * from the alert of sequence `seq` on. */
void tp_tailfx_resume_at(tp_tailfx_t *t, uint64_t seq);

/* Starts tp-tail on the daemon's endpoints, --durable t->pos, then the
 * NULL-terminated `args` (at most 30). */
void tp_tailfx_start(tp_tailfx_t *t, const char *const args[]);

/* Runs tp-tail with only `args` (at most 30; no endpoints) to its end:
 * its exit status. For usage errors and --help. */
int tp_tailfx_run(tp_tailfx_t *t, const char *const args[]);

/* tp-tail's stderr (or stdout) so far; asserts there is one. Free it. */
char *tp_tailfx_stderr(const tp_tailfx_t *t);

/* Reads one reply of the replay endpoint on DEALER `s` up to END or ERROR,
 * calling fn (if not NULL) with each alert; `end` gets "END <n>" or
 * "ERROR <reason>". Returns the number of alerts. Asserts on a timeout. */
typedef void (*tp_dfx_alert_fn)(void *ctx, const Touchpoint__V1__Alert *alert);
size_t tp_dfx_read_replay(void *s, tp_dfx_alert_fn fn, void *ctx, char *end, size_t endlen);

/* Value of counter `key` now: SIGUSR1 makes the running daemon log its
 * counters; waits for that line. */
unsigned long long tp_dfx_live_stat(tp_dfx_t *d, const char *key);

/* Alerts per rule and status ("rule|status" = the part of the key before
 * the first ':', and its status) pinned for a generated input, against
 * the sorted "alert_id|status" keys[0..n). On a difference prints the
 * table as it should read, then fails. */
typedef struct {
    const char *rule_status;
    size_t      n;
} tp_test_count_t;

void tp_test_expect_counts(char **keys, size_t n, const tp_test_count_t *want, size_t n_want);
