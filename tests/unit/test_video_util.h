/* Helpers shared by the video tests (tests/media/test_video*.c on the CPU,
 * tests/unit/test_nvdec.c on a GPU machine): finding the clips that
 * scripts/make-test-data.sh makes, reading files, and comparing decoded
 * frames with ffmpeg's raw NV12/P010 reference. */
#ifndef AVF_TEST_VIDEO_UTIL_H
#define AVF_TEST_VIDEO_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_util.h"
#include "avflow/video.h"

#ifndef AVF_SOURCE_DIR
#define AVF_SOURCE_DIR "."
#endif

/* Path of data/video/<name>: $AVF_VIDEO_DATA, else the source tree's data/
 * (scripts/make-test-data.sh), else the device bundle's copy (.bundle/video,
 * scripts/device-bundle.sh). NULL when absent. */
static inline const char *vt_path(const char *name, char *buf, size_t cap) {
    const char *env = getenv("AVF_VIDEO_DATA");
    const char *dirs[3] = {env, AVF_SOURCE_DIR "/data/video", AVF_SOURCE_DIR "/.bundle/video"};
    struct stat st;
    for (int i = 0; i < 3; i++) {
        if (!dirs[i])
            continue;
        snprintf(buf, cap, "%s/%s", dirs[i], name);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
            return buf;
    }
    return NULL;
}

/* The clip's path, or skip() (reported skipped, never passed) without it. */
static inline const char *vt_need(const char *name, char *buf, size_t cap) {
    const char *p = vt_path(name, buf, cap);
    if (!p) {
        print_message("[  SKIP    ] no %s: run scripts/make-test-data.sh --video\n", name);
        skip();
    }
    return p;
}

static inline uint8_t *vt_read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* Bytes of one packed frame [y | uv] of w x h. */
static inline size_t vt_frame_bytes(int w, int h, int ten) {
    size_t px = ten ? 2 : 1;
    return ((size_t)w * h + (size_t)((w + 1) / 2) * ((h + 1) / 2) * 2) * px;
}

/* PSNR (dB; INFINITY when identical) of a packed frame against the
 * reference, over every luma and chroma sample; 10-bit words compare their
 * top 10 bits against a peak of 1023. *maxdiff gets the largest |diff|. */
static inline double vt_psnr(const uint8_t *got, const uint8_t *ref, size_t bytes, int ten,
                             int *maxdiff) {
    double se = 0;
    size_t n = ten ? bytes / 2 : bytes;
    int md = 0;
    for (size_t i = 0; i < n; i++) {
        int a, b;
        if (ten) {
            a = (got[2 * i] | got[2 * i + 1] << 8) >> 6;
            b = (ref[2 * i] | ref[2 * i + 1] << 8) >> 6;
        } else {
            a = got[i];
            b = ref[i];
        }
        int d = a > b ? a - b : b - a;
        if (d > md)
            md = d;
        se += (double)d * d;
    }
    if (maxdiff)
        *maxdiff = md;
    if (se == 0)
        return INFINITY;
    double peak = ten ? 1023.0 : 255.0;
    return 10.0 * log10(peak * peak * (double)n / se);
}

#endif /* AVF_TEST_VIDEO_UTIL_H */
