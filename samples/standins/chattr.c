/* Stand-in for e2fsprogs chattr (detonate test sample; harmless): sets or clears the immutable
 * (i) and append-only (a) flags with FS_IOC_SETFLAGS. Inside a container without
 * CAP_LINUX_IMMUTABLE, or on overlayfs, the kernel refuses: the attempt is what counts.
 *
 *   chattr +i FILE...     chattr -ia FILE...
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int set = 0, clear = 0, status = 0;
    int i = 1;
    for (; i < argc && (argv[i][0] == '+' || argv[i][0] == '-'); i++) {
        int flags = 0;
        for (const char *c = argv[i] + 1; *c; c++)
            flags |= *c == 'i' ? FS_IMMUTABLE_FL : *c == 'a' ? FS_APPEND_FL : 0;
        if (argv[i][0] == '+') set |= flags;
        else clear |= flags;
    }
    for (; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY | O_NONBLOCK), flags = 0;
        if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
            fprintf(stderr, "chattr: %m while reading flags on %s\n", argv[i]);
            status = 1;
        } else {
            flags = (flags | set) & ~clear;
            if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
                fprintf(stderr, "chattr: %m while setting flags on %s\n", argv[i]);
                status = 1;
            }
        }
        if (fd >= 0) close(fd);
    }
    return status;
}
