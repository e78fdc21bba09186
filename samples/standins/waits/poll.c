/* Waits with poll() on a pipe nobody writes to, timeout 900 s, then mines. */
#include "wait.h"

#include <poll.h>

int main(void) {
    int ends[2];
    if (pipe(ends) != 0) return 1;
    struct pollfd quiet = {.fd = ends[0], .events = POLLIN};
    wait_begins("poll");
    poll(&quiet, 1, WAIT_SECONDS * 1000);
    payload();
}
