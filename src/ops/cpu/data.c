/* CPU kernels of the data family: the copy map, fills, Gather, Range. */
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"


static inline void copy_elem(int es, char *dst, const char *src) {
    switch (es) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
    }
}

void avf_cpu_copy_map(const avf_copy_map *m, const void *x, void *y) {
    const int es = m->elem_size;
    const char *xb = (const char *)x;
    char *yb = (char *)y;
    char fill[8];
    memcpy(fill, &m->fill, sizeof fill); /* little-endian: the low bytes first */
    if (m->ndim == 0) {
        copy_elem(es, yb + m->out_base * es, xb + m->in_base * es);
        return;
    }
    const int last = m->ndim - 1;
    int64_t idx[AVF_MAX_DIMS] = {0};
    int64_t outer = 1;
    for (int d = 0; d < last; d++)
        outer *= m->shape[d];
    const int64_t n = m->shape[last];
    /* Rows that are plain contiguous runs on both sides become memcpy. */
    const int row_memcpy = m->out_stride[last] == 1 && m->in_step[last] * m->in_stride[last] == 1 &&
                           m->border == AVF_BORDER_NONE;
    for (int64_t r = 0; r < outer; r++) {
        int64_t yo = m->out_base, xo = m->in_base;
        int outside = 0;
        for (int d = 0; d < last; d++) {
            yo += idx[d] * m->out_stride[d];
            int64_t c = avf_border_coord(m->border, m->in_start[d] + idx[d] * m->in_step[d],
                                     m->in_dim[d], &outside);
            xo += c * m->in_stride[d];
        }
        char *dst = yb + yo * es;
        if (outside) {
            for (int64_t j = 0; j < n; j++)
                copy_elem(es, dst + j * m->out_stride[last] * es, fill);
        } else if (row_memcpy) {
            memcpy(dst, xb + (xo + m->in_start[last] * m->in_stride[last]) * es, (size_t)(n * es));
        } else {
            for (int64_t j = 0; j < n; j++) {
                int out_j = 0;
                int64_t c = avf_border_coord(m->border, m->in_start[last] + j * m->in_step[last],
                                         m->in_dim[last], &out_j);
                const char *src = out_j ? fill : xb + (xo + c * m->in_stride[last]) * es;
                copy_elem(es, dst + j * m->out_stride[last] * es, src);
            }
        }
        for (int d = last - 1; d >= 0; d--) { /* odometer over the outer dims */
            if (++idx[d] < m->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

void avf_cpu_fill(int elem_size, uint64_t value, int64_t n, void *y) {
    char v[8], *yb = (char *)y;
    memcpy(v, &value, sizeof v);
    if (elem_size == 1) {
        memset(y, v[0], (size_t)n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        copy_elem(elem_size, yb + i * elem_size, v);
}

avf_status avf_cpu_gather(const avf_gather_geom *g, const void *x, const void *idx, void *y) {
    const int es = g->elem_size;
    const char *xb = (const char *)x;
    char *yb = (char *)y;
    const size_t row = (size_t)(g->inner * es);
    for (int64_t j = 0; j < g->nidx; j++) {
        int64_t k = g->idx_i64 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
        if (k < -g->axis_dim || k >= g->axis_dim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gather: index %lld outside [-%lld, %lld)",
                            (long long)k, (long long)g->axis_dim, (long long)g->axis_dim);
    }
    for (int64_t o = 0; o < g->outer; o++)
        for (int64_t j = 0; j < g->nidx; j++) {
            int64_t k = g->idx_i64 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
            if (k < 0)
                k += g->axis_dim;
            memcpy(yb + ((o * g->nidx + j) * g->inner) * es,
                   xb + ((o * g->axis_dim + k) * g->inner) * es, row);
        }
    return AVF_OK;
}

void avf_cpu_range(const avf_range_params *p, int64_t n, void *y) {
    for (int64_t i = 0; i < n; i++) {
        switch (p->dtype) {
        case AVF_DTYPE_F32: ((float *)y)[i] = (float)(p->start + (double)i * p->delta); break;
        case AVF_DTYPE_F64: ((double *)y)[i] = p->start + (double)i * p->delta; break;
        case AVF_DTYPE_I16: ((int16_t *)y)[i] = (int16_t)(p->istart + i * p->idelta); break;
        case AVF_DTYPE_I32: ((int32_t *)y)[i] = (int32_t)(p->istart + i * p->idelta); break;
        default: ((int64_t *)y)[i] = p->istart + i * p->idelta; break;
        }
    }
}
