/* tp_contract — topic names of the wire contract; see tp_contract.h. */
#include "tp_contract.h"

#include <string.h>

static const struct {
    Touchpoint__V1__Envelope__PayloadCase payload;
    const char                           *topic;
} s_topics[] = {
    { TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL, "crm.call" },
    { TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING, "crm.contracting" },
    { TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK, "crm.feedback" },
    { TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK, "crm.watermark" },
};

const char *tp_topic_for_payload(Touchpoint__V1__Envelope__PayloadCase c) {
    for (size_t i = 0; i < sizeof s_topics / sizeof s_topics[0]; i++)
        if (s_topics[i].payload == c)
            return s_topics[i].topic;
    return NULL;
}

Touchpoint__V1__Envelope__PayloadCase tp_payload_for_topic(const char *topic, size_t len) {
    for (size_t i = 0; i < sizeof s_topics / sizeof s_topics[0]; i++)
        if (strlen(s_topics[i].topic) == len && memcmp(s_topics[i].topic, topic, len) == 0)
            return s_topics[i].payload;
    return TOUCHPOINT__V1__ENVELOPE__PAYLOAD__NOT_SET;
}

const char *tp_alert_kind_prefix(Touchpoint__V1__AlertKind kind) {
    switch (kind) {
    case TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY: return "accountability";
    case TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION: return "friction";
    default: return "unknown";
    }
}

/* Strips the enum's prefix from a protobuf-c enum value name. The
 * descriptor's values are in declaration order, which the .proto files keep
 * equal to the numbers (0, 1, 2, ...). */
static const char *s_short(const ProtobufCEnumDescriptor *d, int v, size_t prefix_len) {
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return "?";
    return strlen(ev->name) > prefix_len ? ev->name + prefix_len : ev->name;
}

const char *tp_channel_name(int v) {
    return s_short(&touchpoint__v1__channel__descriptor, v, strlen("CHANNEL_"));
}

const char *tp_call_status_name(int v) {
    return s_short(&touchpoint__v1__call_status__descriptor, v, strlen("CALL_STATUS_"));
}

const char *tp_contract_type_name(int v) {
    return s_short(&touchpoint__v1__contract_type__descriptor, v, strlen("CONTRACT_TYPE_"));
}

const char *tp_step_state_name(int v) {
    return s_short(&touchpoint__v1__step_state__descriptor, v, strlen("STEP_STATE_"));
}
