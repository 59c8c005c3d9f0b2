/* avflow: GPU inference runtime for audio and video ML. Umbrella header. */
#ifndef AVFLOW_H
#define AVFLOW_H

#include "avflow/status.h"
#include "avflow/log.h"
#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/staging.h"
#include "avflow/ledger.h"
#include "avflow/tensor.h"
#include "avflow/queue.h"
#include "avflow/threadpool.h"
#include "avflow/version.h"
#include "avflow/audio.h"
#include "avflow/model.h"

#endif /* AVFLOW_H */
