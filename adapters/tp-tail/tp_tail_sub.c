/* tp_tail_sub — see tp_tail_sub.h. */
#include "tp_tail_sub.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tp_json.h"
#include "touchpoint/v1/alert.pb-c.h"

/* Opens the alert SUB. With --durable it subscribes to everything: sequence
 * numbers span all topics, so gaps are only visible in the whole stream. */
int tp_tail_sub_open(void *ctx, const struct tp_tail_opts *o, void **ret) {
    /* A webhook can stall for long: then only a bounded number of alerts may
     * wait inside tp-tail (the queue, plus ZeroMQ's pipe here); stdout and
     * files block tp-tail itself, and keep the unlimited pipe they had. */
    int   hwm = o->webhook ? TP_TAIL_QUEUE_MAX : 0, linger = 0;
    void *s = zmq_socket(ctx, ZMQ_SUB);
    if (!s)
        return -zmq_errno();
    if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        tp_curve_client_apply(&o->curve, s) < 0)
        goto fail;
    if ((o->n_topics == 0 || o->durable) && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_topics && !o->durable; i++)
        if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, o->topics[i], strlen(o->topics[i])) < 0)
            goto fail;
    if ((o->bind ? zmq_bind(s, o->endpoint) : zmq_connect(s, o->endpoint)) < 0)
        goto fail;
    *ret = s;
    return 0;
fail:;
    int r = -zmq_errno();
    zmq_close(s);
    return r;
}

static bool s_wanted(const struct tp_tail_opts *o, const char *topic, size_t len) {
    for (size_t i = 0; i < o->n_topics; i++) {
        size_t n = strlen(o->topics[i]);
        if (n <= len && memcmp(topic, o->topics[i], n) == 0)
            return true;
    }
    return o->n_topics == 0;
}

int tp_tail_sub_decode(const struct tp_tail_opts *o, zmq_msg_t frames[2], size_t n_frames,
                       char *why, size_t whylen, uint64_t *ret_seq, char **ret_line) {
    if (n_frames != 2) {
        snprintf(why, whylen, "expected 2 frames [topic, Alert], got %zu", n_frames);
        return -EBADMSG;
    }
    const char            *topic = zmq_msg_data(&frames[0]);
    size_t                 topic_len = zmq_msg_size(&frames[0]);
    Touchpoint__V1__Alert *alert =
        touchpoint__v1__alert__unpack(NULL, zmq_msg_size(&frames[1]), zmq_msg_data(&frames[1]));
    if (!alert) {
        snprintf(why, whylen, "undecodable Alert (%zu bytes) on topic '%.*s'",
                 zmq_msg_size(&frames[1]), (int)(topic_len > 64 ? 64 : topic_len), topic);
        return -EBADMSG;
    }
    int   r = 0;
    char *line = NULL;
    if (o->durable && alert->sequence == 0) {
        snprintf(why, whylen, "alert '%.64s' has no sequence", alert->alert_id);
        r = -EBADMSG;
    } else if (s_wanted(o, topic, topic_len)) {
        r = tp_json_dumps_alert(topic, topic_len, &alert->base, &line);
        if (r == -EILSEQ) {
            snprintf(why, whylen, "topic is not valid UTF-8");
            r = -EBADMSG;
        }
    }
    if (r == 0) {
        *ret_seq = alert->sequence;
        *ret_line = line;
    }
    touchpoint__v1__alert__free_unpacked(alert, NULL);
    return r;
}

int tp_tail_sub_recv(void *sock, zmq_msg_t frames[2], size_t *ret_n) {
    size_t n = 0;
    int    more;
    do {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int r = -zmq_errno();
            zmq_msg_close(&part);
            for (size_t i = 0; i < n && i < 2; i++)
                zmq_msg_close(&frames[i]);
            return r;
        }
        more = zmq_msg_more(&part);
        if (n < 2)
            frames[n] = part;
        else
            zmq_msg_close(&part);
        n++;
    } while (more);
    *ret_n = n;
    return 0;
}
