/* Containment proof (harmless probe, issue 14): every way through the kernel to the host that
 * the sandbox must refuse, tried once each from inside; one line per attempt, "NAME: ok" or
 * "NAME: <error>". Nothing is changed when an attempt fails; the ones that may succeed only
 * touch the container itself (its own /proc/1, its own fds). Bounded: no loops, no waits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <unistd.h>

static void result(const char *what, long rc) {
    printf("%s: %s\n", what, rc < 0 ? strerror(errno) : "ok");
}

static long write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    long rc = write(fd, text, strlen(text));
    close(fd);
    return rc;
}

static int child_fn(void *arg) { (void)arg; return 0; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* fds beyond stdio inherited from the runtime would be a way to the host's files */
    int leaked = 0;
    DIR *fds = opendir("/proc/self/fd");
    for (struct dirent *e; fds && (e = readdir(fds));)
        if (e->d_name[0] != '.' && atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(fds)) leaked++;
    if (fds) closedir(fds);
    printf("inherited fds beyond stdio: %d\n", leaked);

    result("mount host disk", mount("/dev/vda", "/mnt", "ext4", MS_RDONLY, NULL));
    result("mount tmpfs", mount("none", "/mnt", "tmpfs", 0, NULL));
    result("mknod block device", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)));
    result("open block device", open("/tmp/sda", O_RDONLY));
    result("write /proc/sys/kernel/core_pattern", write_file("/proc/sys/kernel/core_pattern", "|/tmp/x"));
    result("write /proc/sys/vm/drop_caches", write_file("/proc/sys/vm/drop_caches", "3"));
    result("write /proc/sysrq-trigger", write_file("/proc/sysrq-trigger", "h"));
    result("write cgroup release_agent", write_file("/sys/fs/cgroup/release_agent", "/tmp/x"));
    result("write memory cgroup release_agent", write_file("/sys/fs/cgroup/memory/release_agent", "/tmp/x"));
    result("init_module", syscall(SYS_init_module, "", 0, ""));
    result("finit_module", syscall(SYS_finit_module, 0, "", 0));
    result("ptrace attach pid 1", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
    result("unshare user namespace", unshare(CLONE_NEWUSER));
    static char stack[64 * 1024];
    long pid = clone(child_fn, stack + sizeof stack, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL);
    result("clone into new user namespace", pid);
    if (pid > 0) waitpid(pid, NULL, 0);
    int ns = open("/proc/1/ns/mnt", O_RDONLY);
    result("setns to pid 1's mount namespace", ns < 0 ? -1 : setns(ns, 0));
    result("keyctl join session keyring", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "x"));
    result("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -3 /* session keyring */));
    struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof attr,
                                   .config = PERF_COUNT_SW_CPU_CLOCK};
    result("perf_event_open", syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    union bpf_attr map = {.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4,
                          .max_entries = 1};
    result("bpf map create", syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof map));
    char handle[8 + 128] = {0};
    result("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY));
    char ring_params[120] = {0}; /* struct io_uring_params */
    result("io_uring_setup", syscall(SYS_io_uring_setup, 8, ring_params));
    result("iopl", iopl(3));
    result("reboot", reboot(RB_POWER_OFF));
    result("open /dev/kmsg", open("/dev/kmsg", O_RDONLY));
    result("open /dev/mem", open("/dev/mem", O_RDONLY));
    result("raw icmpv6 socket (router advertisement)", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));

    /* /proc/1 is the container's own init: its root is the container's root. */
    char own[256] = {0}, via[256] = {0};
    int a = open("/etc/hostname", O_RDONLY), b = open("/proc/1/root/etc/hostname", O_RDONLY);
    if (a >= 0 && read(a, own, sizeof own - 1) >= 0 && b >= 0 && read(b, via, sizeof via - 1) >= 0)
        printf("/proc/1/root is %s\n", strcmp(own, via) == 0 ? "the container's own root" : "ANOTHER root");
    return 0;
}
