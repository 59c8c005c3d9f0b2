/* Thread names through prctl (pthread_setname_np needs _GNU_SOURCE). */
#include "core/thread_name.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

void avf_thread_set_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    (void)name;
#endif
}
