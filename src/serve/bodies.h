/* Internal: request bodies. A body is made when a request arrives and freed
 * when it has been answered, thousands of times a second, and is usually
 * over serve's 128 KiB mmap threshold (a 1x3x48x320 f32 tensor is 184 KB, a
 * 10 s WAV 333 KB): they come from a block cache (core/block_cache.h says
 * why) of at most 64 blocks, 16 MiB each, 64 MiB in all. */
#ifndef AVF_SERVE_BODIES_H
#define AVF_SERVE_BODIES_H

#include <stddef.h>

void *avf_srv_body_alloc(size_t bytes);
void avf_srv_body_free(void *body); /* NULL ignored */
size_t avf_srv_bodies_kept_bytes(void);

#endif
