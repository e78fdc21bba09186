/* A wait that real input must end: GET / from 198.51.100.80:80, then wait for the answer with
 * poll() (30 s) and a receive timeout (SO_RCVTIMEO, 30 s). With the answer it mines; on a
 * timeout it exits with 3 and does nothing else. A sandbox that cut this wait short would
 * turn a reply into a timeout. */
#include "wait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define REPLY_SECONDS 30

int main(void) {
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(80)};
    struct timeval patience = {REPLY_SECONDS, 0};
    const char *request = "GET / HTTP/1.0\r\nHost: 198.51.100.80\r\nUser-Agent: waits/1\r\n\r\n";
    char reply[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "198.51.100.80", &server.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) != 0) return 1;
    if (write(fd, request, strlen(request)) < 0) return 1;
    wait_begins("poll and recv for a reply (30 s timeouts)");
    struct pollfd answer = {.fd = fd, .events = POLLIN};
    if (poll(&answer, 1, REPLY_SECONDS * 1000) != 1) {
        printf("no reply: timed out\n");
        return 3;
    }
    ssize_t got = recv(fd, reply, sizeof reply - 1, 0);
    if (got <= 0) {
        printf("no reply: %s\n", got == 0 ? "closed" : "timed out");
        return 3;
    }
    reply[got] = 0;
    printf("reply: %.*s\n", (int)strcspn(reply, "\r\n"), reply);
    close(fd);
    payload();
}
