/* A worker thread waits on a condition variable nobody signals, with a deadline 900 s ahead
 * (a futex wait with a timeout), and the main thread joins it, then mines. */
#include "wait.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *worker(void *unused) {
    struct timespec deadline;
    (void)unused;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    pthread_mutex_lock(&lock);
    pthread_cond_timedwait(&never, &lock, &deadline);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void) {
    pthread_t thread;
    wait_begins("pthread_cond_timedwait");
    if (pthread_create(&thread, NULL, worker, NULL) != 0) return 1;
    pthread_join(thread, NULL);
    payload();
}
