/* Waits until 900 s from now (CLOCK_REALTIME) in mq_timedreceive() on a POSIX message queue
 * nobody sends to, then mines. */
#include "wait.h"

#include <fcntl.h>
#include <mqueue.h>

int main(void) {
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
    mqd_t queue = mq_open("/updates", O_CREAT | O_RDWR, 0600, &attr);
    char message[16];
    struct timespec deadline;
    mq_unlink("/updates");
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    wait_begins("mq_timedreceive");
    mq_timedreceive(queue, message, sizeof message, NULL, &deadline);
    payload();
}
