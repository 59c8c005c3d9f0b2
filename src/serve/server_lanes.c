/* The server's devices: the device list of its options made into lanes,
 * each with its run pool and VRAM budget. Kept apart from server.c, which is
 * the HTTP plumbing. */
#include <stdio.h>

#include "core/error.h"
#include "serve/server_impl.h"

avf_status avf_srv_server_lanes(const avf_server_options *o, avf_srv_residency **res,
                                avf_srv_lanes **lanes) {
    *res = NULL;
    *lanes = NULL;
    avf_device *devs[AVF_SERVER_MAX_DEVICES];
    int n = 0;
    if (o->devices[0])
        AVF_TRY(avf_device_parse_list(o->devices, devs, AVF_SERVER_MAX_DEVICES, &n));
    else {
        AVF_TRY(avf_device_parse(o->device, &devs[0]));
        n = 1;
    }
    uint64_t budgets[AVF_SERVER_MAX_DEVICES];
    if (o->n_device_budgets && o->n_device_budgets != n)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%d VRAM budgets for %d devices (give one budget "
                        "for every device, or one number for all)", o->n_device_budgets, n);
    for (int i = 0; i < n; i++)
        budgets[i] = o->n_device_budgets ? o->device_budget_bytes[i] : o->vram_budget_bytes;
    const char *pins[64];
    for (int i = 0; i < o->n_pins; i++)
        pins[i] = o->pins[i];
    AVF_TRY(avf_srv_residency_create(pins, o->n_pins, res));
    /* each pool's 85 % watermark evicts idle models of its device (residency.h) */
    avf_pool_config pc;
    avf_pool_config_default(&pc);
    pc.cap_bytes = o->pool_cap_bytes;
    pc.on_watermark = avf_srv_residency_on_watermark;
    pc.watermark_user = *res;
    avf_status st = avf_srv_lanes_create(devs, n, &pc, budgets, lanes);
    if (st != AVF_OK) {
        avf_srv_residency_free(*res);
        *res = NULL;
    }
    return st;
}
