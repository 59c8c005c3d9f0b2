/* The audio decoders' sample buffers (see audio_impl.h): a block cache
 * (core/block_cache.h says why), because a decoded clip is bigger than
 * serve's 128 KiB mmap threshold (10 s of 16 kHz mono is 667 KB): a fresh
 * mapping per decode cost 0.50 ms per 10 s WAV instead of 0.12 ms on the CPU
 * machine, and the VAD endpoint decodes every request. */
#include "core/block_cache.h"
#include "media/audio_impl.h"

static avf_block_cache samples = AVF_BLOCK_CACHE_INIT(32, (size_t)32 << 20, (size_t)128 << 20);

float *avf_audio_buf_get(size_t bytes) { return avf_block_cache_get(&samples, bytes); }
void avf_audio_buf_put(float *p) { avf_block_cache_put(&samples, p); }
size_t avf_audio_buf_kept_bytes(void) { return avf_block_cache_bytes(&samples); }
