/* Harmless stand-in (issue 14): opens /dev/null until the fd limit refuses, then tries to raise
 * the limit past its hard cap. Prints how many it got and what each refusal was. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int main(void) {
    int opened = 0;
    for (int i = 0; i < 1000000; i++) {
        if (open("/dev/null", O_RDONLY) < 0) {
            printf("fds opened=%d then %s\n", opened, strerror(errno));
            break;
        }
        opened++;
    }
    struct rlimit limit = {1 << 20, 1 << 20};
    int rc = setrlimit(RLIMIT_NOFILE, &limit);
    printf("raise nofile to 1048576: %s\n", rc == 0 ? "ok" : strerror(errno));
    return 0;
}
