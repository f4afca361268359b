/* accountability.uncoordinated_contact — too many reps calling one HCP.
 *
 * An HCP called by three reps of the same company in one week sees an
 * organisation that does not talk to itself. Fires when calls from at least
 * `min_reps` (default 3) distinct reps fall within one window of length
 * `window` (default 7d); resolves once that is no longer true.
 *
 * What counts: SUBMITTED call versions (applied ones; the latest version
 * wins in tp_state). Contacts are keyed by call_id within the HCP, so a
 * correction replaces its contact instead of counting twice; a CANCELLED
 * version removes it; PLANNED and SAVED versions do not count. The time of
 * a contact is its call_at_ms.
 *
 * Window semantics, exactly. A window of length W is a half-open interval
 * (t - W, t]: contacts at call_at c1 <= c2 are in one window iff
 * c2 - c1 < W, so two calls exactly W apart are not. At clock time `now` a
 * contact is still in the window iff call_at > now - W; it leaves it at
 * call_at + W, which is why its deadline is armed at call_at + W - 1 (the
 * timers fire once now > due).
 *   - Fire: some window over the stored contacts holds >= min_reps distinct
 *     reps. A window found late (its calls arrived late) still fires: it
 *     happened. After a resolution at time r only windows with a contact
 *     still in the window at r count (call_at > r - W), so the episode that
 *     was just resolved does not fire again.
 *   - Stay FIRING while the contacts still in the window at `now` hold a
 *     qualifying window. A deadline at the moment the oldest contact of the
 *     latest qualifying window leaves re-checks that (re-armed while true);
 *     resolved with "window passed" when not (also at once if a window was
 *     found only after it had passed), "cancelled" / "corrected" when a call
 *     version took the HCP below the threshold.
 *
 * Bounded state, per HCP: at most MAX_CONTACTS contacts (the oldest are
 * dropped), none older than W before the newest one (they can never share
 * a window with it). With no alert open, the entry is dropped when its
 * newest contact leaves the window (call_at + W): a call that reaches the
 * daemon more than W after the newest call of its HCP may thus miss a
 * window it belonged to. A correction moving a call to another HCP leaves
 * the old contact with the first HCP until it expires.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_call_list.h"
#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_rule_index.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE         "uncoordinated_contact"
#define MAX_CONTACTS 64 /* contacts kept per HCP; fits in uint8_t */
#define LIST_MAX     (MAX_CONTACTS * (TP_ID_MAX + 1) + 1)

/* Per HCP (tp_rule_index). */
typedef struct {
    int64_t        quiet_since; /* last "window passed" resolution; INT64_MIN: none */
    int64_t        latest_at;   /* call_at of the call account/territory came from */
    char          *account_id;  /* owned, from the latest call */
    char          *territory;   /* owned, from the latest call */
    tp_call_list_t contacts;    /* by call_at, oldest first, at most MAX_CONTACTS */
    int64_t        armed_ms;    /* due time of its deadline; 0: none armed */
} s_hcp_t;

/* A window [first, last] of indexes into contacts. */
typedef struct {
    size_t   first, last;
    unsigned reps;
} s_window_t;

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->uncoordinated_contact.enabled;
}

static void s_hcp_clear(void *rec) {
    s_hcp_t *h = rec;
    tp_call_list_clear(&h->contacts);
    free(h->account_id);
    free(h->territory);
}

/* The rule's state is its per-HCP index. */
static int s_init(const tp_rule_ctx_t *ctx, void **ret_state) {
    (void)ctx;
    return tp_rule_index_new(sizeof(s_hcp_t), s_hcp_clear, (tp_rule_index_t **)ret_state);
}

static s_hcp_t *s_hcp_get(tp_rule_index_t *hcps, const tp_key_t *hcp) {
    bool     created;
    s_hcp_t *h = tp_rule_index_get_key(hcps, hcp, &created);
    if (h && created) {
        h->quiet_since = INT64_MIN;
        h->latest_at = INT64_MIN;
        h->contacts.max = MAX_CONTACTS;
        h->contacts.reps = true;
    }
    return h;
}

/* Contacts W or more before the newest can never share a window with it. */
static void s_prune(s_hcp_t *h, int64_t window_ms) {
    if (!h->contacts.n)
        return;
    int64_t newest = h->contacts.v[h->contacts.n - 1].call_at_ms;
    while (h->contacts.n && h->contacts.v[0].call_at_ms <= newest - window_ms)
        tp_call_list_remove(&h->contacts, 0);
}

/* The latest window over the contacts with call_at > since that holds
 * >= min_reps distinct reps. Reps are numbered by first occurrence, then
 * one sliding pass counts them: O(n^2) string compares, n <= 64. */
static bool s_best_window(const s_hcp_t *h, int64_t since, int64_t window_ms, unsigned min_reps,
                          s_window_t *ret) {
    uint8_t  rep[MAX_CONTACTS];
    unsigned count[MAX_CONTACTS] = { 0 };
    size_t   lo = 0;
    while (lo < h->contacts.n && h->contacts.v[lo].call_at_ms <= since)
        lo++;
    for (size_t i = lo; i < h->contacts.n; i++) {
        rep[i] = (uint8_t)i;
        for (size_t j = lo; j < i; j++)
            if (strcmp(h->contacts.v[j].rep_id, h->contacts.v[i].rep_id) == 0) {
                rep[i] = rep[j];
                break;
            }
    }
    bool     found = false;
    unsigned distinct = 0;
    for (size_t e = lo; e < h->contacts.n; e++) {
        if (count[rep[e]]++ == 0)
            distinct++;
        while (lo < e && h->contacts.v[lo].call_at_ms <= h->contacts.v[e].call_at_ms - window_ms)
            if (--count[rep[lo++]] == 0)
                distinct--;
        if (distinct >= min_reps) {
            *ret = (s_window_t){ .first = lo, .last = e, .reps = distinct };
            found = true;
        }
    }
    return found;
}

/* Distinct reps among the contacts with call_at > since. */
static unsigned s_reps_since(const s_hcp_t *h, int64_t since) {
    s_window_t all;
    return s_best_window(h, since, INT64_MAX / 2, 1, &all) ? all.reps : 0;
}

/* "REP-1,REP-2" (distinct, first-contact order) or "C-1,C-2" into buf. */
static void s_list(const s_hcp_t *h, const s_window_t *w, bool reps, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = w->first; i <= w->last && off < len; i++) {
        const char *item = reps ? h->contacts.v[i].rep_id : h->contacts.v[i].call_id;
        bool        seen = false;
        for (size_t j = w->first; reps && j < i && !seen; j++)
            seen = strcmp(h->contacts.v[j].rep_id, item) == 0;
        if (seen)
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", item);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static void s_fire(const s_hcp_t *h, const tp_rule_ctx_t *ctx, const s_window_t *w,
                   const char *subject, const char *event_id) {
    char reps[LIST_MAX], calls[LIST_MAX];
    char summary[512], window[32], first_at[32], last_at[32], n_reps[16], min_reps[16];
    s_list(h, w, true, reps, sizeof reps);
    s_list(h, w, false, calls, sizeof calls);
    tp_format_duration(ctx->cfg->uncoordinated_contact.window_ms, window, sizeof window);
    tp_format_time(h->contacts.v[w->first].call_at_ms, first_at, sizeof first_at);
    tp_format_time(h->contacts.v[w->last].call_at_ms, last_at, sizeof last_at);
    snprintf(n_reps, sizeof n_reps, "%u", w->reps);
    snprintf(min_reps, sizeof min_reps, "%u", ctx->cfg->uncoordinated_contact.min_reps);
    snprintf(summary, sizeof summary,
             "HCP %s was called by %u different reps within %s, from %s to %s.",
             tp_rule_index_id(h), w->reps, window, first_at, last_at);
    const tp_kv_t evidence[] = {
        { "reps", reps },         { "calls", calls },   { "distinct_reps", n_reps },
        { "min_reps", min_reps }, { "window", window }, { "first_at", first_at },
        { "last_at", last_at },
    };
    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
        .rule = RULE,
        .subject = subject,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
        .hcp_id = tp_rule_index_id(h),
        .account_id = h->account_id,
        .territory = h->territory,
        .summary = summary,
        .evidence = evidence,
        .n_evidence = sizeof evidence / sizeof evidence[0],
    };
    tp_rule_fire(ctx, &spec, event_id);
}

/* Arms the deadline of `h` at due_ms and remembers when. */
static void s_arm(s_hcp_t *h, const tp_rule_ctx_t *ctx, const char *hcp_id, int64_t due_ms) {
    if (tp_rule_arm(ctx, hcp_id, due_ms) == 0)
        h->armed_ms = due_ms;
}

/* Brings the alert of `h` in line with its contacts at ctx->now_ms and
 * arms its one deadline: the next re-check while FIRING, else the moment
 * the entry can be dropped. May free `h`. */
static void s_reconcile(tp_rule_index_t *hcps, s_hcp_t *h, const tp_rule_ctx_t *ctx,
                        const char *event_id, const char *resolution) {
    const int64_t  w_ms = ctx->cfg->uncoordinated_contact.window_ms;
    const unsigned min_reps = ctx->cfg->uncoordinated_contact.min_reps;
    const char    *hcp_id = tp_rule_index_id(h);
    char           subject[4 + TP_ID_MAX + 1];
    TP_STR_JOIN(subject, sizeof subject, "hcp/", hcp_id);
    s_window_t w;

    bool firing = tp_alerts_is_firing(ctx->alerts, RULE, subject);
    if (!firing) {
        int64_t since = h->quiet_since == INT64_MIN ? INT64_MIN : h->quiet_since - w_ms;
        if (s_best_window(h, since, w_ms, min_reps, &w)) {
            s_fire(h, ctx, &w, subject, event_id);
            firing = true;
            resolution = "window passed"; /* if it has passed already */
        }
    }
    if (firing) {
        if (s_best_window(h, ctx->now_ms - w_ms, w_ms, min_reps, &w)) {
            s_arm(h, ctx, hcp_id, h->contacts.v[w.first].call_at_ms + w_ms - 1);
            return;
        }
        char summary[256], n_reps[16];
        snprintf(n_reps, sizeof n_reps, "%u", s_reps_since(h, ctx->now_ms - w_ms));
        snprintf(summary, sizeof summary,
                 "HCP %s no longer has calls from %u different reps within the window.", hcp_id,
                 min_reps);
        const tp_kv_t evidence[] = {
            { "distinct_reps", n_reps },
            { "resolution", resolution },
        };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], event_id, ctx->now_ms);
        h->quiet_since = ctx->now_ms;
    }
    int64_t drop_at =
        h->contacts.n ? h->contacts.v[h->contacts.n - 1].call_at_ms + w_ms - 1 : INT64_MIN;
    if (ctx->now_ms > drop_at) {
        tp_rule_cancel(ctx, hcp_id);
        tp_rule_index_drop(hcps, h);
        return;
    }
    /* With no alert open, a deadline armed earlier than drop_at is left
     * where it is: when it pops, this function finds the same contacts, so
     * no window, and arms drop_at then. Every call of the HCP moved it
     * before (a lookup and a heap move per call event). While FIRING the
     * deadline is always moved (above): its moment orders alerts. */
    if (h->armed_ms && drop_at >= h->armed_ms)
        return;
    s_arm(h, ctx, hcp_id, drop_at);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    tp_rule_index_t *hcps = state;
    const tp_call_t *call = ev->call;
    if (!ev->applied)
        return;
    bool     submitted = call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
    s_hcp_t *h = tp_rule_index_find_key(hcps, &ev->hcp);
    int      i = h ? tp_call_list_find(&h->contacts, call->call_id) : -1;
    if (!submitted && i < 0)
        return; /* PLANNED / SAVED, or nothing to cancel */
    if (!h && !(h = s_hcp_get(hcps, &ev->hcp)))
        return; /* out of memory: this call is not counted */
    if (submitted) {
        if (tp_call_list_put(&h->contacts, call, i) == 0 && call->call_at_ms >= h->latest_at &&
            tp_str_set(&h->account_id, call->account_id) == 0 &&
            tp_str_set(&h->territory, call->territory) == 0)
            h->latest_at = call->call_at_ms;
        s_prune(h, ctx->cfg->uncoordinated_contact.window_ms);
    } else {
        tp_call_list_remove(&h->contacts, (size_t)i);
    }
    const char *resolution = i < 0 ? "window passed" : submitted ? "corrected" : "cancelled";
    s_reconcile(hcps, h, ctx, ev->env->event_id, resolution);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    tp_rule_index_t *hcps = state;
    s_hcp_t         *h = tp_rule_index_find(hcps, tp_deadline_key(d));
    if (!h)
        return;
    h->armed_ms = 0; /* this deadline is gone */
    s_reconcile(hcps, h, ctx, NULL, "window passed");
}

/* Snapshot: every HCP's contacts, account, territory and quiet time. */
static void s_hcp_save(const void *rec, tp_snapw_t *w) {
    const s_hcp_t *h = rec;
    tp_snapw_i64(w, h->quiet_since);
    tp_snapw_i64(w, h->latest_at);
    tp_snapw_str(w, h->account_id);
    tp_snapw_str(w, h->territory);
    tp_call_list_save(&h->contacts, w);
}

static int s_hcp_load(void *rec, tp_snapr_t *r, void *arg) {
    (void)arg;
    s_hcp_t *h = rec;
    int      k;
    tp_snapr_i64(r, &h->quiet_since);
    tp_snapr_i64(r, &h->latest_at);
    if ((k = tp_snapr_str(r, 4096, &h->account_id)) < 0 ||
        (k = tp_snapr_str(r, 4096, &h->territory)) < 0)
        return k;
    h->contacts.max = MAX_CONTACTS;
    h->contacts.reps = true;
    return tp_call_list_load(&h->contacts, r);
}

static void s_save(const void *state, tp_snapw_t *w) {
    tp_rule_index_save(state, w, s_hcp_save);
}

static int s_load(void *state, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    (void)ctx;
    return tp_rule_index_load(state, r, s_hcp_load, NULL);
}

const tp_rule_t tp_rule_uncoordinated_contact = {
    .name = RULE,
    .description = "calls from >= min_reps (3) distinct reps to one HCP within window (7d)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL,
    .enabled = s_enabled,
    .init = s_init,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
    .free = tp_rule_index_free,
    .save = s_save,
    .load = s_load,
};
