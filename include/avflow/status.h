/* avflow status codes and the thread-local error message.
 *
 * Every library function that can fail returns an avf_status. On failure it
 * also leaves a human-readable message in a thread-local buffer that
 * avf_last_error() returns; the message says what failed and why (for CUDA
 * errors it names the call, file and line). No library function aborts or
 * exits on bad input, corrupt data or out-of-memory.
 */
#ifndef AVFLOW_STATUS_H
#define AVFLOW_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum avf_status {
    AVF_OK = 0,
    AVF_ERR_INVALID_ARG,   /* a caller passed a bad argument */
    AVF_ERR_OUT_OF_MEMORY, /* host or device allocation failed, or a cap was hit */
    AVF_ERR_DEVICE,        /* a device runtime (CUDA, cuBLAS, ...) call failed */
    AVF_ERR_UNSUPPORTED,   /* valid request that this build/device cannot serve */
    AVF_ERR_NOT_FOUND,     /* a named thing (device, file, model) does not exist */
    AVF_ERR_IO,            /* reading or writing a file or socket failed */
    AVF_ERR_CORRUPT,       /* input data is malformed */
    AVF_ERR_FULL,          /* a bounded queue or table is full */
    AVF_ERR_TIMEOUT,       /* a wait ran past its deadline */
    AVF_ERR_CLOSED,        /* the object was closed/shut down */
    AVF_ERR_INTERNAL,      /* an invariant broke inside avflow (a bug) */
    AVF_STATUS_COUNT
} avf_status;

/* Stable upper-case name of a status ("AVF_ERR_DEVICE"); never NULL. */
const char *avf_status_name(avf_status s);

/* The message of the last failure on this thread ("" if none). Valid until
 * the next avflow call on this thread that fails or clears it. */
const char *avf_last_error(void);

/* Clear this thread's message. */
void avf_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_STATUS_H */
