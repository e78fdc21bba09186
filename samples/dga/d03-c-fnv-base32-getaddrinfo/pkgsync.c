/* pkgsync: harmless re-enactment of a domain-generation bot. Each candidate name is the FNV-1a
 * hash of the UTC date and a counter, written as 10 base32 characters; getaddrinfo resolves
 * them until one answers (the unregistered slots are `.invalid`, answered NXDOMAIN by the
 * sandbox; the registered one `.test`), then it opens a raw TCP connection to port 8443 there
 * three times, sends one line and exits. 21-30 lookups, at most 30. */
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int main(void) {
    static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";
    char day[16], buf[64], name[64];
    time_t now = time(NULL);
    strftime(day, sizeof day, "%Y%m%d", gmtime(&now));
    int live = 20 + (int)(fnv(day) % 10);
    for (int i = 0; i < 30; i++) {
        snprintf(buf, sizeof buf, "%s#%d", day, i);
        uint64_t h = fnv(buf);
        char label[11];
        for (int j = 0; j < 10; j++) label[j] = B32[(h >> (5 * j)) & 31];
        label[10] = 0;
        snprintf(name, sizeof name, "%s.%s", label, i == live ? "test" : "invalid");
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(name, "8443", &hints, &res) != 0) {
            printf("pkgsync: no %s\n", name);
            continue;
        }
        for (int k = 0; k < 3; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
                char line[80];
                int n = snprintf(line, sizeof line, "HELO 7f3a91 %s %d\n", day, k);
                if (write(fd, line, n) < 0) perror("pkgsync: write");
                printf("pkgsync: sent %s %d\n", name, k);
            }
            if (fd >= 0) close(fd);
            sleep(1);
        }
        freeaddrinfo(res);
        return 0;
    }
    return 0;
}
