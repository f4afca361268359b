/* tp_lua_where — the filter a Lua rule declares in its table, `where =
 * { ["call.status"] = "SUBMITTED", ["call.channel"] = { "IN_PERSON",
 * "VIDEO" } }`, checked by C before any Lua runs: an event it rejects costs
 * the rule a few comparisons instead of a call (a protected call, ev, the
 * fields it declares). Most rules look at a small part of the events they
 * subscribe to (notes_quality: submitted in-person calls of all calls), so
 * this is where most of their cost goes, as Esper and Flink filter a
 * stream before the pattern sees it.
 *
 * A condition is a field path, as in `fields`, and a value or a list of
 * values: the event passes if the field has one of them, and every
 * condition passes. Equality only, on fields that have it (integers,
 * bools, strings, enums by short name); a path that does not exist, or a
 * value the field can never have, is an error at load, not a filter that
 * silently rejects everything (so is a path through a payload the rule
 * does not subscribe to). A message on the way that the event lacks
 * (`call.status` of a feedback event) rejects it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_lua_internal.h"

static bool s_comparable(const ProtobufCFieldDescriptor *f) {
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return false;
    default: return true;
    }
}

/* Adds the value at stack index idx to c (field f). 0, or -EINVAL with the
 * reason in why. */
static int s_add_value(lua_State *L, int idx, const ProtobufCFieldDescriptor *f, tp_lua_cond_t *c,
                       char *why, size_t whylen) {
    if (c->n == TP_LUA_WHERE_VALUES) {
        snprintf(why, whylen, "more than %d values", TP_LUA_WHERE_VALUES);
        return -EINVAL;
    }
    int t = lua_type(L, idx);
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        const char                    *s = t == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
        for (unsigned k = 0; s && k < e->n_values; k++)
            if (!strcmp(s, tp_lua_enum_short(e, e->values[k].value)) ||
                !strcmp(s, e->values[k].name)) {
                c->num[c->n++] = e->values[k].value;
                return 0;
            }
        if (s)
            snprintf(why, whylen, "\"%s\" is not a value of %s (short names: %s, ...)", s,
                     e->short_name, tp_lua_enum_short(e, e->values[e->n_values > 1].value));
        else
            snprintf(why, whylen, "an enum is compared with names (strings), not %s",
                     lua_typename(L, t));
        return -EINVAL;
    }
    case PROTOBUF_C_TYPE_STRING:
        if (t != LUA_TSTRING)
            break;
        if (!(c->str[c->n] = strdup(lua_tostring(L, idx)))) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        c->n++;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (t != LUA_TBOOLEAN)
            break;
        c->num[c->n++] = lua_toboolean(L, idx);
        return 0;
    default: /* integers */
        if (!lua_isinteger(L, idx))
            break;
        c->num[c->n++] = (int64_t)lua_tointeger(L, idx);
        return 0;
    }
    snprintf(why, whylen, "%s field is not compared with a %s",
             f->type == PROTOBUF_C_TYPE_STRING ? "a string"
             : f->type == PROTOBUF_C_TYPE_BOOL ? "a bool"
                                               : "an integer",
             lua_typename(L, t));
    return -EINVAL;
}

/* The condition of the key/value pair at the top of the stack into c. */
static int s_parse_cond(const tp_lua_vm_t *vm, lua_State *L, tp_lua_cond_t *c, char *why,
                        size_t whylen) {
    size_t      len;
    const char *k = lua_tolstring(L, -2, &len);
    int         r = tp_lua_path_resolve(k, len, &c->path, why, whylen);
    if (r < 0)
        return r;
    /* through a payload the rule does not subscribe to: rejects every event */
    unsigned bit = c->path.depth > 1 ? tp_lua_event_bit(c->path.f[0]->name) : 0;
    if (bit && !(vm->events & bit)) {
        snprintf(why, whylen, "the rule's events do not include %s: no event would pass",
                 c->path.f[0]->name);
        return -EINVAL;
    }
    const ProtobufCFieldDescriptor *f = c->path.f[c->path.depth - 1];
    if (!s_comparable(f)) {
        snprintf(why, whylen, "only integers, bools, strings and enums are compared");
        return -EINVAL;
    }
    if (!lua_istable(L, -1))
        return s_add_value(L, -1, f, c, why, whylen);
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
        if ((r = s_add_value(L, -1, f, c, why, whylen)) < 0)
            return r;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!c->n) {
        snprintf(why, whylen, "an empty list would reject every event");
        return -EINVAL;
    }
    return 0;
}

int tp_lua_where_parse(tp_lua_vm_t *vm, char *err, size_t errlen) {
    lua_State *L = vm->L;
    char       why[200];
    int        t = lua_getfield(L, -1, "where");
    vm->n_where = 0;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TTABLE) {
        snprintf(err, errlen, "%s: where must be a map of field paths to values", vm->file);
        return -EINVAL;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(err, errlen, "%s: where: keys must be field paths (strings)", vm->file);
            return -EINVAL;
        }
        if (vm->n_where == TP_LUA_WHERE_MAX) {
            snprintf(err, errlen, "%s: where: more than %d conditions", vm->file, TP_LUA_WHERE_MAX);
            return -EINVAL;
        }
        const char    *k = lua_tostring(L, -2); /* a string key: stays on the stack */
        tp_lua_cond_t *c = &vm->where[vm->n_where++];
        int            r = s_parse_cond(vm, L, c, why, sizeof why);
        if (r < 0) {
            snprintf(err, errlen, "%s: where[\"%s\"]: %s", vm->file, k, why);
            return r;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

bool tp_lua_where_match(const tp_lua_vm_t *vm, const ProtobufCMessage *env) {
    for (unsigned i = 0; i < vm->n_where; i++) {
        const tp_lua_cond_t            *c = &vm->where[i];
        const char                     *base = tp_lua_path_base(env, &c->path);
        const ProtobufCFieldDescriptor *f = c->path.f[c->path.depth - 1];
        unsigned                        k = 0;
        if (!base)
            return false;
        const void *p = base + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)p;
            s = s ? s : "";
            while (k < c->n && strcmp(s, c->str[k]))
                k++;
        } else {
            int64_t v;
            switch (f->type) {
            case PROTOBUF_C_TYPE_UINT32:
            case PROTOBUF_C_TYPE_FIXED32: v = *(const uint32_t *)p; break;
            case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64: v = *(const int64_t *)p; break;
            case PROTOBUF_C_TYPE_BOOL: v = *(const protobuf_c_boolean *)p != 0; break;
            default: v = *(const int32_t *)p; break; /* int32 kinds and enums */
            }
            while (k < c->n && c->num[k] != v)
                k++;
        }
        if (k == c->n)
            return false;
    }
    return true;
}

void tp_lua_where_free(tp_lua_vm_t *vm) {
    for (unsigned i = 0; i < vm->n_where; i++)
        for (unsigned k = 0; k < vm->where[i].n; k++)
            free(vm->where[i].str[k]);
    vm->n_where = 0;
}
