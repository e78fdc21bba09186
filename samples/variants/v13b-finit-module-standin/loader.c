/* detonate RB variant stand-in (harmless): asks the kernel to load a dummy module with
 * finit_module, then with init_module from a buffer. The module has no code and the sandbox
 * refuses both calls (no CAP_SYS_MODULE); the attempt is what the sample shows. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/usr/lib/udev/.hw/usbhid_ext.ko";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(path); return 1; }
    if (syscall(SYS_finit_module, fd, "", 0) != 0) perror("finit_module");
    static char image[4096];
    ssize_t len = pread(fd, image, sizeof image, 0);
    close(fd);
    if (len > 0 && syscall(SYS_init_module, image, (unsigned long)len, "") != 0) perror("init_module");
    return 0;
}
