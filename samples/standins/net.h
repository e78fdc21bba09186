/* Shared by the stand-ins (header-only: each stand-in is one translation unit).
 *
 * resolve4: a DNS A query over UDP to the first nameserver of /etc/resolv.conf. A static glibc
 * binary cannot use getaddrinfo without the NSS libraries, and a busybox image has none.
 * dial / dial_tls: TCP, optionally wrapped in TLS by busybox's ssl_client applet over a
 * socketpair, exactly as busybox wget does it (no TLS library linked in).
 * Every socket gets receive/send timeouts so no stand-in can hang on a silent peer.
 */
#ifndef STANDIN_NET_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define STANDIN_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

static inline void set_timeouts(int fd, int seconds) {
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static inline int read_nameserver(struct in_addr *ns) {
    /* "nameserver 192.0.2.53" */
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[256], addr[64];
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, " nameserver %63s", addr) == 1 && inet_pton(AF_INET, addr, ns) == 1) {
            fclose(f);
            return 0;
        }
    }
    fclose(f);
    return -1;
}

/* Offset just past the (possibly compressed) name starting at `at`, or 0 if malformed. */
static inline size_t skip_name(const unsigned char *msg, size_t len, size_t at) {
    while (at < len) {
        if ((msg[at] & 0xc0) == 0xc0) return at + 2;
        if (msg[at] == 0) return at + 1;
        at += (size_t)msg[at] + 1;
    }
    return 0;
}

static inline int resolve4(const char *host, struct in_addr *out) {
    struct in_addr ns;
    unsigned char query[300], reply[1500];
    size_t n = 12;
    if (inet_pton(AF_INET, host, out) == 1) return 0;
    if (read_nameserver(&ns) != 0) return -1;
    memset(query, 0, sizeof query);
    query[0] = (unsigned char)(getpid() >> 8);
    query[1] = (unsigned char)getpid();
    query[2] = 0x01; /* recursion desired */
    query[5] = 1;    /* one question */
    for (const char *p = host; *p;) {
        const char *dot = strchr(p, '.');
        size_t label = dot ? (size_t)(dot - p) : strlen(p);
        if (label == 0 || label > 63 || n + label + 6 > sizeof query) return -1;
        query[n++] = (unsigned char)label;
        memcpy(query + n, p, label);
        n += label;
        p += label;
        if (*p == '.') p++;
    }
    query[n++] = 0;
    query[n++] = 0, query[n++] = 1; /* type A */
    query[n++] = 0, query[n++] = 1; /* class IN */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    set_timeouts(fd, 3);
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = ns};
    for (int attempt = 0; attempt < 2; attempt++) {
        sendto(fd, query, n, 0, (struct sockaddr *)&server, sizeof server);
        ssize_t got = recv(fd, reply, sizeof reply, 0);
        if (got < 12) continue;
        size_t len = (size_t)got, at = skip_name(reply, len, 12);
        int answers = reply[6] << 8 | reply[7];
        if (at == 0) continue;
        at += 4;
        for (int i = 0; i < answers && at && at + 10 <= len; i++) {
            at = skip_name(reply, len, at);
            if (!at || at + 10 > len) break;
            int type = reply[at] << 8 | reply[at + 1];
            size_t rdlen = (size_t)(reply[at + 8] << 8 | reply[at + 9]);
            at += 10;
            if (type == 1 && rdlen == 4 && at + 4 <= len) {
                memcpy(out, reply + at, 4);
                close(fd);
                return 0;
            }
            at += rdlen;
        }
    }
    close(fd);
    return -1;
}

static inline int dial(const char *host, int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (resolve4(host, &addr.sin_addr) != 0) {
        fprintf(stderr, "cannot resolve %s\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    set_timeouts(fd, 8);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "connect %s:%d: %s\n", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static inline int dial_unix(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    set_timeouts(fd, 8);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* TCP to host:port, then TLS by `busybox ssl_client -s FD -n SNI`; returns the plaintext end. */
static inline int dial_tls(const char *host, int port) {
    int pair[2], net = dial(host, port);
    if (net < 0) return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return -1;
    pid_t child = fork();
    if (child == 0) {
        char fd_text[16];
        snprintf(fd_text, sizeof fd_text, "%d", net);
        close(pair[0]);
        dup2(pair[1], 0);
        dup2(pair[1], 1);
        execl("/bin/busybox", "ssl_client", "-s", fd_text, "-n", host, (char *)NULL);
        _exit(127);
    }
    close(net);
    close(pair[1]);
    if (child < 0) return -1;
    set_timeouts(pair[0], 8);
    return pair[0];
}

static inline int write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t sent = write(fd, data, len);
        if (sent <= 0) return -1;
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

static inline int write_text(int fd, const char *text) { return write_all(fd, text, strlen(text)); }

/* Line reader over a socket: one read() per refill, lines without the trailing newline. */
struct line_reader {
    int fd;
    size_t used;
    char buf[8192];
};

static inline int read_line(struct line_reader *r, char *line, size_t size) {
    for (;;) {
        char *newline = memchr(r->buf, '\n', r->used);
        if (newline) {
            size_t len = (size_t)(newline - r->buf);
            size_t copy = len < size - 1 ? len : size - 1;
            memcpy(line, r->buf, copy);
            line[copy] = 0;
            r->used -= len + 1;
            memmove(r->buf, newline + 1, r->used);
            return (int)copy;
        }
        if (r->used == sizeof r->buf) r->used = 0; /* an absurd line: drop it */
        ssize_t got = read(r->fd, r->buf + r->used, sizeof r->buf - r->used);
        if (got <= 0) return -1;
        r->used += (size_t)got;
    }
}

/* Split "scheme://host:port/path" (scheme optional) into its parts; port defaults to `port`. */
static inline void split_url(const char *url, char *host, size_t host_size, int *port, char *path,
                      size_t path_size) {
    const char *start = strstr(url, "://");
    start = start ? start + 3 : url;
    const char *slash = strchr(start, '/');
    size_t authority = slash ? (size_t)(slash - start) : strlen(start);
    char hostport[256];
    if (authority >= sizeof hostport) authority = sizeof hostport - 1;
    memcpy(hostport, start, authority);
    hostport[authority] = 0;
    char *colon = strrchr(hostport, ':');
    if (colon) {
        *colon = 0;
        *port = atoi(colon + 1);
    }
    snprintf(host, host_size, "%s", hostport);
    if (path) snprintf(path, path_size, "%s", slash ? slash : "/");
}

#endif
