/* tp_kpi_snap — the KPI state in a snapshot (tp_snapio): every count
 * behind /v1/kpi, /v1/kpi/trend and the KPI families of /metrics, so that
 * a daemon started from a snapshot (the event log truncated behind it)
 * shows the same figures as one that replayed the whole log.
 *
 * Layout (section 'KPI ' version 1): the KPI families' series, the call
 * totals, the preferred channels, the territory and rep counts, the step
 * and cycle stats; then the sections of tp_kpi_alerts, tp_kpi_nps and
 * tp_kpi_trend. Hash tables are written in insertion order and read back
 * in it, so JSON arrays and /metrics come out in the same order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tp_kpi_int.h"
#include "tp_snapio.h"

#define SNAP_TAG TP_SNAP_TAG('K', 'P', 'I', ' ')
#define MAX_NAME 4096

/* The families tp_kpi itself registered, in a fixed order. */
static void s_families(const tp_kpi_t *k, tp_metric_t *f[12]) {
    tp_metric_t *all[12] = { k->received,    k->m_submitted, k->m_complete,   k->m_late,
                             k->m_known,     k->m_matched,   k->completeness, k->late_ratio,
                             k->match_ratio, k->cycle,       k->step,         k->prefs_dropped };
    memcpy(f, all, sizeof all);
}

static void s_labels_save(const tp_kpi_labels_t *ls, tp_snapw_t *w) {
    tp_snapw_u64(w, HASH_COUNT(ls->head));
    for (const tp_kpi_label_t *l = ls->head; l; l = l->hh.next) {
        tp_snapw_str(w, l->name);
        tp_snapw_str(w, l->territory);
        for (int i = 0; i < N__COUNT; i++)
            tp_snapw_u64(w, l->n[i]);
    }
}

int tp_kpi_save(const tp_kpi_t *k, tp_snapw_t *w) {
    tp_metric_t *f[12];
    s_families(k, f);
    tp_snapw_section(w, SNAP_TAG, 1);
    for (int i = 0; i < 12; i++)
        tp_metric_save(f[i], w);
    const uint64_t totals[] = { k->submitted, k->complete, k->late, k->known, k->matched };
    for (int i = 0; i < 5; i++)
        tp_snapw_u64(w, totals[i]);
    tp_snapw_u64(w, HASH_COUNT(k->prefs));
    for (const tp_kpi_pref_t *p = k->prefs; p; p = p->hh.next) {
        tp_snapw_str(w, p->hcp_id);
        tp_snapw_i64(w, p->at_ms);
        tp_snapw_u64(w, p->channel);
    }
    s_labels_save(&k->territories, w);
    s_labels_save(&k->reps, w);
    tp_snapw_u64(w, HASH_COUNT(k->steps));
    for (const tp_kpi_step_t *s = k->steps; s; s = s->hh.next) {
        tp_snapw_str(w, s->name);
        tp_snapw_u64(w, s->completed);
        tp_snapw_u64(w, s->over_sla);
        tp_snapw_f64(w, s->sum_s);
        tp_snapw_i64(w, s->sla_ms);
    }
    for (unsigned t = 0; t < TP_CONTRACT_TYPE_COUNT; t++) {
        tp_snapw_u64(w, k->cycle_closed[t]);
        tp_snapw_u64(w, k->cycle_over[t]);
        tp_snapw_f64(w, k->cycle_sum_s[t]);
    }
    tp_kpi_alerts_save(k->alerts, w);
    tp_kpi_nps_save(k->nps, w);
    tp_kpi_trend_save(k->trend, w);
    return tp_snapw_flush(w, NULL);
}

/* A new entry of `size` bytes then the NUL-terminated key read from r,
 * or NULL (r's error says whether it was the file or memory). */
static void *s_entry(tp_snapr_t *r, size_t size, char **ret_key) {
    char *key = NULL;
    if (tp_snapr_str(r, MAX_NAME, &key) < 0 || !key) {
        free(key);
        return NULL;
    }
    size_t len = strlen(key);
    char  *e = calloc(1, size + len + 1);
    if (e) {
        memcpy(e + size, key, len + 1);
        *ret_key = e + size;
    }
    free(key);
    return e;
}

static int s_labels_load(tp_kpi_labels_t *ls, tp_snapr_t *r) {
    uint64_t n = 0;
    tp_snapr_u64(r, &n);
    for (uint64_t i = 0; i < n && !tp_snapr_error(r); i++) {
        char           *name, *terr = NULL;
        tp_kpi_label_t *l = s_entry(r, sizeof *l, &name);
        if (!l)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
        tp_snapr_str(r, sizeof l->territory - 1, &terr);
        snprintf(l->territory, sizeof l->territory, "%s", terr ? terr : "");
        free(terr);
        for (int j = 0; j < N__COUNT; j++)
            tp_snapr_u64(r, &l->n[j]);
        HASH_ADD_KEYPTR(hh, ls->head, name, strlen(name), l);
        ls->count++;
    }
    return tp_snapr_error(r) ? -EBADMSG : 0;
}

int tp_kpi_load(tp_kpi_t *k, tp_snapr_t *r) {
    tp_metric_t *f[12];
    s_families(k, f);
    int e = tp_snapr_section(r, SNAP_TAG, 1, NULL);
    for (int i = 0; e == 0 && i < 12; i++)
        e = tp_metric_load(f[i], r);
    if (e < 0)
        return e;
    uint64_t *totals[] = { &k->submitted, &k->complete, &k->late, &k->known, &k->matched };
    for (int i = 0; i < 5; i++)
        tp_snapr_u64(r, totals[i]);
    uint64_t n = 0;
    tp_snapr_u64(r, &n);
    for (uint64_t i = 0; i < n && !tp_snapr_error(r); i++) {
        char          *id;
        uint64_t       ch = 0;
        tp_kpi_pref_t *p = s_entry(r, sizeof *p, &id);
        if (!p)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
        tp_snapr_i64(r, &p->at_ms);
        tp_snapr_u64(r, &ch);
        p->channel = (uint8_t)ch;
        HASH_ADD_KEYPTR(hh, k->prefs, id, strlen(id), p);
        k->n_prefs++;
    }
    if ((e = s_labels_load(&k->territories, r)) < 0 || (e = s_labels_load(&k->reps, r)) < 0)
        return e;
    tp_snapr_u64(r, &n);
    for (uint64_t i = 0; i < n && !tp_snapr_error(r); i++) {
        char          *name;
        tp_kpi_step_t *s = s_entry(r, sizeof *s, &name);
        if (!s)
            return tp_snapr_error(r) ? -EBADMSG : -ENOMEM;
        tp_snapr_u64(r, &s->completed);
        tp_snapr_u64(r, &s->over_sla);
        tp_snapr_f64(r, &s->sum_s);
        tp_snapr_i64(r, &s->sla_ms);
        HASH_ADD_KEYPTR(hh, k->steps, name, strlen(name), s);
        k->n_steps++;
    }
    for (unsigned t = 0; t < TP_CONTRACT_TYPE_COUNT; t++) {
        tp_snapr_u64(r, &k->cycle_closed[t]);
        tp_snapr_u64(r, &k->cycle_over[t]);
        tp_snapr_f64(r, &k->cycle_sum_s[t]);
    }
    if (tp_snapr_error(r))
        return -EBADMSG;
    if ((e = tp_kpi_alerts_load(k->alerts, r)) < 0 || (e = tp_kpi_nps_load(k->nps, r)) < 0 ||
        (e = tp_kpi_trend_load(k->trend, r)) < 0)
        return e;
    return 0;
}
