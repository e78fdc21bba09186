/* detonate RB variant stand-in (harmless): a monitoring agent that only reads from the Docker
 * API socket: GET /_ping, /containers/json and /info, three scrapes, and prints byte counts. */
#include "../../standins/net.h"

static void get(const char *path) {
    int fd = dial_unix("/var/run/docker.sock");
    if (fd < 0) return;
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: docker\r\n\r\n", path);
    write_text(fd, req);
    static char buf[8192];
    ssize_t got, total = 0;
    while ((got = read(fd, buf, sizeof buf)) > 0) total += got;
    close(fd);
    printf("%s: %zd bytes\n", path, total);
}

int main(void) {
    for (int scrape = 0; scrape < 3; scrape++) {
        get("/_ping");
        get("/v1.43/containers/json?all=true");
        get("/v1.43/info");
        sleep(3);
    }
    return 0;
}
