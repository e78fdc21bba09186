/* Waits until 900 s from now (CLOCK_MONOTONIC) in futex_waitv() on a futex word nobody
 * changes (Linux 5.16+; Wine/Proton's way to wait on many objects), then mines. */
#include "wait.h"

#include <stdint.h>
#include <sys/syscall.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct futex_waiter { /* struct futex_waitv of <linux/futex.h> */
    unsigned long long val, uaddr;
    unsigned flags, reserved;
};

static unsigned word;

int main(void) {
    struct futex_waiter waiter = {.val = 0, .uaddr = (unsigned long long)(uintptr_t)&word,
                                  .flags = 0x02 | 128}; /* FUTEX2_SIZE_U32 | FUTEX2_PRIVATE */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    wait_begins("futex_waitv");
    syscall(SYS_futex_waitv, &waiter, 1, 0, &deadline, CLOCK_MONOTONIC);
    payload();
}
