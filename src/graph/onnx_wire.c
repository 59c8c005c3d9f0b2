/* A wire-format pre-check run before protobuf-c unpacks untrusted bytes.
 *
 * Why: protobuf_c_message_unpack() recurses once per nested message with no
 * depth limit, so a few kilobytes of nested GraphProto/NodeProto/AttributeProto
 * headers overflow the stack; and it allocates a full C struct per message, so
 * tiny empty messages amplify memory ~50x. This walker follows the same
 * descriptors protobuf-c uses, with an explicit depth bound, and adds up what
 * unpacking would allocate so the loader can refuse before allocating.
 */
#include <protobuf-c/protobuf-c.h>

#include "core/error.h"
#include "graph/onnx.h"

typedef struct wire_ctx {
    uint64_t bytes; /* estimated allocation of the unpacked message tree */
} wire_ctx;

/* Reads a base-128 varint; returns bytes consumed, 0 if truncated/overlong. */
static size_t read_varint(const uint8_t *p, size_t len, uint64_t *v) {
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

static size_t scalar_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    default:
        return 4;
    }
}

static avf_status walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                       int depth, wire_ctx *cx) {
    if (depth > AVF_ONNX_MAX_MESSAGE_DEPTH)
        return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: messages nested deeper than %d (%s)",
                        AVF_ONNX_MAX_MESSAGE_DEPTH, desc->name);
    cx->bytes += desc->sizeof_message;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag = 0;
        size_t k = read_varint(p + pos, len - pos, &tag);
        if (k == 0)
            return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: truncated field tag in %s at byte %zu",
                            desc->name, pos);
        pos += k;
        uint64_t num = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (num == 0 || num > 0x1fffffff)
            return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: bad field number in %s", desc->name);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(desc, (unsigned)num);
        int repeated = f && f->label == PROTOBUF_C_LABEL_REPEATED;
        switch (wt) {
        case 0: { /* varint */
            uint64_t v;
            k = read_varint(p + pos, len - pos, &v);
            if (k == 0)
                return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: truncated varint in %s", desc->name);
            pos += k;
            cx->bytes += repeated ? 8 : 0;
            break;
        }
        case 1: /* 64-bit */
        case 5: /* 32-bit */ {
            size_t w = wt == 1 ? 8 : 4;
            if (len - pos < w)
                return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: truncated fixed field in %s", desc->name);
            pos += w;
            cx->bytes += repeated ? 8 : 0;
            break;
        }
        case 2: { /* length-delimited */
            uint64_t n;
            k = read_varint(p + pos, len - pos, &n);
            if (k == 0 || n > len - pos - k)
                return AVF_FAIL(AVF_ERR_CORRUPT,
                                "onnx: field %llu of %s runs past the end of its message",
                                (unsigned long long)num, desc->name);
            pos += k;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                AVF_TRY(walk(f->descriptor, p + pos, (size_t)n, depth + 1, cx));
                cx->bytes += repeated ? sizeof(void *) : 0;
            } else if (f && (f->type == PROTOBUF_C_TYPE_STRING ||
                             f->type == PROTOBUF_C_TYPE_BYTES)) {
                cx->bytes += n + 1 + (repeated ? sizeof(ProtobufCBinaryData) : 0);
            } else if (f) {
                /* packed scalars: at least one byte each on the wire */
                cx->bytes += n * scalar_size(f->type);
            } else {
                /* unknown fields are kept as copies */
                cx->bytes += n + sizeof(ProtobufCMessageUnknownField);
            }
            pos += (size_t)n;
            break;
        }
        default: /* 3/4 are groups (proto2 only, never used by ONNX); 6/7 invalid */
            return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: wire type %u in %s is not supported", wt,
                            desc->name);
        }
    }
    return AVF_OK;
}

avf_status avf_onnx_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, uint64_t *unpacked) {
    AVF_CHECK_ARG(desc && (data || len == 0) && unpacked);
    wire_ctx cx = {0};
    AVF_TRY(walk(desc, data, len, 0, &cx));
    *unpacked = cx.bytes;
    return AVF_OK;
}
