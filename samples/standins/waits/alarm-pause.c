/* alarm(900) and pause(): the process sleeps until SIGALRM wakes it, then mines. */
#include "wait.h"

#include <signal.h>

static void on_alarm(int signal_number) { (void)signal_number; }

int main(void) {
    signal(SIGALRM, on_alarm);
    wait_begins("alarm + pause");
    alarm(WAIT_SECONDS);
    pause();
    payload();
}
