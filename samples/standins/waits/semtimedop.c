/* Waits 900 s in semtimedop() for a SysV semaphore of 0 that nobody raises, then mines. */
#include "wait.h"

#include <sys/sem.h>

int main(void) {
    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct sembuf down = {.sem_num = 0, .sem_op = -1};
    struct timespec delay = {WAIT_SECONDS, 0};
    wait_begins("semtimedop");
    semtimedop(semid, &down, 1, &delay);
    semctl(semid, 0, IPC_RMID);
    payload();
}
