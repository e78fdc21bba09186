/* Waits 900 s in the form named by argv[1], then drops /tmp/payload-<form> (the "payload").
 * A harmless stand-in for samples that wait out a sandbox before acting.
 *
 *   waiter nanosleep|poll|epoll|select|cond|sigtimedwait|alarm|timerfd
 *                       wait 900 s, then the payload
 *   waiter clock        sleep 600 s, measured with clock_gettime, gettimeofday and time():
 *                       if less time passed, exit 3 without the payload (a sandbox check)
 *   waiter reply IP PORT  send an HTTP request, poll 30 s for the answer: payload-reply holds
 *                       "reply" or "timeout"
 *   waiter clockloop N  read the clock N times (the cost of a clock read, benchmarks)
 *   waiter signalled    wait 900 s on a condition variable that another thread signals after
 *                       sleep(2): payload-signalled holds the seconds the wait took
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WAIT 900

static void payload(const char *form, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/payload-%s", form);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        write(fd, text, strlen(text));
        close(fd);
    }
}

static void on_alarm(int sig) { (void)sig; }

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int signalled;

static void *signaller(void *arg) {
    (void)arg;
    sleep(2);
    pthread_mutex_lock(&lock);
    signalled = 1;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int wait_for_signal(void) {
    pthread_t thread;
    struct timespec start, until, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT;
    pthread_mutex_lock(&lock);
    pthread_create(&thread, NULL, signaller, NULL);
    while (!signalled)
        if (pthread_cond_timedwait(&ready, &lock, &until) != 0) return 1; /* timed out */
    pthread_mutex_unlock(&lock);
    clock_gettime(CLOCK_MONOTONIC, &end);
    char took[32];
    snprintf(took, sizeof took, "%ld\n", (long)(end.tv_sec - start.tv_sec));
    payload("signalled", took);
    return 0;
}

static int reply(const char *ip, int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &to.sin_addr);
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) return 2;
    const char *req = "GET /update HTTP/1.0\r\nHost: updates.example.test\r\n\r\n";
    write(s, req, strlen(req));
    struct pollfd p = {.fd = s, .events = POLLIN};
    char buf[256];
    int n = poll(&p, 1, 30000);
    payload("reply", n == 1 && read(s, buf, sizeof buf) > 0 ? "reply" : "timeout");
    return 0;
}

int main(int argc, char **argv) {
    const char *form = argc > 1 ? argv[1] : "nanosleep";
    int fds[2];
    pipe(fds); /* nobody writes: only time can end the waits below */
    if (!strcmp(form, "nanosleep")) {
        struct timespec t = {WAIT, 0};
        nanosleep(&t, NULL);
    } else if (!strcmp(form, "poll")) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, WAIT * 1000) != 0) return 1;
    } else if (!strcmp(form, "epoll")) {
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN}, out;
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
        if (epoll_wait(ep, &out, 1, WAIT * 1000) != 0) return 1;
    } else if (!strcmp(form, "select")) {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fds[0], &r);
        struct timeval tv = {WAIT, 0};
        if (select(fds[0] + 1, &r, NULL, NULL, &tv) != 0) return 1;
    } else if (!strcmp(form, "cond")) {
        pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t c = PTHREAD_COND_INITIALIZER;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WAIT;
        pthread_mutex_lock(&m);
        pthread_cond_timedwait(&c, &m, &until);
    } else if (!strcmp(form, "sigtimedwait")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        struct timespec t = {WAIT, 0};
        if (sigtimedwait(&set, NULL, &t) != -1) return 1;
    } else if (!strcmp(form, "alarm")) {
        signal(SIGALRM, on_alarm);
        alarm(WAIT);
        pause();
    } else if (!strcmp(form, "timerfd")) {
        int t = timerfd_create(CLOCK_MONOTONIC, 0);
        struct itimerspec spec = {.it_value = {WAIT, 0}};
        unsigned long long expirations = 0;
        timerfd_settime(t, 0, &spec, NULL);
        if (read(t, &expirations, sizeof expirations) != sizeof expirations || !expirations)
            return 1;
    } else if (!strcmp(form, "clock")) {
        struct timespec a, b;
        struct timeval ta, tb;
        time_t sa = time(NULL);
        clock_gettime(CLOCK_MONOTONIC, &a);
        gettimeofday(&ta, NULL);
        sleep(600);
        clock_gettime(CLOCK_MONOTONIC, &b);
        gettimeofday(&tb, NULL);
        if (b.tv_sec - a.tv_sec < 600 || tb.tv_sec - ta.tv_sec < 600 || time(NULL) - sa < 600)
            return 3; /* "the sleep was cut short: a sandbox" */
    } else if (!strcmp(form, "signalled")) {
        return wait_for_signal();
    } else if (!strcmp(form, "clockloop") && argc > 2) {
        struct timespec t;
        for (long i = atol(argv[2]); i > 0; i--) clock_gettime(CLOCK_MONOTONIC, &t);
    } else if (!strcmp(form, "reply") && argc > 3) {
        return reply(argv[2], atoi(argv[3]));
    } else {
        return 2;
    }
    payload(form, "ran\n");
    return 0;
}
