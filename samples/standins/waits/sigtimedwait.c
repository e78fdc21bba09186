/* Blocks SIGUSR1 and waits for it with sigtimedwait() for 900 s (nobody sends it), then
 * mines. */
#include "wait.h"

#include <signal.h>

int main(void) {
    sigset_t wanted;
    struct timespec delay = {WAIT_SECONDS, 0};
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    wait_begins("sigtimedwait");
    sigtimedwait(&wanted, NULL, &delay);
    payload();
}
