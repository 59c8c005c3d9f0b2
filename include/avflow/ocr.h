/* avflow OCR: encoded images (PNG, JPEG) in, text lines out.
 *
 * The PaddleOCR v4 pipeline as rapidocr-onnxruntime 1.4.4 runs it: text
 * detection (DB) -> box extraction on the host (binarize, dilate, connected
 * components, minimum-area rectangles, box score, unclip) -> perspective
 * crops on the device -> direction classifier (rotates lines it finds upside
 * down) -> recognizer -> CTC greedy decoding with the model's dictionary.
 * The crops of every image of one avf_ocr_run_batch call share the
 * classifier's and the recognizer's batches.
 *
 * An avf_ocr holds the three models (immutable) and is thread-safe: any
 * number of threads may call avf_ocr_run_batch at once, each call runs on
 * its own stream.
 */
#ifndef AVFLOW_OCR_H
#define AVFLOW_OCR_H

#include <stddef.h>

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds of one avf_ocr_run_batch call; anything larger is a per-image
 * error (AVF_ERR_INVALID_ARG) or, for n, the call's. */
#define AVF_OCR_MAX_IMAGES 256                 /* images per call */
#define AVF_OCR_MAX_INPUT_BYTES (64u << 20)    /* encoded bytes per image */
#define AVF_OCR_MAX_SIDE 8192                  /* decoded width or height */
#define AVF_OCR_MAX_PIXELS (1u << 24)          /* decoded width * height */
#define AVF_OCR_MAX_LINES 1000                 /* text boxes per image (DB max_candidates) */
#define AVF_OCR_MAX_REC_WIDTH 2048             /* recognizer input width (longer lines are squeezed) */
#define AVF_OCR_MAX_DET_SIDE 4096              /* max_side bound */

typedef struct avf_ocr avf_ocr;

/* Compared with memcmp by the HTTP adapter: set with
 * avf_ocr_options_default() (which zeroes padding) and then fields. */
typedef struct avf_ocr_options {
    float det_threshold;  /* DB binarization threshold on the probability map (0.3) */
    float box_threshold;  /* drop boxes whose mean probability is below (0.5) */
    float unclip_ratio;   /* box expansion: area * ratio / perimeter (1.6) */
    int max_side;         /* det input: the longer side is at most this, sides rounded to x32 (960) */
    int use_cls;          /* run the 0/180 degree classifier (1) */
    int fp16;             /* CUDA: models in f16 (0) */
    float text_threshold; /* drop lines whose recognition score is below (0.5) */
    int rec_width_step;   /* recognizer input widths are rounded up to this (64) */
} avf_ocr_options;

void avf_ocr_options_default(avf_ocr_options *o);

typedef struct avf_ocr_input {
    const void *data; /* an encoded image: PNG or JPEG */
    size_t len;
} avf_ocr_input;

typedef struct avf_ocr_line {
    char *text;        /* UTF-8, owned by the result */
    float text_score;  /* mean probability of the decoded characters */
    float box_score;   /* mean det probability inside the box */
    float box[8];      /* x,y of 4 corners in input pixels, clockwise from top-left */
    int rotated;       /* the classifier turned the line by 180 degrees */
} avf_ocr_line;

typedef struct avf_ocr_result {
    avf_status status; /* this image's: AVF_ERR_CORRUPT for undecodable bytes, ... */
    char error[256];   /* its message when status != AVF_OK */
    int width, height; /* decoded size */
    int n_lines;       /* top to bottom, left to right */
    avf_ocr_line *lines;
} avf_ocr_result;

/* Frees the lines and zeroes the result; NULL is ignored. */
void avf_ocr_result_free(avf_ocr_result *r);

/* Load models_dir/ppocr_v4_det.onnx, ppocr_v4_rec.onnx,
 * ppocr_mobile_v2_cls.onnx and the recognizer's dictionary (the
 * "character" entry of the rec model's ONNX metadata) for device dev
 * (NULL: the CPU). *out is NULL on failure. */
avf_status avf_ocr_create(const char *models_dir, avf_device *dev, avf_ocr **out);
void avf_ocr_free(avf_ocr *ocr);

/* OCR n images (1..AVF_OCR_MAX_IMAGES). res[n] is filled per image (the
 * caller frees each with avf_ocr_result_free); an image that cannot be
 * decoded or is out of bounds gets its own status and message, the others
 * still run. The call's status is AVF_OK unless the call itself failed
 * (bad arguments, device errors, out of memory), in which case every
 * result without an own error carries that status too. opts NULL: defaults. */
avf_status avf_ocr_run_batch(avf_ocr *ocr, const avf_ocr_options *opts, int n,
                             const avf_ocr_input *in, avf_ocr_result *res);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_OCR_H */
