/* Version and build facts. */
#include "avflow/version.h"

#define AVF_STR2(x) #x
#define AVF_STR(x) AVF_STR2(x)

#ifndef AVF_BUILD_INFO
#define AVF_BUILD_INFO "unknown"
#endif

const char *avf_version(void) {
    return AVF_STR(AVF_VERSION_MAJOR) "." AVF_STR(AVF_VERSION_MINOR) "." AVF_STR(AVF_VERSION_PATCH);
}

const char *avf_build_info(void) { return AVF_BUILD_INFO; }
