/* PNG/JPEG -> RGB for the OCR application (see ocr_image.h). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "apps/ocr_image.h"
#include "core/error.h"

static avf_status check_size(const char *fmt, uint64_t w, uint64_t h, int max_side,
                             uint64_t max_pixels) {
    if (w < 1 || h < 1)
        return AVF_FAIL(AVF_ERR_CORRUPT, "%s: empty image (%llux%llu)", fmt,
                        (unsigned long long)w, (unsigned long long)h);
    if (w > (uint64_t)max_side || h > (uint64_t)max_side || w * h > max_pixels)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "%s: image %llux%llu too large (at most %d per side, %llu pixels)", fmt,
                        (unsigned long long)w, (unsigned long long)h, max_side,
                        (unsigned long long)max_pixels);
    return AVF_OK;
}

static avf_status decode_png(const void *data, size_t len, int max_side, uint64_t max_pixels,
                             avf_ocr_image *out) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, data, len)) {
        avf_status st = AVF_FAIL(AVF_ERR_CORRUPT, "png: %s", im.message);
        png_image_free(&im);
        return st;
    }
    avf_status st = check_size("png", im.width, im.height, max_side, max_pixels);
    if (st != AVF_OK) {
        png_image_free(&im);
        return st;
    }
    im.format = PNG_FORMAT_RGB;
    size_t bytes = (size_t)im.width * im.height * 3;
    uint8_t *rgb = malloc(bytes);
    if (!rgb) {
        png_image_free(&im);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "png: %zu bytes for pixels", bytes);
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&im, &white, rgb, 0, NULL)) {
        st = AVF_FAIL(AVF_ERR_CORRUPT, "png: %s", im.message);
        png_image_free(&im);
        free(rgb);
        return st;
    }
    out->width = (int)im.width;
    out->height = (int)im.height;
    out->rgb = rgb;
    png_image_free(&im);
    return AVF_OK;
}

/* libjpeg reports errors through error_exit, which must not return: jump
 * back with the message. */
typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    e->mgr.format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* Nothing is printed; warnings (level -1, e.g. premature end of data) are
 * counted, as libjpeg's own emit_message does, so truncation is seen. */
static void jpeg_quiet(j_common_ptr c, int level) {
    if (level < 0)
        c->err->num_warnings++;
}

static avf_status decode_jpeg(const void *data, size_t len, int max_side, uint64_t max_pixels,
                              avf_ocr_image *out) {
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    /* volatile: modified between setjmp and longjmp */
    uint8_t *volatile rgb = NULL;
    volatile avf_status st = AVF_OK;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.emit_message = jpeg_quiet;
    err.msg[0] = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&ci);
        free(rgb);
        if (st != AVF_OK)
            return st;
        return AVF_FAIL(AVF_ERR_CORRUPT, "jpeg: %s", err.msg);
    }
    jpeg_create_decompress(&ci);
    ci.mem->max_memory_to_use = 256L << 20;
    jpeg_mem_src(&ci, (const unsigned char *)data, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    st = check_size("jpeg", ci.image_width, ci.image_height, max_side, max_pixels);
    if (st != AVF_OK) {
        jpeg_destroy_decompress(&ci);
        return st;
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_components != 3 || ci.output_width != ci.image_width ||
        ci.output_height != ci.image_height) {
        jpeg_destroy_decompress(&ci);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "jpeg: cannot convert to RGB (%d components)",
                        ci.output_components);
    }
    size_t row = (size_t)ci.output_width * 3;
    rgb = malloc(row * ci.output_height);
    if (!rgb) {
        jpeg_destroy_decompress(&ci);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "jpeg: pixels");
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW p = rgb + row * ci.output_scanline;
        if (jpeg_read_scanlines(&ci, &p, 1) != 1)
            break; /* suspended: the data ran out (cannot happen with a memory source) */
    }
    if (ci.output_scanline < ci.output_height) {
        jpeg_destroy_decompress(&ci);
        free(rgb);
        return AVF_FAIL(AVF_ERR_CORRUPT, "jpeg: truncated");
    }
    /* A truncated file is padded by libjpeg with a warning; count it as corrupt. */
    int warned = err.mgr.num_warnings > 0;
    jpeg_finish_decompress(&ci);
    out->width = (int)ci.output_width;
    out->height = (int)ci.output_height;
    jpeg_destroy_decompress(&ci);
    if (warned) {
        free(rgb);
        return AVF_FAIL(AVF_ERR_CORRUPT, "jpeg: corrupt or truncated data");
    }
    out->rgb = rgb;
    return AVF_OK;
}

avf_status avf_ocr_image_decode(const void *data, size_t len, int max_side, uint64_t max_pixels,
                                avf_ocr_image *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "image: empty input");
    const uint8_t *b = data;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && memcmp(b, png_sig, 8) == 0)
        return decode_png(data, len, max_side, max_pixels, out);
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return decode_jpeg(data, len, max_side, max_pixels, out);
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "image: not PNG or JPEG (first bytes %02x %02x %02x)",
                    b[0], len > 1 ? b[1] : 0, len > 2 ? b[2] : 0);
}

void avf_ocr_image_free(avf_ocr_image *img) {
    if (img) {
        free(img->rgb);
        memset(img, 0, sizeof *img);
    }
}
