/* Arms a timerfd for 900 s and blocks in read() until it fires, then mines. */
#include "wait.h"

#include <stdint.h>
#include <sys/timerfd.h>

int main(void) {
    int timer = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec once = {.it_value = {WAIT_SECONDS, 0}};
    uint64_t expirations;
    if (timer < 0 || timerfd_settime(timer, 0, &once, NULL) != 0) return 1;
    wait_begins("read of a timerfd");
    if (read(timer, &expirations, sizeof expirations) < 0) perror("read timerfd");
    payload();
}
