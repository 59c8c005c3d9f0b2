/* Host image decoding for OCR (apps/ocr_image.h): PNG and JPEG made here
 * with libpng/libjpeg decode to their pixels; gray+alpha is composited on
 * white; truncated, bit-flipped, mislabelled and huge-header files, and
 * thousands of random mutations, give a status, never a crash. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "apps/ocr_image.h"
#include "avflow/ocr.h"

enum { IW = 37, IH = 21 };

static uint64_t rand_u64(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint8_t *make_rgb(void) {
    uint8_t *p = malloc(IW * IH * 3);
    for (int y = 0; y < IH; y++)
        for (int x = 0; x < IW; x++)
            for (int c = 0; c < 3; c++)
                p[(y * IW + x) * 3 + c] = (uint8_t)(x * 3 + y * 2 + c * 40); /* smooth: JPEG keeps it */
    return p;
}

static uint8_t *png_encode(const void *px, int w, int h, int format, size_t *len) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = (png_uint_32)format;
    png_alloc_size_t n = 0;
    assert_true(png_image_write_to_memory(&im, NULL, &n, 0, px, 0, NULL));
    uint8_t *buf = malloc(n);
    assert_true(png_image_write_to_memory(&im, buf, &n, 0, px, 0, NULL));
    *len = n;
    return buf;
}

static uint8_t *jpeg_encode(const uint8_t *rgb, int w, int h, size_t *len) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 98, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n;
    return out;
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_png_roundtrip(void **state) {
    (void)state;
    uint8_t *rgb = make_rgb();
    size_t len;
    uint8_t *png = png_encode(rgb, IW, IH, PNG_FORMAT_RGB, &len);
    avf_ocr_image im;
    assert_avf_ok(avf_ocr_image_decode(png, len, 8192, 1u << 24, &im));
    assert_int_equal(im.width, IW);
    assert_int_equal(im.height, IH);
    assert_memory_equal(im.rgb, rgb, IW * IH * 3);
    avf_ocr_image_free(&im);
    /* gray + alpha: alpha 0 -> white, 255 -> the gray */
    uint8_t ga[IW * IH * 2];
    for (int i = 0; i < IW * IH; i++) {
        ga[2 * i] = 40;
        ga[2 * i + 1] = (i % 2) ? 255 : 0;
    }
    free(png);
    png = png_encode(ga, IW, IH, PNG_FORMAT_GA, &len);
    assert_avf_ok(avf_ocr_image_decode(png, len, 8192, 1u << 24, &im));
    for (int i = 0; i < IW * IH; i++)
        for (int c = 0; c < 3; c++)
            assert_int_equal(im.rgb[3 * i + c], (i % 2) ? 40 : 255);
    avf_ocr_image_free(&im);
    free(png);
    free(rgb);
}

static void test_jpeg_roundtrip(void **state) {
    (void)state;
    uint8_t *rgb = make_rgb();
    size_t len;
    uint8_t *jpg = jpeg_encode(rgb, IW, IH, &len);
    avf_ocr_image im;
    assert_avf_ok(avf_ocr_image_decode(jpg, len, 8192, 1u << 24, &im));
    assert_int_equal(im.width, IW);
    assert_int_equal(im.height, IH);
    double err = 0;
    for (int i = 0; i < IW * IH * 3; i++)
        err += abs((int)im.rgb[i] - (int)rgb[i]);
    err /= IW * IH * 3;
    print_message("jpeg q98 mean |error| %.2f levels\n", err);
    assert_true(err < 4.0);
    avf_ocr_image_free(&im);
    free(jpg);
    free(rgb);
}

static void test_damaged(void **state) {
    (void)state;
    uint8_t *rgb = make_rgb();
    size_t plen, jlen;
    uint8_t *png = png_encode(rgb, IW, IH, PNG_FORMAT_RGB, &plen);
    uint8_t *jpg = jpeg_encode(rgb, IW, IH, &jlen);
    avf_ocr_image im;
    /* truncated */
    assert_avf_fails(avf_ocr_image_decode(png, plen / 2, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    assert_null(im.rgb);
    assert_avf_fails(avf_ocr_image_decode(png, 20, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_image_decode(jpg, jlen / 2, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_image_decode(jpg, 4, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    /* empty, unknown formats */
    assert_avf_fails(avf_ocr_image_decode(png, 0, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_image_decode("GIF89a......", 12, 8192, 1u << 24, &im),
                     AVF_ERR_UNSUPPORTED);
    /* a flipped bit inside the pixel data: CRC / zlib error */
    uint8_t *bad = malloc(plen);
    memcpy(bad, png, plen);
    bad[plen - 20] ^= 0x10;
    assert_avf_fails(avf_ocr_image_decode(bad, plen, 8192, 1u << 24, &im), AVF_ERR_CORRUPT);
    /* a header claiming 100000 x 100000 (valid CRC): refused before allocating */
    memcpy(bad, png, plen);
    put_be32(bad + 16, 100000);
    put_be32(bad + 20, 100000);
    put_be32(bad + 29, crc32_of(bad + 12, 17));
    assert_avf_fails(avf_ocr_image_decode(bad, plen, 8192, 1u << 24, &im), AVF_ERR_INVALID_ARG);
    /* within the sides but over the pixel budget */
    memcpy(bad, png, plen);
    put_be32(bad + 16, 8000);
    put_be32(bad + 20, 8000);
    put_be32(bad + 29, crc32_of(bad + 12, 17));
    assert_avf_fails(avf_ocr_image_decode(bad, plen, 8192, 1u << 24, &im), AVF_ERR_INVALID_ARG);
    free(bad);
    /* JPEG SOF0 claiming 60000 x 60000 */
    bad = malloc(jlen);
    memcpy(bad, jpg, jlen);
    int patched = 0;
    for (size_t i = 0; i + 9 < jlen; i++)
        if (bad[i] == 0xff && bad[i + 1] == 0xc0) {
            bad[i + 5] = 0xea;
            bad[i + 6] = 0x60;
            bad[i + 7] = 0xea;
            bad[i + 8] = 0x60;
            patched = 1;
            break;
        }
    assert_true(patched);
    assert_avf_fails(avf_ocr_image_decode(bad, jlen, 8192, 1u << 24, &im), AVF_ERR_INVALID_ARG);
    free(bad);
    /* random mutations: any status, no crash, nothing leaked (ASan) */
    uint64_t seed = 99;
    int ok = 0, failed = 0;
    for (int round = 0; round < 2000; round++) {
        const uint8_t *src = round % 2 ? png : jpg;
        size_t n = round % 2 ? plen : jlen;
        uint8_t *m = malloc(n);
        memcpy(m, src, n);
        int flips = 1 + (int)(rand_u64(&seed) % 8);
        for (int k = 0; k < flips; k++)
            m[rand_u64(&seed) % n] = (uint8_t)rand_u64(&seed);
        size_t cut = (rand_u64(&seed) % 4 == 0) ? rand_u64(&seed) % n : n;
        if (avf_ocr_image_decode(m, cut, 8192, 1u << 24, &im) == AVF_OK) {
            assert_true(im.width >= 1 && im.height >= 1 && im.rgb);
            ok++;
        } else {
            assert_null(im.rgb);
            failed++;
        }
        avf_ocr_image_free(&im);
        free(m);
    }
    print_message("mutations: %d decoded, %d refused\n", ok, failed);
    assert_true(failed > 0);
    free(png);
    free(jpg);
    free(rgb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_jpeg_roundtrip),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
