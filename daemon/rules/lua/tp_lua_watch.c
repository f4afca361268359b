/* tp_lua_watch — lets a Lua call run without a count hook until it has
 * used a slice of CPU time.
 *
 * Why: in stock Lua 5.4, once a count hook is set, the interpreter traps
 * into the debug machinery on every VM instruction, whatever the hook's
 * interval (about 20 machine instructions per Lua instruction, plus a
 * return hook on every function return): a thousand instructions for a
 * small rule, a third of its cost.
 *
 * How: each thread that runs Lua calls owns a slot whose sequence number
 * is odd while a call runs (an atomic add at its start, a store at its
 * end: no system call).
 * One watchdog thread wakes every TP_LUA_SLICE_MS; a call it finds
 * still running after its thread used TP_LUA_SLICE_MS / 2 of CPU time
 * since the wake that first saw it is long: the watchdog sends
 * that thread SIGURG, whose handler installs the count hook on the call's
 * state (lua_sethook may be called asynchronously: lua.c stops a script
 * on Ctrl-C the same way). From then on the call's instructions count
 * against budget.instructions as before. A call that never ends is thus
 * always abandoned (after about one or two slices plus its budget); a
 * call that runs at most its budget never is; only a call over its budget
 * but shorter than a slice now completes. Being CPU time, a slice is not
 * shortened by the machine's load: a short call is never tripped because
 * its thread waited for a CPU.
 *
 * When the watchdog cannot watch a thread (SIGURG blocked there or
 * handled by someone else, no thread, too many threads, a forked child),
 * tp_lua_watch_begin says so and the caller counts from the start, as
 * before. The watchdog sleeps on a condition variable after a second
 * without any call, so an idle daemon is not woken 100 times a second.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tp_lua_internal.h"

#define SLOTS    64
#define IDLE_MAX 100 /* wakes without a call before the watchdog sleeps */

typedef struct {
    _Atomic uint64_t seq;     /* odd while a call runs on this thread */
    _Atomic uint64_t trip;    /* the seq the watchdog asks to be counted */
    tp_lua_vm_t *volatile vm; /* the call's vm (this thread and its signal handler) */
    pthread_t thread;
    clockid_t cpu; /* the thread's CPU clock */
    uint64_t  seen;
    int64_t   since_cpu_ns; /* watchdog-private: CPU time when first seen running */
} slot_t;

static slot_t                s_slots[SLOTS];
static _Atomic unsigned      s_n_slots;
static _Atomic bool          s_usable, s_forked;
static _Atomic int           s_sleeping;
static pthread_once_t        s_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t       s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t        s_wake = PTHREAD_COND_INITIALIZER;
static _Thread_local slot_t *t_slot;
static _Thread_local bool    t_unwatched;

static int64_t s_cpu_ns(clockid_t c) {
    struct timespec ts;
    if (clock_gettime(c, &ts) < 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs on the thread the call runs on, between any two of its
 * instructions: only async-signal-safe work (lua_sethook is). */
static void s_on_signal(int sig) {
    (void)sig;
    int     saved = errno;
    slot_t *s = t_slot;
    if (s) {
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
        atomic_signal_fence(memory_order_acquire);
        tp_lua_vm_t *vm = s->vm;
        if ((seq & 1) && vm && atomic_load_explicit(&s->trip, memory_order_relaxed) == seq) {
            lua_sethook(vm->L, tp_lua_count_hook, LUA_MASKCOUNT, (int)vm->step);
        }
    }
    errno = saved;
}

/* One pass over the slots; true if a call ran since the last pass. A
 * call is tripped once its thread has used half a slice of CPU time since
 * the pass that first saw it running (cumulative: a thread that gets only
 * part of a CPU is tripped later, not never). */
static bool s_scan(void) {
    unsigned n = atomic_load(&s_n_slots);
    bool     busy = false;
    for (unsigned i = 0; i < n; i++) {
        slot_t  *s = &s_slots[i];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (seq != s->seen || (seq & 1))
            busy = true;
        if (seq & 1) {
            int64_t cpu = s_cpu_ns(s->cpu);
            if (seq != s->seen)
                s->since_cpu_ns = cpu;
            else if (cpu >= 0 && s->since_cpu_ns >= 0 &&
                     cpu - s->since_cpu_ns >= (int64_t)TP_LUA_SLICE_MS * 1000000 / 2 &&
                     atomic_load_explicit(&s->trip, memory_order_relaxed) != seq) {
                atomic_store_explicit(&s->trip, seq, memory_order_relaxed);
                pthread_kill(s->thread, SIGURG);
            }
        }
        s->seen = seq;
    }
    return busy;
}

static void *s_watchdog(void *arg) {
    (void)arg;
    unsigned idle = 0;
    for (;;) {
        struct timespec ts = { 0, (long)TP_LUA_SLICE_MS * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        idle = s_scan() ? 0 : idle + 1;
        if (idle < IDLE_MAX)
            continue;
        /* Nothing for a while: sleep until a call starts. A call stores
         * its odd seq before it reads s_sleeping, we store s_sleeping
         * before we scan again (both sequentially consistent), so either
         * we see the call or it sees us asleep and wakes us. */
        pthread_mutex_lock(&s_lock);
        atomic_store(&s_sleeping, 1);
        if (!s_scan())
            pthread_cond_wait(&s_wake, &s_lock);
        atomic_store(&s_sleeping, 0);
        pthread_mutex_unlock(&s_lock);
        idle = 0;
    }
    return NULL;
}

static void s_atfork_child(void) {
    /* The child has no watchdog thread: it counts every call. */
    atomic_store(&s_forked, true);
}

static void s_init(void) {
    struct sigaction old;
    if (sigaction(SIGURG, NULL, &old) < 0 || (old.sa_flags & SA_SIGINFO) ||
        (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) {
        log_info("SIGURG is handled elsewhere: Lua calls are counted from their start");
        return;
    }
    struct sigaction sa = { .sa_handler = s_on_signal, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    pthread_t      t;
    pthread_attr_t attr;
    sigset_t       all, prev;
    /* The watchdog itself takes no signal (the daemon's go elsewhere). */
    sigfillset(&all);
    if (pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &prev);
    int r = pthread_create(&t, &attr, s_watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        log_warning("Cannot start the Lua watchdog (%s): Lua calls are counted from their start",
                    strerror(r));
        return;
    }
    sigaction(SIGURG, &sa, NULL);
    pthread_atfork(NULL, NULL, s_atfork_child);
    atomic_store(&s_usable, true);
}

/* This thread's slot, claimed on its first call; NULL if unwatched. */
static slot_t *s_claim(void) {
    pthread_once(&s_once, s_init);
    sigset_t cur;
    unsigned i;
    if (!atomic_load(&s_usable) || pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 ||
        sigismember(&cur, SIGURG) || (i = atomic_fetch_add(&s_n_slots, 1)) >= SLOTS) {
        t_unwatched = true;
        return NULL;
    }
    /* The slot is published (s_n_slots) before it is filled in: a seq of
     * 0 (even) keeps the watchdog off it until its first call below. */
    slot_t *s = &s_slots[i];
    s->thread = pthread_self();
    if (pthread_getcpuclockid(s->thread, &s->cpu) != 0) {
        t_unwatched = true;
        return NULL;
    }
    t_slot = s;
    return s;
}

bool tp_lua_watch_begin(tp_lua_vm_t *vm) {
    slot_t *s = t_slot;
    if (!s && (t_unwatched || !(s = s_claim())))
        return false;
    if (atomic_load_explicit(&s_forked, memory_order_relaxed))
        return false;
    s->vm = vm;
    atomic_signal_fence(memory_order_release);
    atomic_fetch_add(&s->seq, 1); /* odd: running (sequentially consistent, see s_watchdog) */
    if (atomic_load(&s_sleeping)) {
        pthread_mutex_lock(&s_lock);
        pthread_cond_signal(&s_wake);
        pthread_mutex_unlock(&s_lock);
    }
    return true;
}

void tp_lua_watch_end(tp_lua_vm_t *vm) {
    slot_t *s = t_slot;
    (void)vm;
    /* Even before anything else: a signal from here on does nothing. Only
     * this thread writes seq, so a load and a store will do. */
    atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    s->vm = NULL;
}
