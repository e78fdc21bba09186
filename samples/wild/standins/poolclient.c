/* Wild-set stand-in for a CPU miner (harmless: fake wallet, simulated pool, bounded).
 *
 * Reads its settings from a JSON-ish file named by $WORKER_CONF (or argv[1]) in the shape
 * xmrig's config.json has: "url": "203.0.113.9:7777", "user": "<wallet>", "pass": "x".
 * Speaks xmrig-style stratum (login / submit / keepalived) over plain TCP to an IP literal,
 * spins a short meaningless loop between shares, and stops after 3 shares or 12 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void field(const char *text, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = strstr(text, pattern);
    out[0] = 0;
    if (!at || !(at = strchr(at + strlen(pattern), '"'))) return;
    const char *end = strchr(++at, '"');
    if (!end) return;
    size_t n = (size_t)(end - at) < size - 1 ? (size_t)(end - at) : size - 1;
    memcpy(out, at, n);
    out[n] = 0;
}

static void burn(void) {
    volatile unsigned long h = 5381;
    for (unsigned long i = 0; i < 60000000UL; i++) h = h * 33 + (i & 0xff);
}

int main(int argc, char **argv) {
    const char *path = getenv("WORKER_CONF");
    if (argc > 1) path = argv[1];
    char text[4096] = {0}, url[128], user[160], pass[64], host[64];
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 1;
    fread(text, 1, sizeof text - 1, f);
    fclose(f);
    field(text, "url", url, sizeof url);
    field(text, "user", user, sizeof user);
    field(text, "pass", pass, sizeof pass);
    int port = 3333;
    if (sscanf(url, "%63[^:]:%d", host, &port) < 1) return 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {4, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 2;
    char line[1024], reply[4096];
    int n = snprintf(line, sizeof line,
                     "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\","
                     "\"pass\":\"%s\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0\","
                     "\"algo\":[\"rx/0\",\"cn/r\"]}}\n",
                     user, pass);
    write(fd, line, (size_t)n);
    time_t start = time(NULL);
    for (int share = 0; share < 3 && time(NULL) - start < 12; share++) {
        if (read(fd, reply, sizeof reply - 1) <= 0) break;
        burn();
        n = snprintf(line, sizeof line,
                     "{\"id\":%d,\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"id\":\"1\","
                     "\"job_id\":\"%d\",\"nonce\":\"%08x\",\"result\":\"%064d\"}}\n",
                     share + 2, share, 0x1f2e3d4c + share, 0);
        write(fd, line, (size_t)n);
    }
    close(fd);
    return 0;
}
