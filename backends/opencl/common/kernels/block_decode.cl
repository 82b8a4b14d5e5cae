// Block decoding shared by the OpenCL kernels that read quantized weights
// (embedding, quant_linear); spliced into their sources at build time by
// cmake/embed_kernel.cmake. Follows include/rma/block_decode.h operation for
// operation, so with FP_CONTRACT OFF (set by the including file) results match
// the core's dequantize_row exactly. The format ids are the rma_dtype values.
// f16 and bf16 rows are widened exactly, with core built-ins only: vload_half
// (a half pointer needs no cl_khr_fp16) and a 16-bit shift for bf16.
#define FMT_F32 0
#define FMT_F16 1
#define FMT_BF16 2
#define FMT_Q8_0 7
#define FMT_Q4_0 8
#define FMT_Q4_1 9
#define FMT_Q4_K 10
#define FMT_Q6_K 11
#define FMT_Q5_K 12

// The 6-bit scale and min of sub-block `sub` of a q4_K / q5_K super-block
// (packing as unpack_scale_min_k4 in include/rma/block_decode.h).
void k4_scale_min(int sub, __global const uchar* s, int* sc, int* mn) {
  if (sub < 4) {
    *sc = s[sub] & 63;
    *mn = s[sub + 4] & 63;
  } else {
    *sc = (s[sub + 4] & 0x0F) | ((s[sub - 4] >> 6) << 4);
    *mn = (s[sub + 4] >> 4) | ((s[sub] >> 6) << 4);
  }
}

// IEEE half bits (little-endian at p) to float, exactly (subnormals too).
float f16_at(__global const uchar* p) {
  const uint h = (uint)p[0] | ((uint)p[1] << 8);
  const uint sign = (h & 0x8000u) << 16;
  const uint e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0) {
    if (m == 0) return as_float(sign);
    return as_float(sign | as_uint((float)m * 5.9604644775390625e-8f));  // m * 2^-24
  }
  if (e == 31) return as_float(sign | 0x7F800000u | (m << 13));
  return as_float(sign | ((e + 112u) << 23) | (m << 13));
}

float decode(__global const uchar* row, int fmt, long j) {
  if (fmt == FMT_F32) return ((__global const float*)row)[j];
  if (fmt == FMT_F16) return vload_half((size_t)j, (__global const half*)row);
  if (fmt == FMT_BF16) return as_float((uint)((__global const ushort*)row)[j] << 16);
  if (fmt == FMT_Q8_0) {
    __global const uchar* b = row + (j / 32) * 34;
    const float d = f16_at(b);
    return d * (float)((char)b[2 + j % 32]);
  }
  if (fmt == FMT_Q4_0 || fmt == FMT_Q4_1) {
    const int q4_1 = fmt == FMT_Q4_1;
    __global const uchar* b = row + (j / 32) * (q4_1 ? 20 : 18);
    __global const uchar* qs = b + (q4_1 ? 4 : 2);
    const int i = (int)(j % 32);
    const int nib = i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4);
    const float d = f16_at(b);
    if (!q4_1) return d * (float)(nib - 8);
    const float m = f16_at(b + 2);
    const float dq = d * (float)nib;
    return dq + m;
  }
  if (fmt == FMT_Q4_K) {
    __global const uchar* b = row + (j / 256) * 144;
    __global const uchar* s = b + 4;
    const int e = (int)(j % 256);
    const int k = e / 64, w = e % 64;
    const int sub = 2 * k + (w >= 32 ? 1 : 0);
    int sc, mn;
    k4_scale_min(sub, s, &sc, &mn);
    const uchar q = b[16 + 32 * k + (w % 32)];
    const int nib = w < 32 ? (q & 0x0F) : (q >> 4);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const float d0 = d * (float)sc, m0 = dmin * (float)mn;
    const float dq = d0 * (float)nib;
    return dq - m0;
  }
  if (fmt == FMT_Q5_K) {
    // f16 d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48: q4_K's
    // nibbles plus a fifth bit, bit `sub` of qh[w % 32].
    __global const uchar* b = row + (j / 256) * 176;
    const int e = (int)(j % 256);
    const int k = e / 64, w = e % 64;
    const int sub = 2 * k + (w >= 32 ? 1 : 0);
    int sc, mn;
    k4_scale_min(sub, b + 4, &sc, &mn);
    const uchar q = b[48 + 32 * k + (w % 32)];
    const int nib = (w < 32 ? (q & 0x0F) : (q >> 4)) | (((b[16 + w % 32] >> sub) & 1) << 4);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const float d0 = d * (float)sc, m0 = dmin * (float)mn;
    const float dq = d0 * (float)nib;
    return dq - m0;
  }
  // FMT_Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, f16 d @208.
  __global const uchar* b = row + (j / 256) * 210;
  const int e = (int)(j % 256);
  const int h = e / 128, rem = e % 128;
  const int r = rem / 32, l = rem % 32;
  const uchar ql = b[64 * h + l + 32 * (r & 1)];
  const int lo = r < 2 ? (ql & 0x0F) : (ql >> 4);
  const int hi = (b[128 + 32 * h + l] >> (2 * r)) & 3;
  const int q = (lo | (hi << 4)) - 32;
  const int sc = (char)b[192 + 8 * h + l / 16 + 2 * r];
  const float d = f16_at(b + 208);
  const float ds = d * (float)sc;
  return ds * (float)q;
}
