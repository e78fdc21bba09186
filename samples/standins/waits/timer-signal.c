/* A POSIX timer (timer_create, SIGEV_SIGNAL: SIGUSR1 to the process) armed for 900 s, and
 * pause() until its signal's handler ran, then mines. */
#include "wait.h"

#include <signal.h>

static volatile sig_atomic_t fired;

static void on_timer(int signal_number) {
    (void)signal_number;
    fired = 1;
}

int main(void) {
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    struct itimerspec in = {.it_value = {WAIT_SECONDS, 0}};
    timer_t timer;
    signal(SIGUSR1, on_timer);
    wait_begins("timer_create (SIGEV_SIGNAL) + pause");
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) || timer_settime(timer, 0, &in, NULL))
        return 1;
    while (!fired) pause();
    payload();
}
