/* tp_testkpi — the KPI tests' fixture: the engine fixture (event clock, no
 * sockets) with a metrics registry and a tp_kpi observing its events, and
 * the alerts it raised handed to the KPIs as the daemon's sink does. */
#pragma once

#include <stdlib.h>

#include "tp_kpi.h"
#include "tp_testengine.h"

typedef struct {
    tp_fixture_t *f;
    tp_metrics_t *m;
    tp_kpi_t     *kpi;
    char         *text; /* the last rendered /metrics text */
    size_t        fed;  /* alerts handed to tp_kpi_alert so far */
} kfx_t;

static inline kfx_t *kfx_new(const char *yaml) {
    kfx_t *k = calloc(1, sizeof *k);
    k->f = tp_fixture_new(yaml);
    assert_int_equal(tp_metrics_new("touchpointd_", &k->m), 0);
    assert_int_equal(tp_kpi_new(k->f->cfg, k->m, &k->kpi), 0);
    tp_engine_set_observer(k->f->engine, tp_kpi_observe, k->kpi);
    return k;
}

static inline void kfx_free(kfx_t *k) {
    tp_kpi_destroy(&k->kpi);
    tp_metrics_destroy(&k->m);
    tp_fixture_free(k->f);
    free(k->text);
    free(k);
}

/* The alerts raised since the last call, to the KPIs (the daemon's sink). */
static inline void kfx_feed(kfx_t *k) {
    for (; k->fed < k->f->got.n; k->fed++)
        tp_kpi_alert(k->kpi, k->f->got.alerts[k->fed]);
}
