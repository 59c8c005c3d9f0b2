/* Names for avflow's threads, so that `top -H`, perf and /proc/PID/task
 * show which part of the server (batch workers, application workers, CPU
 * kernel threads) spends the CPU. */
#ifndef AVF_CORE_THREAD_NAME_H
#define AVF_CORE_THREAD_NAME_H

/* Names the calling thread (Linux keeps the first 15 bytes); a no-op where
 * the platform has no thread names. */
void avf_thread_set_name(const char *name);

#endif
