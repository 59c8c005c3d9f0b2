/* avflow logging.
 *
 * The level comes from the AVF_LOG environment variable (error, warn, info,
 * debug, trace; default warn), read once on first use, and can be changed
 * with avf_log_set_level(). Messages go to stderr unless a sink is set.
 */
#ifndef AVFLOW_LOG_H
#define AVFLOW_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum avf_log_level {
    AVF_LOG_OFF = 0,
    AVF_LOG_ERROR,
    AVF_LOG_WARN,
    AVF_LOG_INFO,
    AVF_LOG_DEBUG,
    AVF_LOG_TRACE
} avf_log_level;

typedef void (*avf_log_sink)(avf_log_level level, const char *msg, void *user);

avf_log_level avf_log_get_level(void);
void avf_log_set_level(avf_log_level level);
/* Parse "error"/"warn"/"info"/"debug"/"trace"/"off" (case-insensitive) or a
 * digit 0-5. Returns -1 if the text is not a level. */
int avf_log_parse_level(const char *text);
/* Route messages to sink (NULL restores stderr). */
void avf_log_set_sink(avf_log_sink sink, void *user);

void avf_log_write(avf_log_level level, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#define AVF_LOG_AT(lvl, ...)                                              \
    do {                                                                  \
        if ((int)(lvl) <= (int)avf_log_get_level())                       \
            avf_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);        \
    } while (0)
#define AVF_ERROR(...) AVF_LOG_AT(AVF_LOG_ERROR, __VA_ARGS__)
#define AVF_WARN(...) AVF_LOG_AT(AVF_LOG_WARN, __VA_ARGS__)
#define AVF_INFO(...) AVF_LOG_AT(AVF_LOG_INFO, __VA_ARGS__)
#define AVF_DEBUG(...) AVF_LOG_AT(AVF_LOG_DEBUG, __VA_ARGS__)
#define AVF_TRACE(...) AVF_LOG_AT(AVF_LOG_TRACE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_LOG_H */
