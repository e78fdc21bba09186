/* Waits 900 s in the form named by argv[1], then drops /tmp/payload-<form> (the "payload").
 * A harmless stand-in for samples that wait out a sandbox before acting.
 *
 *   waiter nanosleep|poll|epoll|select|cond|sigtimedwait|alarm|timerfd|semtimedop|
 *          mq_timedreceive|mq_timedsend|futex_waitv|requeue_pi
 *                       wait 900 s, then the payload (semtimedop on a semaphore of 0; a
 *                       receive from an empty message queue; a send to a full one; futex_waitv
 *                       and FUTEX_WAIT_REQUEUE_PI on a word nobody changes)
 *   waiter sem_posted|mq_sent|mq_drained|waitv_woken|requeue_pi_woken
 *                       the same waits, ended after sleep(1) by another process (semop +1;
 *                       mq_send; mq_receive) or thread (the word changed, FUTEX_WAKE or
 *                       FUTEX_CMP_REQUEUE_PI):
 *                       payload-<form> holds "<seconds the wait took> ok", or "... <errno>"
 *                       when the wait did not end as input ends it
 *   waiter clock        sleep 600 s, measured with clock_gettime, gettimeofday and time():
 *                       if less time passed, exit 3 without the payload (a sandbox check)
 *   waiter reply IP PORT  send an HTTP request, poll 30 s for the answer: payload-reply holds
 *                       "reply" or "timeout"
 *   waiter clockloop N  read the clock N times (the cost of a clock read, benchmarks)
 *   waiter signalled    wait 900 s on a condition variable that another thread signals after
 *                       sleep(2): payload-signalled holds the seconds the wait took
 *   waiter timer_signal|timer_thread|timer_tid|timer_interval
 *                       POSIX timers of 900 s: SIGEV_SIGNAL taken with sigwaitinfo (it must
 *                       carry SI_TIMER and the timer's value, and timer_gettime must show the
 *                       time left); glibc's SIGEV_THREAD on CLOCK_REALTIME at an absolute time;
 *                       SIGEV_THREAD_ID to a thread in sigwaitinfo; 3 periods of 300 s, then
 *                       disarmed (the old value must say 300 s period and time left). Each
 *                       exits 3 without its payload when CLOCK_MONOTONIC saw less than 900 s
 *   waiter timer_overrun [PERIOD_MS SLEEP_MS]
 *                       a repeating SIGRTMIN timer (60 s), its signal blocked while it sleeps
 *                       630 s, then taken with sigwaitinfo: payload-timer_overrun holds
 *                       "overrun N si_overrun M expected E", N from timer_getoverrun, E the
 *                       periods that expired after the first by its own CLOCK_MONOTONIC
 *   waiter timer_exec   arm a SIGUSR1 timer of 60 s, then exec `waiter timer_after_exec`, which
 *                       drops its payload and pause()s: the timer died with the exec (a
 *                       SIGUSR1 would kill the new program), nothing is left to wake it
 *   waiter timeout SECONDS PROGRAM ARGS...
 *                       what coreutils' `timeout` does: fork PROGRAM; timer_create(
 *                       CLOCK_REALTIME, NULL) (SIGALRM) + timer_settime(SECONDS); sigsuspend
 *                       until the child exits; on SIGALRM kill it with SIGTERM (exit 124)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
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

#define TIMER_VALUE 7

static double monotonic(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Only `sig` in a set, blocked in this thread: for sigwaitinfo/sigtimedwait to take it. */
static sigset_t blocked(int sig) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return set;
}

static struct timespec of_ms(long ms) {
    return (struct timespec){ms / 1000, ms % 1000 * 1000000};
}

static int arm(timer_t timer, int flags, time_t at, time_t every) {
    struct itimerspec spec = {.it_value = {at, 0}, .it_interval = {every, 0}};
    return timer_settime(timer, flags, &spec, NULL);
}

/* SIGEV_SIGNAL: SIGUSR1, blocked, taken with sigwaitinfo. */
static int timer_signal(void) {
    sigset_t set = blocked(SIGUSR1);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1,
                          .sigev_value.sival_int = TIMER_VALUE};
    timer_t timer;
    struct itimerspec left;
    siginfo_t info;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) || arm(timer, 0, WAIT, 0)) return 1;
    if (timer_gettime(timer, &left) || left.it_value.tv_sec < WAIT - 5) return 4;
    if (sigwaitinfo(&set, &info) != SIGUSR1 || info.si_code != SI_TIMER ||
        info.si_value.sival_int != TIMER_VALUE)
        return 1;
    if (timer_gettime(timer, &left) || left.it_value.tv_sec || left.it_value.tv_nsec) return 4;
    return 0;
}

/* glibc's SIGEV_THREAD, armed at an absolute CLOCK_REALTIME deadline. */
static sem_t fired;
static int fired_value;

static void on_timer(union sigval value) {
    fired_value = value.sival_int;
    sem_post(&fired);
}

static int timer_thread(void) {
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer,
                          .sigev_value.sival_int = TIMER_VALUE};
    timer_t timer;
    struct itimerspec at = {0};
    sem_init(&fired, 0, 0);
    clock_gettime(CLOCK_REALTIME, &at.it_value);
    at.it_value.tv_sec += WAIT;
    if (timer_create(CLOCK_REALTIME, &ev, &timer) || timer_settime(timer, TIMER_ABSTIME, &at, NULL))
        return 1;
    while (sem_wait(&fired) != 0) continue;
    return fired_value == TIMER_VALUE ? 0 : 1;
}

/* SIGEV_THREAD_ID: SIGUSR2 to one thread, which takes it with sigwaitinfo. */
static sem_t started;
static pid_t waiter_tid;

static void *take_timer_signal(void *set) {
    siginfo_t info;
    waiter_tid = (pid_t)syscall(SYS_gettid);
    sem_post(&started);
    int got = sigwaitinfo((sigset_t *)set, &info);
    return (void *)(long)(got == SIGUSR2 && info.si_code == SI_TIMER &&
                          info.si_value.sival_int == TIMER_VALUE);
}

static int timer_tid(void) {
    static sigset_t set;
    pthread_t thread;
    void *ok = NULL;
    timer_t timer;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* in every thread: only sigwaitinfo takes it */
    sem_init(&started, 0, 0);
    if (pthread_create(&thread, NULL, take_timer_signal, &set)) return 1;
    while (sem_wait(&started) != 0) continue;
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR2,
                          .sigev_value.sival_int = TIMER_VALUE};
#ifdef sigev_notify_thread_id
    ev.sigev_notify_thread_id = waiter_tid; /* musl */
#else
    ev._sigev_un._tid = waiter_tid; /* glibc (Debian 12's has no name for it) */
#endif
    if (timer_create(CLOCK_BOOTTIME, &ev, &timer) || arm(timer, 0, WAIT, 0)) return 1;
    pthread_join(thread, &ok);
    return ok ? 0 : 1;
}

/* An interval timer: 3 periods of 300 s, then disarmed with the old value read back. */
static volatile sig_atomic_t ticks;

static void on_tick(int sig) {
    (void)sig;
    ticks++;
}

static int timer_interval(void) {
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN,
                          .sigev_value.sival_int = TIMER_VALUE};
    struct itimerspec off = {0}, old;
    timer_t timer;
    signal(SIGRTMIN, on_tick);
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) || arm(timer, 0, WAIT / 3, WAIT / 3)) return 1;
    while (ticks < 3) pause();
    if (timer_settime(timer, 0, &off, &old)) return 1;
    if (old.it_interval.tv_sec != WAIT / 3 || old.it_value.tv_sec >= WAIT / 3 ||
        (!old.it_value.tv_sec && !old.it_value.tv_nsec))
        return 4;
    if (timer_gettime(timer, &old) || old.it_value.tv_sec || old.it_value.tv_nsec) return 4;
    return timer_delete(timer);
}

/* A repeating timer whose signal stays blocked: every expiry after the first finds it still
 * queued, and the kernel counts an overrun instead. */
static int timer_overrun(long period_ms, long sleep_ms) {
    sigset_t set = blocked(SIGRTMIN);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN,
                          .sigev_value.sival_int = TIMER_VALUE};
    struct itimerspec spec = {.it_value = of_ms(period_ms), .it_interval = of_ms(period_ms)};
    struct timespec nap = of_ms(sleep_ms);
    timer_t timer;
    siginfo_t info;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer)) return 1;
    double armed = monotonic();
    if (timer_settime(timer, 0, &spec, NULL)) return 1;
    while (nanosleep(&nap, &nap) != 0) continue;
    double taken = monotonic();
    if (sigwaitinfo(&set, &info) != SIGRTMIN || info.si_code != SI_TIMER) return 1;
    int overrun = timer_getoverrun(timer);
    long expected = (long)((taken - armed) * 1000 / period_ms) - 1;
    char text[96];
    snprintf(text, sizeof text, "overrun %d si_overrun %d expected %ld\n", overrun,
             info.si_overrun, expected);
    payload("timer_overrun", text);
    return 0;
}

static int timer_exec(const char *self) {
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1,
                          .sigev_value.sival_int = TIMER_VALUE};
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) || arm(timer, 0, 60, 0)) return 1;
    execl(self, self, "timer_after_exec", (char *)NULL);
    return 1;
}

/* SysV semaphores, POSIX message queues, futex_waitv: a 900 s wait in each, nothing to end it
 * but time (`input` 0), or ended by input after sleep(1) (`input` 1). Each returns 0 when the
 * call ended as it should: a timeout without input, success (or futex_waitv's EAGAIN: the
 * word changed) with it. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_WAKE_PRIVATE /* musl's headers have no <linux/futex.h> */
#define FUTEX_WAKE_PRIVATE 129
#endif
#define WAIT_REQUEUE_PI_PRIVATE (11 | 128) /* FUTEX_WAIT_REQUEUE_PI | FUTEX_PRIVATE_FLAG */
#define CMP_REQUEUE_PI_PRIVATE (12 | 128)  /* FUTEX_CMP_REQUEUE_PI | FUTEX_PRIVATE_FLAG */
#define FUTEX_WAITV_U32 0x02     /* FUTEX2_SIZE_U32 */
#define FUTEX_WAITV_PRIVATE 128 /* FUTEX2_PRIVATE */

struct futex_waiter { /* struct futex_waitv of <linux/futex.h> */
    unsigned long long val, uaddr;
    unsigned flags, reserved;
};

static struct timespec realtime_in(time_t seconds) {
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += seconds;
    return at;
}

/* A child that sleeps 1 s, does `act` and stays (its exit's SIGCHLD would interrupt the
 * wait, which then restarts and finds the input at once: the input alone must end it). */
static pid_t later(void (*act)(void *), void *arg) {
    pid_t child = fork();
    if (child == 0) {
        sleep(1);
        act(arg);
        for (;;) pause();
    }
    return child;
}

static void reap(pid_t child) {
    if (child <= 0) return;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static void sem_post_one(void *semid) {
    struct sembuf up = {.sem_num = 0, .sem_op = 1};
    semop(*(int *)semid, &up, 1);
}

static int sem_wait_for(int input) {
    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct sembuf down = {.sem_num = 0, .sem_op = -1};
    struct timespec t = {WAIT, 0};
    if (semid < 0) return 1;
    pid_t child = input ? later(sem_post_one, &semid) : 0;
    int got = semtimedop(semid, &down, 1, &t);
    int err = errno;
    reap(child);
    semctl(semid, 0, IPC_RMID);
    return input ? (got == 0 ? 0 : err) : (got == -1 && err == EAGAIN ? 0 : 1);
}

static mqd_t queue(const char *name) {
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
    mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
    mq_unlink(name);
    return q;
}

static void mq_send_one(void *q) { mq_send(*(mqd_t *)q, "go", 2, 0); }

static void mq_receive_one(void *q) {
    char buf[16];
    mq_receive(*(mqd_t *)q, buf, sizeof buf, NULL);
}

static int mq_receive_from(int input) {
    mqd_t q = queue("/waiter-receive");
    char buf[16] = {0};
    struct timespec at = realtime_in(WAIT);
    if (q == (mqd_t)-1) return 1;
    pid_t child = input ? later(mq_send_one, &q) : 0;
    ssize_t got = mq_timedreceive(q, buf, sizeof buf, NULL, &at);
    int err = errno;
    reap(child);
    if (input) return got == 2 && !memcmp(buf, "go", 2) ? 0 : err;
    return got == -1 && err == ETIMEDOUT ? 0 : 1;
}

static int mq_send_to(int input) {
    mqd_t q = queue("/waiter-send");
    struct timespec at = realtime_in(WAIT);
    if (q == (mqd_t)-1 || mq_send(q, "first", 5, 0)) return 1; /* full: one message of one */
    pid_t child = input ? later(mq_receive_one, &q) : 0;
    int got = mq_timedsend(q, "second", 6, 0, &at);
    int err = errno;
    reap(child);
    return input ? (got == 0 ? 0 : err) : (got == -1 && err == ETIMEDOUT ? 0 : 1);
}

static unsigned futex_word;

static void *wake_word(void *unused) {
    (void)unused;
    sleep(1);
    __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

static int futex_waitv_for(int input) {
    struct futex_waiter waiter = {.val = 0, .uaddr = (unsigned long long)(uintptr_t)&futex_word,
                                  .flags = FUTEX_WAITV_U32 | FUTEX_WAITV_PRIVATE};
    struct timespec at;
    pthread_t thread;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += WAIT;
    if (input && pthread_create(&thread, NULL, wake_word, NULL)) return 1;
    long got = syscall(SYS_futex_waitv, &waiter, 1, 0, &at, CLOCK_MONOTONIC);
    int err = errno;
    if (input) pthread_join(thread, NULL);
    if (input) return (got == 0 || (got == -1 && err == EAGAIN)) && futex_word == 1 ? 0 : err;
    return got == -1 && err == ETIMEDOUT ? 0 : 1;
}

static unsigned requeue_word, requeue_pi_word;

static void *requeue_to_pi(void *unused) {
    (void)unused;
    sleep(1);
    unsigned now = __atomic_add_fetch(&requeue_word, 1, __ATOMIC_SEQ_CST);
    /* wake one waiter onto the PI word (free: it takes it), requeue none */
    syscall(SYS_futex, &requeue_word, CMP_REQUEUE_PI_PRIVATE, 1, (void *)0, &requeue_pi_word, now);
    return NULL;
}

/* A condition variable on a PI mutex as glibc < 2.25 waited on it: FUTEX_WAIT_REQUEUE_PI with
   an absolute CLOCK_MONOTONIC deadline 900 s on. Ended by input: woken and requeued (0, owning
   the PI word), or EAGAIN (the word had changed: a spurious wake). */
static int requeue_pi_for(int input) {
    struct timespec at;
    pthread_t thread;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += WAIT;
    if (input && pthread_create(&thread, NULL, requeue_to_pi, NULL)) return 1;
    long got = syscall(SYS_futex, &requeue_word, WAIT_REQUEUE_PI_PRIVATE, 0, &at,
                       &requeue_pi_word, 0);
    int err = errno;
    if (input) pthread_join(thread, NULL);
    if (input) return (got == 0 || (got == -1 && err == EAGAIN)) && requeue_word == 1 ? 0 : err;
    return got == -1 && err == ETIMEDOUT ? 0 : 1;
}

static int requeue_pi_timed_out(void) { return requeue_pi_for(0); }

static pthread_mutex_t pi_lock;
static sem_t pi_taken;

static void *hold_pi_lock(void *input) {
    pthread_mutex_lock(&pi_lock);
    sem_post(&pi_taken);
    if (!input) pause(); /* the lock is never given back */
    sleep(1);
    pthread_mutex_unlock(&pi_lock);
    return NULL;
}

/* pthread_mutex_timedlock of a priority-inheriting mutex (futex FUTEX_LOCK_PI, a realtime
   deadline 900 s on) that another thread holds: forever (timeout), or for 1 s (input). */
static int pi_lock_for(int input) {
    pthread_mutexattr_t attr;
    pthread_t thread;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&pi_lock, &attr);
    sem_init(&pi_taken, 0, 0);
    if (pthread_create(&thread, NULL, hold_pi_lock, input ? &pi_taken : NULL)) return 1;
    sem_wait(&pi_taken);
    struct timespec at = realtime_in(WAIT);
    int got = pthread_mutex_timedlock(&pi_lock, &at);
    if (input) {
        pthread_join(thread, NULL);
        return got;
    }
    return got == ETIMEDOUT ? 0 : 1;
}

static int pi_lock_timed_out(void) { return pi_lock_for(0); }

/* An input form: how long the wait took in the sample's time, and whether input ended it. */
static int ended_by_input(const char *form, int (*wait)(int)) {
    double start = monotonic();
    int err = wait(1);
    long took = (long)(monotonic() - start);
    char text[64];
    if (err)
        snprintf(text, sizeof text, "%ld errno %d\n", took, err);
    else
        snprintf(text, sizeof text, "%ld ok\n", took);
    payload(form, text);
    return 0;
}

static pid_t monitored;

static void on_timeout(int sig) {
    (void)sig;
    if (monitored > 0) kill(monitored, SIGTERM);
}

static void on_child(int sig) { (void)sig; } /* ends sigsuspend (ignored, it would not) */

/* coreutils' timeout (9.1): settimeout() + the parent's sigsuspend loop. */
static int timeout(long seconds, char **command) {
    sigset_t block, orig;
    int status;
    timer_t timer;
    struct sigaction on_alarm = {.sa_handler = on_timeout}, on_exit = {.sa_handler = on_child};
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGCHLD);
    sigaction(SIGALRM, &on_alarm, NULL);
    sigaction(SIGCHLD, &on_exit, NULL);
    sigprocmask(SIG_BLOCK, &block, &orig);
    monitored = fork();
    if (monitored == 0) {
        sigprocmask(SIG_SETMASK, &orig, NULL);
        execvp(command[0], command);
        _exit(127);
    }
    if (timer_create(CLOCK_REALTIME, NULL, &timer) || arm(timer, 0, seconds, 0)) return 125;
    while (waitpid(monitored, &status, WNOHANG) == 0) sigsuspend(&orig);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}

static int timed(const char *form, int (*wait)(void)) {
    double start = monotonic();
    int failed = wait();
    if (failed) return failed;
    if (monotonic() - start < WAIT) return 3; /* "the timer came early: a sandbox" */
    payload(form, "ran\n");
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
        sigset_t set = blocked(SIGUSR1);
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
    } else if (!strcmp(form, "semtimedop")) {
        if (sem_wait_for(0)) return 1;
    } else if (!strcmp(form, "mq_timedreceive")) {
        if (mq_receive_from(0)) return 1;
    } else if (!strcmp(form, "mq_timedsend")) {
        if (mq_send_to(0)) return 1;
    } else if (!strcmp(form, "futex_waitv")) {
        if (futex_waitv_for(0)) return 1;
    } else if (!strcmp(form, "lock_pi")) {
        return timed(form, pi_lock_timed_out);
    } else if (!strcmp(form, "requeue_pi")) {
        return timed(form, requeue_pi_timed_out);
    } else if (!strcmp(form, "requeue_pi_woken")) {
        return ended_by_input(form, requeue_pi_for);
    } else if (!strcmp(form, "pi_unlocked")) {
        return ended_by_input(form, pi_lock_for);
    } else if (!strcmp(form, "sem_posted")) {
        return ended_by_input(form, sem_wait_for);
    } else if (!strcmp(form, "mq_sent")) {
        return ended_by_input(form, mq_receive_from);
    } else if (!strcmp(form, "mq_drained")) {
        return ended_by_input(form, mq_send_to);
    } else if (!strcmp(form, "waitv_woken")) {
        return ended_by_input(form, futex_waitv_for);
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
    } else if (!strcmp(form, "timer_signal")) {
        return timed(form, timer_signal);
    } else if (!strcmp(form, "timer_thread")) {
        return timed(form, timer_thread);
    } else if (!strcmp(form, "timer_tid")) {
        return timed(form, timer_tid);
    } else if (!strcmp(form, "timer_interval")) {
        return timed(form, timer_interval);
    } else if (!strcmp(form, "timer_overrun")) {
        return argc > 3 ? timer_overrun(atol(argv[2]), atol(argv[3])) : timer_overrun(60000, 630000);
    } else if (!strcmp(form, "timer_exec")) {
        return timer_exec(argv[0]);
    } else if (!strcmp(form, "timer_after_exec")) {
        payload("timer_exec", "ran\n");
        pause();
    } else if (!strcmp(form, "timeout") && argc > 3) {
        return timeout(atol(argv[2]), argv + 3);
    } else {
        return 2;
    }
    payload(form, "ran\n");
    return 0;
}
