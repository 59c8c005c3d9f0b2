/* Request bodies from a block cache (see bodies.h). */
#include "serve/bodies.h"

#include "core/block_cache.h"

static avf_block_cache bodies = AVF_BLOCK_CACHE_INIT(64, (size_t)16 << 20, (size_t)64 << 20);

void *avf_srv_body_alloc(size_t bytes) { return avf_block_cache_get(&bodies, bytes); }
void avf_srv_body_free(void *body) { avf_block_cache_put(&bodies, body); }
size_t avf_srv_bodies_kept_bytes(void) { return avf_block_cache_bytes(&bodies); }
