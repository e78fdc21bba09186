/* Stand-in Docker client (detonate test sample; harmless): one HTTP request to a Docker
 * Engine API, over its unix socket or TCP, and the response body on stdout.
 *
 *   dockerctl unix:/var/run/docker.sock GET /containers/json
 *   dockerctl tcp:docker.example.test:2375 POST /containers/create '{"Image":"alpine"}'
 * Exit status: 0 for a 2xx answer, 1 when the endpoint cannot be reached, 2 otherwise.
 */
#include "net.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: dockerctl unix:PATH|tcp:HOST:PORT METHOD PATH [JSON]\n");
        return 2;
    }
    const char *endpoint = argv[1], *body = argc > 4 ? argv[4] : "";
    int fd;
    if (!strncmp(endpoint, "unix:", 5)) {
        fd = dial_unix(endpoint + 5);
    } else {
        char host[256];
        int port = 2375;
        split_url(endpoint + 4, host, sizeof host, &port, NULL, 0);
        fd = dial(host, port);
    }
    if (fd < 0) return 1;
    char head[1024];
    snprintf(head, sizeof head,
             "%s /v1.41%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: Docker-Client/24.0.7 (linux)\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             argv[2], argv[3], strlen(body));
    write_text(fd, head);
    write_text(fd, body);
    static char reply[65536];
    size_t used = 0;
    ssize_t got;
    while (used < sizeof reply - 1 && (got = read(fd, reply + used, sizeof reply - 1 - used)) > 0)
        used += (size_t)got;
    reply[used] = 0;
    close(fd);
    /* "HTTP/1.1 201 Created" */
    int status = 0;
    sscanf(reply, "HTTP/%*s %d", &status);
    char *payload = strstr(reply, "\r\n\r\n");
    if (payload) printf("%s\n", payload + 4);
    return status >= 200 && status < 300 ? 0 : 2;
}
