/* The capture gate: device-wide synchronization (cudaDeviceSynchronize,
 * cudaFree, which synchronizes) while another thread captures a CUDA graph
 * invalidates that capture (cudaErrorStreamCaptureUnsupported) and fails
 * the kernels being recorded. Plans capture on worker threads while other
 * threads load models, trim pools or wait on the device, so such calls
 * wait here until no capture on the device is open, and captures do not
 * start while one of them runs. A thread that is itself capturing passes
 * straight through (its call fails the capture, which plans expect and
 * fall back from). Captures are short (the recording of one run). */
#ifndef AVF_CORE_CAPTURE_GATE_H
#define AVF_CORE_CAPTURE_GATE_H

#include "core/backend.h"

void avf_capture_gate_begin(const avf_device *dev);  /* before a capture starts */
void avf_capture_gate_end(const avf_device *dev);    /* after it ended (either way) */
void avf_capture_gate_sync_enter(const avf_device *dev); /* around device-wide calls */
void avf_capture_gate_sync_leave(const avf_device *dev);

#endif
