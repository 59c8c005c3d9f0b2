/* The recognizer's dictionary (ONNX metadata) and CTC greedy decoding; see
 * ocr_dict.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/ocr_dict.h"
#include "core/error.h"
#include "onnx.pb-c.h"

#define DICT_MAX_FILE_BYTES (512u << 20)

avf_status avf_ocr_dict_from_lines(const char *lines, size_t len, avf_ocr_dict *d) {
    AVF_CHECK_ARG(lines != NULL && d != NULL);
    memset(d, 0, sizeof *d);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += lines[i] == '\n';
    if (len && lines[len - 1] != '\n')
        n++;
    if (n < 1 || n + 2 > AVF_OCR_DICT_MAX_CLASSES)
        return AVF_FAIL(AVF_ERR_CORRUPT, "ocr dictionary: %zu entries (1..%d)", n,
                        AVF_OCR_DICT_MAX_CLASSES - 2);
    d->n_classes = (int)n + 2;
    d->text = malloc(len + 4);
    d->offset = calloc((size_t)d->n_classes, sizeof *d->offset);
    if (!d->text || !d->offset) {
        avf_ocr_dict_free(d);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr dictionary");
    }
    size_t w = 0;
    d->text[w++] = 0; /* blank */
    d->offset[0] = 0;
    size_t start = 0;
    int k = 1;
    for (size_t i = 0; i <= len && k <= (int)n; i++) {
        if (i == len || lines[i] == '\n') {
            size_t e = i;
            if (e > start && lines[e - 1] == '\r')
                e--;
            if (e - start > AVF_OCR_DICT_MAX_CHAR_BYTES) {
                avf_ocr_dict_free(d);
                return AVF_FAIL(AVF_ERR_CORRUPT, "ocr dictionary: entry %d is %zu bytes", k,
                                e - start);
            }
            d->offset[k++] = (uint32_t)w;
            memcpy(d->text + w, lines + start, e - start);
            w += e - start;
            d->text[w++] = 0;
            start = i + 1;
        }
    }
    d->offset[k] = (uint32_t)w; /* the space class */
    d->text[w++] = ' ';
    d->text[w++] = 0;
    return AVF_OK;
}

avf_status avf_ocr_dict_load_onnx(const char *path, avf_ocr_dict *d) {
    AVF_CHECK_ARG(path != NULL && d != NULL);
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f)
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "ocr: cannot open %s", path);
    avf_status st = AVF_OK;
    uint8_t *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size <= 0 || (unsigned long)size > DICT_MAX_FILE_BYTES || fseek(f, 0, SEEK_SET) != 0)
        st = AVF_FAIL(AVF_ERR_IO, "ocr: %s: unreadable or too large (%ld bytes)", path, size);
    if (st == AVF_OK && !(buf = malloc((size_t)size)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: %ld bytes for %s", size, path);
    if (st == AVF_OK && fread(buf, 1, (size_t)size, f) != (size_t)size)
        st = AVF_FAIL(AVF_ERR_IO, "ocr: reading %s", path);
    fclose(f);
    Onnx__ModelProto *m = NULL;
    if (st == AVF_OK && !(m = onnx__model_proto__unpack(NULL, (size_t)size, buf)))
        st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: %s is not an ONNX model", path);
    free(buf);
    if (st != AVF_OK)
        return st;
    const char *chars = NULL;
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = m->metadata_props[i];
        if (e && e->key && e->value && strcmp(e->key, "character") == 0)
            chars = e->value;
    }
    if (!chars)
        st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: %s has no 'character' metadata (the dictionary)", path);
    else
        st = avf_ocr_dict_from_lines(chars, strlen(chars), d);
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}

void avf_ocr_dict_free(avf_ocr_dict *d) {
    if (d) {
        free(d->text);
        free(d->offset);
        memset(d, 0, sizeof *d);
    }
}

avf_status avf_ocr_ctc_decode(const avf_ocr_dict *d, const int64_t *idx, const float *prob,
                              int T, char **text, float *score) {
    AVF_CHECK_ARG(d != NULL && text != NULL && score != NULL && T >= 0 &&
                  (T == 0 || (idx != NULL && prob != NULL)));
    *text = NULL;
    *score = 0.0f;
    size_t bytes = 1;
    for (int t = 0; t < T; t++) {
        if (idx[t] < 0 || idx[t] >= d->n_classes)
            return AVF_FAIL(AVF_ERR_CORRUPT, "ctc: class %lld outside the dictionary (%d)",
                            (long long)idx[t], d->n_classes);
        bytes += strlen(d->text + d->offset[idx[t]]);
    }
    char *s = malloc(bytes);
    if (!s)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ctc: text");
    size_t w = 0;
    double sum = 0;
    int kept = 0;
    for (int t = 0; t < T; t++) {
        if (idx[t] == 0 || (t > 0 && idx[t] == idx[t - 1]))
            continue;
        const char *c = d->text + d->offset[idx[t]];
        size_t l = strlen(c);
        memcpy(s + w, c, l);
        w += l;
        sum += prob[t];
        kept++;
    }
    s[w] = 0;
    *text = s;
    *score = kept ? (float)(sum / kept) : 0.0f;
    return AVF_OK;
}
