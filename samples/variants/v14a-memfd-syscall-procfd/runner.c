/* detonate RB variant stand-in (harmless): copies /bin/busybox into an anonymous memfd created
 * with the raw syscall number (319 on x86_64, no libc wrapper, empty name), then runs it by
 * execve("/proc/self/fd/N") so that busybox prints a marker. Nothing new is written to disk. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    int mem = (int)syscall(319, "", 0u);
    if (mem < 0) { perror("memfd"); return 1; }
    int src = open("/bin/busybox", O_RDONLY);
    if (src < 0) { perror("busybox"); return 1; }
    static char buf[65536];
    ssize_t got;
    while ((got = read(src, buf, sizeof buf)) > 0)
        if (write(mem, buf, (size_t)got) != got) return 1;
    close(src);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", mem);
    char *args[] = {"[kthreadd]", "sh", "-c", "echo detonate-rb-fileless-marker; id", NULL};
    char *env[] = {"PATH=/bin", NULL};
    execve(path, args, env);
    perror("execve");
    return 1;
}
