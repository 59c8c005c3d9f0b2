/* avflow transfer ledger: counts every host<->device byte.
 *
 * Each copy that avflow makes through avf_memcpy_async is recorded under its
 * tag and direction. Tags name *stages* ("vad.upload", "ocr.crops"), not
 * individual requests: they are interned for the ledger's whole life (reset
 * included), at most AVF_LEDGER_MAX_TAGS of them counting the reserved
 * "other", which collects every tag seen after the table is full. Tags are
 * truncated to 63 chars. Per-request accounting uses a ledger of its own. The process-wide ledger is what
 * metrics and the strict GPU mode read; separate ledgers can be created for
 * tests or per pipeline. Recording is thread-safe and lock-free after a tag
 * is first seen.
 *
 * Strict GPU mode (avf_ledger_set_strict, or AVF_STRICT_GPU=1 in the
 * environment for the global ledger): decoded frames must never come back to
 * the host. Stages that carry decoded-frame data tag their copies in the
 * frame namespaces "video.", "image." or "frame." (avf_ledger_is_frame_tag):
 * the decoders, the image kernels, and anything downstream that moves their
 * outputs. In strict mode a device-to-host copy under such a tag is refused
 * before it is made, with a status naming the tag (the stage), instead of
 * silently round-tripping the frame. avf_memcpy_async applies the check of
 * the global ledger to every D2H copy from a non-CPU device (on the CPU
 * device "device" memory is host memory, so nothing round-trips). The check
 * goes by tag: a copy of frame data under a tag outside the frame
 * namespaces is not caught, so frame-carrying stages must use them.
 */
#ifndef AVFLOW_LEDGER_H
#define AVFLOW_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_LEDGER_MAX_TAGS 256
#define AVF_LEDGER_TAG_MAX 63

typedef struct avf_ledger avf_ledger;

typedef struct avf_ledger_entry {
    char tag[AVF_LEDGER_TAG_MAX + 1];
    uint64_t bytes[AVF_COPY_KIND_COUNT];
    uint64_t copies[AVF_COPY_KIND_COUNT];
} avf_ledger_entry;

avf_status avf_ledger_create(avf_ledger **out);
void avf_ledger_free(avf_ledger *l);
/* The process-wide ledger (never NULL, never freed). */
avf_ledger *avf_ledger_global(void);

/* Count one copy. tag NULL or "" counts as "untagged". */
void avf_ledger_record(avf_ledger *l, const char *tag, avf_copy_kind kind, uint64_t bytes);
/* Totals over all tags for one direction. */
void avf_ledger_totals(avf_ledger *l, avf_copy_kind kind, uint64_t *bytes, uint64_t *copies);
/* Copy out up to `cap` entries; returns how many tags exist. */
size_t avf_ledger_snapshot(avf_ledger *l, avf_ledger_entry *entries, size_t cap);
/* One tag's counts; AVF_ERR_NOT_FOUND if never recorded. */
avf_status avf_ledger_get(avf_ledger *l, const char *tag, avf_ledger_entry *entry);
/* Zero every counter (refusals included); the interned tags and the strict
 * setting stay. */
void avf_ledger_reset(avf_ledger *l);

/* ------------------------------------------------------------ strict mode */

/* Whether `tag` names a stage carrying decoded frames: it starts with
 * "video.", "image." or "frame.". NULL/"" is not. */
int avf_ledger_is_frame_tag(const char *tag);
/* Turn strict GPU mode on (non-zero) or off. On the global ledger this
 * overrides AVF_STRICT_GPU; NULL ignored. */
void avf_ledger_set_strict(avf_ledger *l, int on);
/* 1 when strict; the global ledger starts strict when AVF_STRICT_GPU is set
 * to anything but "" or "0" (read once, at the first strict query). */
int avf_ledger_strict(avf_ledger *l);
/* The strict policy for one copy about to be made: AVF_ERR_UNSUPPORTED with
 * a message naming the tag when the ledger is strict, the copy is D2H and
 * the tag is a frame tag (the refusal is counted); AVF_OK otherwise (also
 * for l NULL). Records nothing else: the caller records the copy it makes. */
avf_status avf_ledger_check(avf_ledger *l, const char *tag, avf_copy_kind kind, uint64_t bytes);
/* Copies refused by the strict check since creation or the last reset. */
uint64_t avf_ledger_refused(avf_ledger *l);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_LEDGER_H */
