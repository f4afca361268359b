/* tp_map_internal — the parsed mapping, shared by the two halves of tp_map:
 * tp_map.c (loading the YAML file) and tp_map_apply.c (mapping one row).
 * Not part of the public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "tp_map.h"

#define TP_MAP_MAX_COLUMNS 1024

struct tp_map_part { /* one piece of a template */
    char *text;      /* literal text, or NULL */
    int   col;       /* column index when text is NULL */
};

struct tp_map_tmpl { /* "{Id}:{LastModifiedDate}" */
    struct tp_map_part *parts;
    size_t              n;
    const char         *key; /* "event_id", "source": for messages */
};

struct tp_map_pair { /* values: source value -> contract value */
    char *from, *to;
};

struct tp_map_spec {                        /* how one contract field is filled */
    const ProtobufCFieldDescriptor *fd;     /* payload field; NULL: occurred_at */
    char                           *name;   /* as written in the mapping */
    int                             col;    /* column index, -1: none (default only) */
    struct tp_map_pair             *values; /* NULL: the cell's text as it is */
    size_t                          n_values;
    char                           *split;    /* list separator for repeated fields */
    char                           *time;     /* time format, NULL: not a time */
    int32_t                         tz;       /* seconds east of UTC for zone-less times */
    char                           *def;      /* when the cell is empty (contract terms) */
    bool                            required; /* an empty cell without default is an error */
};

struct tp_map {
    tp_map_format_t                 format;
    char                            delim;
    const ProtobufCFieldDescriptor *payload; /* Envelope's call/contracting/feedback */
    struct tp_map_tmpl              source, event_id;
    struct tp_map_spec              occurred; /* occurred_at */
    struct tp_map_spec             *fields;
    size_t                          n_fields;
    char                          **cols; /* distinct source columns */
    size_t                          n_cols;
};

/* The text of `s`'s value converted to the JSON its field takes, `text`
 * being a cell (values, split, time apply) or, with is_default, a default
 * (split and time apply). Stores a new reference or NULL (nothing to set).
 * 0, -EINVAL with a reason in err (no location prefix), -ENOMEM. */
int tp_map_convert(const struct tp_map_spec *s, const char *text, bool is_default, char *err,
                   size_t errlen, json_t **ret);
