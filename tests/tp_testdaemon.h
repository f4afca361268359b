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

#include "tp_testmsg.h"
#include "tp_testutil.h"

#define TP_WAIT_MS 20000

typedef struct {
    char     *dir, *cfg, *out, *err, *in_ep, *out_ep, *replay_ep, *reliable_ep;
    tp_proc_t proc;
    void     *zctx, *pub, *sub;
    unsigned  probes;            /* probe calls sent (each one accepted event) */
    int       output_hwm;
    tp_test_alerts_t got;        /* alerts received since the sync */
    bool      http;              /* HTTP endpoint on (127.0.0.1, any free port); else off */
    unsigned  http_port;         /* the port it bound, once started */
} tp_dfx_t;

/* Starts the daemon with `clock` ("event"/"wall") and extra YAML appended
 * to the generated config, connects, syncs (probes need call_incomplete
 * enabled). Asserts on failure. */
tp_dfx_t *tp_dfx_start(const char *clock, const char *extra_yaml);

/* The same with the output's high-water mark (output.hwm) set. */
tp_dfx_t *tp_dfx_start_with(const char *clock, const char *extra_yaml, int output_hwm);

/* As tp_dfx_start with the HTTP endpoint on: http.listen 127.0.0.1:0,
 * and d->http_port read from <state_dir>/http.port once it is up. Without
 * this the generated config says http: { enabled: false }, so tests never
 * bind the default TCP port. */
tp_dfx_t *tp_dfx_start_http(const char *clock, const char *extra_yaml);

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

/* SIGTERM, asserts a clean exit (0), returns its stderr (caller frees). */
char *tp_dfx_stop(tp_dfx_t *d);

/* Starts the daemon again on the same config and state directory (after
 * tp_dfx_stop or a SIGKILL), re-syncing the subscriber. `extra_args` (may be
 * NULL) are added to the command line. */
void tp_dfx_restart(tp_dfx_t *d, const char *extra_arg);

/* Kills what is left, closes sockets, removes the temp dir. */
void tp_dfx_free(tp_dfx_t *d);

/* Value of counter `key` in the daemon's final "stats:" line. */
unsigned long long tp_dfx_stat(const char *log, const char *key);
