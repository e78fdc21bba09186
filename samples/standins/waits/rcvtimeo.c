/* recv() on a UDP socket bound to a loopback port nobody sends to, with SO_RCVTIMEO of
 * 900 s, then mines. */
#include "wait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in here = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval delay = {WAIT_SECONDS, 0};
    char buffer[64];
    if (fd < 0 || bind(fd, (struct sockaddr *)&here, sizeof here) != 0) return 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &delay, sizeof delay);
    wait_begins("recv with SO_RCVTIMEO");
    recv(fd, buffer, sizeof buffer, 0);
    payload();
}
