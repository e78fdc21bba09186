/* A POSIX timer of the SIGEV_THREAD kind armed for 900 s; the main thread waits on a semaphore
 * the function posts, then mines. Built with glibc (c-timer-thread: glibc's helper thread
 * starts the function in a new thread) and with musl (c-timer-thread-musl: musl's helper
 * thread, one per timer, runs it itself). */
#include "wait.h"

#include <semaphore.h>
#include <signal.h>

static sem_t fired;

static void on_timer(union sigval value) {
    (void)value;
    sem_post(&fired);
}

int main(void) {
    struct sigevent event = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer};
    struct itimerspec in = {.it_value = {WAIT_SECONDS, 0}};
    timer_t timer;
    sem_init(&fired, 0, 0);
    wait_begins("timer_create (SIGEV_THREAD) + sem_wait");
    if (timer_create(CLOCK_REALTIME, &event, &timer) || timer_settime(timer, 0, &in, NULL))
        return 1;
    while (sem_wait(&fired) != 0) continue;
    payload();
}
