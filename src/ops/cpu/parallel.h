/* Internal: the CPU kernels' threads.
 *
 * One process-wide pool of avf_cpu_threads() - 1 workers (created on first
 * use) plus the calling thread runs parallel loops. The thread count is
 * AVF_CPU_THREADS, else OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the
 * online CPUs (1..64): one knob for everything the CPU backend runs, as ONNX
 * Runtime's intra-op threads. OpenBLAS itself is set to one thread when the
 * pool starts: GEMMs are split across this pool instead (cpu/blas.c), so
 * that OpenBLAS's own (spinning) workers never compete with these.
 *
 * Only one parallel loop runs at a time; a loop started while another runs
 * (another model run on another thread, or a loop inside a loop) runs
 * inline on its caller, so results never depend on the scheduling.
 */
#ifndef AVF_OPS_CPU_PARALLEL_H
#define AVF_OPS_CPU_PARALLEL_H

#include <stdint.h>

/* fn(arg, lo, hi, slot): one chunk, the indices [lo, hi); chunks are
 * disjoint and cover [0, n). slot (0 <= slot < avf_cpu_threads()) names the
 * thread running the chunk, and no two chunks run at once in one slot, so a
 * loop may give each slot its own scratch. */
typedef void (*avf_cpu_range_fn)(void *arg, int64_t lo, int64_t hi, int slot);

/* The thread count (>= 1), starting the pool on first use. */
int avf_cpu_threads(void);

/* Runs fn over [0, n) in chunks of at least `grain` indices each (grain < 1
 * counts as 1; at most 4 chunks per thread), on the caller and the workers;
 * returns when all are done. n <= 0 calls nothing. */
void avf_cpu_parallel_for(int64_t n, int64_t grain, avf_cpu_range_fn fn, void *arg);

#endif /* AVF_OPS_CPU_PARALLEL_H */
