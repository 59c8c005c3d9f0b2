/* Executor ops of the elementwise family (see graph/exec_op.h). */
#include <stddef.h>

#include "graph/exec_op.h"

const avf_exec_op *const avf_exec_ops_elementwise[] = {
    NULL,
};
