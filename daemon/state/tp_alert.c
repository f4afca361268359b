/* tp_alert — see tp_alert.h. */
#include "tp_alert.h"
#include "tp_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"
#include "tp_oa.h"

typedef Touchpoint__V1__Alert                Alert;
typedef Touchpoint__V1__Alert__EvidenceEntry EvidenceEntry;

#define MAX_EVIDENCE 32

/* Most "is this firing?" questions are about a subject with no alert open
 * at all: a count of open alerts per slot of the subject's hash answers
 * those without hashing the rule or probing the index. 256 KiB. */
#define SUBJECT_SLOTS (1u << 16)

typedef struct s_open {
    struct s_open *prev, *next;  /* opening order: foreach and resolve_rule walk it */
    uint64_t       hash;         /* s_hash(rule, subject) */
    uint32_t       subject_slot; /* its count in tp_alerts.subjects */
    size_t         len;          /* packed FIRING alert */
    uint8_t       *packed;
    size_t         rule_len; /* id[rule_len] is the ':' */
    char           id[];     /* alert_id */
} s_open_t;

struct tp_alerts {
    tp_oa_t          index;    /* s_open_t by s_hash(rule, subject) */
    uint32_t        *subjects; /* open alerts per slot of the subject's hash (SUBJECT_SLOTS) */
    s_open_t        *first, *last;
    uint64_t         next_seq;
    tp_stats_t      *stats;
    tp_alert_sink_fn sink;
    void            *sink_ctx;
    tp_arena_t      *arena; /* the FIRING unpacked by a resolve, reset after */
};

int tp_alerts_new(tp_stats_t *stats, tp_alerts_t **ret) {
    tp_alerts_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->next_seq = 1;
    a->stats = stats;
    int r = tp_arena_new(4096, &a->arena);
    if (r == 0 && !(a->subjects = calloc(SUBJECT_SLOTS, sizeof *a->subjects)))
        r = -ENOMEM;
    if (r < 0) {
        tp_alerts_destroy(&a);
        return r;
    }
    *ret = a;
    return 0;
}

void tp_alerts_set_sink(tp_alerts_t *a, tp_alert_sink_fn fn, void *ctx) {
    a->sink = fn;
    a->sink_ctx = ctx;
}

void tp_alerts_set_next_sequence(tp_alerts_t *a, uint64_t next) {
    a->next_seq = next;
}

uint64_t tp_alerts_next_sequence(const tp_alerts_t *a) {
    return a->next_seq;
}

/* "<rule>:<subject>". Built with memcpy, not snprintf, and only when an
 * alert opens: lookups hash and compare the two parts where they are. */
static int s_make_id(char *buf, size_t len, const char *rule, const char *subject) {
    size_t rl = strlen(rule), sl = strlen(subject);
    if (rl + 1 + sl >= len)
        return -ENAMETOOLONG;
    memcpy(buf, rule, rl);
    buf[rl] = ':';
    memcpy(buf + rl + 1, subject, sl + 1);
    return 0;
}

/* The index hash of alert_id "<rule>:<subject>": the rule's XXH3 seeded
 * with the subject's (`sh`), so "is this firing?" never assembles the id
 * (every rule asks it for every event it sees, and building and hashing
 * the id was the daemon's top symbol). */
static uint64_t s_hash(const char *rule, size_t rl, uint64_t sh) {
    return XXH3_64bits_withSeed(rule, rl, sh);
}

static s_open_t *s_find(const tp_alerts_t *a, const char *rule, const char *subject) {
    size_t   sl = strlen(subject);
    uint64_t sh = XXH3_64bits(subject, sl);
    if (!a->subjects[sh % SUBJECT_SLOTS])
        return NULL;
    size_t   rl = strlen(rule);
    uint64_t h = s_hash(rule, rl, sh);
    for (tp_oa_slot_t *s = tp_oa_first(&a->index, h); s; s = tp_oa_next(&a->index, s, h)) {
        s_open_t *o = s->item;
        if (o->rule_len == rl && memcmp(o->id, rule, rl) == 0 &&
            memcmp(o->id + rl + 1, subject, sl + 1) == 0)
            return o;
    }
    return NULL;
}

/* Puts o (id and rule_len set) into the index and last in the opening
 * order. 0 or -ENOMEM. */
static int s_link(tp_alerts_t *a, s_open_t *o) {
    size_t   idlen = strlen(o->id), rl = o->rule_len;
    uint64_t sh = XXH3_64bits(o->id + rl + 1, idlen - rl - 1);
    o->hash = s_hash(o->id, rl, sh);
    o->subject_slot = (uint32_t)(sh % SUBJECT_SLOTS);
    int r = tp_oa_put(&a->index, o->hash, o);
    if (r < 0)
        return r;
    a->subjects[o->subject_slot]++;
    o->next = NULL;
    o->prev = a->last;
    if (a->last)
        a->last->next = o;
    else
        a->first = o;
    a->last = o;
    return 0;
}

/* Takes o out of the index and the opening order (does not free it). */
static void s_unlink(tp_alerts_t *a, s_open_t *o) {
    tp_oa_remove_item(&a->index, o->hash, o);
    a->subjects[o->subject_slot]--;
    if (o->prev)
        o->prev->next = o->next;
    else
        a->first = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        a->last = o->prev;
}

bool tp_alerts_is_firing(const tp_alerts_t *a, const char *rule, const char *subject) {
    return a->index.n && s_find(a, rule, subject) != NULL;
}

size_t tp_alerts_open(const tp_alerts_t *a) {
    return a->index.n;
}

void tp_alerts_foreach(const tp_alerts_t *a, tp_alert_each_fn fn, void *ctx) {
    for (const s_open_t *o = a->first; o; o = o->next)
        if (fn(ctx, o->packed, o->len))
            return;
}

/* An upper bound of the packed size of `al`, or 0 when it cannot be
 * bounded here (an Alert with fields this code does not know of, or
 * unknown fields): then protobuf-c sizes it exactly.
 *
 * protobuf-c packs into a buffer the caller sizes, and sizing exactly
 * (protobuf_c_message_get_packed_size) walks the whole message, nested
 * evidence entries included, once more before packing walks it again: a
 * third of the cost of an alert. A bound only needs the strings' lengths:
 * every field costs at most its tag (2 bytes) and a length or varint (10
 * bytes) besides its bytes; an evidence entry is a nested message of two
 * such fields. protobuf-c still does all the wire format. */
#define ALERT_FIELDS 17 /* fields of Alert this bound accounts for */
#define FIELD_MAX    12 /* tag + length or varint, at most */

static size_t s_len(const char *s) {
    return s ? strlen(s) : 0;
}

static size_t s_bound(const Alert *al) {
    if (al->base.descriptor != &touchpoint__v1__alert__descriptor ||
        al->base.descriptor->n_fields != ALERT_FIELDS || al->base.n_unknown_fields)
        return 0;
    size_t b = ALERT_FIELDS * FIELD_MAX + s_len(al->alert_id) + s_len(al->rule) +
               s_len(al->hcp_id) + s_len(al->rep_id) + s_len(al->account_id) +
               s_len(al->territory) + s_len(al->call_id) + s_len(al->contract_id) +
               s_len(al->step) + s_len(al->summary);
    for (size_t i = 0; i < al->n_evidence; i++) {
        if (al->evidence[i]->base.n_unknown_fields)
            return 0;
        b += 3 * FIELD_MAX + s_len(al->evidence[i]->key) + s_len(al->evidence[i]->value);
    }
    for (size_t i = 0; i < al->n_event_ids; i++)
        b += FIELD_MAX + s_len(al->event_ids[i]);
    return b;
}

#define SCRATCH 4096 /* alerts bounded below this are packed on the stack */

/* Packs `al` into scratch (SCRATCH bytes) when its bound fits, returning
 * its length and *ret_packed = scratch; else only sizes it exactly
 * (*ret_packed NULL: the caller packs it into a buffer of that size). */
static size_t s_pack_scratch(const Alert *al, uint8_t *scratch, const uint8_t **ret_packed) {
    size_t bound = s_bound(al);
    if (bound && bound <= SCRATCH) {
        *ret_packed = scratch;
        return protobuf_c_message_pack(&al->base, scratch);
    }
    *ret_packed = NULL;
    return protobuf_c_message_get_packed_size(&al->base);
}

/* Counts the alert and hands it, packed as `buf`, to the sink. */
static void s_sink(tp_alerts_t *a, const Alert *al, const uint8_t *buf, size_t len) {
    if (al->status == TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING)
        a->stats->alerts_firing++;
    else
        a->stats->alerts_resolved++;
    if (!a->sink)
        return;
    /* "<kind>.<rule>", the PUB topic; the rule name is at most 64 bytes. */
    char        topic[160];
    const char *prefix = tp_alert_kind_prefix(al->kind);
    size_t      pl = strlen(prefix), rl = strlen(al->rule);
    if (pl + 1 + rl >= sizeof topic) {
        a->stats->publish_errors++;
        return;
    }
    memcpy(topic, prefix, pl);
    topic[pl] = '.';
    memcpy(topic + pl + 1, al->rule, rl + 1);
    if (a->sink(a->sink_ctx, topic, buf, len, al) < 0)
        a->stats->publish_errors++;
}

/* Assigns the sequence, packs the alert and hands it to the sink: from
 * the stack when it fits there (no allocation per RESOLVED). */
static void s_emit(tp_alerts_t *a, Alert *al) {
    al->sequence = a->next_seq++;
    uint8_t        scratch[SCRATCH], *buf = NULL;
    const uint8_t *packed;
    size_t         len = s_pack_scratch(al, scratch, &packed);
    if (!packed) {
        if (!(buf = malloc(len ? len : 1))) {
            a->stats->publish_errors++;
            return;
        }
        protobuf_c_message_pack(&al->base, buf);
        packed = buf;
    }
    s_sink(a, al, packed, len);
    free(buf);
}

static char *s_str(const char *s) {
    return (char *)(s ? s : "");
}

int tp_alerts_fire(tp_alerts_t *a, const tp_alert_spec_t *spec, int64_t now_ms) {
    if (a->index.n && s_find(a, spec->rule, spec->subject))
        return 0;
    char id[TP_ALERT_ID_MAX];
    int  r = s_make_id(id, sizeof id, spec->rule, spec->subject);
    if (r < 0)
        return r;
    if (spec->n_evidence > MAX_EVIDENCE)
        return -E2BIG;

    EvidenceEntry  entries[MAX_EVIDENCE];
    EvidenceEntry *ev[MAX_EVIDENCE];
    for (size_t i = 0; i < spec->n_evidence; i++) {
        touchpoint__v1__alert__evidence_entry__init(&entries[i]);
        entries[i].key = s_str(spec->evidence[i].key);
        entries[i].value = s_str(spec->evidence[i].value);
        ev[i] = &entries[i];
    }
    Alert al;
    touchpoint__v1__alert__init(&al);
    al.alert_id = id;
    al.kind = spec->kind;
    al.rule = s_str(spec->rule);
    al.status = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_FIRING;
    al.severity = spec->severity;
    al.hcp_id = s_str(spec->hcp_id);
    al.rep_id = s_str(spec->rep_id);
    al.account_id = s_str(spec->account_id);
    al.territory = s_str(spec->territory);
    al.call_id = s_str(spec->call_id);
    al.contract_id = s_str(spec->contract_id);
    al.step = s_str(spec->step);
    al.summary = s_str(spec->summary);
    al.n_evidence = spec->n_evidence;
    al.evidence = ev;
    al.n_event_ids = spec->n_event_ids;
    al.event_ids = (char **)spec->event_ids;
    al.detected_at_ms = now_ms;
    al.sequence = a->next_seq;

    /* Remember it before emitting, so an ENOMEM here cannot leave a
     * published FIRING that we do not know is open. The bytes kept are the
     * bytes published: packed once (packing was 10% of the daemon's
     * instructions when it happened twice). */
    uint8_t        scratch[SCRATCH];
    const uint8_t *packed;
    size_t         len = s_pack_scratch(&al, scratch, &packed);
    size_t         idlen = strlen(id), rl = strlen(spec->rule);
    s_open_t      *o = malloc(sizeof *o + idlen + 1);
    if (!o)
        return -ENOMEM;
    if (!(o->packed = malloc(len ? len : 1))) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->id, id, idlen + 1);
    o->len = len;
    if (packed)
        memcpy(o->packed, packed, len);
    else
        protobuf_c_message_pack(&al.base, o->packed);
    o->rule_len = rl;
    if ((r = s_link(a, o)) < 0) {
        free(o->packed);
        free(o);
        return r;
    }
    a->next_seq++;
    s_sink(a, &al, o->packed, o->len);
    return 1;
}

int tp_alerts_resolve(tp_alerts_t *a, const char *rule, const char *subject, const char *summary,
                      const tp_kv_t *evidence, size_t n_evidence, const char *event_id,
                      int64_t now_ms) {
    s_open_t *o = a->index.n ? s_find(a, rule, subject) : NULL;
    if (!o)
        return 0;
    /* Into the arena: a FIRING with evidence is a dozen allocations. */
    Alert *fired = touchpoint__v1__alert__unpack(tp_arena_allocator(a->arena), o->len, o->packed);
    if (!fired) {
        tp_arena_reset(a->arena);
        return -ENOMEM;
    }

    /* The FIRING's evidence, with keys from `evidence` overriding or added. */
    EvidenceEntry  entries[MAX_EVIDENCE];
    EvidenceEntry *ev[2 * MAX_EVIDENCE];
    size_t         n = 0;
    for (size_t i = 0; i < fired->n_evidence && n < MAX_EVIDENCE; i++) {
        bool overridden = false;
        for (size_t j = 0; j < n_evidence && !overridden; j++)
            overridden = strcmp(fired->evidence[i]->key, evidence[j].key) == 0;
        if (!overridden)
            ev[n++] = fired->evidence[i];
    }
    for (size_t j = 0; j < n_evidence && j < MAX_EVIDENCE; j++) {
        touchpoint__v1__alert__evidence_entry__init(&entries[j]);
        entries[j].key = s_str(evidence[j].key);
        entries[j].value = s_str(evidence[j].value);
        ev[n++] = &entries[j];
    }
    /* A shallow copy: its strings belong to `fired`, freed below. */
    Alert al = *fired;
    char *cause = s_str(event_id);
    al.status = TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED;
    al.summary = s_str(summary);
    al.evidence = ev;
    al.n_evidence = n;
    al.event_ids = event_id ? &cause : NULL;
    al.n_event_ids = event_id ? 1 : 0;
    al.detected_at_ms = now_ms;

    s_unlink(a, o);
    s_emit(a, &al);
    free(o->packed);
    free(o);
    tp_arena_reset(a->arena);
    return 1;
}

size_t tp_alerts_resolve_rule(tp_alerts_t *a, const char *rule, const char *summary,
                              const tp_kv_t *evidence, size_t n_evidence, int64_t now_ms) {
    /* Ids first: resolving removes entries from the table we walk. */
    size_t plen = strlen(rule), n_ids = 0, done = 0;
    char **ids = NULL;
    for (const s_open_t *o = a->first; o; o = o->next) {
        if (strncmp(o->id, rule, plen) != 0 || o->id[plen] != ':')
            continue;
        char **grown = realloc(ids, (n_ids + 1) * sizeof *ids);
        if (!grown)
            break; /* ENOMEM: the rest stay open, as before */
        ids = grown;
        if (!(ids[n_ids] = strdup(o->id)))
            break;
        n_ids++;
    }
    for (size_t i = 0; i < n_ids; i++) {
        if (tp_alerts_resolve(a, rule, ids[i] + plen + 1, summary, evidence, n_evidence, NULL,
                              now_ms) == 1)
            done++;
        free(ids[i]);
    }
    free(ids);
    return done;
}

void tp_alerts_destroy(tp_alerts_t **p) {
    tp_alerts_t *a = p ? *p : NULL;
    if (!a)
        return;
    for (s_open_t *o = a->first, *next; o; o = next) {
        next = o->next;
        free(o->packed);
        free(o);
    }
    tp_oa_clear(&a->index);
    free(a->subjects);
    tp_arena_destroy(&a->arena);
    free(a);
    *p = NULL;
}

/* Snapshot: the next sequence and every open alert's id, rule length and
 * packed FIRING, in opening order (a reload that switches a rule off
 * resolves them in that order). The bytes restored are the bytes
 * published, so a RESOLVED after a restart carries the same fields and
 * evidence as without one. Version 2 writes the id beside the bytes so a
 * load copies them without unpacking each FIRING (open alerts are most of
 * a snapshot, and unpacking them most of its load); version 1 (bytes
 * only) is still read. */
#define ALERTS_SNAP_VERSION 2
#define ALERT_MAX_BYTES     (1u << 24)

void tp_alerts_save(const tp_alerts_t *a, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('A', 'L', 'R', 'T'), ALERTS_SNAP_VERSION);
    tp_snapw_u64(w, a->next_seq);
    tp_snapw_u64(w, a->index.n);
    for (const s_open_t *o = a->first; o; o = o->next) {
        tp_snapw_bytes(w, o->id, strlen(o->id));
        tp_snapw_u64(w, o->rule_len);
        tp_snapw_bytes(w, o->packed, o->len);
    }
}

/* Puts back one open alert: id[idlen] ("<rule>:<subject>", rule_len bytes
 * of rule) and its packed FIRING. */
static int s_restore(tp_alerts_t *a, const char *id, size_t idlen, size_t rl, const uint8_t *buf,
                     size_t len) {
    if (idlen >= TP_ALERT_ID_MAX || rl == 0 || rl >= idlen || id[rl] != ':' ||
        memchr(id, '\0', idlen))
        return -EBADMSG;
    s_open_t *o = malloc(sizeof *o + idlen + 1);
    if (!o)
        return -ENOMEM;
    memcpy(o->id, id, idlen);
    o->id[idlen] = '\0';
    o->rule_len = rl;
    o->len = len;
    if (!(o->packed = malloc(len ? len : 1)) || s_link(a, o) < 0) {
        free(o->packed);
        free(o);
        return -ENOMEM;
    }
    memcpy(o->packed, buf, len);
    return 0;
}

/* Version 1 held the packed FIRING alone: its id comes from unpacking it. */
static int s_restore_v1(tp_alerts_t *a, const uint8_t *buf, size_t len) {
    Alert *al = touchpoint__v1__alert__unpack(tp_arena_allocator(a->arena), len, buf);
    int    r = -EBADMSG;
    if (al && al->alert_id && al->rule) {
        size_t idlen = strlen(al->alert_id), rl = strlen(al->rule);
        if (memcmp(al->alert_id, al->rule, rl < idlen ? rl : idlen) == 0)
            r = s_restore(a, al->alert_id, idlen, rl, buf, len);
    }
    tp_arena_reset(a->arena);
    return r;
}

int tp_alerts_load(tp_alerts_t *a, tp_snapr_t *r) {
    uint64_t next = 0, n = 0;
    uint32_t version = 0;
    int k = tp_snapr_section(r, TP_SNAP_TAG('A', 'L', 'R', 'T'), ALERTS_SNAP_VERSION, &version);
    if (k < 0 || (k = tp_snapr_u64(r, &next)) < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n; i++) {
        /* A view is valid only until the reader's next call (it may sit in
         * a scratch buffer the next read reuses): the id is copied first. */
        char        id[TP_ALERT_ID_MAX];
        const void *view, *buf;
        size_t      idlen = 0, len;
        uint64_t    rl = 0;
        if (version >= 2) {
            if ((k = tp_snapr_bytes(r, sizeof id, &view, &idlen)) < 0)
                return k;
            memcpy(id, view, idlen);
            if ((k = tp_snapr_u64(r, &rl)) < 0)
                return k;
        }
        if ((k = tp_snapr_bytes(r, ALERT_MAX_BYTES, &buf, &len)) < 0)
            return k;
        k = version >= 2 ? s_restore(a, id, idlen, (size_t)rl, buf, len)
                         : s_restore_v1(a, buf, len);
        if (k < 0)
            return k;
    }
    a->next_seq = next;
    return 0;
}
