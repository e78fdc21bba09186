/* Wild-set benign stand-in: a privilege-separated daemon, as sshd's or ntpd's unprivileged
 * child does it: binds 127.0.0.1:2323, chroots into an empty directory, drops to nobody,
 * serves a greeting to loopback clients for a few seconds and exits. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(2323)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0) return 1;
    mkdir("/var/empty", 0755);
    if (chroot("/var/empty") != 0 || chdir("/") != 0) return 2;
    gid_t none = 65534;
    if (setgroups(1, &none) != 0 || setgid(65534) != 0 || setuid(65534) != 0) return 3;
    fprintf(stderr, "greeter: chrooted to /var/empty as nobody, serving 127.0.0.1:2323\n");
    time_t stop = time(NULL) + 4;
    while (time(NULL) < stop) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 500) == 1) {
            int client = accept(fd, NULL, NULL);
            if (client >= 0) {
                write(client, "hello\n", 6);
                close(client);
            }
        }
    }
    return 0;
}
