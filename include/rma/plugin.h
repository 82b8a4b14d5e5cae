/*
 * rma/plugin.h — the RM Abstract Layer device plugin ABI (C99).
 *
 * The only contract between the core and a backend. A backend is a shared
 * library named `librma_<name>.so` that exports one function,
 * `rma_plugin_open` (see the end of this file).
 *
 * Versioning. Every struct begins with `struct_size` and `abi_version`. The
 * core passes the highest ABI version it speaks to `rma_plugin_open`; the
 * plugin answers, in `rma_plugin_api.abi_version`, the version it implements
 * (at most the core's). A reader must never touch a field beyond
 * `struct_size`: that is how new fields are appended without breaking old
 * plugins. Enum values are stable; new values are appended.
 *
 * Optional functions may be NULL; the core checks before calling. Required
 * functions are marked "required".
 *
 * Ownership. The core owns every tensor descriptor and attribute struct it
 * passes; they are valid only for the duration of the call. Buffers returned
 * by `buffer_alloc` belong to the core until handed back to `buffer_free`.
 *
 * Threading. Functions that take a device may be called concurrently from
 * several threads, each with its own stream; calls on one stream are
 * serialised by the core.
 *
 * Errors. Functions return rma_status; on failure they fill `err->message`
 * (NUL-terminated, truncated to fit) with what failed and where.
 */
#ifndef RMA_PLUGIN_H
#define RMA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMA_ABI_VERSION 1u     /* highest version this header describes */
#define RMA_ABI_MIN_VERSION 1u /* oldest version the core still accepts */
#define RMA_PLUGIN_ENTRY_NAME "rma_plugin_open"
#define RMA_MAX_DIMS 8

#if defined(_WIN32)
#define RMA_PLUGIN_EXPORT __declspec(dllexport)
#else
#define RMA_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ status */
typedef enum rma_status {
  RMA_STATUS_OK = 0,
  RMA_STATUS_INVALID_ARGUMENT = 1, /* bad shapes, dtypes, attributes, ids */
  RMA_STATUS_UNSUPPORTED = 2,      /* valid request this device cannot run */
  RMA_STATUS_OUT_OF_MEMORY = 3,
  RMA_STATUS_DEVICE_ERROR = 4, /* driver or runtime failure */
  RMA_STATUS_ABI_MISMATCH = 5,
  RMA_STATUS_INTERNAL = 6,
  RMA_STATUS_NOT_FOUND = 7
} rma_status;

typedef struct rma_error {
  uint32_t struct_size;
  uint32_t abi_version;
  char message[1024];
} rma_error;

/* ------------------------------------------------------------------ dtypes */
/* Block-quantized types use the GGUF block layouts (see rma/formats.h):
 * elements are grouped along the innermost dimension in blocks of
 * rma_dtype_block_elems() and that dimension must be a multiple of it. */
typedef enum rma_dtype {
  RMA_DTYPE_F32 = 0,
  RMA_DTYPE_F16 = 1,
  RMA_DTYPE_BF16 = 2,
  RMA_DTYPE_I8 = 3,
  RMA_DTYPE_I32 = 4,
  RMA_DTYPE_I64 = 5,
  RMA_DTYPE_BOOL = 6,
  RMA_DTYPE_Q8_0 = 7, /* 32 elems: f16 d, int8 qs[32]                 34 B */
  RMA_DTYPE_Q4_0 = 8, /* 32 elems: f16 d, uint8 qs[16]                18 B */
  RMA_DTYPE_Q4_1 = 9, /* 32 elems: f16 d, f16 m, uint8 qs[16]         20 B */
  RMA_DTYPE_Q4_K = 10, /* 256 elems: f16 d, dmin, scales[12], qs[128] 144 B */
  RMA_DTYPE_Q6_K = 11, /* 256 elems: ql[128], qh[64], i8 sc[16], f16 d 210 B */
  RMA_DTYPE_Q5_K = 12, /* 256 elems: f16 d, dmin, scales[12], qh[32], qs[128] 176 B */
  RMA_DTYPE_COUNT
} rma_dtype;

/* ----------------------------------------------------------------- tensors */
/* A tensor as the core hands it to a plugin. Strides are in elements (for
 * block-quantized types, in logical elements; the innermost stride is 1 and
 * row strides are multiples of the block size). In ABI v1 the core passes
 * only dense row-major tensors; strides are given so a backend need not
 * recompute them. An absent optional tensor has ndim == -1. */
typedef struct rma_tensor {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t dtype; /* rma_dtype */
  int32_t ndim;
  int64_t shape[RMA_MAX_DIMS];
  int64_t strides[RMA_MAX_DIMS];
  void* data;      /* buffer handle from buffer_alloc (NULL in queries) */
  uint64_t offset; /* byte offset of element 0 inside data */
} rma_tensor;

/* --------------------------------------------------------------------- ops */
/* The op interface (docs/ops.md has the full semantics). Inputs and outputs
 * are listed in order; "?" marks an optional input (ndim == -1 if absent).
 * Outputs are allocated by the core with the shapes the schema gives,
 * except where marked "in place", where the caller's tensors are updated. */
typedef enum rma_op {
  RMA_OP_LINEAR = 0,        /* x, w, bias? -> y                      attrs: rma_linear_attrs */
  RMA_OP_QUANT_LINEAR = 1,  /* x[T,K], w[N,K] quantized, bias? -> y  attrs: rma_linear_attrs */
  RMA_OP_RMS_NORM = 2,      /* x[...,H], w[H] -> y                   attrs: rma_norm_attrs */
  RMA_OP_ADD_RMS_NORM = 3,  /* x, residual, w -> y, x+residual        attrs: rma_norm_attrs */
  RMA_OP_LAYER_NORM = 4,    /* x, w, b? -> y                         attrs: rma_norm_attrs */
  RMA_OP_ROPE = 5,          /* q[T,Hq,D], k[T,Hkv,D], positions[T] -> q', k'  attrs: rma_rope_attrs */
  RMA_OP_FILL_KV_CACHE = 6, /* k[T,Hkv,D], v, slot_mapping[T] -> k_cache, v_cache (in place) */
  RMA_OP_PREFILL_ATTENTION = 7,      /* q[T,Hq,D], k, v, cu_seqlens[B+1], alibi? -> o   attrs: rma_attention_attrs */
  RMA_OP_PAGED_DECODE_ATTENTION = 8, /* q[B,Hq,D], k_cache, v_cache, block_table, context_lens, alibi? -> o */
  RMA_OP_SILU_AND_MUL = 9,  /* x[...,2I] -> y[...,I] */
  RMA_OP_GELU_AND_MUL = 10, /* x[...,2I] -> y[...,I]                 attrs: rma_gelu_attrs */
  RMA_OP_EMBEDDING = 11,    /* ids[T], table[V,H] -> x[T,H] */
  RMA_OP_MOE_GATING_TOPK_SOFTMAX = 12, /* logits[T,E] -> weights[T,k] f32, ids[T,k] i32  attrs: rma_moe_gating_attrs */
  RMA_OP_SAMPLE = 13,       /* logits[B,V], prev_tokens[B,L]? -> ids[B] i32   attrs: rma_sample_attrs */
  RMA_OP_SOFTMAX = 14,      /* x -> y over the last axis             attrs: rma_softmax_attrs */
  RMA_OP_ADD = 15,          /* a, b (numpy broadcasting) -> a + b */
  RMA_OP_MUL = 16,          /* a, b (numpy broadcasting) -> a * b */
  /* Tier 2: general tensor ops, for imported graphs (docs/ops.md "Tier 2").
   * Float dtypes are f32/f16/bf16; "int" is i32/i64; bool is one byte 0/1.
   * where, gather, concat, slice, transpose and expand move any
   * non-quantized dtype (i8 too). */
  RMA_OP_UNARY = 17,     /* x -> y, same shape and dtype            attrs: rma_unary_attrs */
  RMA_OP_BINARY = 18,    /* a, b (numpy broadcasting) -> y           attrs: rma_binary_attrs */
  RMA_OP_MATMUL = 19,    /* a[...,M,K], b[...,K,N] (batch dims broadcast) -> y[...,M,N] */
  RMA_OP_REDUCE = 20,    /* x -> y over the axes in the mask          attrs: rma_reduce_attrs */
  RMA_OP_CAST = 21,      /* x -> y of another dtype                   attrs: rma_cast_attrs */
  RMA_OP_WHERE = 22,     /* cond (bool), a, b (numpy broadcasting) -> y */
  RMA_OP_GATHER = 23,    /* data, indices (int; < 0 counts from the end) -> y  attrs: rma_axis_attrs */
  RMA_OP_CONCAT = 24,    /* x0, x1, ... (1 to 64 inputs) -> y along axis  attrs: rma_axis_attrs */
  RMA_OP_SLICE = 25,     /* x -> y, a strided window                  attrs: rma_slice_attrs */
  RMA_OP_TRANSPOSE = 26, /* x -> y, axes permuted                     attrs: rma_transpose_attrs */
  RMA_OP_EXPAND = 27,    /* x -> y broadcast to a shape               attrs: rma_shape_attrs */
  RMA_OP_CONV2D = 28,    /* x[N,C,H,W], w[M,C/group,kH,kW], bias[M]? -> y[N,M,oH,oW]  attrs: rma_conv2d_attrs */
  RMA_OP_POOL2D = 29,    /* x[N,C,H,W] -> y[N,C,oH,oW]                attrs: rma_pool2d_attrs */
  RMA_OP_COUNT
} rma_op;

typedef enum rma_activation {
  RMA_ACT_NONE = 0,
  RMA_ACT_RELU = 1,
  RMA_ACT_LEAKY_RELU = 2, /* slope in activation_param */
  RMA_ACT_GELU = 3,       /* erf form */
  RMA_ACT_GELU_TANH = 4,
  RMA_ACT_SILU = 5,
  RMA_ACT_SIGMOID = 6,
  RMA_ACT_TANH = 7
} rma_activation;

/* quant_linear's arithmetic contract (docs/ops.md "quant_linear"). */
typedef enum rma_precision {
  /* The result as if computed in f32 from the exactly dequantized weights:
   * f32 rounding-level error, no rounding of the activations. */
  RMA_PRECISION_ACCURATE = 0,
  /* The backend may also round the activations to 8 bits (e.g. q8 blocks of
   * 32, as llama.cpp does): about 1% relative error per output. */
  RMA_PRECISION_FAST = 1
} rma_precision;

/* linear / quant_linear: y = act(alpha * opA(x) . opB(w) + bias), accumulated
 * in f32. opA(x) = x[T,K], or x stored [K,T] when trans_a. opB(w) is w
 * stored [N,K] transposed when trans_b (the linear layout, the default), or w
 * stored [K,N] as is when !trans_b. quant_linear requires trans_a == 0 and
 * trans_b == 1.
 * `precision` was appended to ABI v1: a plugin reads it only when
 * struct_size >= offsetof(rma_linear_attrs, precision) + sizeof(int32_t),
 * and treats a shorter struct (a caller built against the older header) as
 * RMA_PRECISION_ACCURATE. linear is always computed in f32 and ignores it. */
typedef struct rma_linear_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t trans_a;
  int32_t trans_b;
  int32_t activation; /* rma_activation */
  float activation_param;
  float alpha;
  int32_t precision; /* rma_precision (quant_linear); appended, see above */
} rma_linear_attrs;

typedef struct rma_norm_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  float eps;
} rma_norm_attrs;

typedef enum rma_rope_style {
  RMA_ROPE_NEOX = 0, /* rotate pairs (i, i + rotary_dim/2) */
  RMA_ROPE_GPTJ = 1  /* rotate pairs (2i, 2i + 1) */
} rma_rope_style;

typedef enum rma_rope_scaling {
  RMA_ROPE_SCALING_NONE = 0,
  RMA_ROPE_SCALING_LINEAR = 1, /* positions divided by factor */
  RMA_ROPE_SCALING_LLAMA3 = 2, /* frequency-dependent, Llama 3.1 */
  RMA_ROPE_SCALING_YARN = 3    /* reserved: rejected by the v1 schema */
} rma_rope_scaling;

typedef struct rma_rope_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t style;      /* rma_rope_style */
  int32_t rotary_dim; /* even, <= D; 0 means D. Dims past it pass through. */
  float theta;        /* frequency base, e.g. 10000 */
  int32_t scaling;    /* rma_rope_scaling */
  float factor;
  float low_freq_factor;  /* llama3 */
  float high_freq_factor; /* llama3 */
  int32_t original_max_position; /* llama3 */
} rma_rope_attrs;

typedef struct rma_attention_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  float scale;            /* softmax scale, usually 1/sqrt(D) */
  int32_t causal;         /* prefill only */
  int32_t sliding_window; /* > 0: a query at p sees keys at p-window < j <= p */
} rma_attention_attrs;

typedef struct rma_gelu_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t approximate; /* 0: erf, 1: tanh */
} rma_gelu_attrs;

typedef struct rma_moe_gating_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t k;
  int32_t renormalize;
} rma_moe_gating_attrs;

typedef struct rma_sample_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  float temperature;        /* <= 0: greedy argmax */
  int32_t top_k;            /* 0: off */
  float top_p;              /* 1: off */
  float min_p;              /* 0: off */
  float repetition_penalty; /* 1: off */
  uint64_t seed;
} rma_sample_attrs;

typedef struct rma_softmax_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t axis; /* -1 (the last axis) is the only value v1 accepts */
  /* Appended to v1: 1 gives log_softmax. Read only when struct_size covers
   * it; a shorter struct means softmax. */
  int32_t log;
} rma_softmax_attrs;

/* ------------------------------------------------------ Tier 2 attributes */
typedef enum rma_unary_kind {
  RMA_UNARY_NEG = 0,
  RMA_UNARY_ABS = 1,
  RMA_UNARY_EXP = 2,
  RMA_UNARY_LOG = 3,
  RMA_UNARY_SQRT = 4,
  RMA_UNARY_RSQRT = 5,
  RMA_UNARY_RECIPROCAL = 6,
  RMA_UNARY_SIN = 7,
  RMA_UNARY_COS = 8,
  RMA_UNARY_ERF = 9,
  RMA_UNARY_TANH = 10,
  RMA_UNARY_SIGMOID = 11,
  RMA_UNARY_RELU = 12,
  RMA_UNARY_LEAKY_RELU = 13, /* slope in param0 */
  RMA_UNARY_GELU = 14,       /* erf form */
  RMA_UNARY_GELU_TANH = 15,
  RMA_UNARY_SILU = 16,
  RMA_UNARY_FLOOR = 17,
  RMA_UNARY_CEIL = 18,
  RMA_UNARY_ROUND = 19, /* half to even, as ONNX and numpy */
  RMA_UNARY_SIGN = 20,
  RMA_UNARY_CLIP = 21, /* min(max(x, param0), param1); ints: ceil(param0), floor(param1) */
  RMA_UNARY_NOT = 22,  /* bool only */
  RMA_UNARY_COUNT
} rma_unary_kind;

/* Float kinds take float dtypes; NEG, ABS, SIGN, RELU and CLIP also ints. */
typedef struct rma_unary_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t kind; /* rma_unary_kind */
  float param0;
  float param1;
} rma_unary_attrs;

typedef enum rma_binary_kind {
  RMA_BINARY_ADD = 0,
  RMA_BINARY_SUB = 1,
  RMA_BINARY_MUL = 2,
  RMA_BINARY_DIV = 3, /* ints: truncated toward zero; division by 0 is an error */
  RMA_BINARY_POW = 4, /* floats */
  RMA_BINARY_MAX = 5,
  RMA_BINARY_MIN = 6,
  RMA_BINARY_MOD = 7, /* ints: sign of the divisor (Python), by 0 an error; floats: fmod */
  /* Comparisons: numeric inputs, bool output. */
  RMA_BINARY_EQUAL = 8,
  RMA_BINARY_LESS = 9,
  RMA_BINARY_LESS_EQUAL = 10,
  RMA_BINARY_GREATER = 11,
  RMA_BINARY_GREATER_EQUAL = 12,
  /* Logic: bool inputs, bool output. */
  RMA_BINARY_AND = 13,
  RMA_BINARY_OR = 14,
  RMA_BINARY_XOR = 15,
  RMA_BINARY_COUNT
} rma_binary_kind;

/* a and b have one dtype; y has it too, except comparisons (bool). */
typedef struct rma_binary_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t kind; /* rma_binary_kind */
} rma_binary_attrs;

typedef enum rma_reduce_kind {
  RMA_REDUCE_SUM = 0,
  RMA_REDUCE_MEAN = 1,
  RMA_REDUCE_MAX = 2,
  RMA_REDUCE_MIN = 3,
  RMA_REDUCE_PROD = 4,
  RMA_REDUCE_SUM_SQUARE = 5,
  RMA_REDUCE_ARGMAX = 6, /* exactly one axis; i64 output; first index of ties */
  RMA_REDUCE_ARGMIN = 7,
  RMA_REDUCE_COUNT
} rma_reduce_kind;

/* x float or int (mean: float); y has x's dtype (arg*: i64). Float
 * reductions accumulate in f32 (or better); int ones in int64, wrapping to
 * y's width. An axis of extent 0 reduces to the identity (0 for sum and
 * sum_square, 1 for prod, NaN for mean) and is an error for max, min, arg*. */
typedef struct rma_reduce_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t kind;  /* rma_reduce_kind */
  uint32_t axes; /* bit i set: reduce axis i (at least one bit, < ndim) */
  int32_t keepdims;
} rma_reduce_attrs;

/* Between any two of f32, f16, bf16, i32, i64, bool: float to int truncates
 * toward zero (out-of-range is undefined, as in C); to bool is x != 0;
 * i64 to i32 wraps; int to f16/bf16 rounds through f32. */
typedef struct rma_cast_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t dtype; /* rma_dtype of y */
} rma_cast_attrs;

/* gather: y = data indexed along `axis` (shape data[:axis] + indices +
 * data[axis+1:]), an index outside [-n, n) is an error.
 * concat: inputs agree on every dim but `axis`. axis is in [0, ndim). */
typedef struct rma_axis_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t axis;
} rma_axis_attrs;

/* y[i0, i1, ...] = x[start[0] + i0*step[0], start[1] + i1*step[1], ...] for
 * i_d < size[d]: every axis of x is given (start 0, step 1, size = dim for
 * untouched axes), already clamped, so each index read is in range. step is
 * non-zero and may be negative. */
typedef struct rma_slice_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int64_t start[RMA_MAX_DIMS];
  int64_t step[RMA_MAX_DIMS];
  int64_t size[RMA_MAX_DIMS];
} rma_slice_attrs;

/* y.shape[d] = x.shape[perm[d]]; perm is a permutation of [0, ndim). */
typedef struct rma_transpose_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t perm[RMA_MAX_DIMS];
} rma_transpose_attrs;

/* expand: x broadcast (numpy rules) to `shape`, which has at least x's rank. */
typedef struct rma_shape_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t ndim;
  int64_t shape[RMA_MAX_DIMS];
} rma_shape_attrs;

/* Output extent of a conv2d / pool2d window along one spatial axis:
 *   span = dilation * (kernel - 1) + 1
 *   out  = floor((in + pad_begin + pad_end - span) / stride) + 1
 * (ceil instead of floor when ceil_mode, dropping a last window that would
 * start inside the end padding, as ONNX and PyTorch do). out must be >= 1.
 * Padding is explicit (an importer turns ONNX auto_pad into pads). */

/* conv2d: y = act(cross-correlation(x, w) + bias), accumulated in f32.
 * Float dtypes only (x, w, bias and y share one). C and M are divisible by
 * group; w holds M filters of C/group channels each. A 1-D convolution is a
 * conv2d with H = kH = 1. */
typedef struct rma_conv2d_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t stride[2];   /* h, w; >= 1 */
  int32_t dilation[2]; /* h, w; >= 1 */
  int32_t pad[4];      /* top, left, bottom, right; >= 0 */
  int32_t group;       /* >= 1 */
  int32_t activation;  /* rma_activation, applied after the bias */
  float activation_param;
} rma_conv2d_attrs;

typedef enum rma_pool_kind {
  RMA_POOL_MAX = 0, /* padding never wins (treated as -inf) */
  RMA_POOL_AVG = 1, /* sum / window size: with or without the padded cells */
  RMA_POOL_COUNT
} rma_pool_kind;

/* pool2d over each (n, c) plane, float dtypes; a global pool is a window of
 * the whole plane. Average accumulates in f32. */
typedef struct rma_pool2d_attrs {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t kind;        /* rma_pool_kind */
  int32_t kernel[2];   /* h, w; >= 1 */
  int32_t stride[2];   /* h, w; >= 1 */
  int32_t dilation[2]; /* h, w; >= 1 */
  int32_t pad[4];      /* top, left, bottom, right; each < its kernel extent */
  int32_t ceil_mode;
  int32_t count_include_pad; /* AVG: divide by the full window, pads included */
} rma_pool2d_attrs;

/* One op invocation. `attrs` points at the op's attribute struct (NULL for
 * ops without one). In capability queries the tensors' data is NULL. */
typedef struct rma_op_call {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t op; /* rma_op */
  int32_t num_inputs;
  const rma_tensor* inputs;
  int32_t num_outputs;
  const rma_tensor* outputs;
  const void* attrs;
} rma_op_call;

/* ------------------------------------------------------- graphs (compiling) */
/* A graph handed to a compiling backend (declared in v1, driven by the graph
 * compiler). Tensors are referenced by index into `tensors`. */
typedef struct rma_graph_node {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t op; /* rma_op */
  const void* attrs;
  int32_t num_inputs;
  const int32_t* inputs; /* -1: optional input absent */
  int32_t num_outputs;
  const int32_t* outputs;
} rma_graph_node;

typedef struct rma_graph {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t num_tensors;
  const rma_tensor* tensors;
  int32_t num_nodes;
  const rma_graph_node* nodes;
} rma_graph;

/* What a compiling backend claims: subgraph_of_node[i] >= 0 groups node i
 * into that subgraph, -1 leaves it to other devices; cost_of_node[i] is the
 * backend's estimated time in microseconds. */
typedef struct rma_partition {
  uint32_t struct_size;
  uint32_t abi_version;
  int32_t* subgraph_of_node; /* core-allocated, num_nodes entries */
  float* cost_of_node;       /* core-allocated, num_nodes entries */
} rma_partition;

typedef struct rma_blob {
  uint32_t struct_size;
  uint32_t abi_version;
  void* data; /* plugin-allocated; released with blob_free */
  uint64_t size;
} rma_blob;

/* ----------------------------------------------------------------- devices */
typedef enum rma_device_type {
  RMA_DEVICE_CPU = 0,
  RMA_DEVICE_GPU = 1,
  RMA_DEVICE_NPU = 2,
  RMA_DEVICE_OTHER = 3
} rma_device_type;

/* Capability bits in rma_device_info.capabilities. */
#define RMA_CAP_F16 (1ull << 0)
#define RMA_CAP_BF16 (1ull << 1)
#define RMA_CAP_QUANTIZED (1ull << 2)
/* Buffers are host memory and a buffer handle is its host address
 * (buffer_host_ptr(h) == h); the core may then pass host memory it owns
 * (mmapped weights, numpy arrays) as buffers without copying. */
#define RMA_CAP_HOST_MEMORY (1ull << 3)
#define RMA_CAP_OP_KERNELS (1ull << 4)    /* runs ops one by one */
#define RMA_CAP_GRAPH_COMPILE (1ull << 5) /* compiles whole subgraphs */
#define RMA_CAP_ASYNC (1ull << 6)         /* streams really run asynchronously */
#define RMA_CAP_CAPTURE (1ull << 7)       /* records and replays stream work (capture_*) */

typedef struct rma_device_info {
  uint32_t struct_size;
  uint32_t abi_version;
  char name[128];   /* human-readable model name */
  char vendor[64];
  char driver_version[64];
  char arch[64];    /* e.g. "x86_64 avx512", "sm_90" */
  int32_t type;     /* rma_device_type */
  int32_t compute_units;
  uint64_t memory_total;
  uint64_t memory_free;
  uint64_t capabilities; /* RMA_CAP_* */
} rma_device_info;

typedef struct rma_device_s* rma_device; /* opaque, plugin-defined */
typedef struct rma_stream_s* rma_stream;
typedef struct rma_event_s* rma_event;
typedef struct rma_executable_s* rma_executable;
typedef struct rma_capture_s* rma_capture;
typedef struct rma_prepared_op_s* rma_prepared_op;

/* ------------------------------------------------------------ host services */
typedef enum rma_log_level {
  RMA_LOG_TRACE = 0,
  RMA_LOG_DEBUG = 1,
  RMA_LOG_INFO = 2,
  RMA_LOG_WARN = 3,
  RMA_LOG_ERROR = 4
} rma_log_level;

/* What the core offers a plugin. */
typedef struct rma_host_api {
  uint32_t struct_size;
  uint32_t abi_version;
  void (*log)(int32_t level, const char* plugin, const char* message);
  int32_t num_threads;   /* threads a CPU-side backend should use; > 0 */
  const char* cache_dir; /* folder for the plugin's own caches */
} rma_host_api;

/* ------------------------------------------------------------- plugin table */
typedef struct rma_plugin_api {
  uint32_t struct_size;
  uint32_t abi_version; /* the version this plugin implements */
  const char* name;     /* device prefix: "cpu", "opencl", "myvendor" */
  const char* version;  /* plugin's own version string */

  void (*shutdown)(void); /* optional; called once before unloading */

  /* devices (required) */
  int32_t (*device_count)(void);
  rma_status (*device_open)(int32_t index, rma_device* out, rma_error* err);
  void (*device_close)(rma_device dev);
  rma_status (*device_get_info)(rma_device dev, rma_device_info* out, rma_error* err);

  /* memory (required, except buffer_host_ptr) */
  rma_status (*buffer_alloc)(rma_device dev, uint64_t size, uint64_t alignment, void** out,
                             rma_error* err);
  void (*buffer_free)(rma_device dev, void* buffer);
  /* optional: a host pointer to the buffer's bytes when the device shares
   * host memory, else NULL */
  void* (*buffer_host_ptr)(rma_device dev, void* buffer);

  /* streams and events (required) */
  rma_status (*stream_create)(rma_device dev, rma_stream* out, rma_error* err);
  void (*stream_destroy)(rma_device dev, rma_stream stream);
  rma_status (*stream_synchronize)(rma_device dev, rma_stream stream, rma_error* err);
  rma_status (*event_create)(rma_device dev, rma_event* out, rma_error* err);
  void (*event_destroy)(rma_device dev, rma_event event);
  rma_status (*event_record)(rma_device dev, rma_event event, rma_stream stream, rma_error* err);
  rma_status (*event_synchronize)(rma_device dev, rma_event event, rma_error* err);
  rma_status (*stream_wait_event)(rma_device dev, rma_stream stream, rma_event event,
                                  rma_error* err);

  /* copies, ordered on `stream` (required). Host memory passed to an
   * asynchronous copy must stay valid until the stream is synchronised. */
  rma_status (*copy_host_to_device)(rma_device dev, rma_stream stream, void* dst,
                                    uint64_t dst_offset, const void* src, uint64_t bytes,
                                    rma_error* err);
  rma_status (*copy_device_to_host)(rma_device dev, rma_stream stream, void* dst,
                                    const void* src, uint64_t src_offset, uint64_t bytes,
                                    rma_error* err);
  rma_status (*copy_device_to_device)(rma_device dev, rma_stream stream, void* dst,
                                      uint64_t dst_offset, const void* src, uint64_t src_offset,
                                      uint64_t bytes, rma_error* err);

  /* per-op kernels (required when RMA_CAP_OP_KERNELS).
   * op_supported: RMA_STATUS_OK if this device runs the call as described
   * (dtypes, shapes, attributes), RMA_STATUS_UNSUPPORTED with the reason in
   * err otherwise. Tensors' data are NULL. Must be cheap and side-effect
   * free. op_run: enqueue the op on `stream`; it must decline what
   * op_supported declines, the same way (the core calls op_run directly). */
  rma_status (*op_supported)(rma_device dev, const rma_op_call* call, rma_error* err);
  rma_status (*op_run)(rma_device dev, rma_stream stream, const rma_op_call* call,
                       rma_error* err);

  /* whole-subgraph compile (required when RMA_CAP_GRAPH_COMPILE, else NULL) */
  rma_status (*graph_partition)(rma_device dev, const rma_graph* graph, rma_partition* out,
                                rma_error* err);
  rma_status (*graph_compile)(rma_device dev, const rma_graph* graph, int32_t subgraph,
                              rma_blob* out, rma_error* err);
  void (*blob_free)(rma_blob* blob);
  rma_status (*executable_load)(rma_device dev, const void* blob, uint64_t size,
                                rma_executable* out, rma_error* err);
  rma_status (*executable_run)(rma_device dev, rma_stream stream, rma_executable exe,
                               int32_t num_inputs, const rma_tensor* inputs,
                               int32_t num_outputs, const rma_tensor* outputs, rma_error* err);
  void (*executable_destroy)(rma_device dev, rma_executable exe);

  /* Stream capture (optional: all four, with RMA_CAP_CAPTURE, or none).
   * Appended to v1: the core reads these only when struct_size covers them.
   * Between capture_begin and capture_end, op_run and copy_device_to_device
   * calls on `stream` are recorded, not run; host copies are refused
   * (RMA_STATUS_UNSUPPORTED) until capture_end. capture_end returns the
   * recording and how many ops/kernels it holds. capture_launch enqueues the
   * recorded work on `stream` again with the same buffers, shapes and
   * attributes (their contents may change between launches: that is how
   * inputs are fed). The core keeps every buffer the recording touches
   * allocated, at the same address, until capture_destroy. A capture_begin
   * whose capture fails is ended by capture_end returning the error. */
  rma_status (*capture_begin)(rma_device dev, rma_stream stream, rma_error* err);
  rma_status (*capture_end)(rma_device dev, rma_stream stream, rma_capture* out,
                            uint64_t* num_ops, rma_error* err);
  rma_status (*capture_launch)(rma_device dev, rma_stream stream, rma_capture capture,
                               rma_error* err);
  void (*capture_destroy)(rma_device dev, rma_capture capture);

  /* Kernel binaries (optional: both or none). Appended to v1: the core reads
   * these only when struct_size covers them. kernels_export returns a blob
   * (released with blob_free) of every kernel binary `dev` built or loaded in
   * this process, in a plugin-defined format that carries its own version and
   * the device and driver it is valid for. kernels_import seeds the plugin's
   * kernel cache from such a blob, so later ops build nothing; a blob for
   * another device or driver is skipped (RMA_STATUS_OK), a corrupt one is
   * RMA_STATUS_INVALID_ARGUMENT naming the byte offset. */
  rma_status (*kernels_export)(rma_device dev, rma_blob* out, rma_error* err);
  rma_status (*kernels_import)(rma_device dev, const void* data, uint64_t size, rma_error* err);

  /* Prepared ops (optional: all five or none). Appended to v1: the core
   * reads these only when struct_size covers them. Before running one call
   * many times (a compiled plan's node), the core offers it to op_prepare
   * with the data of the inputs whose bit is set in `const_inputs`
   * (constants: weights) and NULL data elsewhere. The plugin may answer a
   * prepared op holding those constants in its own kernel layout
   * (pre-packed weights) and the choices it made for these shapes (tuning),
   * or RMA_STATUS_OK with *out = NULL when it has nothing to gain.
   * prepared_run runs a call with the same op, attributes, dtypes and
   * constants (every input is passed again; the plugin may read the
   * constants from its prepared copy). The other inputs' shapes may differ
   * from the prepared call's — the same node specialized for another input
   * shape — within what op_run accepts; a plugin whose prepared form does
   * not suit such a call runs it as op_run would. Prepared runs are not
   * recorded by stream capture (RMA_STATUS_UNSUPPORTED while capturing).
   * prepared_export serializes a prepared op (a plugin-defined format that
   * carries its own version and what it is valid for) so that an artifact
   * keeps it; prepared_import rebuilds it for the same call (constants'
   * data given as for op_prepare) without redoing the work, answering
   * RMA_STATUS_UNSUPPORTED (err: why) for bytes made for another call,
   * device, ISA or format version — the core then prepares afresh — and
   * RMA_STATUS_INVALID_ARGUMENT for corrupt bytes. */
  rma_status (*op_prepare)(rma_device dev, const rma_op_call* call, uint64_t const_inputs,
                           rma_prepared_op* out, rma_error* err);
  rma_status (*prepared_run)(rma_device dev, rma_stream stream, rma_prepared_op op,
                             const rma_op_call* call, rma_error* err);
  rma_status (*prepared_export)(rma_device dev, rma_prepared_op op, rma_blob* out,
                                rma_error* err);
  rma_status (*prepared_import)(rma_device dev, const rma_op_call* call, uint64_t const_inputs,
                                const void* data, uint64_t size, rma_prepared_op* out,
                                rma_error* err);
  void (*prepared_destroy)(rma_device dev, rma_prepared_op op);
} rma_plugin_api;

/* The one exported entry point.
 * core_abi_version: the highest ABI version the core speaks.
 * host: services offered by the core; valid until shutdown.
 * out: on success, a table valid until shutdown whose abi_version is
 *      <= core_abi_version. A plugin that cannot serve core_abi_version
 *      returns RMA_STATUS_ABI_MISMATCH naming both versions in err.
 * A plugin with no usable device (no driver, no platform) returns
 * RMA_STATUS_NOT_FOUND with a one-line reason; the core skips it quietly. */
typedef rma_status (*rma_plugin_open_fn)(uint32_t core_abi_version, const rma_host_api* host,
                                         const rma_plugin_api** out, rma_error* err);

RMA_PLUGIN_EXPORT rma_status rma_plugin_open(uint32_t core_abi_version, const rma_host_api* host,
                                             const rma_plugin_api** out, rma_error* err);

#ifdef __cplusplus
}
#endif

#endif /* RMA_PLUGIN_H */
