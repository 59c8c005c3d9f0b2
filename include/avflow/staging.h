/* avflow pinned host staging: a ring of page-locked buffers for async
 * host<->device copies.
 *
 * Pageable host memory makes cudaMemcpyAsync synchronous; copying through a
 * pinned slot lets the copy overlap compute. Each slot carries an event: a
 * slot is handed out again only once the copy that used it has completed, so
 * a producer can fill slot k+1 while slot k is still in flight.
 *
 * avf_staging_upload/download split transfers larger than a slot into
 * chunks and record every chunk in the transfer ledger under `tag`.
 */
#ifndef AVFLOW_STAGING_H
#define AVFLOW_STAGING_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_staging avf_staging;

/* slot_bytes in [4 KiB, 1 GiB], slots in [1, 64]. */
avf_status avf_staging_create(avf_device *dev, size_t slot_bytes, int slots, avf_staging **out);
/* Waits for in-flight copies, then frees the pinned memory. NULL ignored. */
void avf_staging_free(avf_staging *st);

/* Take the next slot, waiting (host-side) for its previous copy. Returns its
 * pinned pointer and index. The slot must be given back with
 * avf_staging_release after the copy using it has been enqueued on `s`.
 * AVF_ERR_FULL when every slot is held (acquired, not yet released). The
 * ring is thread-safe. */
avf_status avf_staging_acquire(avf_staging *st, void **host, int *slot);
avf_status avf_staging_release(avf_staging *st, int slot, avf_stream *s);
size_t avf_staging_slot_bytes(const avf_staging *st);

/* Copy pageable host memory to the device through the ring (async w.r.t. the
 * device, each chunk memcpy'd into a pinned slot first). */
avf_status avf_staging_upload(avf_staging *st, void *dst_dev, const void *src_host, size_t bytes,
                              avf_stream *s, const char *tag);
/* Copy device memory to pageable host memory; returns when `dst_host` holds
 * the data (it synchronizes on the last chunk). */
avf_status avf_staging_download(avf_staging *st, void *dst_host, const void *src_dev,
                                size_t bytes, avf_stream *s, const char *tag);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_STAGING_H */
