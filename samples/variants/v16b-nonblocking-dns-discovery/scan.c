/* detonate RB variant stand-in (harmless): service discovery by name. Resolves a list of
 * cluster-style service names (.test) and probes each on its usual port with non-blocking
 * connects, 1 s budget per batch; prints what answered. */
#define _GNU_SOURCE
#include "../../standins/net.h"
#include <fcntl.h>
#include <poll.h>

static const char *names[] = {"redis", "redis-master", "kubelet", "kube-apiserver", "docker",
                              "etcd", "postgres", "mongo", "elasticsearch", "rabbitmq"};
static const int ports[] = {6379, 6379, 10250, 6443, 2375, 2379, 5432, 27017, 9200, 5672};

int main(void) {
    const char *namespaces[] = {"default", "kube-system", "prod"};
    for (size_t n = 0; n < 3; n++) {
        struct pollfd fds[10];
        char host[10][128];
        for (size_t i = 0; i < 10; i++) {
            struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i])};
            snprintf(host[i], sizeof host[i], "%s.%s.svc.cluster.test", names[i], namespaces[n]);
            fds[i].fd = -1;
            fds[i].events = POLLOUT;
            if (resolve4(host[i], &addr.sin_addr) != 0) continue;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            connect(fd, (struct sockaddr *)&addr, sizeof addr);
            fds[i].fd = fd;
        }
        poll(fds, 10, 1000);
        for (size_t i = 0; i < 10; i++) {
            if (fds[i].fd < 0) continue;
            int err = 1;
            socklen_t len = sizeof err;
            getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if ((fds[i].revents & POLLOUT) && err == 0) printf("%s:%d open\n", host[i], ports[i]);
            close(fds[i].fd);
        }
    }
    return 0;
}
