/* tp_lua_ev — `ev`, the event a Lua rule is handed: not a copy of the
 * event but a handle on the decoded protobuf-c message, each field read
 * when the rule asks for it, by name through the message's descriptor
 * (names as in events.proto, enums as short names, repeated fields as
 * arrays). Most rules read three or four fields of an event, so copying
 * the rest would be waste. The message lives only during the call: an
 * `ev` kept past it is dead, and reading it is an error, not a read of
 * freed memory.
 *
 * Reading `ev.call.status` is one __index metamethod call per step. The
 * fields a rule declares (`fields = { "call.status", ... }`) are
 * resolved once, at load, and pushed by C as on_event's arguments after
 * ev and ctx: no call from Lua at all (tp_lua_push_paths).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_lua_internal.h"

/* A message handed to a call is a light userdata that is not a pointer
 * but a handle: (call number << 8) | slot in vm->live. Handing one out
 * allocates nothing (no garbage per event), a read checks the call number
 * first (an `ev` kept past its call is dead even if the next event's
 * message sits at the same address), and every light userdata of the
 * state shares one metatable (set in tp_lua_ev_open): rule code cannot
 * make light userdata of its own. */
#define SLOT_BITS 8

/* What __index needs, made once per state (a userdata, upvalue 3): for
 * each message type of the contract, its fields by name number (the
 * names table, upvalue 1, maps a field name to its number).
 *
 * A field name the rule writes (`call.status`) is a short string, and Lua
 * keeps one copy of each short string: its bytes sit at the same address
 * as the name's in the names table, which keeps them alive. So a name is
 * found by that address in a small hash (name_at), without a Lua table
 * lookup; names Lua does not intern (longer ones) go through upvalue 1. */
#define NAME_SLOTS 256 /* power of 2, well above twice the contract's field names */
#define NO_NAME    UINT32_MAX

typedef struct {
    const ProtobufCMessageDescriptor *d;
    const ProtobufCFieldDescriptor  **by_name; /* [n_names], NULL: no such field */
} msg_type_t;

typedef struct {
    unsigned                       n_types, n_names, n_enums;
    size_t                         unhashed_len; /* shortest name not in name_at */
    msg_type_t                     types[8];
    const ProtobufCEnumDescriptor *enums[16]; /* enum i's short names: keys (i << 20) | value */
    const char                    *name_at[NAME_SLOTS];
    uint32_t                       name_no[NAME_SLOTS];
} msg_types_t;

static unsigned s_name_slot(const char *k) {
    return (unsigned)(((uintptr_t)k * 0x9E3779B97F4A7C15ull) >> 56) & (NAME_SLOTS - 1);
}

static uint32_t s_name_no(const msg_types_t *ts, const char *k) {
    for (unsigned i = s_name_slot(k); ts->name_at[i]; i = (i + 1) & (NAME_SLOTS - 1))
        if (ts->name_at[i] == k)
            return ts->name_no[i];
    return NO_NAME;
}

static int s_msg_index(lua_State *L);
static int s_msg_newindex(lua_State *L);

void tp_lua_push_message(lua_State *L, const ProtobufCMessage *m) {
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    unsigned     slot = 0;
    while (slot < vm->n_live && vm->live[slot] != m)
        slot++;
    if (slot == vm->n_live) {
        if (slot == TP_LUA_LIVE_MAX)
            luaL_error(L, "more than %d messages read in one call", TP_LUA_LIVE_MAX);
        const msg_types_t *ts = vm->msg_types;
        unsigned           t = 0;
        while (t < ts->n_types && ts->types[t].d != m->descriptor)
            t++;
        if (t == ts->n_types)
            luaL_error(L, "%s is not a message of the contract", m->descriptor->name);
        vm->live_type[slot] = &ts->types[t];
        vm->live[vm->n_live++] = m;
    }
    lua_pushlightuserdata(L, (void *)(((uintptr_t)vm->gen << SLOT_BITS) | slot));
}

const char *tp_lua_enum_short(const ProtobufCEnumDescriptor *d, int v) {
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    if (!ev)
        return NULL;
    const char *name = ev->name, *cc = d->short_name;
    for (; *cc; cc++) {
        char want = (char)(*cc >= 'a' && *cc <= 'z' ? *cc - 32 : *cc);
        if (cc != d->short_name && *cc >= 'A' && *cc <= 'Z') {
            if (*name != '_')
                return ev->name;
            name++;
        }
        if (*name != want)
            return ev->name;
        name++;
    }
    return *name == '_' ? name + 1 : ev->name;
}

static void s_push_value(lua_State *L, const ProtobufCFieldDescriptor *f, const void *p,
                         int enums) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: lua_pushinteger(L, *(const int32_t *)p); return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: lua_pushinteger(L, *(const uint32_t *)p); return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: lua_pushinteger(L, *(const int64_t *)p); return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: lua_pushinteger(L, (lua_Integer) * (const uint64_t *)p); return;
    case PROTOBUF_C_TYPE_FLOAT: lua_pushnumber(L, *(const float *)p); return;
    case PROTOBUF_C_TYPE_DOUBLE: lua_pushnumber(L, *(const double *)p); return;
    case PROTOBUF_C_TYPE_BOOL: lua_pushboolean(L, *(const protobuf_c_boolean *)p); return;
    case PROTOBUF_C_TYPE_ENUM: {
        /* the short names, interned once per state (s_enum_names) */
        const msg_types_t *ts = tp_lua_vm_of(L)->msg_types;
        int                v = *(const int *)p;
        unsigned           e = 0;
        while (e < ts->n_enums && ts->enums[e] != f->descriptor)
            e++;
        if (e < ts->n_enums && v >= 0 && v < (1 << 20)) {
            if (lua_rawgeti(L, enums, ((lua_Integer)e << 20) | v) != LUA_TNIL)
                return;
            lua_pop(L, 1);
        }
        lua_pushinteger(L, v);
        return;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        lua_pushstring(L, s ? s : "");
        return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        lua_pushlstring(L, (const char *)b->data, b->len);
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;
        if (m)
            tp_lua_push_message(L, m);
        else
            lua_pushnil(L);
        return;
    }
    }
    lua_pushnil(L);
}

static size_t s_elem_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    default: return 4;
    }
}

/* The message of handle i (checked: of this call), and its type. */
static const ProtobufCMessage *s_live(lua_State *L, int i, const msg_type_t **ret_type) {
    tp_lua_vm_t *vm = tp_lua_vm_of(L);
    uintptr_t    h = (uintptr_t)lua_touserdata(L, i), slot = h & ((1u << SLOT_BITS) - 1);
    if (h >> SLOT_BITS != (((uintptr_t)vm->gen << SLOT_BITS) >> SLOT_BITS) || slot >= vm->n_live)
        luaL_error(L, "an event is only valid during the call it was handed to");
    *ret_type = vm->live_type[slot];
    return vm->live[slot];
}

/* Pushes field f of the message at base (0: it is unset, nil). */
static int s_push_field(lua_State *L, const char *base, const ProtobufCFieldDescriptor *f,
                        int enums) {
    const void *p = base + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        char  *arr = *(char *const *)p;
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            s_push_value(L, f, arr + i * s_elem_size(f->type), enums);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 1;
    }
    /* A oneof member is there only if it is the case that is set. */
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id)
        return 0;
    s_push_value(L, f, p, enums);
    return 1;
}

static int s_msg_index(lua_State *L) {
    const msg_type_t       *type;
    const ProtobufCMessage *m = s_live(L, 1, &type);
    const msg_types_t      *ts = tp_lua_vm_of(L)->msg_types;
    size_t                  len;
    const char             *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
    uint32_t                no = k ? s_name_no(ts, k) : NO_NAME;
    if (no == NO_NAME) {
        if (!k || len < ts->unhashed_len)
            return 0;
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNUMBER) /* the key's name number */
            return 0;
        no = (uint32_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    const ProtobufCFieldDescriptor *f = type->by_name[no];
    return f ? s_push_field(L, (const char *)m, f, lua_upvalueindex(2)) : 0;
}

/* Resolves path (len bytes) from message type d into out (depth 0: no
 * such field). 0, or -EINVAL with the reason in err. */
static int s_resolve(const char *path, size_t len, const ProtobufCMessageDescriptor *d,
                     tp_lua_path_t *out, char *err, size_t errlen) {
    const char *seg = path, *end = path + len;
    out->depth = 0;
    for (;;) {
        const char *dot = memchr(seg, '.', (size_t)(end - seg));
        size_t      n = (size_t)((dot ? dot : end) - seg);
        char        name[128];
        if (!n || n >= sizeof name || memchr(seg, 0, n)) {
            snprintf(err, errlen, "\"%.*s\" is not a path of field names", (int)len, path);
            return -EINVAL;
        }
        if (out->depth == TP_LUA_PATH_DEPTH) {
            snprintf(err, errlen, "\"%.*s\" is deeper than %d fields", (int)len, path,
                     TP_LUA_PATH_DEPTH);
            return -EINVAL;
        }
        memcpy(name, seg, n);
        name[n] = 0;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, name);
        if (!f) { /* as ev.call.nope: nil */
            out->depth = 0;
            return 0;
        }
        out->f[out->depth++] = f;
        if (!dot)
            return 0;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED) {
            snprintf(err, errlen, "\"%.*s\": %s is not a message", (int)len, path, name);
            return -EINVAL;
        }
        d = f->descriptor;
        seg = dot + 1;
    }
}

const char *tp_lua_path_base(const ProtobufCMessage *m, const tp_lua_path_t *p) {
    const char *base = (const char *)m;
    unsigned    d = 0;
    for (; base && d < p->depth; d++) {
        const ProtobufCFieldDescriptor *f = p->f[d];
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            return NULL;
        if (d + 1 < p->depth)
            base = *(const char *const *)(base + f->offset);
    }
    return p->depth ? base : NULL;
}

/* Pushes the value of path p in message m, as m.a.b would read it (nil
 * where a message on the way is unset). */
static void s_push_path(lua_State *L, const ProtobufCMessage *m, const tp_lua_path_t *p,
                        int enums) {
    const char *base = tp_lua_path_base(m, p);
    if (!base || !s_push_field(L, base, p->f[p->depth - 1], enums))
        lua_pushnil(L);
}

int tp_lua_path_resolve(const char *k, size_t len, tp_lua_path_t *p, char *why, size_t whylen) {
    int r = s_resolve(k, len, &touchpoint__v1__envelope__descriptor, p, why, whylen);
    if (r == 0 && !p->depth) { /* a typo here would be nil for ever: say so now */
        snprintf(why, whylen, "\"%s\" is not a field of the Envelope", k);
        r = -EINVAL;
    }
    return r;
}

int tp_lua_ev_paths(tp_lua_vm_t *vm, char *err, size_t errlen) {
    lua_State *L = vm->L;
    char       why[200];
    int        t = lua_getfield(L, -1, "fields");
    vm->n_paths = 0;
    for (lua_Integer i = 1; t == LUA_TTABLE && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
        size_t      len;
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!k || vm->n_paths == TP_LUA_PATHS_MAX) {
            snprintf(err, errlen, "%s: fields[%lld] must be a field path (at most %d of them)",
                     vm->file, (long long)i, TP_LUA_PATHS_MAX);
            return -EINVAL;
        }
        tp_lua_path_t *p = &vm->paths[vm->n_paths++];
        int            r = tp_lua_path_resolve(k, len, p, why, sizeof why);
        if (r == 0 && p->f[p->depth - 1]->type == PROTOBUF_C_TYPE_MESSAGE) {
            /* values only: pushed before the call, they must not raise */
            snprintf(why, sizeof why, "\"%s\" is a message: read it through ev", k);
            r = -EINVAL;
        }
        if (r < 0) {
            snprintf(err, errlen, "%s: fields[%lld]: %s", vm->file, (long long)i, why);
            return r;
        }
        lua_pop(L, 1);
    }
    if (t != LUA_TNIL && t != LUA_TTABLE) {
        snprintf(err, errlen, "%s: fields must be a list of field paths", vm->file);
        return -EINVAL;
    }
    lua_pop(L, t == LUA_TTABLE ? 2 : 1);
    return 0;
}

void tp_lua_push_paths(tp_lua_vm_t *vm, const ProtobufCMessage *env, int enums) {
    for (unsigned i = 0; i < vm->n_paths; i++)
        s_push_path(vm->L, env, &vm->paths[i], enums);
}

/* Adds d and the message types it nests to ts (each once). */
static void s_collect(msg_types_t *ts, const ProtobufCMessageDescriptor *d) {
    for (unsigned t = 0; t < ts->n_types; t++)
        if (ts->types[t].d == d)
            return;
    if (ts->n_types == sizeof ts->types / sizeof ts->types[0])
        return;
    ts->types[ts->n_types++].d = d;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            s_collect(ts, d->fields[i].descriptor);
}

/* (i << 20) | value -> short name, for the i-th enum of the fields of ts
 * (ts->enums; the table at the top of the stack). */
static void s_enum_names(lua_State *L, msg_types_t *ts) {
    for (unsigned t = 0; t < ts->n_types; t++)
        for (unsigned i = 0; i < ts->types[t].d->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &ts->types[t].d->fields[i];
            const ProtobufCEnumDescriptor  *e = f->descriptor;
            unsigned                        n = 0;
            if (f->type != PROTOBUF_C_TYPE_ENUM)
                continue;
            while (n < ts->n_enums && ts->enums[n] != e)
                n++;
            if (n < ts->n_enums || n == sizeof ts->enums / sizeof ts->enums[0])
                continue; /* done, or too many: read as numbers */
            ts->enums[ts->n_enums++] = e;
            for (unsigned k = 0; k < e->n_values; k++)
                if (e->values[k].value >= 0 && e->values[k].value < (1 << 20)) {
                    lua_pushstring(L, tp_lua_enum_short(e, e->values[k].value));
                    lua_rawseti(L, -2, ((lua_Integer)n << 20) | e->values[k].value);
                }
        }
}

/* Adds name number `no` under the address of Lua's copy of `name`, if Lua
 * interns it (the same bytes pushed twice land at the same address) and
 * the hash has room; otherwise lowers unhashed_len. */
static void s_hash_name(lua_State *L, msg_types_t *ts, const char *name, uint32_t no) {
    char        copy[128];
    size_t      len = strlen(name);
    const char *a = lua_pushstring(L, name), *b = NULL;
    if (len < sizeof copy) {
        memcpy(copy, name, len + 1);
        b = lua_pushstring(L, copy);
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* a stays alive: it is a key of the names table */
    if (a == b && ts->n_names < NAME_SLOTS / 2) {
        unsigned i = s_name_slot(a);
        while (ts->name_at[i])
            i = (i + 1) & (NAME_SLOTS - 1);
        ts->name_at[i] = a;
        ts->name_no[i] = no;
    } else if (len < ts->unhashed_len) {
        ts->unhashed_len = len;
    }
}

/* The metatable of every light userdata (so of every message handed to a
 * rule): __index is s_msg_index over the contract's message types. */
void tp_lua_ev_open(lua_State *L) {
    msg_types_t probe = { 0 };
    s_collect(&probe, &touchpoint__v1__envelope__descriptor);
    unsigned max_names = 0;
    for (unsigned t = 0; t < probe.n_types; t++)
        max_names += probe.types[t].d->n_fields;
    size_t       table = (size_t)probe.n_types * max_names * sizeof(void *);
    msg_types_t *ts = lua_newuserdatauv(L, sizeof *ts + table, 0); /* upvalue 3 (anchors it) */
    *ts = probe;
    ts->unhashed_len = SIZE_MAX;
    tp_lua_vm_of(L)->msg_types = ts;
    const ProtobufCFieldDescriptor **cells = (const ProtobufCFieldDescriptor **)(ts + 1);
    memset(cells, 0, table);
    lua_createtable(L, 0, (int)max_names); /* upvalue 1: name -> number */
    for (unsigned t = 0; t < ts->n_types; t++) {
        const ProtobufCMessageDescriptor *d = ts->types[t].d;
        ts->types[t].by_name = cells + (size_t)t * max_names;
        for (unsigned i = 0; i < d->n_fields; i++) {
            if (lua_getfield(L, -1, d->fields[i].name) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushinteger(L, ts->n_names);
                lua_pushvalue(L, -1);
                lua_setfield(L, -3, d->fields[i].name);
                s_hash_name(L, ts, d->fields[i].name, ts->n_names++);
            }
            ts->types[t].by_name[lua_tointeger(L, -1)] = &d->fields[i];
            lua_pop(L, 1);
        }
    }
    lua_insert(L, -2);
    lua_newtable(L); /* upvalue 2: enum short names */
    s_enum_names(L, ts);
    lua_pushvalue(L, -1);
    tp_lua_vm_of(L)->enum_names = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_insert(L, -2);
    lua_createtable(L, 0, 3);
    lua_insert(L, -4);
    lua_pushcclosure(L, s_msg_index, 3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, s_msg_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushlightuserdata(L, NULL);
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

static int s_msg_newindex(lua_State *L) {
    return luaL_error(L, "events are read-only");
}
