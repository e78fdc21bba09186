/* Containment probe (detonate test sample; harmless: it only tries to reach addresses and
 * reports what happened, it sends nothing but a few marker bytes).
 *
 * Tries every way out of the sandbox's network that a sample has without help from the host:
 * TCP and UDP to public addresses, every private and shared range, the cloud metadata address,
 * the host's own addresses (given in $ESCAPE_HOST_ADDRS, comma-separated, v4 or v6), IPv6, raw
 * IP and ICMP sockets with a forged source, a packet socket that bypasses routing, and DNS over
 * TCP to a public resolver. One line per attempt on stdout:
 *
 *   tcp 1.1.1.1 18881 connected
 *   tcp6 2001:db8::1 18881 error ENETUNREACH
 *
 *   escape TCP_PORT UDP_PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *FIXED[] = {
    "198.51.100.1", "1.1.1.1", "8.8.8.8",                  /* public */
    "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", /* private, shared */
    "169.254.169.254",                                     /* cloud metadata */
    "2001:db8::1", "fd00::2",                              /* IPv6: documentation, ULA */
};
static const char MARKER[] = "detonate-escape-probe";
static const char FORGED_SOURCE[] = "192.0.2.99";

static void report(const char *what, const char *address, int port, int rc) {
    if (rc == 0) printf("%s %s %d ok\n", what, address, port);
    else printf("%s %s %d error %s\n", what, address, port, strerrorname_np(errno));
}

static void timeouts(int fd) {
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* "1.1.1.1" or "2001:db8::1" with a port → a sockaddr; its length, 0 if not an address. */
static socklen_t address_of(const char *text, int port, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)port);
        return sizeof *v6;
    }
    return 0;
}

static void try_tcp(const char *address, int port) {
    struct sockaddr_storage sa;
    socklen_t len = address_of(address, port, &sa);
    if (!len) return;
    int fd = socket(sa.ss_family, SOCK_STREAM, 0);
    if (fd < 0) return report(sa.ss_family == AF_INET ? "tcp" : "tcp6", address, port, -1);
    timeouts(fd);
    int rc = connect(fd, (struct sockaddr *)&sa, len);
    if (rc == 0) write(fd, MARKER, sizeof MARKER - 1);
    report(sa.ss_family == AF_INET ? "tcp" : "tcp6", address, port, rc);
    close(fd);
}

static void try_udp(const char *address, int port) {
    struct sockaddr_storage sa;
    socklen_t len = address_of(address, port, &sa);
    if (!len) return;
    int fd = socket(sa.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) return report(sa.ss_family == AF_INET ? "udp" : "udp6", address, port, -1);
    ssize_t sent = sendto(fd, MARKER, sizeof MARKER - 1, 0, (struct sockaddr *)&sa, len);
    report(sa.ss_family == AF_INET ? "udp" : "udp6", address, port, sent < 0 ? -1 : 0);
    close(fd);
}

static uint16_t checksum(const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* An IPv4 header (forged source) + UDP header + marker, to `address`:`port`. */
static size_t forged_datagram(uint8_t *out, const char *address, int port) {
    size_t total = 20 + 8 + sizeof MARKER - 1;
    memset(out, 0, total);
    out[0] = 0x45, out[8] = 64, out[9] = IPPROTO_UDP;
    out[2] = (uint8_t)(total >> 8), out[3] = (uint8_t)total;
    inet_pton(AF_INET, FORGED_SOURCE, out + 12);
    inet_pton(AF_INET, address, out + 16);
    uint16_t ip_sum = checksum(out, 20);
    out[10] = (uint8_t)(ip_sum >> 8), out[11] = (uint8_t)ip_sum;
    out[20] = 0x9c, out[21] = 0x40; /* source port 40000 */
    out[22] = (uint8_t)(port >> 8), out[23] = (uint8_t)port;
    out[25] = (uint8_t)(8 + sizeof MARKER - 1);
    memcpy(out + 28, MARKER, sizeof MARKER - 1);
    return total;
}

static void try_raw(const char *address, int port) {
    struct sockaddr_storage sa;
    if (address_of(address, 0, &sa) != sizeof(struct sockaddr_in)) return;
    uint8_t packet[128];
    size_t len = forged_datagram(packet, address, port);
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) return report("raw", address, port, -1);
    ssize_t sent = sendto(fd, packet, len, 0, (struct sockaddr *)&sa, sizeof(struct sockaddr_in));
    report("raw", address, port, sent < 0 ? -1 : 0);
    close(fd);
    uint8_t echo[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0}; /* ICMP echo request, id 0 seq 0 */
    fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) return report("icmp", address, 0, -1);
    sent = sendto(fd, echo, sizeof echo, 0, (struct sockaddr *)&sa, sizeof(struct sockaddr_in));
    report("icmp", address, 0, sent < 0 ? -1 : 0);
    close(fd);
}

/* A whole Ethernet frame on eth0, broadcast: no routing table decides where it goes. */
static void try_packet(const char *address, int port) {
    uint8_t frame[14 + 128];
    memset(frame, 0xff, 6);
    memset(frame + 6, 0x02, 6);
    frame[12] = 0x08, frame[13] = 0x00;
    size_t len = 14 + forged_datagram(frame + 14, address, port);
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (fd < 0) return report("packet", address, port, -1);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                             .sll_ifindex = (int)if_nametoindex("eth0"), .sll_halen = 6};
    memset(ll.sll_addr, 0xff, 6);
    ssize_t sent = sendto(fd, frame, len, 0, (struct sockaddr *)&ll, sizeof ll);
    report("packet", address, port, sent < 0 ? -1 : 0);
    close(fd);
}

/* A DNS query for escape.test over TCP (length-prefixed) straight to a public resolver. */
static void try_dns_over_tcp(const char *resolver) {
    static const uint8_t query[] = {0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                    6, 'e', 's', 'c', 'a', 'p', 'e', 4, 't', 'e', 's', 't', 0,
                                    0, 1, 0, 1};
    struct sockaddr_storage sa;
    socklen_t len = address_of(resolver, 53, &sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return report("dns-tcp", resolver, 53, -1);
    timeouts(fd);
    int rc = connect(fd, (struct sockaddr *)&sa, len);
    if (rc == 0) {
        uint8_t reply[512];
        write(fd, query, sizeof query);
        rc = read(fd, reply, sizeof reply) > 2 ? 0 : -1;
    }
    report("dns-tcp", resolver, 53, rc);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: escape TCP_PORT UDP_PORT\n");
        return 2;
    }
    int tcp = atoi(argv[1]), udp = atoi(argv[2]);
    const char *targets[64];
    size_t count = 0;
    for (size_t i = 0; i < sizeof FIXED / sizeof *FIXED; i++) targets[count++] = FIXED[i];
    char *host = getenv("ESCAPE_HOST_ADDRS") ? strdup(getenv("ESCAPE_HOST_ADDRS")) : NULL;
    for (char *save = NULL, *a = host ? strtok_r(host, ",", &save) : NULL; a && count < 64;
         a = strtok_r(NULL, ",", &save))
        targets[count++] = a;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < count; i++) try_tcp(targets[i], tcp);
    for (size_t i = 0; i < count; i++) try_udp(targets[i], udp);
    for (size_t i = 0; i < count; i++) try_raw(targets[i], udp);
    try_packet("198.51.100.1", udp);
    try_dns_over_tcp("8.8.8.8");
    free(host);
    return 0;
}
