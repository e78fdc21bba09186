/* Hold-out wait forms (detonate test samples; harmless, fake wallet, .test pool): each waits
 * 900 s as a countdown of sub-second waits (20 ms to 900 ms each), then becomes the miner
 * stand-in. Written blind to the time keeper, to measure a first-pass score.
 *
 *     subwaits quarter   nanosleep(250 ms) 3,600 times, a counter in a for loop
 *     subwaits select    select(0, NULL, NULL, NULL, 200 ms) 4,500 times
 *     subwaits abstime   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), deadline +100 ms,
 *                        9,000 times (a fixed-rate tick that does not drift)
 *     subwaits thread    a pthread sleeps nanosleep(300 ms) 3,000 times; main joins it
 *     subwaits jitter    poll(NULL, 0, ms) with ms drawn from 20..900 until 900 s are spent
 */
#include "../waits/wait.h"

#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/select.h>

#define MS 1000000L

static void quarter(void) {
    struct timespec each = {0, 250 * MS};
    int rounds = WAIT_SECONDS * 4;
    for (int i = 0; i < rounds; i++) nanosleep(&each, NULL);
}

static void select_rounds(void) {
    int rounds = WAIT_SECONDS * 5;
    for (int i = 0; i < rounds; i++) {
        struct timeval tv = {0, 200000}; /* Linux writes back what is left: reset each round */
        select(0, NULL, NULL, NULL, &tv);
    }
}

static void abstime(void) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int rounds = WAIT_SECONDS * 10;
    for (int i = 0; i < rounds; i++) {
        deadline.tv_nsec += 100 * MS;
        if (deadline.tv_nsec >= 1000 * MS) {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1000 * MS;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0) {
        }
    }
}

static void *sleeper(void *unused) {
    (void)unused;
    struct timespec each = {0, 300 * MS};
    int rounds = WAIT_SECONDS * 10 / 3;
    for (int i = 0; i < rounds; i++) nanosleep(&each, NULL);
    return NULL;
}

static void thread_rounds(void) {
    pthread_t worker;
    if (pthread_create(&worker, NULL, sleeper, NULL) != 0) exit(1);
    pthread_join(worker, NULL);
}

static void jitter(void) {
    unsigned long seed = 0x5eed;
    long spent_ms = 0;
    while (spent_ms < WAIT_SECONDS * 1000L) {
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        int ms = 20 + (int)((seed >> 33) % 881); /* 20..900 ms */
        poll(NULL, 0, ms);
        spent_ms += ms;
    }
}

int main(int argc, char **argv) {
    static const struct {
        const char *name, *how;
        void (*wait)(void);
    } forms[] = {
        {"quarter", "nanosleep(250 ms) rounds", quarter},
        {"select", "select(200 ms) rounds", select_rounds},
        {"abstime", "clock_nanosleep(TIMER_ABSTIME, +100 ms) rounds", abstime},
        {"thread", "a thread's nanosleep(300 ms) rounds", thread_rounds},
        {"jitter", "poll(NULL, 0, 20..900 ms) rounds", jitter},
    };
    for (size_t i = 0; argc == 2 && i < sizeof forms / sizeof forms[0]; i++) {
        if (strcmp(argv[1], forms[i].name) == 0) {
            wait_begins(forms[i].how);
            forms[i].wait();
            payload();
        }
    }
    fprintf(stderr, "usage: subwaits quarter|select|abstime|thread|jitter\n");
    return 2;
}
