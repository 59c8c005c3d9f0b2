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
/* Zero every counter; the interned tags stay. */
void avf_ledger_reset(avf_ledger *l);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_LEDGER_H */
