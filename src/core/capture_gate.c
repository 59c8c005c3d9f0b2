/* The capture gate (see capture_gate.h): per device, a count of open
 * captures and of device-wide calls in progress under one mutex. */
#include "core/capture_gate.h"

#include <pthread.h>
#include <time.h>

#define GATES 64

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int captures, syncs;
} gate;

static gate gates[GATES];
static pthread_once_t gates_once = PTHREAD_ONCE_INIT;
static _Thread_local int capturing; /* captures this thread has open */

/* Waits are bounded: a device-wide call can be made under a lock that a
 * capturing thread needs next (a pool's mutex), so waiting for the capture
 * without limit could deadlock. After the bound the call goes ahead; the
 * capture it meets fails and its plan runs eagerly, as before the gate. */
#define WAIT_MS 250

static int wait_bounded(gate *g, struct timespec *deadline) {
    return pthread_cond_timedwait(&g->cv, &g->mu, deadline) == 0;
}

static void deadline_in(struct timespec *t, long ms) {
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void gates_init(void) {
    for (int i = 0; i < GATES; i++) {
        pthread_mutex_init(&gates[i].mu, NULL);
        pthread_cond_init(&gates[i].cv, NULL);
    }
}

/* Only devices whose captures can be invalidated need a gate. */
static gate *gate_of(const avf_device *dev) {
    if (!dev || dev->kind != AVF_DEVICE_CUDA || dev->index < 0 || dev->index >= GATES)
        return NULL;
    pthread_once(&gates_once, gates_init);
    return &gates[dev->index];
}

void avf_capture_gate_begin(const avf_device *dev) {
    gate *g = gate_of(dev);
    if (!g)
        return;
    struct timespec t;
    deadline_in(&t, WAIT_MS);
    pthread_mutex_lock(&g->mu);
    while (g->syncs > 0 && wait_bounded(g, &t))
        ;
    g->captures++;
    capturing++;
    pthread_mutex_unlock(&g->mu);
}

void avf_capture_gate_end(const avf_device *dev) {
    gate *g = gate_of(dev);
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->captures--;
    capturing--;
    if (g->captures == 0)
        pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void avf_capture_gate_sync_enter(const avf_device *dev) {
    gate *g = gate_of(dev);
    if (!g || capturing)
        return;
    struct timespec t;
    deadline_in(&t, WAIT_MS);
    pthread_mutex_lock(&g->mu);
    while (g->captures > 0 && wait_bounded(g, &t))
        ;
    g->syncs++;
    pthread_mutex_unlock(&g->mu);
}

void avf_capture_gate_sync_leave(const avf_device *dev) {
    gate *g = gate_of(dev);
    if (!g || capturing)
        return;
    pthread_mutex_lock(&g->mu);
    if (--g->syncs == 0)
        pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}
