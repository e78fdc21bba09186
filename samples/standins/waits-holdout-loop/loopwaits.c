/* Hold-out event-loop waits (detonate test samples; harmless, fake wallet, .test pool): each
 * waits 900 s as a hand-written event loop with a 100 ms timeout, then becomes the miner
 * stand-in. Written blind to the time keeper, to measure a first-pass score.
 *
 *     loopwaits epoll   epoll_wait(100 ms) on an epoll set holding an eventfd, 9,000 rounds
 *     loopwaits pipe    poll(100 ms) on the read end of a pipe whose write end it holds too,
 *                       9,000 rounds
 */
#include "../waits/wait.h"

#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static void epoll_rounds(void) {
    int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event in = {.events = EPOLLIN, .data.fd = wake};
    if (wake < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, wake, &in) != 0) exit(1);
    struct epoll_event out[4];
    for (int i = 0; i < WAIT_SECONDS * 10; i++) epoll_wait(ep, out, 4, 100);
}

static void pipe_rounds(void) {
    int ends[2];
    if (pipe(ends) != 0) exit(1);
    struct pollfd fd = {.fd = ends[0], .events = POLLIN};
    for (int i = 0; i < WAIT_SECONDS * 10; i++) poll(&fd, 1, 100);
    close(ends[1]);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "epoll") == 0) {
        wait_begins("epoll_wait(eventfd, 100 ms) rounds");
        epoll_rounds();
        payload();
    }
    if (argc == 2 && strcmp(argv[1], "pipe") == 0) {
        wait_begins("poll(own pipe, 100 ms) rounds");
        pipe_rounds();
        payload();
    }
    fprintf(stderr, "usage: loopwaits epoll|pipe\n");
    return 2;
}
