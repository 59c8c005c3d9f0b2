/* Executor ops of the matmul family (see graph/exec_op.h). */
#include <stddef.h>

#include "graph/exec_op.h"

const avf_exec_op *const avf_exec_ops_matmul[] = {
    NULL,
};
