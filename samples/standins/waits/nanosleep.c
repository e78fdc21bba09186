/* Waits with nanosleep() (what glibc's sleep() calls), then mines. */
#include "wait.h"

int main(void) {
    struct timespec delay = {WAIT_SECONDS, 0};
    wait_begins("nanosleep");
    nanosleep(&delay, NULL);
    payload();
}
