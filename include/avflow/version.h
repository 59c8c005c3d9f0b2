/* avflow version. */
#ifndef AVFLOW_VERSION_H
#define AVFLOW_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_VERSION_MAJOR 0
#define AVF_VERSION_MINOR 1
#define AVF_VERSION_PATCH 0

/* "0.1.0" */
const char *avf_version(void);
/* Build facts: "cuda=on sm=90 asan=off ..." */
const char *avf_build_info(void);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_VERSION_H */
