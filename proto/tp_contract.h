/* tp_contract — the parts of the wire contract that are not in the .proto
 * files: topic names and which Envelope payload each topic carries.
 *
 * Shared by the daemon (validation), tp-pub (choosing the topic) and the
 * tests, so a topic is spelt in exactly one place.
 */
#pragma once

#include <stddef.h>

#include "touchpoint/v1/alert.pb-c.h"
#include "touchpoint/v1/events.pb-c.h"

#define TP_TOPIC_PREFIX "crm." /* what input SUB sockets subscribe to */

/* "crm.call" for TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CALL and so on;
 * NULL for PAYLOAD__NOT_SET or an unknown case. */
const char *tp_topic_for_payload(Touchpoint__V1__Envelope__PayloadCase c);

/* The payload case a topic must carry; PAYLOAD__NOT_SET for an unknown
 * topic. `topic` need not be NUL-terminated. */
Touchpoint__V1__Envelope__PayloadCase tp_payload_for_topic(const char *topic, size_t len);

/* "accountability" / "friction" (the first part of an alert topic). */
const char *tp_alert_kind_prefix(Touchpoint__V1__AlertKind kind);

/* Enum value names without their type prefix ("EMAIL", "SUBMITTED",
 * "SPEAKER", "STARTED"), for evidence and summaries; "UNSPECIFIED" for 0 and
 * "?" for values outside the enum. */
const char *tp_channel_name(int v);
const char *tp_call_status_name(int v);
const char *tp_contract_type_name(int v);
const char *tp_step_state_name(int v);
