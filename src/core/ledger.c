/* avflow transfer ledger: per-tag host<->device byte counters.
 *
 * Layout: a fixed array of AVF_LEDGER_MAX_TAGS entries filled in first-seen
 * order, plus an open-addressing index (twice as many slots, linear probing)
 * from a hash of the tag to entry number + 1 (0 = empty slot).
 *
 * Recording is on the path of every copy, from many threads, so once a tag
 * exists it is lock-free: an acquire load of index slots finds the entry and
 * relaxed atomic adds count into it. Entries are never removed or moved, so
 * a found entry stays valid. A new tag takes the mutex, re-checks, writes
 * the entry and only then publishes it (release store of the index slot and
 * of the entry count), so readers never see a half-written tag.
 *
 * The last entry is reserved for "other": once the table is full, unseen
 * tags are counted there without taking the mutex.
 */
#include "avflow/ledger.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define AVF_LEDGER_INDEX_SLOTS (2 * AVF_LEDGER_MAX_TAGS) /* power of two */
#define AVF_LEDGER_OTHER "other"
#define AVF_LEDGER_UNTAGGED "untagged"

typedef struct avf_ledger_slot {
    char tag[AVF_LEDGER_TAG_MAX + 1]; /* immutable once published */
    size_t len;
    _Atomic uint64_t bytes[AVF_COPY_KIND_COUNT];
    _Atomic uint64_t copies[AVF_COPY_KIND_COUNT];
} avf_ledger_slot;

struct avf_ledger {
    pthread_mutex_t mu;                           /* serializes interning */
    _Atomic uint32_t index[AVF_LEDGER_INDEX_SLOTS]; /* entry + 1, 0 = empty */
    _Atomic size_t count;                         /* published entries */
    _Atomic int other;                            /* entry + 1 of "other", 0 = none */
    _Atomic int strict;                           /* strict GPU mode on */
    _Atomic uint64_t refused;                     /* copies the strict check refused */
    avf_ledger_slot entries[AVF_LEDGER_MAX_TAGS];
};

/* Static zero-initialization is a valid state for C11 atomics, so the global
 * ledger needs no constructor and is usable from any thread at any time. */
static avf_ledger avf_ledger_global_instance = {.mu = PTHREAD_MUTEX_INITIALIZER};

avf_ledger *avf_ledger_global(void) {
    return &avf_ledger_global_instance;
}

avf_status avf_ledger_create(avf_ledger **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    /* calloc gives the same all-zero state as the static global. */
    avf_ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ledger: out of host memory");
    int rc = pthread_mutex_init(&l->mu, NULL);
    if (rc != 0) {
        free(l);
        return AVF_FAIL(AVF_ERR_INTERNAL, "ledger: pthread_mutex_init failed (%d)", rc);
    }
    *out = l;
    return AVF_OK;
}

void avf_ledger_free(avf_ledger *l) {
    /* The global ledger is documented as never freed. */
    if (!l || l == &avf_ledger_global_instance)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The tag as stored: NULL/"" become "untagged", long tags are cut at 63. */
static const char *avf_ledger_norm(const char *tag, size_t *len) {
    if (!tag || !tag[0])
        tag = AVF_LEDGER_UNTAGGED;
    size_t n = strnlen(tag, AVF_LEDGER_TAG_MAX + 1);
    *len = n > AVF_LEDGER_TAG_MAX ? AVF_LEDGER_TAG_MAX : n;
    return tag;
}

/* FNV-1a: short tags, cheap, good enough spread for a 512-slot table. */
static uint32_t avf_ledger_hash(const char *tag, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)tag[i];
        h *= 16777619u;
    }
    return h;
}

/* Lock-free lookup: the entry for tag, or NULL. Probing stops at the first
 * empty slot; slots are only ever filled, never emptied, so an entry
 * inserted before this call began cannot be hidden behind an empty slot. */
static avf_ledger_slot *avf_ledger_find(avf_ledger *l, const char *tag, size_t len,
                                        uint32_t hash) {
    for (uint32_t i = 0; i < AVF_LEDGER_INDEX_SLOTS; i++) {
        uint32_t pos = (hash + i) & (AVF_LEDGER_INDEX_SLOTS - 1);
        uint32_t v = atomic_load_explicit(&l->index[pos], memory_order_acquire);
        if (v == 0)
            return NULL;
        avf_ledger_slot *e = &l->entries[v - 1];
        if (e->len == len && memcmp(e->tag, tag, len) == 0)
            return e;
    }
    return NULL;
}

/* Add a new entry under l->mu; the caller has checked it is absent and that
 * a free entry exists. */
static avf_ledger_slot *avf_ledger_insert_locked(avf_ledger *l, const char *tag, size_t len,
                                                 uint32_t hash) {
    size_t n = atomic_load_explicit(&l->count, memory_order_relaxed);
    avf_ledger_slot *e = &l->entries[n];
    memcpy(e->tag, tag, len);
    e->tag[len] = '\0';
    e->len = len;
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++) {
        atomic_store_explicit(&e->bytes[k], 0, memory_order_relaxed);
        atomic_store_explicit(&e->copies[k], 0, memory_order_relaxed);
    }
    /* Publish the entry to snapshot readers, then to lookups. */
    atomic_store_explicit(&l->count, n + 1, memory_order_release);
    for (uint32_t i = 0; i < AVF_LEDGER_INDEX_SLOTS; i++) {
        uint32_t pos = (hash + i) & (AVF_LEDGER_INDEX_SLOTS - 1);
        if (atomic_load_explicit(&l->index[pos], memory_order_relaxed) == 0) {
            atomic_store_explicit(&l->index[pos], (uint32_t)(n + 1), memory_order_release);
            break;
        }
    }
    /* The index has twice as many slots as entries, so a free slot always
     * exists and the loop above always stores. */
    return e;
}

/* Slow path for a tag not yet in the table: intern it, or count it under
 * "other" when the table is full. */
static avf_ledger_slot *avf_ledger_intern(avf_ledger *l, const char *tag, size_t len,
                                          uint32_t hash) {
    pthread_mutex_lock(&l->mu);
    avf_ledger_slot *e = avf_ledger_find(l, tag, len, hash);
    if (!e) {
        size_t n = atomic_load_explicit(&l->count, memory_order_relaxed);
        int is_other = len == strlen(AVF_LEDGER_OTHER) && memcmp(tag, AVF_LEDGER_OTHER, len) == 0;
        /* The last entry is kept for "other" so overflow always has a home. */
        if (n + 1 < AVF_LEDGER_MAX_TAGS || (is_other && n < AVF_LEDGER_MAX_TAGS)) {
            e = avf_ledger_insert_locked(l, tag, len, hash);
            if (is_other)
                atomic_store_explicit(&l->other, (int)(e - l->entries) + 1, memory_order_release);
        } else {
            int o = atomic_load_explicit(&l->other, memory_order_relaxed);
            if (o == 0) {
                size_t olen = strlen(AVF_LEDGER_OTHER);
                e = avf_ledger_insert_locked(l, AVF_LEDGER_OTHER, olen,
                                             avf_ledger_hash(AVF_LEDGER_OTHER, olen));
                atomic_store_explicit(&l->other, (int)(e - l->entries) + 1, memory_order_release);
            } else {
                e = &l->entries[o - 1];
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return e;
}

void avf_ledger_record(avf_ledger *l, const char *tag, avf_copy_kind kind, uint64_t bytes) {
    /* No status to return: bad arguments are dropped rather than counted
     * under a wrong direction. */
    if (!l || (int)kind < 0 || (int)kind >= (int)AVF_COPY_KIND_COUNT)
        return;
    size_t len;
    tag = avf_ledger_norm(tag, &len);
    uint32_t hash = avf_ledger_hash(tag, len);
    avf_ledger_slot *e = avf_ledger_find(l, tag, len, hash);
    if (!e) {
        /* Full table: go straight to "other" without the mutex, so overflow
         * tags stay lock-free too. */
        int o = atomic_load_explicit(&l->other, memory_order_acquire);
        if (o != 0 && atomic_load_explicit(&l->count, memory_order_acquire) >= AVF_LEDGER_MAX_TAGS)
            e = &l->entries[o - 1];
        else
            e = avf_ledger_intern(l, tag, len, hash);
    }
    atomic_fetch_add_explicit(&e->bytes[kind], bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->copies[kind], 1, memory_order_relaxed);
}

static void avf_ledger_copy_entry(const avf_ledger_slot *e, avf_ledger_entry *out) {
    memcpy(out->tag, e->tag, e->len);
    out->tag[e->len] = '\0';
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++) {
        out->bytes[k] = atomic_load_explicit(&e->bytes[k], memory_order_relaxed);
        out->copies[k] = atomic_load_explicit(&e->copies[k], memory_order_relaxed);
    }
}

void avf_ledger_totals(avf_ledger *l, avf_copy_kind kind, uint64_t *bytes, uint64_t *copies) {
    uint64_t b = 0, c = 0;
    if (l && (int)kind >= 0 && (int)kind < (int)AVF_COPY_KIND_COUNT) {
        size_t n = atomic_load_explicit(&l->count, memory_order_acquire);
        for (size_t i = 0; i < n; i++) {
            b += atomic_load_explicit(&l->entries[i].bytes[kind], memory_order_relaxed);
            c += atomic_load_explicit(&l->entries[i].copies[kind], memory_order_relaxed);
        }
    }
    if (bytes)
        *bytes = b;
    if (copies)
        *copies = c;
}

size_t avf_ledger_snapshot(avf_ledger *l, avf_ledger_entry *entries, size_t cap) {
    if (!l)
        return 0;
    size_t n = atomic_load_explicit(&l->count, memory_order_acquire);
    if (entries)
        for (size_t i = 0; i < n && i < cap; i++)
            avf_ledger_copy_entry(&l->entries[i], &entries[i]);
    return n;
}

avf_status avf_ledger_get(avf_ledger *l, const char *tag, avf_ledger_entry *entry) {
    AVF_CHECK_ARG(l != NULL);
    AVF_CHECK_ARG(entry != NULL);
    size_t len;
    tag = avf_ledger_norm(tag, &len);
    avf_ledger_slot *e = avf_ledger_find(l, tag, len, avf_ledger_hash(tag, len));
    if (!e)
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "ledger has no tag \"%.*s\"", (int)len, tag);
    avf_ledger_copy_entry(e, entry);
    return AVF_OK;
}

void avf_ledger_reset(avf_ledger *l) {
    if (!l)
        return;
    /* Counters only: tags stay interned because lock-free recorders may
     * hold a pointer to any entry at any time, so entries can never be
     * reused for another tag. Records racing the reset land on either side
     * of it. */
    size_t n = atomic_load_explicit(&l->count, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < AVF_COPY_KIND_COUNT; k++) {
            atomic_store_explicit(&l->entries[i].bytes[k], 0, memory_order_relaxed);
            atomic_store_explicit(&l->entries[i].copies[k], 0, memory_order_relaxed);
        }
    atomic_store_explicit(&l->refused, 0, memory_order_relaxed);
}

/* ------------------------------------------------------------ strict mode */

static const char *const avf_ledger_frame_prefixes[] = {"video.", "image.", "frame."};

int avf_ledger_is_frame_tag(const char *tag) {
    if (!tag)
        return 0;
    for (size_t i = 0; i < sizeof avf_ledger_frame_prefixes / sizeof *avf_ledger_frame_prefixes; i++) {
        size_t n = strlen(avf_ledger_frame_prefixes[i]);
        if (strncmp(tag, avf_ledger_frame_prefixes[i], n) == 0)
            return 1;
    }
    return 0;
}

/* The environment is read once for the global ledger, before any explicit
 * setting can be made or read, so avf_ledger_set_strict always wins. */
static pthread_once_t avf_ledger_env_once = PTHREAD_ONCE_INIT;

static void avf_ledger_read_env(void) {
    const char *v = getenv("AVF_STRICT_GPU");
    if (v && v[0] && strcmp(v, "0") != 0)
        atomic_store_explicit(&avf_ledger_global_instance.strict, 1, memory_order_relaxed);
}

static void avf_ledger_env(avf_ledger *l) {
    if (l == &avf_ledger_global_instance)
        pthread_once(&avf_ledger_env_once, avf_ledger_read_env);
}

void avf_ledger_set_strict(avf_ledger *l, int on) {
    if (!l)
        return;
    avf_ledger_env(l);
    atomic_store_explicit(&l->strict, on ? 1 : 0, memory_order_relaxed);
}

int avf_ledger_strict(avf_ledger *l) {
    if (!l)
        return 0;
    avf_ledger_env(l);
    return atomic_load_explicit(&l->strict, memory_order_relaxed);
}

avf_status avf_ledger_check(avf_ledger *l, const char *tag, avf_copy_kind kind, uint64_t bytes) {
    /* Cheap tests first: this runs before every D2H copy. */
    if (!l || kind != AVF_COPY_D2H || !avf_ledger_is_frame_tag(tag) || !avf_ledger_strict(l))
        return AVF_OK;
    atomic_fetch_add_explicit(&l->refused, 1, memory_order_relaxed);
    return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                    "strict GPU mode: stage \"%.*s\" copies %llu bytes of decoded frames "
                    "to the host (device to host); keep the frames on the device, or turn "
                    "strict mode off (AVF_STRICT_GPU=0)",
                    AVF_LEDGER_TAG_MAX, tag, (unsigned long long)bytes);
}

uint64_t avf_ledger_refused(avf_ledger *l) {
    return l ? atomic_load_explicit(&l->refused, memory_order_relaxed) : 0;
}
