/* Hold-out short-step waits (detonate test samples; harmless, fake wallet, .test pool): each
 * waits about 900 s in a countdown of very short waits, then becomes the miner stand-in.
 * Written blind to the time keeper, to measure a first-pass score.
 *
 *     shortwaits poll     poll(NULL, 0, 7 ms) in main, 128,572 rounds
 *     shortwaits abstime  a worker thread steps a CLOCK_MONOTONIC deadline by 2 ms and sleeps
 *                         to it with clock_nanosleep(TIMER_ABSTIME), 450,000 rounds; main
 *                         pthread_join's it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#define POOL "stratum+tcp://pool.short.test:3333"
#define WALLET "47sh0rtSt3psFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"

static void poll_rounds(void) {
    for (long i = 0; i < 128572 / ROUNDS_SCALE; i++) poll(NULL, 0, 7);
}

static void *abstime_worker(void *arg) {
    (void)arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    for (long i = 0; i < 450000 / ROUNDS_SCALE; i++) {
        deadline.tv_nsec += 2000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_nsec -= 1000000000L;
            deadline.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {}
    }
    return NULL;
}

static void abstime_rounds(void) {
    pthread_t worker;
    if (pthread_create(&worker, NULL, abstime_worker, NULL) != 0) exit(1);
    pthread_join(worker, NULL);
}

int main(int argc, char **argv) {
    void (*rounds)(void) = NULL;
    if (argc == 2 && strcmp(argv[1], "poll") == 0) rounds = poll_rounds;
    if (argc == 2 && strcmp(argv[1], "abstime") == 0) rounds = abstime_rounds;
    if (!rounds) {
        fprintf(stderr, "usage: shortwaits poll|abstime\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("waiting 900 s in short %s rounds\n", argv[1]);
    rounds();
    printf("done waiting; starting the miner\n");
    execl(MINER, "xmrig", "-o", POOL, "-u", WALLET, "--shares", "1", (char *)NULL);
    perror("exec " MINER);
    return 127;
}
