/* tp_lua_text — `text`, the small C library of text checks a rule's
 * sandbox has beside Lua's own: text.words, text.trim, text.normalize.
 *
 * Why in C: the checks rules make on free text (are these notes at least
 * five words? are they boilerplate?) cost Lua's pattern matcher about 100
 * machine instructions per character; a plain loop here costs a few, and
 * words() stops at the limit the rule cares about, so a long note costs
 * no more than a short one. What each function does is a byte loop over
 * ASCII whitespace (space, \t, \n, \v, \f, \r: Lua's %s in the C locale):
 * other bytes, NUL and UTF-8 ones included, are text.
 *
 * Arguments are checked like ctx's: anything but a string (a number
 * included: no silent conversion) is a bad argument, and the call is
 * abandoned and counted as one. The table is read-only like the globals.
 */
#include <string.h>

#include "tp_lua_internal.h"

static const bool s_spaces[256] = {
    ['\t'] = true, ['\n'] = true, ['\v'] = true, ['\f'] = true, ['\r'] = true, [' '] = true,
};

static bool s_space(unsigned char c) {
    return s_spaces[c];
}

static const char *s_string(lua_State *L, int i, const char *fn, size_t *len) {
    if (lua_type(L, i) != LUA_TSTRING)
        tp_lua_bad_arg(L, "text.%s: argument %d must be a string, not %s", fn, i,
                       luaL_typename(L, i));
    return lua_tolstring(L, i, len);
}

/* text.words(s [, limit]): how many runs of non-space bytes s has; with
 * limit, counting stops there (the result is at most limit). */
static int s_words(lua_State *L) {
    size_t      len;
    const char *s = s_string(L, 1, "words", &len);
    lua_Integer limit = LUA_MAXINTEGER;
    if (!lua_isnoneornil(L, 2)) {
        int ok;
        limit = lua_tointegerx(L, 2, &ok);
        if (!ok || limit < 0)
            tp_lua_bad_arg(L, "text.words: limit must be an integer >= 0");
    }
    /* two tight loops (spaces, then a word) cost a third of one loop
     * tracking whether the last byte was a space */
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    lua_Integer          n = 0;
    while (n < limit) {
        while (p < end && s_space(*p))
            p++;
        if (p == end)
            break;
        n++;
        while (p < end && !s_space(*p))
            p++;
    }
    lua_pushinteger(L, n);
    return 1;
}

/* s without its leading and trailing spaces, and where it starts. */
static const char *s_trimmed(const char *s, size_t len, size_t *ret_len) {
    size_t a = 0, b = len;
    while (a < b && s_space((unsigned char)s[a]))
        a++;
    while (b > a && s_space((unsigned char)s[b - 1]))
        b--;
    *ret_len = b - a;
    return s + a;
}

/* text.trim(s): s without leading and trailing spaces (s itself when it
 * has none: no new string). */
static int s_trim(lua_State *L) {
    size_t      len, n;
    const char *s = s_string(L, 1, "trim", &len), *t = s_trimmed(s, len, &n);
    if (n == len)
        lua_settop(L, 1);
    else
        lua_pushlstring(L, t, n);
    return 1;
}

/* text.normalize(s): trimmed, ASCII letters lower-cased, each run of
 * spaces inside made one space: the form to compare phrases in or look
 * them up by ("  N/A " and "n/a", "No\tnotes" and "no notes"). */
static int s_normalize(lua_State *L) {
    size_t      len, n;
    const char *s = s_string(L, 1, "normalize", &len), *t = s_trimmed(s, len, &n);
    luaL_Buffer b;
    char       *out = luaL_buffinitsize(L, &b, n);
    size_t      k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (s_space(c)) {
            if (!s_space((unsigned char)t[i - 1])) /* t[0] is not a space */
                out[k++] = ' ';
            continue;
        }
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    luaL_pushresultsize(&b, k);
    return 1;
}

static int s_readonly(lua_State *L) {
    return luaL_error(L, "the text library is read-only");
}

void tp_lua_text_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "words", s_words },
        { "trim", s_trim },
        { "normalize", s_normalize },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    tp_lua_readonly(L, s_readonly);
}
