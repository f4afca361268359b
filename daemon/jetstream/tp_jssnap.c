/* tp_jssnap — see tp_jssnap.h. */
#include "tp_jssnap.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "tp_log.h"
#include "tp_nats.h"
#include "tp_snapio.h"

#define API_WAIT_MS 5000 /* one request at most (libnats' default) */
#define MAGIC       "TPJSNAP\n"
#define FORMAT      1
#define HEADER_SIZE 40
#define CHUNK_BYTES (256 * 1024) /* well below the server's max_payload (1 MB) */
#define ID_HEADER   "Tp-Snap-Id"
#define SUBJECT     "tp.snapshots."
#define TAG_ENGINE  TP_SNAP_TAG('E', 'N', 'G', 'N')
#define HEAD_MAX    4096                /* a head's text: six fields and up to 99 older ones kept */
#define MAX_BYTES   ((uint64_t)1 << 34) /* a head claiming more is not believed */
/* A test makes chunks small, to have several in a small snapshot. */
#define CHUNK_ENV   "TOUCHPOINTD_TEST_SNAPSHOT_CHUNK"

/* What is left until deadline_ms (monotonic), for one request: at most
 * libnats' default, at least 1 ms (a request past it fails at once). */
static int64_t s_left(int64_t deadline_ms) {
    int64_t left = deadline_ms - tp_monotonic_ms();
    return left > API_WAIT_MS ? API_WAIT_MS : left > 0 ? left : 1;
}

static size_t s_chunk_bytes(void) {
    const char *e = getenv(CHUNK_ENV);
    long        v = e ? atol(e) : 0;
    return v >= 64 && v <= CHUNK_BYTES ? (size_t)v : CHUNK_BYTES;
}

int tp_jssnap_ensure(jsCtx *js, const tp_config_t *cfg, char *why, size_t whylen) {
    return tp_nats_ensure_stream(js, cfg, cfg->nats.snapshot_stream, SUBJECT ">", 0, why, whylen);
}

/* The snapshot's bytes (header + body) into a malloc'd buffer. */
static int s_serialize(unsigned p, uint64_t seq, const tp_engine_t *e, unsigned char **ret,
                       size_t *ret_len) {
    int fd = memfd_create("tp-jssnap", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    tp_snapw_t    *w = NULL;
    unsigned char *buf = NULL;
    uint64_t       sum = 0, len = 0;
    int            r;
    if (lseek(fd, HEADER_SIZE, SEEK_SET) < 0) {
        r = -errno;
        goto out;
    }
    if ((r = tp_snapw_new(fd, &w)) < 0)
        goto out;
    tp_snapw_u64(w, TAG_ENGINE);
    tp_engine_save(e, w);
    r = tp_snapw_flush(w, &sum);
    len = tp_snapw_size(w);
    if (r < 0)
        goto out;
    if (!(buf = malloc(HEADER_SIZE + len))) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(buf, MAGIC, 8);
    tp_snap_le32(buf + 8, FORMAT);
    tp_snap_le32(buf + 12, p);
    tp_snap_le64(buf + 16, seq);
    tp_snap_le64(buf + 24, len);
    tp_snap_le64(buf + 32, sum);
    if ((r = tp_snap_pread_all(fd, buf + HEADER_SIZE, len, HEADER_SIZE)) < 0)
        goto out;
    /* tp_snapw's running sum is XXH3-64 of the bytes: checked the same way
     * on loading, so a writer bug shows up here, not in a take-over. */
    if (XXH3_64bits(buf + HEADER_SIZE, len) != sum) {
        r = -EIO;
        goto out;
    }
    *ret = buf;
    *ret_len = HEADER_SIZE + len;
    buf = NULL;
out:
    free(buf);
    tp_snapw_destroy(&w);
    close(fd);
    return r;
}

static int s_publish(jsCtx *js, const char *subject, const void *data, size_t len, const char *id,
                     int64_t deadline_ms, uint64_t *ret_seq) {
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subject, NULL, data, (int)len) != NATS_OK)
        return -ENOMEM;
    jsPubAck    *pa = NULL;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = s_left(deadline_ms);
    int r = -EIO;
    if (natsMsgHeader_Set(m, ID_HEADER, id) == NATS_OK &&
        js_PublishMsg(&pa, js, m, &po, NULL) == NATS_OK) {
        if (ret_seq)
            *ret_seq = pa->Sequence;
        r = 0;
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    return r;
}

static void s_purge(jsCtx *js, const tp_config_t *cfg, const char *subject, uint64_t below,
                    uint64_t keep, int64_t deadline_ms) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = s_left(deadline_ms);
    jo.Stream.Purge.Subject = subject;
    jo.Stream.Purge.Sequence = below;
    jo.Stream.Purge.Keep = keep;
    /* Left for the next save if it fails: the head says which ones count. */
    if (js_PurgeStream(js, cfg->nats.snapshot_stream, &jo, NULL) != NATS_OK)
        log_debug("Could not purge the old snapshots of %s", subject);
}

/* A head: p's snapshot and the older ones kept with it. */
typedef struct {
    uint64_t hseq; /* the head's own stream sequence */
    uint64_t seq, first, n, bytes;
    char     id[256];
    unsigned nkept; /* older snapshots still kept, newest first: */
    uint64_t kept_head[TP_JSSNAP_MAX_KEEP - 1], kept_first[TP_JSSNAP_MAX_KEEP - 1];
} s_head_t;

/* "FORMAT SEQ FIRST N BYTES ID [HEAD:FIRST,...]": the older kept ones last
 * (a reader of the first version reads the six fields and ignores them). */
static int s_parse_head(natsMsg *m, s_head_t *ret) {
    char text[HEAD_MAX];
    int  len = natsMsg_GetDataLength(m), format = 0, used = 0;
    if (len <= 0 || (size_t)len >= sizeof text)
        return -EBADMSG;
    memcpy(text, natsMsg_GetData(m), (size_t)len);
    text[len] = '\0';
    ret->hseq = natsMsg_GetSequence(m);
    ret->nkept = 0;
    if (sscanf(text, "%d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %255s%n", &format,
               &ret->seq, &ret->first, &ret->n, &ret->bytes, ret->id, &used) != 6)
        return -EBADMSG;
    if (format != FORMAT)
        return -EPROTO;
    if (ret->n == 0 || ret->bytes < HEADER_SIZE || ret->bytes > MAX_BYTES || ret->n > ret->bytes)
        return -EBADMSG;
    for (char *s = text + used; *s == ' ' || *s == ','; ret->nkept++) {
        char *end;
        if (ret->nkept == TP_JSSNAP_MAX_KEEP - 1)
            return -EBADMSG;
        ret->kept_head[ret->nkept] = strtoull(s + 1, &end, 10);
        if (*end != ':')
            return -EBADMSG;
        ret->kept_first[ret->nkept] = strtoull(end + 1, &s, 10);
        if (!ret->kept_head[ret->nkept] || !ret->kept_first[ret->nkept])
            return -EBADMSG;
    }
    return 0;
}

/* The head of p's snapshot `age` (0 the newest, 1 the one before...):
 * 0, -ENOENT (none that old), -EBADMSG/-EPROTO, -EIO. */
static int s_read_head(jsCtx *js, const tp_config_t *cfg, unsigned p, unsigned age,
                       int64_t deadline_ms, s_head_t *ret) {
    char subject[64];
    snprintf(subject, sizeof subject, SUBJECT "%u.h", p);
    natsMsg  *m = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = s_left(deadline_ms);
    natsStatus s = js_GetLastMsg(&m, js, cfg->nats.snapshot_stream, subject, &jo, NULL);
    if (s == NATS_NOT_FOUND)
        return -ENOENT;
    if (s != NATS_OK)
        return -EIO;
    int r = s_parse_head(m, ret);
    natsMsg_Destroy(m);
    if (r < 0 || age == 0)
        return r;
    if (age > ret->nkept)
        return -ENOENT;
    jo.Wait = s_left(deadline_ms);
    s = js_GetMsg(&m, js, cfg->nats.snapshot_stream, ret->kept_head[age - 1], &jo, NULL);
    if (s == NATS_NOT_FOUND)
        return -ENOENT; /* purged meanwhile by a newer save */
    if (s != NATS_OK)
        return -EIO;
    r = strcmp(natsMsg_GetSubject(m), subject) == 0 ? s_parse_head(m, ret) : -EBADMSG;
    natsMsg_Destroy(m);
    return r;
}

int tp_jssnap_save(jsCtx *js, const tp_config_t *cfg, unsigned p, uint64_t seq,
                   const tp_engine_t *e, const char *id, int64_t deadline_ms, uint64_t *ret_bytes) {
    if (tp_engine_unsaved(e))
        return -ENOTSUP;
    /* The newest head so far: this save keeps it and the ones it kept, up
     * to nats.snapshot_keep in all. Unknown (no answer): nothing purged. */
    s_head_t prev;
    int      r = s_read_head(js, cfg, p, 0, deadline_ms, &prev);
    bool     chain_known = r != -EIO;
    if (r < 0)
        memset(&prev, 0, sizeof prev);
    unsigned char *buf = NULL;
    size_t         len = 0;
    if ((r = s_serialize(p, seq, e, &buf, &len)) < 0)
        return r;
    char chunks[64], head[64], body[HEAD_MAX];
    snprintf(chunks, sizeof chunks, SUBJECT "%u.c", p);
    snprintf(head, sizeof head, SUBJECT "%u.h", p);
    uint64_t first = 0, n = 0, hseq = 0;
    size_t   chunk = s_chunk_bytes();
    for (size_t off = 0; r == 0 && off < len; off += chunk, n++) {
        size_t   k = len - off < chunk ? len - off : chunk;
        uint64_t s = 0;
        r = s_publish(js, chunks, buf + off, k, id, deadline_ms, &s);
        if (n == 0)
            first = s;
    }
    free(buf);
    if (r < 0)
        return r;
    size_t hl = (size_t)snprintf(body, sizeof body, "%d %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu %s",
                                 FORMAT, seq, first, n, len, id);
    /* Kept with it, newest first: the previous head, then what it kept. */
    uint64_t floor_head = 0, floor_first = first;
    unsigned keep = cfg->nats.snapshot_keep ? cfg->nats.snapshot_keep : 1;
    for (unsigned i = 0; chain_known && r == 0 && i + 1 < keep && i <= prev.nkept; i++) {
        if (!prev.hseq) /* no previous head */
            break;
        floor_head = i == 0 ? prev.hseq : prev.kept_head[i - 1];
        floor_first = i == 0 ? prev.first : prev.kept_first[i - 1];
        hl += (size_t)snprintf(body + hl, sizeof body - hl, "%c%" PRIu64 ":%" PRIu64,
                               i == 0 ? ' ' : ',', floor_head, floor_first);
    }
    if ((r = s_publish(js, head, body, hl, id, deadline_ms, &hseq)) < 0)
        return r;
    /* Everything below the oldest one kept goes. The server reads a purge
     * below 1 as "no bound": all of them, so never that. */
    if (chain_known && floor_first > 1)
        s_purge(js, cfg, chunks, floor_first, 0, deadline_ms);
    if (chain_known && (floor_head ? floor_head : hseq) > 1)
        s_purge(js, cfg, head, floor_head ? floor_head : hseq, 0, deadline_ms);
    if (ret_bytes)
        *ret_bytes = len;
    return 0;
}

/* One chunk m into buf if it belongs to the save h names (subject and id):
 * 1 taken, 0 not this save's, -EBADMSG more bytes than the head says. */
static int s_take_chunk(natsMsg *m, const char *subject, const s_head_t *h, unsigned char *buf,
                        uint64_t *off) {
    const char *id = NULL;
    if (strcmp(natsMsg_GetSubject(m), subject) != 0 ||
        natsMsgHeader_Get(m, ID_HEADER, &id) != NATS_OK || !id || strcmp(id, h->id) != 0)
        return 0;
    size_t k = (size_t)natsMsg_GetDataLength(m);
    if (*off + k > h->bytes)
        return -EBADMSG;
    memcpy(buf + *off, natsMsg_GetData(m), k);
    *off += k;
    return 1;
}

/* The head's chunks, in order from its first, into buf (h->bytes). One
 * ordered consumer from the first chunk streams them all (one request per
 * chunk cost a round trip each: two thirds of a take-over's time for a
 * 12 MB snapshot), skipping what is not a chunk of this save (a writer cut
 * short) up to the partition's last chunk, known beforehand so that
 * chunks purged by a newer save read as missing, not as a wait. */
static int s_read_chunks(jsCtx *js, const tp_config_t *cfg, unsigned p, const s_head_t *h,
                         int64_t deadline_ms, unsigned char *buf) {
    char subject[64];
    snprintf(subject, sizeof subject, SUBJECT "%u.c", p);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = s_left(deadline_ms);
    natsMsg   *m = NULL;
    natsStatus s = js_GetLastMsg(&m, js, cfg->nats.snapshot_stream, subject, &jo, NULL);
    if (s == NATS_NOT_FOUND)
        return -EBADMSG;
    if (s != NATS_OK)
        return -EIO;
    uint64_t last = natsMsg_GetSequence(m);
    natsMsg_Destroy(m);
    if (last < h->first || last - h->first + 1 < h->n) /* purged by a newer save, or never stored */
        return -EBADMSG;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = cfg->nats.snapshot_stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = h->first;
    natsSubscription *sub = NULL;
    jo.Wait = s_left(deadline_ms);
    if (js_SubscribeSync(&sub, js, subject, &jo, &so, NULL) != NATS_OK)
        return -EIO;
    natsSubscription_SetPendingLimits(sub, -1, -1);
    uint64_t got = 0, off = 0, seq = 0;
    int      r = 0;
    while (r == 0 && got < h->n) {
        if (seq >= last) { /* the partition's last chunk, and still short */
            r = -EBADMSG;
            break;
        }
        if (natsSubscription_NextMsg(&m, sub, s_left(deadline_ms)) != NATS_OK) {
            r = tp_monotonic_ms() >= deadline_ms ? -ETIMEDOUT : -EIO;
            break;
        }
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            seq = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
        }
        int k = s_take_chunk(m, subject, h, buf, &off);
        natsMsg_Destroy(m);
        if (k < 0)
            r = k;
        got += k > 0;
    }
    natsSubscription_Unsubscribe(sub); /* an ephemeral consumer: delete it */
    natsSubscription_Destroy(sub);
    if (r == 0 && off != h->bytes)
        r = -EBADMSG;
    return r;
}

/* The checked body into e, through tp_snapio on a memfd. */
static int s_restore(const unsigned char *body, size_t len, tp_engine_t *e) {
    int fd = memfd_create("tp-jssnap", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    tp_snapr_t *rd = NULL;
    uint64_t    tag = 0;
    int         r = tp_snap_pwrite_all(fd, body, len, 0);
    if (r < 0 || (r = tp_snapr_new(fd, len, &rd)) < 0)
        goto out;
    if ((r = tp_snapr_u64(rd, &tag)) < 0)
        goto out;
    if (tag != TAG_ENGINE) {
        r = -EPROTO;
        goto out;
    }
    if ((r = tp_engine_load(e, rd)) < 0)
        goto out;
    r = tp_snapr_error(rd);
    if (r == 0 && !tp_snapr_at_end(rd))
        r = -EPROTO;
out:
    tp_snapr_destroy(&rd);
    close(fd);
    return r;
}

int tp_jssnap_load(jsCtx *js, const tp_config_t *cfg, unsigned p, unsigned age, tp_engine_t *e,
                   int64_t deadline_ms, uint64_t *ret_seq, uint64_t *ret_bytes) {
    s_head_t h;
    int      r = s_read_head(js, cfg, p, age, deadline_ms, &h);
    if (r < 0)
        return r;
    unsigned char *buf = malloc(h.bytes);
    if (!buf)
        return -ENOMEM;
    if ((r = s_read_chunks(js, cfg, p, &h, deadline_ms, buf)) < 0)
        goto out;
    uint64_t len = tp_snap_get_le(buf + 24, 8);
    if (memcmp(buf, MAGIC, 8) != 0 || tp_snap_get_le(buf + 12, 4) != p ||
        tp_snap_get_le(buf + 16, 8) != h.seq || len != h.bytes - HEADER_SIZE ||
        XXH3_64bits(buf + HEADER_SIZE, (size_t)len) != tp_snap_get_le(buf + 32, 8)) {
        r = -EBADMSG;
        goto out;
    }
    if (tp_snap_get_le(buf + 8, 4) != FORMAT) {
        r = -EPROTO;
        goto out;
    }
    if ((r = s_restore(buf + HEADER_SIZE, (size_t)len, e)) < 0)
        goto out;
    *ret_seq = h.seq;
    if (ret_bytes)
        *ret_bytes = h.bytes;
out:
    free(buf);
    return r;
}
