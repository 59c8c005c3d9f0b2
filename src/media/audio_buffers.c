/* Sample buffers kept for the next decode (see audio_impl.h).
 *
 * Why: `avflow serve` sets M_MMAP_THRESHOLD to 128 KiB so that request
 * bodies go back to the system when freed (cmd_serve.c). A decoded clip is
 * bigger than that (10 s of 16 kHz mono is 667 KB), so every decode was a
 * fresh mmap, page-faulted in and zeroed, then unmapped: 0.50 ms per 10 s WAV
 * instead of 0.12 ms on the CPU machine, and the VAD endpoint decodes every
 * request. A few recently freed buffers are kept and handed to the next
 * decode of a size they hold, bounded in count, in bytes per buffer and in
 * bytes in all, so the memory held stays small and fixed. */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#include "media/audio_impl.h"

#define KEEP_MAX 32                       /* buffers */
#define KEEP_ONE_MAX ((size_t)32 << 20)   /* bytes of one kept buffer */
#define KEEP_ALL_MAX ((size_t)128 << 20)  /* bytes of all kept buffers */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static float *kept[KEEP_MAX];
static size_t kept_cap[KEEP_MAX];
static int n_kept;
static size_t kept_bytes;

float *avf_audio_buf_get(size_t bytes) {
    if (bytes == 0)
        bytes = 1;
    float *p = NULL;
    pthread_mutex_lock(&mu);
    /* the smallest that holds it, and not more than twice as big (a long
     * clip's buffer is not spent on a short one) */
    int best = -1;
    for (int i = 0; i < n_kept; i++)
        if (kept_cap[i] >= bytes && kept_cap[i] / 2 <= bytes &&
            (best < 0 || kept_cap[i] < kept_cap[best]))
            best = i;
    if (best >= 0) {
        p = kept[best];
        kept_bytes -= kept_cap[best];
        kept[best] = kept[--n_kept];
        kept_cap[best] = kept_cap[n_kept];
    }
    pthread_mutex_unlock(&mu);
    return p ? p : malloc(bytes);
}

void avf_audio_buf_put(float *p) {
    if (!p)
        return;
    size_t cap = malloc_usable_size(p);
    pthread_mutex_lock(&mu);
    int keep = cap <= KEEP_ONE_MAX && n_kept < KEEP_MAX && kept_bytes + cap <= KEEP_ALL_MAX;
    if (keep) {
        kept[n_kept] = p;
        kept_cap[n_kept++] = cap;
        kept_bytes += cap;
    }
    pthread_mutex_unlock(&mu);
    if (!keep)
        free(p);
}

size_t avf_audio_buf_kept_bytes(void) {
    pthread_mutex_lock(&mu);
    size_t b = kept_bytes;
    pthread_mutex_unlock(&mu);
    return b;
}
