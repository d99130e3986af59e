#pragma once
// llama.cpp / ggml block types (the GGUF tensor types F32, F16, Q8_0, Q4_0, Q4_1,
// MXFP4), bit for bit as ggml's reference code in ggml-quants.c
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref, quantize_row_q4_1_ref,
// dequantize_row_q8_0/q4_0/q4_1/mxfp4) and the block layouts of ggml-common.h:
//
//   block_q8_0  { fp16 d; int8  qs[32]; }               34 bytes, value = d * qs[j]
//   block_q4_0  { fp16 d; uint8 qs[16]; }               18 bytes, value = d * (nibble - 8)
//   block_q4_1  { fp16 d; fp16 m; uint8 qs[16]; }       20 bytes, value = d * nibble + m
//   block_mxfp4 { uint8 e; uint8 qs[16]; }              17 bytes, value = E2M1(nibble) * 2^(e-127)
//   (4-bit types: element j < 16 in the low nibble of qs[j], element j + 16 in its
//   high nibble; all little-endian; fp16 = IEEE binary16.)
//
// Reference quantization of one block x[0..31] (float32 throughout, no fused
// multiply-add: this file is compiled with -ffp-contract=off, as gguf-py's numpy
// code computes; a ggml build that contracts x*id + 8.5 into an FMA can differ in
// a last-ulp tie):
//   Q8_0: amax = max |x|; d = amax / 127; id = d ? 1/d : 0; q = roundf(x * id)
//         (halves away from zero); stored d16 = fp16(d).
//   Q4_0: max = the x with the largest |x| (first one on ties); d = max / -8;
//         id = d ? 1/d : 0; q = min(15, (int8)(x * id + 8.5f)).
//   Q4_1: min, max over the block; d = (max - min) / 15; id = d ? 1/d : 0;
//         q = min(15, (int8)((x - min) * id + 0.5f)); d16 = fp16(d), m16 = fp16(min).
// Dequantization: fp32(d16) * q (Q8_0), fp32(d16) * (q - 8) (Q4_0), and
// fp32(d16) * q + fp32(m16) rounded after the product and after the sum (Q4_1).
// The codes of values that lie outside the block's own range (GPTQ rounds
// error-updated columns with parameters fixed at the block start) are clamped to
// the type's code range: [-128, 127], [0, 15], [0, 15]; ggml's cast would be
// undefined there.
#include <cstddef>
#include <cstdint>
#include <string>

namespace qs::gguf {

/// ggml_type ids (ggml.h) of the tensor types QuantScope reads and writes.
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, BF16 = 30, MXFP4 = 39 };
constexpr int kBlock = 32;

/// Whether `id` is one of the types above.
bool knownType(uint32_t id);
const char* typeName(GgmlType t);  // "F32", "Q4_0", ...
/// Elements per block (1 for F32/F16/BF16, 32 otherwise) and bytes per block.
int blockElems(GgmlType t);
size_t blockBytes(GgmlType t);
/// Bytes of `n` elements (n a multiple of blockElems).
size_t bytesFor(GgmlType t, int64_t n);

/// The reference quantizer's parameters of one block of n values (n <= 32; ggml
/// always has 32). `nan` when a value is NaN or +-Inf (QuantScope's policy: the
/// block dequantizes to NaN, as its integer formats do).
struct BlockParams {
    float d16 = 0;   // the stored scale, fp16 -> float
    float m16 = 0;   // Q4_1: the stored min, fp16 -> float
    float inv = 0;   // 1 / d32 (0 when d32 == 0)
    float min = 0;   // Q4_1: the fp32 min
    bool nan = false;
};
BlockParams q8_0Params(const float* x, int n);
BlockParams q4_0Params(const float* x, int n);
BlockParams q4_1Params(const float* x, int n);

/// The code of one value given its block's rounding inputs (see the clamping above).
int q8_0Code(float x, float inv);
int q4_0Code(float x, float inv);
int q4_1Code(float x, float inv, float min);
/// The dequantized value of a code, exactly as ggml computes it.
float q8_0Value(int q, float d16);
float q4_0Value(int q, float d16);
float q4_1Value(int q, float d16, float m16);

/// Decodes one block (32 values) of type t (Q8_0, Q4_0, Q4_1, MXFP4).
void decodeBlock(GgmlType t, const uint8_t* block, float* out);
/// Decodes `n` elements of any known type (F32, F16, BF16 or whole blocks).
void decodeRow(GgmlType t, const uint8_t* src, float* out, int64_t n);

/// Encodes one block from its stored parameters and codes (32 codes; Q4: 0..15,
/// Q8_0: -128..127; MXFP4: the E8M0 byte in `e`, 4-bit E2M1 codes).
void encodeQ8_0(uint16_t d16bits, const int* codes, uint8_t* block);
void encodeQ4_0(uint16_t d16bits, const int* codes, uint8_t* block);
void encodeQ4_1(uint16_t d16bits, uint16_t m16bits, const int* codes, uint8_t* block);
void encodeMxfp4(uint8_t e, const int* codes, uint8_t* block);

/// RTN of one row of `cols` values (cols % 32 == 0) into its blocks, bit for bit as
/// ggml's quantize_row_*_ref; `out` holds bytesFor(t, cols) bytes. Q8_0/Q4_0/Q4_1.
void quantizeRowRef(GgmlType t, const float* x, int64_t cols, uint8_t* out);

}  // namespace qs::gguf
