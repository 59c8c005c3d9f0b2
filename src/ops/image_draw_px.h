/* Internal: the per-pixel rule of the drawing ops (ops/image.h), shared by
 * the CPU loop and the CUDA kernel. Each output pixel looks through the draw
 * list from the last item to the first and takes the first item that covers
 * it, so the result does not depend on the order threads run in and later
 * items sit on top, as on the CPU. */
#ifndef AVF_OPS_IMAGE_DRAW_PX_H
#define AVF_OPS_IMAGE_DRAW_PX_H

#include <stdint.h>

#include "ops/image.h"

#define AVF_FONT_W 5
#define AVF_FONT_H 7
#define AVF_FONT_FIRST 32 /* glyphs for bytes 32..127; 127 is the hollow box */
#define AVF_FONT_COUNT 96

typedef enum { AVF_PX_DRAW_RECTS = 0, AVF_PX_DRAW_MASK, AVF_PX_DRAW_TEXT } avf_px_draw_kind;

/* A whole draw call, small enough to be a kernel parameter (< 4 KiB). */
typedef struct avf_px_draw {
    int kind;
    uint8_t *img;
    int64_t H, W, sc, sh, sw;  /* element strides of the RGB u8 image */
    int n;
    union {
        avf_draw_rect rects[AVF_DRAW_MAX_RECTS];
        struct {
            avf_draw_label labels[AVF_DRAW_MAX_LABELS];
            /* row r of glyph g: bit (4 - x) set = pixel x on */
            uint8_t font[AVF_FONT_COUNT][AVF_FONT_H];
        } t;
        struct {
            const void *mask;  /* [H, W] u8 or f32 */
            int mask_dt;
            float alpha;
            uint8_t rgb[3];
        } m;
    } u;
} avf_px_draw;

/* Fills `font` from the glyph art of ops/image_font.c (host). */
void avf_font_build(uint8_t font[AVF_FONT_COUNT][AVF_FONT_H]);

/* Colour of (x, y) from the rectangles, or 0 when none covers it. */
AVF_HD int avf_px_rects_at(const avf_px_draw *d, int64_t x, int64_t y, const uint8_t **rgb) {
    for (int i = d->n - 1; i >= 0; i--) {
        const avf_draw_rect *r = &d->u.rects[i];
        int64_t x0 = r->r.x, y0 = r->r.y, x1 = x0 + r->r.w, y1 = y0 + r->r.h, t = r->thickness;
        if (x < x0 || x >= x1 || y < y0 || y >= y1)
            continue;
        if (x < x0 + t || x >= x1 - t || y < y0 + t || y >= y1 - t) {
            *rgb = r->rgb;
            return 1;
        }
    }
    return 0;
}

/* Colour of (x, y) from the labels, or 0 when no glyph or background covers it. */
AVF_HD int avf_px_text_at(const avf_px_draw *d, int64_t x, int64_t y, const uint8_t **rgb) {
    for (int i = d->n - 1; i >= 0; i--) {
        const avf_draw_label *l = &d->u.t.labels[i];
        int64_t s = l->scale, len = 0;
        while (len < AVF_DRAW_MAX_TEXT && l->text[len])
            len++;
        int64_t u = x - l->x, v = y - l->y; /* in image pixels within the box */
        if (u < 0 || v < 0 || u >= (len * 6 + 1) * s || v >= 9 * s)
            continue;
        int64_t gu = u / s - 1, gv = v / s - 1; /* font units after the margin */
        if (gu >= 0 && gv >= 0 && gv < AVF_FONT_H && gu % 6 < AVF_FONT_W) {
            unsigned ch = (unsigned char)l->text[gu / 6];
            int g = ch >= AVF_FONT_FIRST && ch < AVF_FONT_FIRST + AVF_FONT_COUNT
                        ? (int)ch - AVF_FONT_FIRST
                        : AVF_FONT_COUNT - 1;
            if ((d->u.t.font[g][gv] >> (AVF_FONT_W - 1 - gu % 6)) & 1) {
                *rgb = l->rgb;
                return 1;
            }
        }
        if (l->has_bg) {
            *rgb = l->bg;
            return 1;
        }
    }
    return 0;
}

AVF_HD uint8_t avf_px_blend(uint8_t dst, uint8_t src, float a) {
    float v = (float)dst + ((float)src - (float)dst) * a;
    return (uint8_t)(v + 0.5f); /* v in [0, 255] since a in [0, 1] */
}

/* Draws pixel (x, y) of the image. */
AVF_HD void avf_px_draw_pixel(const avf_px_draw *d, int64_t x, int64_t y) {
    uint8_t *p = d->img + y * d->sh + x * d->sw;
    const uint8_t *rgb = 0;
    if (d->kind == AVF_PX_DRAW_MASK) {
        int64_t i = y * d->W + x;
        float m = d->u.m.mask_dt == AVF_DTYPE_U8 ? (float)((const uint8_t *)d->u.m.mask)[i] / 255.0f
                                                 : ((const float *)d->u.m.mask)[i];
        m = !(m > 0.0f) ? 0.0f : m > 1.0f ? 1.0f : m;
        float a = d->u.m.alpha * m;
        if (a > 0.0f)
            for (int c = 0; c < 3; c++)
                p[c * d->sc] = avf_px_blend(p[c * d->sc], d->u.m.rgb[c], a);
        return;
    }
    int hit = d->kind == AVF_PX_DRAW_RECTS ? avf_px_rects_at(d, x, y, &rgb)
                                           : avf_px_text_at(d, x, y, &rgb);
    if (hit)
        for (int c = 0; c < 3; c++)
            p[c * d->sc] = rgb[c];
}

#endif /* AVF_OPS_IMAGE_DRAW_PX_H */
