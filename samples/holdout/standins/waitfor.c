/* Held-out benign stand-in: a readiness gate (wait-for-it style). Waits until each of the
 * loopback ports named on its command line accepts a connection, retrying once a second for
 * up to 20 s, then execs the rest of the command line. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&to, sizeof to) == 0;
    close(fd);
    return ok;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        int port = atoi(argv[i]), tries = 0;
        while (!accepts(port)) {
            if (++tries > 20) {
                fprintf(stderr, "wait-for: 127.0.0.1:%d not ready\n", port);
                return 1;
            }
            sleep(1);
        }
        fprintf(stderr, "wait-for: 127.0.0.1:%d ready\n", port);
    }
    if (i + 1 < argc) {
        execvp(argv[i + 1], argv + i + 1);
        perror("wait-for: exec");
        return 127;
    }
    return 0;
}
