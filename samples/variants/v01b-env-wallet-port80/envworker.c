/* Variant stand-in for a miner that takes its pool and wallet from the environment (detonate
 * test sample; harmless, fake wallet, no real pool). It dials UPSTREAM (host:port, here port
 * 80), sends a Monero-style stratum login with the wallet from ACCOUNT_ID, then submits a few
 * fake shares, burning about half a second of CPU before each. Never runs longer than 30 s.
 */
#include "../../standins/net.h"

#include <time.h>

static unsigned burn(unsigned seed) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned long x = seed | 1;
    do {
        for (int i = 0; i < 1000000; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 600);
    return (unsigned)x;
}

int main(void) {
    const char *upstream = getenv("UPSTREAM"), *account = getenv("ACCOUNT_ID");
    char host[256], line[8192], msg[1024];
    int port = 80;
    alarm(30);
    if (!upstream || !account) return 0;
    snprintf(host, sizeof host, "%s", upstream);
    char *colon = strchr(host, ':');
    if (colon) *colon = 0, port = atoi(colon + 1);
    int fd = dial(host, port);
    if (fd < 0) return 1;
    struct line_reader r = {.fd = fd};
    snprintf(msg, sizeof msg,
             "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\","
             "\"pass\":\"node-1\",\"agent\":\"node-worker/1.0\",\"algo\":[\"rx/0\"]}}\n",
             account);
    write_text(fd, msg);
    if (read_line(&r, line, sizeof line) < 0) return 1;
    for (int share = 0; share < 4; share++) {
        unsigned nonce = burn((unsigned)share + 3);
        snprintf(msg, sizeof msg,
                 "{\"id\":%d,\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"id\":\"1\","
                 "\"job_id\":\"1\",\"nonce\":\"%08x\",\"result\":\"%064d\"}}\n",
                 share + 2, nonce, 0);
        write_text(fd, msg);
        if (read_line(&r, line, sizeof line) < 0) break;
    }
    close(fd);
    return 0;
}
