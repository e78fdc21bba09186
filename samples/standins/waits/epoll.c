/* Waits with epoll_wait() on a set holding a pipe nobody writes to, timeout 900 s (how event
 * loops such as libuv sleep), then mines. */
#include "wait.h"

#include <sys/epoll.h>

int main(void) {
    int ends[2], set = epoll_create1(0);
    if (set < 0 || pipe(ends) != 0) return 1;
    struct epoll_event quiet = {.events = EPOLLIN, .data.fd = ends[0]};
    struct epoll_event ready;
    epoll_ctl(set, EPOLL_CTL_ADD, ends[0], &quiet);
    wait_begins("epoll_wait");
    epoll_wait(set, &ready, 1, WAIT_SECONDS * 1000);
    payload();
}
