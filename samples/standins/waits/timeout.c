/* What coreutils' `timeout 900 cat FIFO` does: a child blocks on a FIFO nobody writes to; the
 * parent arms timer_create(CLOCK_REALTIME, SIGALRM) + timer_settime(900 s) and sigsuspends
 * until the child exits; SIGALRM makes it kill the child (SIGTERM). Then it mines. */
#include "wait.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static pid_t child;

static void on_alarm(int signal_number) {
    (void)signal_number;
    kill(child, SIGTERM);
}

static void on_child(int signal_number) { (void)signal_number; }

int main(void) {
    struct sigaction alarm_action = {.sa_handler = on_alarm}, child_action = {.sa_handler = on_child};
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
    struct itimerspec in = {.it_value = {WAIT_SECONDS, 0}};
    sigset_t block, original;
    timer_t timer;
    int status;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGCHLD);
    sigaction(SIGALRM, &alarm_action, NULL);
    sigaction(SIGCHLD, &child_action, NULL);
    sigprocmask(SIG_BLOCK, &block, &original);
    mkfifo("/tmp/.quiet", 0600);
    wait_begins("timeout: timer_create (SIGALRM) + sigsuspend");
    child = fork();
    if (child == 0) {
        char line[64];
        int fifo = open("/tmp/.quiet", O_RDONLY); /* blocks: nobody opens it to write */
        _exit(fifo >= 0 && read(fifo, line, sizeof line) > 0 ? 0 : 1);
    }
    if (child < 0 || timer_create(CLOCK_REALTIME, &event, &timer) ||
        timer_settime(timer, 0, &in, NULL))
        return 125;
    while (waitpid(child, &status, WNOHANG) == 0) sigsuspend(&original);
    payload();
}
