/* Hold-out handover countdowns (detonate test sample; harmless): 900 s of sub-second rounds
 * whose waiting moves between threads or is interrupted by another thread, then an exec of the
 * miner stand-in with a fake wallet (a re-enactment; the pool name is a .test name).
 *
 *   handover relay    3,000 rounds of pthread_cond_timedwait(CLOCK_MONOTONIC, 300 ms) on a
 *                     condition nobody signals, each round in a new detached pthread that starts
 *                     the next round's thread and exits; main blocks in sem_wait until the last
 *   handover signal   main: 3,000 rounds of clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
 *                     now + 300 ms), resumed after EINTR; a heartbeat thread reads a 3 s
 *                     timerfd and sends main a SIGUSR1 (an empty handler) on each tick
 *
 * HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MINER "/usr/local/bin/xmrig"
#define POOL "stratum+tcp://pool.handover.test:3333"
#define WALLET "4HandoverFakeWa11etNotARealAddress0000000000000000000000000000000000000000000000000000000000"
#define ROUNDS 3000
#define ROUND_NS 300000000L

static long rounds(void) {
    const char *s = getenv("HANDOVER_SCALE");
    long scale = s ? atol(s) : 1, n;
    if (scale < 1) scale = 1;
    n = ROUNDS / scale;
    return n < 1 ? 1 : n;
}

static void add_ns(struct timespec *t, long ns) {
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) t->tv_nsec -= 1000000000L, t->tv_sec++;
}

static void mine(const char *what) {
    const char *miner = getenv("HANDOVER_MINER");
    if (!miner || !*miner) miner = MINER;
    printf("warmup: %s done, starting the miner\n", what);
    fflush(stdout);
    execl(miner, "xmrig", "-o", POOL, "-u", WALLET, "--shares", "1", (char *)NULL);
    perror("execl");
    exit(1);
}

/* relay: each round in a new thread */
static pthread_mutex_t relay_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_signalled;
static pthread_attr_t detached;
static sem_t finished;
static long relay_rounds;
static atomic_long relay_failed;

static void *relay(void *arg) {
    long i = (long)arg;
    struct timespec deadline;
    int rc = 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    add_ns(&deadline, ROUND_NS);
    pthread_mutex_lock(&relay_mutex);
    for (int tries = 0; tries < 1000 && rc != ETIMEDOUT; tries++)
        rc = pthread_cond_timedwait(&never_signalled, &relay_mutex, &deadline);
    pthread_mutex_unlock(&relay_mutex);
    if (i + 1 < relay_rounds) {
        pthread_t next;
        if (pthread_create(&next, &detached, relay, (void *)(i + 1)) == 0) return NULL;
        atomic_store(&relay_failed, 1);
    }
    sem_post(&finished);
    return NULL;
}

static int run_relay(void) {
    pthread_condattr_t ca;
    pthread_t first;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&never_signalled, &ca);
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    sem_init(&finished, 0, 0);
    relay_rounds = rounds();
    printf("warmup: relay of %ld threads, 300 ms each\n", relay_rounds);
    fflush(stdout);
    if (pthread_create(&first, &detached, relay, (void *)0L) != 0) return perror("pthread_create"), 1;
    while (sem_wait(&finished) != 0 && errno == EINTR) {}
    if (atomic_load(&relay_failed)) return fprintf(stderr, "warmup: relay broke\n"), 1;
    mine("relay");
    return 1;
}

/* signal: main sleeps, a heartbeat thread interrupts it every 3 s */
static pthread_t main_thread;
static atomic_int countdown_over;
static volatile sig_atomic_t beats;

static void on_beat(int sig) {
    (void)sig;
    beats++;
}

static void *heartbeat(void *arg) {
    (void)arg;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec every = {.it_interval = {3, 0}, .it_value = {3, 0}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) != 0) return NULL;
    for (int n = 0; n < 100000 && !atomic_load(&countdown_over); n++) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) != sizeof ticks) break;
        if (!atomic_load(&countdown_over)) pthread_kill(main_thread, SIGUSR1);
    }
    close(tfd);
    return NULL;
}

static int run_signal(void) {
    struct sigaction sa;
    pthread_t beat;
    long n = rounds(), interrupted = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_beat; /* no SA_RESTART: the sleep returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    main_thread = pthread_self();
    if (pthread_create(&beat, NULL, heartbeat, NULL) != 0) return perror("pthread_create"), 1;
    printf("warmup: %ld sleeps of 300 ms beside a 3 s heartbeat\n", n);
    fflush(stdout);
    for (long i = 0; i < n; i++) {
        struct timespec deadline;
        int rc;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        add_ns(&deadline, ROUND_NS);
        for (int tries = 0; tries < 1000; tries++) {
            rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
            if (rc != EINTR) break;
            interrupted++;
        }
    }
    atomic_store(&countdown_over, 1);
    char what[96];
    snprintf(what, sizeof what, "signal (%ld sleeps interrupted, %d beats)", interrupted, (int)beats);
    mine(what);
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "relay")) return run_relay();
    if (argc > 1 && !strcmp(argv[1], "signal")) return run_signal();
    fprintf(stderr, "usage: %s relay|signal\n", argv[0]);
    return 2;
}
