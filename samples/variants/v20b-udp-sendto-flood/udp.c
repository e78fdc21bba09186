/* detonate RB variant stand-in (harmless, bounded): a UDP flood of COUNT datagrams of 1 KiB to
 * one host and port, as fast as sendto allows, from one socket. */
#include "../../standins/net.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "203.0.113.200";
    int port = argc > 2 ? atoi(argv[2]) : 80, count = argc > 3 ? atoi(argv[3]) : 300;
    if (count > 1000) count = 1000;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (resolve4(host, &to.sin_addr) != 0) return 1;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    static char payload[1024];
    memset(payload, 'A', sizeof payload);
    int sent = 0;
    for (int i = 0; i < count; i++)
        if (sendto(fd, payload, sizeof payload, 0, (struct sockaddr *)&to, sizeof to) > 0) sent++;
    printf("%d datagrams\n", sent);
    return 0;
}
