/* Threads: pthreads (clone with CLONE_VM and friends), futexes, signals to
 * one thread or to the process, TLS, robust mutexes, fork from a thread.
 * Output holds no tids, addresses or timings: the same on every arch.
 *   mutexcount [N] [M]  N threads (8) x M (20000) increments under a mutex
 *   atomiccount [N] [M] the same with fetch_add, a compare-exchange loop and
 *                       halfword atomics sharing one word
 *   condvar      producer and consumer through a bounded queue; timedwait;
 *                broadcast
 *   barrier      4 threads x 5 rounds of pthread_barrier_wait
 *   tls          __thread variables: one copy per thread, initialised
 *   threadexit   exit(3) from a thread while others block: status 3
 *   pthreadkill  a signal sent to one thread runs its handler in that thread
 *   procsignal   a signal sent to the process goes to a thread not blocking
 *                it; sigwaitinfo in a worker takes it
 *   detached     detached threads post a semaphore
 *   manythreads  64 threads one after another, their results summed
 *   mainexit [S] main calls pthread_exit; the worker joins it and ends the
 *                process: status 0, or S if given (the worker's exit(S))
 *   robust       a robust mutex whose owner died: EOWNERDEAD, consistent,
 *                ENOTRECOVERABLE (locks time out after 2 s rather than hang)
 *   futexops     raw futex operations, one line per check; status 1 on a FAIL
 *   affinity     sched_getaffinity/setaffinity, getcpu, gettid
 *   tasklist     /proc/self/task lists every thread, and only those
 *   threadfork   fork from a thread; the child has one thread
 *   threadexec   execve from a thread while two others block: they end, and
 *                the new program runs as the only thread, its tid the pid
 *   fdevents     eventfd (a read blocked until another thread writes; the
 *                semaphore mode) and timerfd (armed, read, disarmed) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EINTR: return "EINTR";
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EBUSY: return "EBUSY";
    case EDEADLK: return "EDEADLK";
    case ENOTSUP: return "ENOTSUP";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    default: return strerror(e);
    }
}

static void start(pthread_t *thread, void *(*fn)(void *), void *arg) {
    int r = pthread_create(thread, NULL, fn, arg);
    if (r) {
        printf("pthread_create: %s\n", errname(r));
        exit(1);
    }
}

static long number(int argc, char **argv, int i, long fallback, long low, long high) {
    long n = argc > i ? strtol(argv[i], NULL, 0) : fallback;
    return n < low ? low : n > high ? high : n;
}

static int load(int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* Waits (up to 10 s) until *flag >= value; 1 if it got there. */
static int await(int *flag, int value) {
    for (int i = 0; i < 10000; i++) {
        if (load(flag) >= value)
            return 1;
        usleep(1000);
    }
    return 0;
}

static long tid(void) { return syscall(SYS_gettid); }

/* ---- counting under a mutex and with atomics ---- */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long mutex_total;
static long rounds;

static void *mutex_worker(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        pthread_mutex_lock(&count_lock);
        mutex_total++;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

int mutexcount_main(int argc, char **argv) {
    long n = number(argc, argv, 1, 8, 1, 256);
    rounds = number(argc, argv, 2, 20000, 0, 100000000);
    pthread_t threads[256];
    for (long t = 0; t < n; t++)
        start(&threads[t], mutex_worker, NULL);
    for (long t = 0; t < n; t++)
        pthread_join(threads[t], NULL);
    unsigned long want = (unsigned long)n * (unsigned long)rounds;
    printf("mutexcount: %ld threads x %ld increments\n", n, rounds);
    printf("total=%lu expected=%lu exact=%d\n", mutex_total, want, mutex_total == want);
    return 0;
}

static unsigned int add_total, cas_total;
static struct { unsigned short up, down; } halves;   /* two atomics in one word */

static void *atomic_worker(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        __atomic_fetch_add(&add_total, 1, __ATOMIC_SEQ_CST);
        unsigned int old = __atomic_load_n(&cas_total, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&cas_total, &old, old + 1, 1, __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED)) { }
        __atomic_fetch_add(&halves.up, 1, __ATOMIC_SEQ_CST);
        __atomic_fetch_sub(&halves.down, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int atomiccount_main(int argc, char **argv) {
    long n = number(argc, argv, 1, 8, 1, 256);
    rounds = number(argc, argv, 2, 20000, 0, 100000000);
    pthread_t threads[256];
    for (long t = 0; t < n; t++)
        start(&threads[t], atomic_worker, NULL);
    for (long t = 0; t < n; t++)
        pthread_join(threads[t], NULL);
    unsigned int want = (unsigned int)n * (unsigned int)rounds;
    unsigned short up = (unsigned short)want, down = (unsigned short)-want;
    printf("atomiccount: %ld threads x %ld increments\n", n, rounds);
    printf("fetch_add=%u expected=%u exact=%d\n", add_total, want, add_total == want);
    printf("compare_exchange=%u expected=%u exact=%d\n", cas_total, want, cas_total == want);
    printf("halfwords: up=%u down=%u expected=%u,%u exact=%d\n", halves.up, halves.down,
           up, down, halves.up == up && halves.down == down);
    return 0;
}

/* ---- condition variables ---- */

#define QUEUE 8
#define ITEMS 1000
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[QUEUE], queue_head, queue_count;

static void *producer(void *arg) {
    (void)arg;
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&queue_lock);
        while (queue_count == QUEUE)
            pthread_cond_wait(&not_full, &queue_lock);
        queue[(queue_head + queue_count++) % QUEUE] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&queue_lock);
    }
    return NULL;
}

static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go, waiting, woken;

static void *broadcast_waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&queue_lock);
    waiting++;
    while (!go)
        pthread_cond_wait(&go_cond, &queue_lock);
    woken++;
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

int condvar_main(int argc, char **argv) {
    (void)argc; (void)argv;
    pthread_t thread;
    start(&thread, producer, NULL);
    long sum = 0;
    int received = 0, in_order = 1;
    while (received < ITEMS) {
        pthread_mutex_lock(&queue_lock);
        while (queue_count == 0)
            pthread_cond_wait(&not_empty, &queue_lock);
        int item = queue[queue_head];
        queue_head = (queue_head + 1) % QUEUE;
        queue_count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&queue_lock);
        in_order &= item == ++received;
        sum += item;
    }
    pthread_join(thread, NULL);
    printf("condvar: %d items through a queue of %d\n", ITEMS, QUEUE);
    printf("received=%d sum=%ld in order=%d\n", received, sum, in_order);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&queue_lock);
    int r = pthread_cond_timedwait(&not_empty, &queue_lock, &deadline);
    pthread_mutex_unlock(&queue_lock);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("timedwait: %s after the deadline=%d\n", errname(r),
           now.tv_sec > deadline.tv_sec ||
           (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec));

    pthread_t waiters[3];
    for (int i = 0; i < 3; i++)
        start(&waiters[i], broadcast_waiter, NULL);
    for (int tries = 0; ; tries++) {  /* all 3 in pthread_cond_wait: they let go of the lock */
        pthread_mutex_lock(&queue_lock);
        if (waiting == 3 || tries == 10000)
            break;
        pthread_mutex_unlock(&queue_lock);
        usleep(1000);
    }
    go = 1;
    pthread_cond_broadcast(&go_cond);
    pthread_mutex_unlock(&queue_lock);
    for (int i = 0; i < 3; i++)
        pthread_join(waiters[i], NULL);
    printf("broadcast: waiting=%d woken=%d\n", waiting, woken);
    return 0;
}

/* ---- barriers ---- */

#define BARRIER_THREADS 4
#define BARRIER_ROUNDS 5
static pthread_barrier_t barrier;
static int arrived[BARRIER_ROUNDS], saw_all[BARRIER_ROUNDS], serial[BARRIER_ROUNDS];

static void *barrier_worker(void *arg) {
    (void)arg;
    for (int r = 0; r < BARRIER_ROUNDS; r++) {
        __atomic_fetch_add(&arrived[r], 1, __ATOMIC_SEQ_CST);
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_fetch_add(&serial[r], 1, __ATOMIC_SEQ_CST);
        if (load(&arrived[r]) == BARRIER_THREADS)
            __atomic_fetch_add(&saw_all[r], 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int barrier_main(int argc, char **argv) {
    (void)argc; (void)argv;
    pthread_barrier_init(&barrier, NULL, BARRIER_THREADS);
    pthread_t threads[BARRIER_THREADS];
    for (int t = 0; t < BARRIER_THREADS; t++)
        start(&threads[t], barrier_worker, NULL);
    for (int t = 0; t < BARRIER_THREADS; t++)
        pthread_join(threads[t], NULL);
    printf("barrier: %d threads x %d rounds\n", BARRIER_THREADS, BARRIER_ROUNDS);
    for (int r = 0; r < BARRIER_ROUNDS; r++)
        printf("round %d: arrived=%d saw all arrive=%d serial=%d\n", r, arrived[r], saw_all[r],
               serial[r]);
    printf("destroy: %s\n", errname(pthread_barrier_destroy(&barrier)));
    return 0;
}

/* ---- thread-local storage ---- */

#define TLS_THREADS 4
static __thread int tls_value = 42;
static __thread char tls_text[8] = "init";
static __thread long tls_zero;
static __thread char tls_aligned[64] __attribute__((aligned(64))) = {1};
static int *tls_slots[TLS_THREADS];
static int tls_initial[TLS_THREADS], tls_kept[TLS_THREADS], tls_others[TLS_THREADS],
           tls_align[TLS_THREADS];
static pthread_barrier_t tls_barrier;

static void *tls_worker(void *arg) {
    int i = (int)(intptr_t)arg;
    tls_initial[i] = tls_value == 42 && strcmp(tls_text, "init") == 0 && tls_zero == 0 &&
                     tls_aligned[0] == 1;
    tls_align[i] = (uintptr_t)tls_aligned % 64 == 0;
    tls_value = 100 + i;
    tls_zero = 1000L * i;
    snprintf(tls_text, sizeof tls_text, "t%d", i);
    tls_slots[i] = &tls_value;
    pthread_barrier_wait(&tls_barrier);     /* everyone has written their own */
    tls_kept[i] = tls_value == 100 + i && tls_zero == 1000L * i && tls_text[0] == 't' &&
                  tls_text[1] == '0' + i;
    int others = 1;
    for (int j = 0; j < TLS_THREADS; j++)
        others &= *tls_slots[j] == 100 + j && (j == i || tls_slots[j] != &tls_value);
    tls_others[i] = others;
    pthread_barrier_wait(&tls_barrier);     /* nobody leaves while others look */
    return NULL;
}

int tls_main(int argc, char **argv) {
    (void)argc; (void)argv;
    int main_initial = tls_value == 42 && strcmp(tls_text, "init") == 0;
    tls_value = 7;
    strcpy(tls_text, "main");
    pthread_barrier_init(&tls_barrier, NULL, TLS_THREADS);
    pthread_t threads[TLS_THREADS];
    for (int t = 0; t < TLS_THREADS; t++)
        start(&threads[t], tls_worker, (void *)(intptr_t)t);
    for (int t = 0; t < TLS_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < TLS_THREADS; t++)
        printf("thread %d: initialised=%d aligned=%d own kept=%d others' seen=%d\n", t,
               tls_initial[t], tls_align[t], tls_kept[t], tls_others[t]);
    int distinct = 1;
    for (int t = 0; t < TLS_THREADS; t++)
        distinct &= tls_slots[t] != &tls_value;
    printf("main: initialised=%d value=%d text=%s not shared=%d\n", main_initial, tls_value,
           tls_text, distinct);
    return 0;
}

/* ---- exit from a thread while others block ---- */

static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int blocked_waiting, joiner_started;
static pthread_t blocked_thread;

static void *block_forever(void *arg) {
    (void)arg;
    pthread_mutex_lock(&block_lock);
    blocked_waiting = 1;
    for (;;)
        pthread_cond_wait(&never, &block_lock);
    return NULL;
}

static void *join_blocked(void *arg) {
    (void)arg;
    store(&joiner_started, 1);
    pthread_join(blocked_thread, NULL);
    printf("joiner: not reached\n");
    return NULL;
}

static void *exit_three(void *arg) {
    (void)arg;
    printf("exiter: exit(3)\n");    /* left in stdio's buffer: exit flushes it */
    exit(3);
}

int threadexit_main(int argc, char **argv) {
    (void)argc; (void)argv;
    start(&blocked_thread, block_forever, NULL);
    for (int tries = 0; ; tries++) {    /* in pthread_cond_wait once it lets go */
        pthread_mutex_lock(&block_lock);
        int in = blocked_waiting;
        pthread_mutex_unlock(&block_lock);
        if (in || tries == 10000)
            break;
        usleep(1000);
    }
    printf("waiter: blocked in pthread_cond_wait\n");
    pthread_t joiner, exiter;
    start(&joiner, join_blocked, NULL);
    await(&joiner_started, 1);
    usleep(20000);
    printf("joiner: blocked in pthread_join\n");
    start(&exiter, exit_three, NULL);
    pthread_join(exiter, NULL);
    printf("main: not reached\n");
    return 0;
}

/* ---- signals to one thread ---- */

static int claimed, handled;    /* handled counts a run once it has noted its thread */
static pthread_t handled_in[16];

static void note_thread(int sig) {
    (void)sig;
    int n = __atomic_fetch_add(&claimed, 1, __ATOMIC_SEQ_CST);
    if (n < 16)
        handled_in[n] = pthread_self();
    __atomic_fetch_add(&handled, 1, __ATOMIC_SEQ_CST);
}

static void on_signal(int sig, void (*handler)(int)) {
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static int stop, sleepers_ready;

static void *sleeper(void *arg) {
    (void)arg;
    __atomic_fetch_add(&sleepers_ready, 1, __ATOMIC_SEQ_CST);
    while (!load(&stop))
        usleep(5000);
    return NULL;
}

static int blocker_ready, blocker_sent, blocker_pending, blocker_after;

/* blocks SIGUSR1: a signal sent to it waits, pending in this thread only */
static void *blocker(void *arg) {
    (void)arg;
    sigset_t usr1, pending;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    store(&blocker_ready, 1);
    await(&blocker_sent, 1);
    sigpending(&pending);
    blocker_pending = sigismember(&pending, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);   /* the handler runs here, now */
    blocker_after = load(&handled);
    return NULL;
}

static int ran_in(int n, pthread_t thread) {
    return n < 16 && pthread_equal(handled_in[n], thread);
}

int pthreadkill_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on_signal(SIGUSR1, note_thread);
    pthread_t self = pthread_self(), workers[2];
    for (int i = 0; i < 2; i++)
        start(&workers[i], sleeper, NULL);
    await(&sleepers_ready, 2);
    int order[] = {1, 0};
    for (int k = 0; k < 2; k++) {
        int target = order[k];
        int r = pthread_kill(workers[target], SIGUSR1);
        int arrived_ = await(&handled, k + 1);
        printf("pthread_kill worker %d: %s handled=%d in that worker=%d in the other=%d "
               "in main=%d\n", target, errname(r), arrived_, ran_in(k, workers[target]),
               ran_in(k, workers[1 - target]), ran_in(k, self));
    }
    printf("pthread_kill signal 0: %s\n", errname(pthread_kill(workers[0], 0)));
    int r = pthread_kill(self, SIGUSR1);
    printf("pthread_kill main: %s handled before it returned=%d in main=%d\n", errname(r),
           load(&handled) == 3, ran_in(2, self));
    store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(workers[i], NULL);

    sigset_t usr1, pending;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    pthread_t blocked;
    start(&blocked, blocker, NULL);
    await(&blocker_ready, 1);
    r = pthread_kill(blocked, SIGUSR1);
    usleep(20000);
    int before = load(&handled);
    sigpending(&pending);
    int pending_in_main = sigismember(&pending, SIGUSR1);
    store(&blocker_sent, 1);
    pthread_join(blocked, NULL);
    printf("to a thread blocking it: %s handled while blocked=%d pending there=%d "
           "pending in main=%d ran on unblock=%d in that thread=%d\n", errname(r),
           before - 3, blocker_pending, pending_in_main, blocker_after == 4,
           ran_in(3, blocked));
    printf("handler runs in all: %d\n", load(&handled));
    return 0;
}

/* ---- a signal to the process ---- */

static int usr2_ready, usr2_got;
static pthread_t usr2_handled_in;

static void note_usr2(int sig) {
    (void)sig;
    usr2_handled_in = pthread_self();
    store(&usr2_got, 1);
}

static void *unblocks_usr2(void *arg) {
    (void)arg;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
    store(&usr2_ready, 1);
    while (!load(&usr2_got))
        usleep(1000);
    return NULL;
}

static int waited_sig, waited_code, waited_self;

static void *waits_usr2(void *arg) {
    (void)arg;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    siginfo_t info;
    waited_sig = sigwaitinfo(&usr2, &info);
    waited_code = info.si_code;
    waited_self = info.si_pid == getpid();
    return NULL;
}

int procsignal_main(int argc, char **argv) {
    (void)argc; (void)argv;
    on_signal(SIGUSR2, note_usr2);
    sigset_t usr2, pending;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);    /* the worker inherits it, unblocks it */
    pthread_t worker;
    start(&worker, unblocks_usr2, NULL);
    await(&usr2_ready, 1);
    int r = kill(getpid(), SIGUSR2);
    int got = await(&usr2_got, 1);
    pthread_join(worker, NULL);
    sigpending(&pending);
    printf("kill: %d handled=%d in the worker=%d in main=%d still pending=%d\n", r, got,
           pthread_equal(usr2_handled_in, worker), pthread_equal(usr2_handled_in, pthread_self()),
           sigismember(&pending, SIGUSR2));

    store(&usr2_got, 0);                    /* everyone blocks it: one takes it */
    start(&worker, waits_usr2, NULL);
    r = kill(getpid(), SIGUSR2);
    pthread_join(worker, NULL);
    sigpending(&pending);
    printf("sigwaitinfo in a worker: kill=%d got SIGUSR2=%d SI_USER=%d from self=%d "
           "handler ran=%d still pending=%d\n", r, waited_sig == SIGUSR2,
           waited_code == SI_USER, waited_self, load(&usr2_got),
           sigismember(&pending, SIGUSR2));
    return 0;
}

/* ---- detached threads and semaphores ---- */

static sem_t posted;
static int detached_sum;

static void *post_once(void *arg) {
    __atomic_fetch_add(&detached_sum, (int)(intptr_t)arg, __ATOMIC_SEQ_CST);
    sem_post(&posted);
    return NULL;
}

int detached_main(int argc, char **argv) {
    (void)argc; (void)argv;
    sem_init(&posted, 0, 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
    int r = sem_timedwait(&posted, &deadline);
    printf("sem_timedwait on 0: %d %s\n", r, errname(r ? errno : 0));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int state;
    pthread_attr_getdetachstate(&attr, &state);
    printf("attr detached: %d\n", state == PTHREAD_CREATE_DETACHED);
    int created = 0, detached = 0;
    for (int i = 1; i <= 8; i++) {
        pthread_t thread;
        if (i <= 4) {           /* detached from the start, or after */
            created += pthread_create(&thread, &attr, post_once, (void *)(intptr_t)i) == 0;
        } else {
            created += pthread_create(&thread, NULL, post_once, (void *)(intptr_t)i) == 0;
            detached += pthread_detach(thread) == 0;
        }
    }
    pthread_attr_destroy(&attr);
    int waited = 0;
    for (int i = 0; i < created; i++)
        waited += sem_wait(&posted) == 0;
    int value;
    sem_getvalue(&posted, &value);
    printf("created=%d detached later=%d posts taken=%d sum=%d left=%d\n", created, detached,
           waited, load(&detached_sum), value);
    return 0;
}

/* ---- many threads, one after another ---- */

static void *result_of(void *arg) {
    int i = (int)(intptr_t)arg;
    volatile char stack_use[4096];
    stack_use[0] = (char)i;
    stack_use[4095] = (char)i;
    return (void *)(intptr_t)(3 * i + 1 + stack_use[0] - stack_use[4095]);
}

int manythreads_main(int argc, char **argv) {
    (void)argc; (void)argv;
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 64 * 1024);
    long sum = 0, want = 0;
    int failed = 0;
    for (int i = 0; i < 64; i++) {      /* odd ones on a 64 KiB stack */
        pthread_t thread;
        void *result;
        if (pthread_create(&thread, i % 2 ? &small : NULL, result_of, (void *)(intptr_t)i) ||
            pthread_join(thread, &result)) {
            failed++;
            continue;
        }
        sum += (long)(intptr_t)result;
        want += 3 * i + 1;
    }
    pthread_attr_destroy(&small);
    printf("manythreads: 64 created and joined, failed=%d sum=%ld expected=%d\n", failed, sum,
           3 * 63 * 64 / 2 + 64);
    return want == sum ? 0 : 1;
}

/* ---- the main thread leaves first ---- */

static pthread_t main_thread;
static int last_status = -1;

static void *outlive_main(void *arg) {
    (void)arg;
    usleep(100000);
    void *value = NULL;
    int r = pthread_join(main_thread, &value);
    printf("worker: joined the main thread: %s value=%ld\n", errname(r), (long)(intptr_t)value);
    if (last_status >= 0) {
        printf("worker: exit(%d)\n", last_status);
        exit(last_status);
    }
    printf("worker: returns, the last thread\n");
    return NULL;
}

int mainexit_main(int argc, char **argv) {
    last_status = argc > 1 ? atoi(argv[1]) : -1;
    main_thread = pthread_self();
    pthread_t worker;
    start(&worker, outlive_main, NULL);
    printf("main: pthread_exit\n");
    pthread_exit((void *)(intptr_t)42);
}

/* ---- robust mutexes ---- */

static pthread_mutex_t robust_lock;

static void *lock_and_die(void *arg) {
    (void)arg;
    int r = pthread_mutex_lock(&robust_lock);
    printf("owner: lock %s, exits holding it\n", errname(r));
    return NULL;
}

static void *trylock_and_die(void *arg) {
    (void)arg;
    int r = pthread_mutex_trylock(&robust_lock);
    printf("owner: trylock %s, exits holding it\n", errname(r));
    return NULL;
}

/* lock, but give up after 2 s: where owners' deaths go unnoticed (no
 * set_robust_list) this says ETIMEDOUT rather than hanging */
static int lock_robust(void) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    return pthread_mutex_timedlock(&robust_lock, &deadline);
}

static void owner_dies(void *(*how)(void *)) {
    pthread_t owner;
    start(&owner, how, NULL);
    pthread_join(owner, NULL);
}

int robust_main(int argc, char **argv) {
    (void)argc; (void)argv;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    int r1 = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int robustness = -1;
    pthread_mutexattr_getrobust(&attr, &robustness);
    int r2 = pthread_mutex_init(&robust_lock, &attr);
    printf("setrobust: %s robust=%d init: %s\n", errname(r1),
           robustness == PTHREAD_MUTEX_ROBUST, errname(r2));
    if (r2)
        return 1;
    owner_dies(lock_and_die);
    printf("lock: %s\n", errname(lock_robust()));
    printf("consistent: %s\n", errname(pthread_mutex_consistent(&robust_lock)));
    printf("unlock: %s\n", errname(pthread_mutex_unlock(&robust_lock)));
    printf("lock again: %s\n", errname(lock_robust()));
    printf("unlock: %s\n", errname(pthread_mutex_unlock(&robust_lock)));

    owner_dies(trylock_and_die);
    printf("trylock: %s\n", errname(pthread_mutex_trylock(&robust_lock)));
    printf("unlock without consistent: %s\n", errname(pthread_mutex_unlock(&robust_lock)));
    printf("lock: %s\n", errname(lock_robust()));
    printf("trylock: %s\n", errname(pthread_mutex_trylock(&robust_lock)));
    printf("destroy: %s\n", errname(pthread_mutex_destroy(&robust_lock)));
    return 0;
}

/* ---- raw futexes ---- */

#ifdef SYS_futex
#define FUTEX_SYSCALL SYS_futex
_Static_assert(sizeof(time_t) == sizeof(long), "SYS_futex takes the arch's own timespec");
#else
#define FUTEX_SYSCALL SYS_futex_time64
_Static_assert(sizeof(time_t) == 8, "SYS_futex_time64 takes a 64-bit timespec");
#endif

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout,
                  uint32_t *word2, uint32_t val3) {
    return syscall(FUTEX_SYSCALL, word, op, val, timeout, word2, val3);
}

/* the operations whose fourth argument is a count (val2), not a timeout */
static long futex2(uint32_t *word, int op, uint32_t val, uint32_t val2, uint32_t *word2,
                   uint32_t val3) {
    return syscall(FUTEX_SYSCALL, word, op, val, (unsigned long)val2, word2, val3);
}

static const char *variant;
static int failures;

static void check(const char *name, int ok, const char *fmt, ...) {
    printf("%s %s: %s (", variant, name, ok ? "ok" : "FAIL");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(")\n");
    failures += !ok;
}

static const char *result(long r) {
    static char text[64];
    if (r < 0)
        snprintf(text, sizeof text, "-1 %s", errname(errno));
    else
        snprintf(text, sizeof text, "%ld", r);
    return text;
}

static int reached(clockid_t clock, const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(clock, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static struct timespec from_now(clockid_t clock, long ms) {
    struct timespec t;
    clock_gettime(clock, &t);
    long long ns = t.tv_nsec + ms * 1000000LL;
    t.tv_sec += ns / 1000000000;
    t.tv_nsec = ns % 1000000000;
    if (t.tv_nsec < 0) { t.tv_sec--; t.tv_nsec += 1000000000; }
    return t;
}

struct waiter {
    uint32_t *word;
    int op;
    uint32_t bitset;
    int started;            /* set just before it calls futex */
    long ret;
    int err;
    pthread_t thread;
};

static void *futex_waiter(void *arg) {
    struct waiter *w = arg;
    store(&w->started, 1);
    long r = futex(w->word, w->op, 0, NULL, NULL, w->bitset);
    w->err = r < 0 ? errno : 0;
    w->ret = r;
    return NULL;
}

/* a thread waiting for *word == 0 to change */
static void spawn(struct waiter *w, uint32_t *word, int op, uint32_t bitset) {
    memset(w, 0, sizeof *w);
    w->word = word;
    w->op = op;
    w->bitset = bitset;
    start(&w->thread, futex_waiter, w);
    await(&w->started, 1);
}

static uint32_t gate, word1, word2;

/* Moves n waiters from gate to target once they are asleep in the kernel:
 * only a sleeping waiter can be requeued, so once n have moved, all n are
 * certainly waiting on target. Returns how many moved. */
static long gather(uint32_t *target, long n, int priv) {
    long total = 0;
    for (int tries = 0; tries < 10000 && total < n; tries++) {
        long r = futex2(&gate, FUTEX_CMP_REQUEUE | priv, 0, INT_MAX, target, 0);
        if (r < 0)
            return r;
        total += r;
        if (total < n)
            usleep(1000);
    }
    return total;
}

/* lets every waiter go, and joins them */
static void release(struct waiter *w, int n, int priv) {
    futex(&gate, FUTEX_WAKE | priv, INT_MAX, NULL, NULL, 0);
    futex(&word1, FUTEX_WAKE | priv, INT_MAX, NULL, NULL, 0);
    futex(&word2, FUTEX_WAKE | priv, INT_MAX, NULL, NULL, 0);
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
}

static void futex_checks(int priv) {
    struct timespec t, deadline;
    long r;
    struct waiter w[3];

    word1 = 1;
    r = futex(&word1, FUTEX_WAIT | priv, 0, NULL, NULL, 0);
    check("wait on a changed value", r == -1 && errno == EAGAIN, "%s", result(r));
    word1 = 0;

    t = (struct timespec){0, 50 * 1000 * 1000};
    deadline = from_now(CLOCK_MONOTONIC, 50);
    r = futex(&word1, FUTEX_WAIT | priv, 0, &t, NULL, 0);
    int waited = reached(CLOCK_MONOTONIC, &deadline);
    check("wait 50 ms", r == -1 && errno == ETIMEDOUT && waited, "%s waited 50 ms=%d",
          result(r), waited);

    deadline = from_now(CLOCK_MONOTONIC, -1000);
    r = futex(&word1, FUTEX_WAIT_BITSET | priv, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    check("wait_bitset monotonic deadline passed", r == -1 && errno == ETIMEDOUT, "%s",
          result(r));

    deadline = from_now(CLOCK_MONOTONIC, 30);
    r = futex(&word1, FUTEX_WAIT_BITSET | priv, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    waited = reached(CLOCK_MONOTONIC, &deadline);
    check("wait_bitset monotonic deadline in 30 ms", r == -1 && errno == ETIMEDOUT && waited,
          "%s woke after it=%d", result(r), waited);

    deadline = from_now(CLOCK_REALTIME, 30);
    r = futex(&word1, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | priv, 0, &deadline, NULL,
              FUTEX_BITSET_MATCH_ANY);
    waited = reached(CLOCK_REALTIME, &deadline);
    check("wait_bitset realtime deadline in 30 ms", r == -1 && errno == ETIMEDOUT && waited,
          "%s woke after it=%d", result(r), waited);

    r = futex(&word1, FUTEX_WAIT_BITSET | priv, 0, NULL, NULL, 0);
    check("wait_bitset with bitset 0", r == -1 && errno == EINVAL, "%s", result(r));

    r = futex(&word1, FUTEX_WAKE | priv, 1, NULL, NULL, 0);
    check("wake with nobody waiting", r == 0, "%s", result(r));

    /* wake: retried until it finds the waiter asleep */
    spawn(&w[0], &word1, FUTEX_WAIT | priv, 0);
    r = 0;
    for (int tries = 0; tries < 10000 && r == 0; tries++) {
        r = futex(&word1, FUTEX_WAKE | priv, 1, NULL, NULL, 0);
        if (r == 0)
            usleep(1000);
    }
    long woke = r;
    release(w, 1, priv);
    check("wake a waiter", woke == 1 && w[0].ret == 0, "woke=%ld waiter returned %s", woke,
          w[0].ret < 0 ? errname(w[0].err) : "0");

    /* wake_bitset: the waiter's bits, 0b001, against 0b110 then 0b011 */
    spawn(&w[0], &gate, FUTEX_WAIT_BITSET | priv, 0x1);
    long moved = gather(&word1, 1, priv);
    long none = futex(&word1, FUTEX_WAKE_BITSET | priv, INT_MAX, NULL, NULL, 0x6);
    long one = futex(&word1, FUTEX_WAKE_BITSET | priv, INT_MAX, NULL, NULL, 0x3);
    release(w, 1, priv);
    check("wake_bitset other bits", moved == 1 && none == 0, "waiting=%ld woke=%ld", moved,
          none);
    check("wake_bitset matching bits", one == 1 && w[0].ret == 0,
          "woke=%ld waiter returned %s", one, w[0].ret < 0 ? errname(w[0].err) : "0");

    /* cmp_requeue: three on word1, value 0; one woken, one moved to word2 */
    for (int i = 0; i < 3; i++)
        spawn(&w[i], &gate, FUTEX_WAIT | priv, 0);
    moved = gather(&word1, 3, priv);
    check("gather 3 waiters by requeue", moved == 3, "moved=%ld", moved);
    r = futex2(&word1, FUTEX_CMP_REQUEUE | priv, 1, 1, &word2, 5);
    check("cmp_requeue with a wrong value", r == -1 && errno == EAGAIN, "%s", result(r));
    r = futex2(&word1, FUTEX_CMP_REQUEUE | priv, 1, 1, &word2, 0);
    check("cmp_requeue wake 1 move 1", r == 2, "returned %s", result(r));
    r = futex2(&word2, FUTEX_REQUEUE | priv, 0, INT_MAX, &word1, 0);
    check("requeue it back", r == 1, "returned %s", result(r));
    long on2 = futex(&word2, FUTEX_WAKE | priv, INT_MAX, NULL, NULL, 0);
    long on1 = futex(&word1, FUTEX_WAKE | priv, INT_MAX, NULL, NULL, 0);
    release(w, 3, priv);
    int all_zero = w[0].ret == 0 && w[1].ret == 0 && w[2].ret == 0;
    check("wake after requeue", on2 == 0 && on1 == 2 && all_zero,
          "word2 woke=%ld word1 woke=%ld waiters returned 0=%d", on2, on1, all_zero);

    /* wake_op: wake on word1, change word2, wake on word2 if the old value
     * passes the test */
    spawn(&w[0], &gate, FUTEX_WAIT | priv, 0);
    moved = gather(&word1, 1, priv);
    word2 = 5;
    spawn(&w[1], &gate, FUTEX_WAIT | priv, 0);
    moved += gather(&word2, 1, priv);
    r = futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
               FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0));
    uint32_t after = word2;
    release(w, 2, priv);
    check("wake_op add 1, old > 0", moved == 2 && r == 2 && after == 6 && w[0].ret == 0 &&
          w[1].ret == 0, "waiting=%ld woke=%s word2 5->%u", moved, result(r), after);

    spawn(&w[0], &gate, FUTEX_WAIT | priv, 0);
    moved = gather(&word2, 1, priv);
    r = futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
               FUTEX_OP(FUTEX_OP_XOR, 0xf, FUTEX_OP_CMP_LT, 0));
    after = word2;
    check("wake_op xor 0xf, old < 0 false", moved == 1 && r == 0 && after == 9,
          "waiting=%ld woke=%s word2 6->%u", moved, result(r), after);
    r = futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
               FUTEX_OP(FUTEX_OP_ADD, -1 & 0xfff, FUTEX_OP_CMP_EQ, 9));
    after = word2;
    release(w, 1, priv);
    check("wake_op add -1, old == 9", r == 1 && after == 8 && w[0].ret == 0,
          "woke=%s word2 9->%u", result(r), after);

    uint32_t steps[3];
    r = futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
               FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_NE, 8));
    steps[0] = word2;
    r += futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
                FUTEX_OP(FUTEX_OP_ANDN, 8, FUTEX_OP_CMP_GE, 24));
    steps[1] = word2;
    r += futex2(&word1, FUTEX_WAKE_OP | priv, 1, 1, &word2,
                FUTEX_OP(FUTEX_OP_SET, 3, FUTEX_OP_CMP_LE, 16));
    steps[2] = word2;
    check("wake_op or 1<<4, andn 8, set 3", r == 0 && steps[0] == 24 && steps[1] == 16 &&
          steps[2] == 3, "woke=%ld word2 8->%u->%u->%u", r, steps[0], steps[1], steps[2]);
    word2 = 0;
}

int futexops_main(int argc, char **argv) {
    (void)argc; (void)argv;
    variant = "shared";
    futex_checks(0);
    variant = "private";
    futex_checks(FUTEX_PRIVATE_FLAG);
    variant = "any";
    long r = futex(&word1, 99, 0, NULL, NULL, 0);
    check("unknown operation", r == -1 && errno == ENOSYS, "%s", result(r));
    static uint32_t pair[2];
    uint32_t *odd = (uint32_t *)((char *)pair + 2);
    r = futex(odd, FUTEX_WAIT, 0, NULL, NULL, 0);
    check("wait on a misaligned word", r == -1 && errno == EINVAL, "%s", result(r));
    r = futex(odd, FUTEX_WAKE, 1, NULL, NULL, 0);
    check("wake on a misaligned word", r == -1 && errno == EINVAL, "%s", result(r));
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}

/* ---- CPUs and thread ids ---- */

static cpu_set_t allowed;
static long worker_tids[2];
static pid_t worker_pids[2];
static int pinned_cpu = -1, pinned_ok, pinned_getcpu;

static void *report_ids(void *arg) {
    int i = (int)(intptr_t)arg;
    worker_tids[i] = tid();
    worker_pids[i] = getpid();
    if (i == 0) {               /* pin this thread to its first allowed CPU */
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &allowed)) { pinned_cpu = c; break; }
        CPU_SET(pinned_cpu, &one);
        pinned_ok = sched_setaffinity(0, sizeof one, &one) == 0;
        unsigned cpu = ~0u, node = ~0u;
        pinned_getcpu = syscall(SYS_getcpu, &cpu, &node, NULL) == 0 &&
                        (int)cpu == pinned_cpu;
    }
    return NULL;
}

int affinity_main(int argc, char **argv) {
    (void)argc; (void)argv;
    CPU_ZERO(&allowed);
    int r = sched_getaffinity(0, sizeof allowed, &allowed);
    int count = CPU_COUNT(&allowed);
    printf("sched_getaffinity: %d cpus>=1=%d\n", r, count >= 1);
    printf("sched_setaffinity to the same set: %d\n", sched_setaffinity(0, sizeof allowed,
                                                                         &allowed));
    unsigned cpu = ~0u, node = ~0u;
    r = syscall(SYS_getcpu, &cpu, &node, NULL);
    long configured = sysconf(_SC_NPROCESSORS_CONF);
    printf("getcpu: %d cpu<count=%d cpu allowed=%d\n", r, (long)cpu < configured,
           cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed));
    printf("main: gettid==getpid=%d\n", tid() == getpid());
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        start(&threads[i], report_ids, (void *)(intptr_t)i);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    printf("workers: gettid!=getpid=%d tids differ=%d same getpid=%d\n",
           worker_tids[0] != getpid() && worker_tids[1] != getpid(),
           worker_tids[0] != worker_tids[1],
           worker_pids[0] == getpid() && worker_pids[1] == getpid());
    printf("worker pinned to one cpu: %d getcpu agrees=%d\n", pinned_ok, pinned_getcpu);
    cpu_set_t now;
    sched_getaffinity(0, sizeof now, &now);
    printf("main's set unchanged=%d\n", CPU_EQUAL(&now, &allowed));
    return 0;
}

/* ---- /proc/self/task ---- */

static int count_tasks(long *tids, int n, int *listed) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -errno;
    int count = 0;
    *listed = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        count++;
        for (int i = 0; i < n; i++)
            *listed += atol(entry->d_name) == tids[i];
    }
    closedir(dir);
    return count;
}

static pthread_barrier_t task_barrier;
static long task_tids[4];

static void *task_worker(void *arg) {
    task_tids[(intptr_t)arg] = tid();
    pthread_barrier_wait(&task_barrier);    /* main has seen everyone */
    pthread_barrier_wait(&task_barrier);    /* main has counted */
    return NULL;
}

int tasklist_main(int argc, char **argv) {
    (void)argc; (void)argv;
    pthread_barrier_init(&task_barrier, NULL, 4);
    task_tids[0] = tid();
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        start(&threads[i], task_worker, (void *)(intptr_t)(i + 1));
    pthread_barrier_wait(&task_barrier);
    int listed;
    int alive = count_tasks(task_tids, 4, &listed);
    printf("with 3 workers: tasks=%d all listed=%d\n", alive, listed == 4);
    pthread_barrier_wait(&task_barrier);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    /* a joined thread's tid is cleared as it exits, a moment before the
     * kernel drops it from the list: give it up to a second */
    int left = count_tasks(task_tids, 1, &listed);
    for (int tries = 0; tries < 1000 && left > 1; tries++) {
        usleep(1000);
        left = count_tasks(task_tids, 1, &listed);
    }
    printf("after joining: tasks=%d main listed=%d\n", left, listed == 1);
    return 0;
}

/* ---- fork from a thread ---- */

static void *square(void *arg) {
    long n = (long)(intptr_t)arg;
    return (void *)(intptr_t)(n * n);
}

static void *forker(void *arg) {
    (void)arg;
    fflush(stdout);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: new pid=%d its only thread: gettid==getpid=%d\n", getpid() != parent,
               tid() == getpid());
        pthread_t thread;
        void *value = NULL;
        int r = pthread_create(&thread, NULL, square, (void *)(intptr_t)12);
        if (r == 0)
            pthread_join(thread, &value);
        printf("child: a thread of its own: %s returned %ld\n", errname(r),
               (long)(intptr_t)value);
        fflush(stdout);
        _exit(7);
    }
    int status = 0;
    pid_t got = waitpid(pid, &status, 0);
    printf("parent thread: waited=%d exited=%d status=%d\n", got == pid, WIFEXITED(status),
           WEXITSTATUS(status));
    return NULL;
}

int threadfork_main(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("main: a worker forks\n");
    pthread_t thread;
    start(&thread, forker, NULL);
    pthread_join(thread, NULL);
    printf("main: joined the worker\n");
    return 0;
}

static char *exec_self;

static void *exec_blocker(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *execer(void *arg) {
    (void)arg;
    char *argv[] = {exec_self, "threadexec", "after", NULL};
    execv(exec_self, argv);
    perror("execv");
    return NULL;
}

int threadexec_main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        DIR *tasks = opendir("/proc/self/task");
        int count = 0;
        for (struct dirent *entry; tasks && (entry = readdir(tasks));)
            count += entry->d_name[0] != '.';
        if (tasks)
            closedir(tasks);
        printf("after exec: tid is the pid: %d, threads: %d\n",
               (pid_t)syscall(SYS_gettid) == getpid(), count);
        return 4;
    }
    exec_self = "/proc/self/exe";
    pthread_t a, b, c;
    start(&a, exec_blocker, NULL);
    start(&b, exec_blocker, NULL);
    printf("before exec: 3 threads\n");
    fflush(stdout);
    start(&c, execer, NULL);
    for (;;)
        pause();
}

/* ---- event descriptors: eventfd and timerfd, read by a blocked thread ---- */

static int event_fd;

static void *event_poster(void *arg) {
    (void)arg;
    usleep(20000);
    uint64_t value = 0x0102030405060708ull;
    if (write(event_fd, &value, 8) != 8)
        perror("eventfd write");
    return NULL;
}

int fdevents_main(int argc, char **argv) {
    (void)argc; (void)argv;
    event_fd = eventfd(5, EFD_CLOEXEC);
    uint64_t value = 0;
    ssize_t got = read(event_fd, &value, 8);
    printf("eventfd read: %zd value=%llu\n", got, (unsigned long long)value);
    pthread_t poster;
    start(&poster, event_poster, NULL);
    value = 0;
    got = read(event_fd, &value, 8);                   /* blocks until the poster writes */
    pthread_join(poster, NULL);
    printf("blocked read: %zd value=%#llx\n", got, (unsigned long long)value);
    int semaphore = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    read(semaphore, &value, 8);
    printf("semaphore: %llu", (unsigned long long)value);
    read(semaphore, &value, 8);
    printf(" %llu", (unsigned long long)value);
    got = read(semaphore, &value, 8);
    printf(" then %zd %s\n", got, errname(errno));

    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec spec = {.it_interval = {0, 10000000}, .it_value = {0, 20000000}};
    printf("timerfd_settime: %d\n", timerfd_settime(timer, 0, &spec, NULL));
    struct itimerspec now;
    timerfd_gettime(timer, &now);
    printf("armed: interval=%ldms left<=20ms %d\n", now.it_interval.tv_nsec / 1000000,
           now.it_value.tv_sec == 0 && now.it_value.tv_nsec <= 20000000);
    uint64_t expirations = 0;
    got = read(timer, &expirations, 8);                 /* blocks ~20 ms */
    printf("timer read: %zd expired>=1 %d\n", got, expirations >= 1);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(timer, 0, &off, &now);
    printf("disarmed, old interval=%ldms\n", now.it_interval.tv_nsec / 1000000);
    int nonblocking = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    got = read(nonblocking, &expirations, 8);
    printf("unarmed nonblocking read: %zd %s\n", got, errname(errno));
    return 0;
}

/* pipethreads: one thread writes 1 MiB into a pipe in one write(2) while
 * another reads it: the writer must not block the reader from running. */
#define PIPE_TOTAL (1 << 20)

static int pipe_ends[2];

static void *pipe_writer(void *unused) {
    (void)unused;
    unsigned char *data = malloc(PIPE_TOTAL);
    for (int i = 0; i < PIPE_TOTAL; i++)
        data[i] = (unsigned char)(i * 7);
    ssize_t written = write(pipe_ends[1], data, PIPE_TOTAL);
    close(pipe_ends[1]);
    free(data);
    return (void *)(long)written;
}

int pipethreads_main(int argc, char **argv) {
    (void)argc; (void)argv;
    if (pipe(pipe_ends) != 0)
        return 1;
    pthread_t writer;
    pthread_create(&writer, NULL, pipe_writer, NULL);
    static unsigned char buffer[65536];
    long total = 0, sum = 0;
    ssize_t got;
    while ((got = read(pipe_ends[0], buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < got; i++)
            sum += buffer[i];
        total += got;
    }
    void *written;
    pthread_join(writer, &written);
    long expected = 0;
    for (int i = 0; i < PIPE_TOTAL; i++)
        expected += (unsigned char)(i * 7);
    printf("one write of %ld bytes read by another thread: %ld bytes, sum %s\n",
           (long)written, total, sum == expected ? "right" : "wrong");
    return 0;
}

/* ARM's kuser helpers: code the kernel maps at 0xffff0000, which Go's
 * runtime (GOARM < 7) and old C libraries call for atomics and TLS. */
#if defined(__arm__)
typedef int (*kuser_cmpxchg_t)(int oldval, int newval, volatile int *ptr);
static volatile int kuser_shared;

static void *kuser_bump(void *unused) {
    (void)unused;
    kuser_cmpxchg_t cmpxchg = (kuser_cmpxchg_t)0xffff0fc0;
    for (int i = 0; i < 100000; i++) {
        int seen;
        do seen = kuser_shared; while (cmpxchg(seen, seen + 1, &kuser_shared));
    }
    return NULL;
}
#endif

int kuser_main(int argc, char **argv) {
    (void)argc; (void)argv;
#if defined(__arm__)
    typedef int (*cmpxchg64_t)(const long long *oldval, const long long *newval,
                               volatile long long *ptr);
    typedef void *(*get_tls_t)(void);
    typedef void (*barrier_t)(void);
    kuser_cmpxchg_t cmpxchg = (kuser_cmpxchg_t)0xffff0fc0;
    cmpxchg64_t cmpxchg64 = (cmpxchg64_t)0xffff0f60;
    get_tls_t get_tls = (get_tls_t)0xffff0fe0;
    barrier_t barrier = (barrier_t)0xffff0fa0;
    printf("helper version: %d\n", *(volatile int *)0xffff0ffc);
    volatile int word = 5;
    printf("cmpxchg 5->7 on 5: %d, now %d\n", cmpxchg(5, 7, &word), word);
    printf("cmpxchg 5->9 on 7: %s, now %d\n", cmpxchg(5, 9, &word) ? "refused" : "stored", word);
    volatile long long wide = 1LL << 40;
    long long old = 1LL << 40, new = (1LL << 41) + 3;
    printf("cmpxchg64: %d, now %lld\n", cmpxchg64(&old, &new, &wide), wide);
    barrier();
    void *tls;
    __asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tls));
    printf("get_tls is the thread pointer: %d\n", get_tls() == tls);
    /* the helpers are atomic between threads too */
    pthread_t other;
    pthread_create(&other, NULL, kuser_bump, NULL);
    kuser_bump(NULL);
    pthread_join(other, NULL);
    printf("two threads x 100000 cmpxchg increments: %d\n", kuser_shared);
#else
    puts("no kuser helpers on this arch");
#endif
    return 0;
}
