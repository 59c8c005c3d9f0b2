/* Internal: the recognizer's character dictionary and CTC greedy decoding.
 *
 * PaddleOCR's rec model carries its dictionary in the ONNX file's metadata
 * (metadata_props key "character", one character per line); rapidocr reads
 * it from there too. Class 0 is the CTC blank, classes 1..K the lines, class
 * K+1 a space. */
#ifndef AVF_APPS_OCR_DICT_H
#define AVF_APPS_OCR_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#define AVF_OCR_DICT_MAX_CLASSES 100000
#define AVF_OCR_DICT_MAX_CHAR_BYTES 32

typedef struct avf_ocr_dict {
    int n_classes;       /* blank + K + space */
    char *text;          /* all entries, each NUL-terminated */
    uint32_t *offset;    /* [n_classes] into text; class 0 (blank) is "" */
} avf_ocr_dict;

/* Build from newline-separated entries (a trailing "\r" is dropped). */
avf_status avf_ocr_dict_from_lines(const char *lines, size_t len, avf_ocr_dict *d);
/* Read the "character" metadata entry of an ONNX file. */
avf_status avf_ocr_dict_load_onnx(const char *path, avf_ocr_dict *d);
void avf_ocr_dict_free(avf_ocr_dict *d);

/* CTC greedy decoding of one sequence: idx[T] (argmax class per step),
 * prob[T] (its probability). Repeats collapse, blanks drop; the text is the
 * entries of the kept classes, the score their mean probability (0 when
 * nothing is kept). *text is malloc'ed UTF-8. Class indices outside the
 * dictionary fail with AVF_ERR_CORRUPT. */
avf_status avf_ocr_ctc_decode(const avf_ocr_dict *d, const int64_t *idx, const float *prob,
                              int T, char **text, float *score);

#endif /* AVF_APPS_OCR_DICT_H */
