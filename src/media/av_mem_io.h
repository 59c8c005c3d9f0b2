/* Internal (libavflow_media): a memory buffer read through FFmpeg's
 * AVIOContext callbacks, shared by audio decode and video demux. */
#ifndef AVF_MEDIA_AV_MEM_IO_H
#define AVF_MEDIA_AV_MEM_IO_H

#include <stdint.h>

typedef struct avf_av_mem {
    const uint8_t *p;
    int64_t n, pos;
} avf_av_mem;

/* avio_alloc_context read_packet / seek callbacks; `u` is an avf_av_mem. A
 * seek outside [0, n] is refused (AVERROR(EINVAL)), so a hostile container
 * cannot move the reader off the buffer. */
int avf_av_mem_read(void *u, uint8_t *dst, int size);
int64_t avf_av_mem_seek(void *u, int64_t off, int whence);

#endif /* AVF_MEDIA_AV_MEM_IO_H */
