/* Internal: host decoding of the OCR application's input images (PNG
 * through libpng's simplified API, JPEG through libjpeg(-turbo)) into
 * interleaved 8-bit RGB. Sizes are checked from the header before anything
 * is allocated; corrupt, truncated or oversized files give a status with a
 * message, never a crash. */
#ifndef AVF_APPS_OCR_IMAGE_H
#define AVF_APPS_OCR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

typedef struct avf_ocr_image {
    int width, height;
    uint8_t *rgb; /* [height, width, 3], malloc'ed; free with avf_ocr_image_free */
} avf_ocr_image;

/* Decode PNG or JPEG (told apart by their signatures). Gray and palette
 * images become RGB; alpha is composited onto white. Fails with
 * AVF_ERR_CORRUPT (bad data), AVF_ERR_UNSUPPORTED (another format) or
 * AVF_ERR_INVALID_ARG (a side above max_side or more than max_pixels). */
avf_status avf_ocr_image_decode(const void *data, size_t len, int max_side, uint64_t max_pixels,
                                avf_ocr_image *out);
void avf_ocr_image_free(avf_ocr_image *img);

#endif /* AVF_APPS_OCR_IMAGE_H */
