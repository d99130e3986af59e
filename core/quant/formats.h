#pragma once
// Number formats for weights and activations (core/quant/formats).
//
// Conventions: a weight matrix W is [out, in] row-major; "input channel" = column.
// Groups and MX blocks run along the input (reduction) dimension: group g of row r
// covers columns [g*G, (g+1)*G). A trailing partial group/block is allowed.
//
// Integer formats (2..8 bits):
//  * asymmetric (GPTQ's reference quantizer): per row (or row x group) take
//    xmin = min(min(w), 0), xmax = max(max(w), 0); if xmin == xmax == 0 use [-1, 1];
//    scale = (xmax - xmin) / (2^b - 1); zero = round(-xmin / scale);
//    q = clamp(round(w / scale) + zero, 0, 2^b - 1); w' = scale * (q - zero).
//  * symmetric: GPTQ's reference `sym` option exactly (xmax = max(|xmin|, xmax),
//    xmin = -xmax when xmin < 0, zero = (2^b - 1 + 1) / 2); see formats.cpp.
//  round() is round-half-to-even (torch.round), in float32.
//
// Microscaling (OCP MX v1.0): blocks of 32 consecutive elements along the input
// dimension share an E8M0 scale 2^e (8-bit biased exponent, bias 127, 0xFF = NaN),
// e = floor(log2(max|v|)) - emax_elem (clamped to the E8M0 range); elements are
// v / 2^e rounded to nearest even in the element format and saturated to its max
// normal. Element formats: MXINT8 (8-bit two's complement, implied scale 2^-6,
// emax 0), MXINT4 (4-bit two's complement, implied 2^-2, emax 0), MXFP8 E4M3
// (emax 8), E5M2 (emax 15), MXFP6 E3M2 (emax 4), E2M3 (emax 2), MXFP4 E2M1 (emax 2).
// NaN/Inf policy: see formats.cpp (documented and tested).
//
// GGUF (llama.cpp / ggml) block types, so that a layer can be evaluated on exactly
// the grid llama.cpp stores (quant/gguf_quants.h has the arithmetic, bit for bit as
// ggml's quantize_row_q*_ref / dequantize_row_q*): blocks of 32 consecutive
// columns of a row, the block scale d stored as fp16 (RNE) and
//   gguf_q8_0: d = amax / 127, q = roundf(x / d32) in int8, value = fp32(d16) * q      (8.5 bits/weight)
//   gguf_q4_0: d = max / -8 (max = the signed value of largest |x|),
//              q = min(15, trunc(x / d32 + 8.5)), value = fp32(d16) * (q - 8)         (4.5 bits/weight)
//   gguf_q4_1: d = (max - min) / 15, m = fp16(min), q = min(15, trunc((x - min) / d32 + 0.5)),
//              value = fp32(d16) * q + fp32(m16)                                      (5.0 bits/weight)
// (x / d32 is ggml's x * (1/d32) with d32 the fp32 scale before fp16 rounding). A
// row length that is not a multiple of 32 cannot be stored in these types:
// llama.cpp's converters keep such tensors F16, and so does QuantScope
// (effectiveWeightFormat: the layer is evaluated in fp16).
// fp16: every weight rounded to IEEE half (RNE), the GGUF F16 storage.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "model/model.h"

namespace qs {

enum class FormatKind {
    None,       // keep float32 (no quantization)
    Int,        // integer grid, `bits`, `symmetric`, `groupSize`
    MxInt8,
    MxInt4,
    MxFp8E4M3,
    MxFp8E5M2,
    MxFp6E3M2,
    MxFp6E2M3,
    MxFp4E2M1,
    Fp16,       // IEEE half (RNE): GGUF/safetensors F16 storage
    GgufQ8_0,   // llama.cpp block types (see above)
    GgufQ4_0,
    GgufQ4_1,
};

struct QuantFormat {
    FormatKind kind = FormatKind::Int;
    int bits = 4;            // Int: 2..8; MX: the element width (set by kind)
    bool symmetric = false;  // Int only
    int groupSize = 0;       // Int: 0 = per output channel, else columns per group; MX: 32
    /// Int only ("-f16" in the name): the GPTQ-packed grid of vLLM/transformers. The
    /// scale is stored as fp16: scale16 = fp16(scale) (2^-24 when that underflows to
    /// 0), zero = round(-xmin / scale16) clamped to [0, 2^b - 1] (symmetric: 2^(b-1)),
    /// q = clamp(round(w / scale16) + zero, 0, 2^b - 1) and the value is
    /// fp16(scale16 * (q - zero)): the product rounded once to fp16, what the fp16
    /// dequantization of those loaders (scales[g_idx] * (q - zeros[g_idx]) in half
    /// precision) computes. Without it (the default) scales stay float32, as GPTQ's
    /// reference quantizer and the fixtures.
    bool fp16Scale = false;

    bool isMx() const;
    bool isGguf() const;     // gguf_q8_0 / gguf_q4_0 / gguf_q4_1
    /// MX and GGUF kinds: blocks of 32 columns that the stored tensor keeps (GPTQ
    /// takes their parameters from the up-to-date weights, and with act-order fixes
    /// them before the columns are permuted, so the result stays storable).
    bool fixedBlocks() const { return isMx() || isGguf(); }
    int blockSize() const;   // MX, GGUF: 32; Int: groupSize (0 = whole row); fp16/fp32: 0
    /// Average storage bits per weight for a row of `inFeatures` columns, counting
    /// scales and zero points: Int: bits + (16 [fp16 scale] + (asym ? bits : 0)) / group;
    /// MX: bits + 8 / 32 (E8M0 scale). Exactly: the overhead is counted once per
    /// ceil(in / group) groups (a trailing partial group costs a full scale);
    /// inFeatures <= 0 gives the nominal value. None: 32. fp16: 16. GGUF: 8.5 / 4.5 /
    /// 5.0 as ggml's blocks (34 / 18 / 20 bytes per 32), 16 when inFeatures is not a
    /// multiple of 32 (the layer stays fp16, see effectiveWeightFormat).
    double bitsPerWeight(int64_t inFeatures) const;
    /// Canonical name: "fp32", "int4" / "int4-sym" / "int4-g128" / "int3-sym-g64",
    /// "mxint8", "mxint4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4",
    /// "fp16", "gguf_q8_0", "gguf_q4_0", "gguf_q4_1"; Int with fp16 scales ends in
    /// "-f16" ("int4-sym-g128-f16").
    std::string name() const;
    /// Parses a name as above (also "mxfp4_e2m1", "mxfp8" = e4m3, "mxfp6" = e3m2,
    /// "none"/"fp32"; case-insensitive; "-sym"/"-g<G>"/"-f16" in any order); nullopt
    /// when unknown or when bits are outside 2..8 or the group size is negative.
    static std::optional<QuantFormat> parse(const std::string& name);
    bool operator==(const QuantFormat&) const = default;
};

/// Per-row quantization parameters for one group/block of columns.
/// Int: scale and zero (zero in integer units; symmetric: 2^(b-1), GPTQ's
/// (maxq + 1) / 2). MX: scale = 2^e as float (exact; 2^-127 is a float32
/// denormal), zero = 0 (unused). A NaN scale marks a NaN block/group (a NaN or
/// Inf among its inputs): every value quantized with it is NaN.
/// GGUF: scale = the stored fp16 d as float, zero = Q4_1's stored fp16 m as float
/// (0 otherwise); `inv` = 1/d32 (0 when d32 == 0) and, for Q4_1, `offset` = the fp32
/// min: the inputs of ggml's rounding (empty for the other kinds). fp16: scale 1.
struct RowParams {
    Eigen::VectorXf scale;
    Eigen::VectorXf zero;
    Eigen::VectorXf inv, offset;
    /// Rows [r0, r0+n) (the optional vectors only when present).
    RowParams segment(Eigen::Index r0, Eigen::Index n) const;
    /// Writes `p` (n rows) into rows [r0, r0+n), sizing the vectors to `rows` first.
    void setRows(Eigen::Index rows, Eigen::Index r0, const RowParams& p);
};

class Quantizer;

/// The grid a quantized matrix [rows, cols] was rounded onto: the row parameters
/// of every group/block and the group of each column (original order). What an
/// exporter needs to store the fake-quantized weights exactly (GGUF blocks, GPTQ
/// scales/zeros/g_idx). Per-channel Int formats: one group.
struct QuantGrid {
    int64_t rows = 0, cols = 0;
    std::vector<RowParams> groups;  // groups[g]: the per-row parameters of group g
    std::vector<int> gIdx;          // column -> group
    bool empty() const { return groups.empty(); }
    /// The grid RTN rounds W onto (findParams of each group of W).
    static QuantGrid rtn(const MatrixRM& W, const Quantizer& q);
};

/// Quantize-dequantize ("fake quantization") in one format; the rounding step
/// GPTQ calls column by column.
class Quantizer {
public:
    explicit Quantizer(const QuantFormat& f);
    const QuantFormat& format() const { return f_; }

    /// Parameters per row from the columns of one group/block (cols: [rows, n]).
    RowParams findParams(const Eigen::Ref<const MatrixRM>& cols) const;
    /// Fake-quantizes one column w (length rows) with the given row parameters.
    Eigen::VectorXf quantizeColumn(const Eigen::Ref<const Eigen::VectorXf>& w, const RowParams& p) const;
    /// RTN of a whole matrix: params per group/block from the matrix itself. GGUF
    /// kinds on rows whose length is not a multiple of 32: fp16 rounding (what
    /// llama.cpp stores; findParams/quantizeColumn on a partial block quantize it
    /// like a full one, which no GGUF type can store).
    MatrixRM fakeQuantize(const MatrixRM& W) const;

private:
    QuantFormat f_;
};

/// The format a layer of `inFeatures` columns is evaluated and stored in: `f`,
/// except GGUF kinds on rows that are not a multiple of 32, which stay fp16 (as
/// llama.cpp's converters keep them F16).
QuantFormat effectiveWeightFormat(const QuantFormat& f, int64_t inFeatures);

/// Exact storage of a quantized matrix: element codes packed to bytes (little
/// end first, 2/3/4/6/8-bit codes packed densely row by row; each row starts on a
/// byte boundary) and per-(row, group) scales: E8M0 bytes for MX, fp32 scale +
/// uint8 zero for Int. fp16: the half bits (2 bytes per weight, little end first)
/// in `codes`. GGUF kinds: `codes` holds each row's ggml blocks exactly as a GGUF
/// file stores them (34/18/20 bytes per 32 weights; rows not a multiple of 32 are
/// stored as fp16, with `format` set to fp16).
struct PackedMatrix {
    QuantFormat format;
    int64_t rows = 0, cols = 0;
    std::vector<uint8_t> codes;
    std::vector<uint8_t> scaleE8M0;   // MX: rows * ceil(cols/32)
    std::vector<float> scale;         // Int: rows * groups
    std::vector<uint8_t> zero;        // Int: rows * groups
};
PackedMatrix pack(const MatrixRM& W, const QuantFormat& f);
/// Decodes; unpack(pack(W, f)) equals Quantizer(f).fakeQuantize(W) bit for bit.
MatrixRM unpack(const PackedMatrix& p);

/// Element codecs of the MX element formats (value already divided by the block
/// scale). encode rounds to nearest even and saturates; decode is exact.
uint8_t encodeMxElement(FormatKind k, float v);
float decodeMxElement(FormatKind k, uint8_t code);

/// Dynamic activation quantization of x [tokens, in] in place, along the
/// reduction dimension: Int 8-bit symmetric per token (row), or MX blocks of 32
/// per row (MxInt8, MxFp8E4M3, MxFp8E5M2, any MX kind).
void fakeQuantizeActivations(MatrixRM& x, const QuantFormat& f);

}  // namespace qs
