/* Internal: setting the thread-local error message.
 *
 * AVF_FAIL(status, fmt, ...) records "file:line: message" and evaluates to
 * the status, so failures read `return AVF_FAIL(AVF_ERR_INVALID_ARG, "...")`.
 * AVF_TRY(expr) returns early with expr's status when it is not AVF_OK.
 */
#ifndef AVF_CORE_ERROR_H
#define AVF_CORE_ERROR_H

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_error_set(avf_status s, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#define AVF_FAIL(status, ...) avf_error_set((status), __FILE__, __LINE__, __VA_ARGS__)

#define AVF_TRY(expr)                       \
    do {                                    \
        avf_status avf_try_s_ = (expr);     \
        if (avf_try_s_ != AVF_OK)           \
            return avf_try_s_;              \
    } while (0)

#define AVF_CHECK_ARG(cond)                                                           \
    do {                                                                              \
        if (!(cond))                                                                  \
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "invalid argument: %s", #cond);      \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* AVF_CORE_ERROR_H */
