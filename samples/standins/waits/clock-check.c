/* Sleeps 900 s with nanosleep() and then checks with three clocks that the time really
 * passed: CLOCK_MONOTONIC, gettimeofday() and time(). A sandbox that skips the sleep without
 * moving the clocks is unmasked, and the stand-in exits without its payload. */
#include "wait.h"

#include <sys/time.h>

static double wall_now(void) {
    struct timeval now;
    gettimeofday(&now, NULL);
    return (double)now.tv_sec + (double)now.tv_usec / 1e6;
}

int main(void) {
    struct timespec delay = {WAIT_SECONDS, 0};
    double wall_before = wall_now();
    time_t seconds_before = time(NULL);
    wait_begins("nanosleep, checked by three clocks");
    nanosleep(&delay, NULL);
    double monotonic = monotonic_now() - wait_started, wall = wall_now() - wall_before;
    double seconds = (double)(time(NULL) - seconds_before);
    printf("passed: monotonic %.1f s, gettimeofday %.1f s, time %.0f s\n", monotonic, wall,
           seconds);
    /* time() has whole seconds: one short is still a full wait */
    if (monotonic < WAIT_SECONDS || wall < WAIT_SECONDS || seconds < WAIT_SECONDS - 1) {
        printf("the sleep was cut short: a sandbox; exiting quietly\n");
        return 0;
    }
    payload();
}
