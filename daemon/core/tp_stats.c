/* tp_stats — see tp_stats.h. */
#include "tp_stats.h"

#include <inttypes.h>
#include <stdio.h>

uint64_t tp_stats_bad_total(const tp_stats_t *s) {
    uint64_t n = 0;
    for (int i = 1; i < TP_BAD__COUNT; i++)
        n += s->bad[i];
    return n;
}

uint64_t tp_stats_refused_total(const tp_stats_t *s) {
    return tp_stats_bad_total(s) + s->oversize + s->steps_dropped + s->cases_over_hcp_limit;
}

void tp_stats_count_oversize(tp_stats_t *s) {
    s->received++;
    s->oversize++;
}

int tp_stats_format(const tp_stats_t *s, char *buf, size_t len) {
    return snprintf(
        buf, len,
        "received=%" PRIu64 " accepted=%" PRIu64 " calls=%" PRIu64 " contracting=%" PRIu64
        " feedback=%" PRIu64 " watermarks=%" PRIu64 " bad=%" PRIu64 " bad_frames=%" PRIu64
        " bad_topic=%" PRIu64 " bad_decode=%" PRIu64 " bad_mismatch=%" PRIu64
        " bad_invalid=%" PRIu64 " bad_empty=%" PRIu64 " duplicates=%" PRIu64 " seq_gaps=%" PRIu64
        " seq_missing=%" PRIu64 " seq_regressions=%" PRIu64 " seq_restarts=%" PRIu64
        " sources_dropped=%" PRIu64 " stale_versions=%" PRIu64 " steps_dropped=%" PRIu64
        " cases_over_hcp_limit=%" PRIu64 " alerts_firing=%" PRIu64 " alerts_resolved=%" PRIu64
        " publish_errors=%" PRIu64 " alerts_dropped=%" PRIu64 " journal_commits=%" PRIu64
        " journal_errors=%" PRIu64 " replay_requests=%" PRIu64 " replay_refused=%" PRIu64
        " replay_oversize=%" PRIu64 " replay_busy=%" PRIu64 " replay_timeouts=%" PRIu64
        " zap_denied=%" PRIu64 " oversize=%" PRIu64,
        s->received, s->accepted, s->calls, s->contracting, s->feedback, s->watermarks,
        tp_stats_bad_total(s), s->bad[TP_BAD_FRAMES], s->bad[TP_BAD_TOPIC], s->bad[TP_BAD_DECODE],
        s->bad[TP_BAD_MISMATCH], s->bad[TP_BAD_INVALID], s->bad[TP_BAD_EMPTY], s->duplicates,
        s->seq_gaps, s->seq_missing, s->seq_regressions, s->seq_restarts, s->sources_dropped,
        s->stale_versions, s->steps_dropped, s->cases_over_hcp_limit, s->alerts_firing,
        s->alerts_resolved, s->publish_errors, s->alerts_dropped, s->journal_commits,
        s->journal_errors, s->replay_requests, s->replay_refused, s->replay_oversize,
        s->replay_busy, s->replay_timeouts, s->zap_denied, s->oversize);
}
