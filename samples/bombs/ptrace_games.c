/* Harmless stand-in (issue 14): the anti-debugging and self-modifying games a sample plays with
 * its own processes: PTRACE_ATTACH to its own child, PTRACE_TRACEME in another, a write to its
 * own code through /proc/self/mem and one to its child's memory through /proc/PID/mem. Every
 * result is printed; the children are killed and reaped before it exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile char secret[16] = "unchanged";

static void result(const char *what, long rc) {
    printf("%s: %s\n", what, rc < 0 ? strerror(errno) : "ok");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0); /* children print too, and leave with _exit */
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 200; i++) usleep(50000); /* bounded: 10 s at most */
        _exit(0);
    }
    result("ptrace attach own child", ptrace(PTRACE_ATTACH, child, 0, 0));

    pid_t traceme = fork();
    if (traceme == 0) {
        result("ptrace traceme", ptrace(PTRACE_TRACEME, 0, 0, 0));
        _exit(0);
    }
    waitpid(traceme, NULL, 0);

    int self = open("/proc/self/mem", O_RDWR);
    result("open /proc/self/mem", self);
    if (self >= 0) {
        result("write own memory", pwrite(self, "changed", 8, (off_t)(unsigned long)secret));
        close(self);
    }
    printf("secret is %s\n", (const char *)secret);

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", child);
    int other = open(path, O_RDWR);
    result("open child's /proc/PID/mem", other);
    if (other >= 0) {
        result("write child's memory", pwrite(other, "x", 1, (off_t)(unsigned long)secret));
        close(other);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
