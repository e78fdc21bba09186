/* Held-out stand-in: network discovery, then an SSH sweep with banner grabs (harmless:
 * documentation addresses, 32 hosts, no login attempted). Reads the default route and the
 * neighbour table from /proc/net, then connects to port 22 of 198.51.100.1-32 (non-blocking,
 * 400 ms each), and on each that accepts sends a client banner and reads the server's. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void dump(const char *path, FILE *log) {
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) fprintf(log, "%s: %s", path, line);
    if (f) fclose(f);
}

static int try_ssh(const char *ip, FILE *log) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(22)};
    inet_pton(AF_INET, ip, &to.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&to, sizeof to);
    struct pollfd p = {fd, POLLOUT, 0};
    if (rc != 0 && (errno != EINPROGRESS || poll(&p, 1, 400) != 1)) { close(fd); return 0; }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { close(fd); return 0; }
    write(fd, "SSH-2.0-libssh_0.9.6\r\n", 22);
    char banner[128] = "";
    p.events = POLLIN;
    if (poll(&p, 1, 1500) == 1) {
        ssize_t n = read(fd, banner, sizeof banner - 1);
        banner[n > 0 ? n : 0] = 0;
    }
    fprintf(log, "%s:22 %s\n", ip, banner);
    close(fd);
    return 1;
}

int main(void) {
    FILE *log = fopen("/tmp/.ssh-hosts", "w");
    if (!log) log = stdout;
    dump("/proc/net/route", log);
    dump("/proc/net/arp", log);
    dump("/etc/hosts", log);
    int found = 0;
    for (int i = 1; i <= 32; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "198.51.100.%d", i);
        found += try_ssh(ip, log);
    }
    fprintf(log, "found %d\n", found);
    fclose(log);
    return 0;
}
