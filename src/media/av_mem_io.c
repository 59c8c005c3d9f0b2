/* A memory buffer behind FFmpeg's AVIOContext (see av_mem_io.h). */
#include "media/av_mem_io.h"

#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>

int avf_av_mem_read(void *u, uint8_t *dst, int size) {
    avf_av_mem *m = u;
    int64_t left = m->n - m->pos;
    if (left <= 0)
        return AVERROR_EOF;
    if (size > left)
        size = (int)left;
    memcpy(dst, m->p + m->pos, (size_t)size);
    m->pos += size;
    return size;
}

int64_t avf_av_mem_seek(void *u, int64_t off, int whence) {
    avf_av_mem *m = u;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE)
        return m->n;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->n : -1;
    if (base < 0 || off > m->n || off < -m->n || base + off < 0 || base + off > m->n)
        return AVERROR(EINVAL);
    m->pos = base + off;
    return m->pos;
}
