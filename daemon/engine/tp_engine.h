/* tp_engine — the dispatcher: one bus message in, alerts out. No I/O.
 *
 * decode + validate (tp_codec) -> idempotency (tp_dedup) -> per-source
 * sequence check (tp_seq) -> clock -> state (tp_state) -> rules (tp_rules)
 * -> alerts (tp_alert) -> sink. Bad input is counted per reason, logged
 * through a rate limiter, and dropped; it never stops the engine.
 *
 * The daemon feeds it frames from ZeroMQ; tests and replay feed it directly,
 * with the clock injected, so everything here is deterministic.
 */
#pragma once

#include "tp_alert.h"
#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_config.h"
#include "tp_lua_rules.h"
#include "tp_stats.h"

typedef struct tp_engine tp_engine_t;

/* `cfg` is borrowed and must outlive the engine. 0 or negative errno. */
int tp_engine_new(const tp_config_t *cfg, tp_engine_t **ret);

/* Switches to a reloaded config (borrowed like the first; the old one may
 * be freed once this returns 0). State, open alerts and armed deadlines are
 * kept; see tp_ruleset_reconfigure for rules switched on or off. Keys that
 * size the engine (clock, limits.dedup_window, limits.max_sources) cannot
 * change: -EINVAL with the reason in `why`, nothing changed. */
int tp_engine_reconfigure(tp_engine_t *e, const tp_config_t *cfg, char *why, size_t whylen);

/* The -EINVAL check of tp_engine_reconfigure alone, changing nothing. */
int tp_engine_can_reconfigure(const tp_engine_t *e, const tp_config_t *cfg, char *why,
                              size_t whylen);

/* Where alerts go (see tp_alert_sink_fn). */
void tp_engine_set_sink(tp_engine_t *e, tp_alert_sink_fn fn, void *ctx);

/* Who sees every accepted event after the rules did (tp_kpi): the event
 * and the state it left (struct tp_event, tp_rules.h). NULL fn = nobody. */
struct tp_event;
typedef void (*tp_engine_observer_fn)(void *ctx, const struct tp_event *ev);
void tp_engine_set_observer(tp_engine_t *e, tp_engine_observer_fn fn, void *ctx);

/* The engine's clock, e.g. to inject a wall-time source in tests. */
tp_clock_t *tp_engine_clock(tp_engine_t *e);

const tp_stats_t *tp_engine_stats(const tp_engine_t *e);

/* The same counters, for the I/O layer to add its own (drops, journal). */
tp_stats_t *tp_engine_counters(tp_engine_t *e);

/* The sequence the next alert gets: the journal's last + 1 at start-up, so
 * sequence numbers are never reused across restarts. */
void tp_engine_set_next_sequence(tp_engine_t *e, uint64_t next);

/* What happened to one message (negative errno values are failures). */
enum {
    TP_ACCEPTED = 0,  /* applied to state and rules */
    TP_REFUSED = 1,   /* bad input: counted, logged (rate limited), dropped */
    TP_DUPLICATE = 2, /* event_id seen before: counted, ignored */
};

/* Processes one bus message. Returns TP_ACCEPTED, TP_REFUSED or
 * TP_DUPLICATE, or a negative errno on an internal failure (ENOMEM). */
int tp_engine_handle(tp_engine_t *e, const tp_frame_t *frames, size_t nframes);

/* As tp_engine_handle; on TP_REFUSED `why` gets the reason, and on any
 * decoded message ret_event_id (may be NULL) gets its event_id ("" if
 * undecodable), for replies to a reliable producer. */
int tp_engine_handle_why(tp_engine_t *e, const tp_frame_t *frames, size_t nframes, char *why,
                         size_t whylen, char *ret_event_id, size_t idlen);

/* Processes one Envelope that did not come off the bus (replay); it is
 * validated first. Same returns as tp_engine_handle. */
int tp_engine_handle_envelope(tp_engine_t *e, const Touchpoint__V1__Envelope *env);

/* Fires every deadline the clock has passed (now > due); the daemon calls
 * it from its one libevent timer in wall-clock mode. In event-clock mode
 * deadlines fire as events move time. Returns how many fired. */
size_t tp_engine_fire_due(tp_engine_t *e);

/* Earliest armed deadline (unix ms), INT64_MAX if none: where the daemon
 * sets its timer. */
int64_t tp_engine_next_deadline(const tp_engine_t *e);

/* Armed deadlines (rules' and retention). */
size_t tp_engine_deadlines(const tp_engine_t *e);

/* Open (FIRING) alerts and known calls, for status lines. */
size_t tp_engine_open_alerts(const tp_engine_t *e);
size_t tp_engine_calls(const tp_engine_t *e);
size_t tp_engine_cases(const tp_engine_t *e);

/* Every open alert, packed (tp_alerts_foreach): the dashboard's start. */
void tp_engine_foreach_open_alert(const tp_engine_t *e, tp_alert_each_fn fn, void *ctx);

/* Names of the enabled rules, space-separated. */
void tp_engine_describe_rules(const tp_engine_t *e, char *buf, size_t len);

/* The user-defined Lua rules, for their counters in /metrics and /status. */
const tp_lua_rules_t *tp_engine_lua_rules(const tp_engine_t *e);

/* The state is rebuilt and alerts go out again: what a snapshot's load
 * had to leave for then happens now (the open alerts of Lua rules no
 * longer configured resolve, see tp_lua_rules_resolve_gone). The number
 * of alerts it raised. */
size_t tp_engine_rebuilt(tp_engine_t *e);

void tp_engine_destroy(tp_engine_t **p);

/* ---- Snapshots (tp_snapio) ----
 * The engine's whole state: clock, dedup window, source sequences,
 * deadlines, calls, cases, open alerts and their next sequence, and every
 * running rule's own state. tp_engine_unsaved: NULL if all of it can be
 * saved, else the name of a rule whose state cannot (no snapshot then).
 * tp_engine_load: into an engine just made (tp_engine_new, nothing
 * handled yet); 0, or negative errno (-EBADMSG, -EPROTO: a bad or foreign
 * snapshot, or one taken with other built-in rules or clock; other Lua
 * rule files are never a reason, see tp_lua_rules_load): the engine is
 * then half-loaded, destroy it and start a fresh one. */
#include "tp_snapio.h"
const char *tp_engine_unsaved(const tp_engine_t *e);
void        tp_engine_save(const tp_engine_t *e, tp_snapw_t *w);
int         tp_engine_load(tp_engine_t *e, tp_snapr_t *r);
