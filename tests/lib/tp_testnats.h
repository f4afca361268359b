/* tp_testnats — what the JetStream tests share (test_nats,
 * test_nats_cluster): real nats-server processes on loopback ports they
 * chose themselves (-p -1; a cluster's route ports are picked free ports)
 * with file storage in temp dirs, tp-pub runs, TP_ALERTS read back as a
 * sorted list of "alert_id|status" keys, and the single-node reference
 * (the same input through the reliable ZeroMQ input).
 *
 * Every wait has a deadline; the servers are killed by their pid only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tp_testdaemon.h"

/* The nats-server binary: $TP_NATS_SERVER if set, else Debian's. */
const char *tp_nats_bin(void);

typedef struct {
    char     *dir, *url;
    char     *name, *cluster_url; /* clustered: server name, route URL */
    unsigned  port, cluster_port;
    tp_proc_t proc;
    bool      running;
} tp_nats_srv_t;

/* tp_test_skip() when nats-server is not installed (a failure under
 * TP_TEST_REQUIRE_ALL). */
void tp_nats_skip_without_server(void);

/* A free TCP port on 127.0.0.1 (bound, read, closed). */
unsigned tp_nats_free_port(void);

/* One nats-server -js on 127.0.0.1:<free port>; returns once a client can
 * connect. */
tp_nats_srv_t *tp_nats_start(void);

/* n nats-servers clustered on loopback (names n0.., routes to each other,
 * JetStream on, storage in temp dirs); returns once JetStream answers
 * (a meta leader was elected). The URL list "nats://..,nats://.." goes to
 * ret_urls (caller frees). */
void tp_nats_start_cluster(tp_nats_srv_t **srv, size_t n, char **ret_urls);

/* SIGKILL, reaped (the storage dir stays until tp_nats_stop). */
void tp_nats_kill(tp_nats_srv_t *n);

/* Kills what runs, removes the storage, frees. */
void tp_nats_stop(tp_nats_srv_t *n);

/* Runs tp-pub with args (NULL-terminated, after the binary); its exit code,
 * its stderr in *ret_err if asked. Files go to d->dir. */
int tp_nats_tp_pub(const tp_dfx_t *d, const char *const *args, char **ret_err);

/* "alert_id|STATUS" of a non-probe alert appended to keys[n]; the new n. */
size_t tp_nats_key(char **keys, size_t n, const Touchpoint__V1__Alert *a);
void   tp_nats_free_keys(char **keys, size_t n);

/* Every alert in TP_ALERTS (read from url through an ephemeral consumer),
 * sorted keys. */
size_t tp_nats_stream_alerts(const char *url, char **keys, size_t max);

/* The reference: inputs (NULL-terminated paths) through a single-node
 * daemon's reliable input, event clock; sorted keys. */
size_t tp_nats_reference(const char *const *inputs, char **keys, size_t max);

/* The expected alerts of a fixed input, hard-coded by the test, not taken
 * from the daemon under test: `want` (NULL-terminated, sorted
 * "alert_id|status" keys) must equal keys[0..n). On a difference prints
 * the list as it should read, then fails. */
void tp_nats_expect_keys(char **keys, size_t n, const char *const *want);

/* Waits up to wait_ms until TP_ALERTS holds exactly ref (multiset); fails
 * with both lists at the deadline. */
void tp_nats_expect_stream(const char *url, char **ref, size_t nref, long long wait_ms);

/* GET http://127.0.0.1:<port><path>: the body of a 200 (caller frees). */
char *tp_nats_http_get(unsigned port, const char *path);

/* The value of the unlabelled series `name` on /metrics. */
double tp_nats_metric(unsigned port, const char *name);
