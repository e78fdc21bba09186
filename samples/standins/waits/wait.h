/* Shared by the wait-form stand-ins (detonate test samples; harmless, fake wallet, no real pool).
 *
 * Each stand-in waits WAIT_SECONDS in one way and then runs its payload: the miner stand-in
 * (samples/standins/miner.c, installed as /usr/local/bin/xmrig) logging in to a `.test` pool
 * with a fake wallet for one share. What a sandbox that does not shorten the wait sees is the
 * wait and nothing after it.
 */
#ifndef STANDIN_WAIT_H
#define STANDIN_WAIT_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifndef WAIT_SECONDS /* -DWAIT_SECONDS=2 for a quick check of the logic */
#define WAIT_SECONDS 900
#endif
#define POOL "stratum+tcp://pool.waits.test:3333"
#define WALLET "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"

static double wait_started;

static double monotonic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* "waiting 900 s in poll" on stdout (the run's output log), so a reader sees which form ran. */
static void wait_begins(const char *how) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("waiting %d s in %s\n", WAIT_SECONDS, how);
    wait_started = monotonic_now();
}

/* The wait is over (or was cut short): say how long it seemed, then become the miner. */
static void payload(void) {
    printf("waited %.1f s; starting the miner\n", monotonic_now() - wait_started);
    execl("/usr/local/bin/xmrig", "xmrig", "-o", POOL, "-u", WALLET, "--shares", "1", (char *)NULL);
    perror("exec /usr/local/bin/xmrig");
    exit(127);
}

#endif
