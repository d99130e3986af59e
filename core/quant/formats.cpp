// Number formats: integer (GPTQ reference quantizer) and OCP Microscaling v1.0.
//
// Conventions: W is [out, in] row-major; groups / MX blocks run along a row
// (the input dimension). All arithmetic is float32; round() is
// round-half-to-even (std::nearbyint in the default FE_TONEAREST mode).
//
// ---------------------------------------------------------------------------
// Integer grid (GPTQ quant.py, Quantizer.find_params(perchannel=True) +
// quantize()), per row of one group, in torch's operation order:
//   xmin = min(min x, 0); xmax = max(max x, 0)
//   sym:  xmax = max(|xmin|, xmax); if xmin < 0: xmin = -xmax
//   xmin == xmax == 0 -> xmin = -1, xmax = +1
//   scale = (xmax - xmin) / maxq            (maxq = 2^b - 1, as float)
//   zero  = sym ? (maxq + 1) / 2 : round(-xmin / scale)
//   q     = clamp(round(x / scale) + zero, 0, maxq);  x' = scale * (q - zero)
// Note GPTQ's `sym` quirk is kept: a group with no negative value keeps xmin = 0
// and still uses zero = 2^(b-1) (half of the grid unused), exactly as the
// reference does.
//
// ---------------------------------------------------------------------------
// MX (OCP MX v1.0, checked against microsoft/microxcaling mx_ops._quantize_mx):
//   block of 32 consecutive elements of a row (trailing partial block allowed);
//   e = floor(log2(max|v|)) - emax_elem, computed exactly from the float32
//       exponent (std::ilogb; microxcaling uses torch.log2 which can round up
//       just below a power of two; the spec defines the exact floor);
//   e is clamped to the E8M0 range [-127, 127] (a finite float32 never exceeds
//       127 after subtracting emax_elem >= 0); scale byte = e + 127;
//   elements: P = v / 2^e rounded to nearest, ties to EVEN (the spec's
//       roundTiesToEven; note microxcaling's default "nearest" rounds ties away
//       from zero), subnormals of the element format kept, results beyond the
//       element's max normal saturate to +-max normal;
//   decoded value = decode(P) * 2^e.
// Element formats (emax_elem = exponent of the largest normal):
//   E4M3 bias 7, max 448, no Inf, S.1111.111 = NaN (0x7F/0xFF), emax 8
//   E5M2 bias 15, max 57344, exp field 31: mantissa 0 = Inf, else NaN, emax 15
//   E3M2 bias 3, max 28, emax 4;  E2M3 bias 1, max 7.5, emax 2;
//   E2M1 bias 1, values {0,0.5,1,1.5,2,3,4,6}, emax 2 (no Inf/NaN in FP6/FP4)
//   MXINT8: two's complement byte k, value k/64 (implied 2^-6), emax 0;
//   MXINT4: two's complement nibble k, value k/4 (implied 2^-2), emax 0.
//   As in microxcaling (int8/int4: sign-magnitude range, max_norm = 127/64 and
//   7/4), encoding is SYMMETRIC: k in [-127, 127] / [-7, 7]; the codes 0x80 and
//   0x8 are never produced. They still DECODE as two's complement (-2.0 and
//   -2.0), so encode(decode(0x80)) = 0x81 (saturation), not 0x80.
//
// Special cases (the policy; tested in tests/test_formats.cpp):
//   * All-zero block (also: max|v| below 2^(-127+emax_elem), e.g. float32
//     denormals only): e is clamped to the minimum -127, scale byte 0x00;
//     elements encode to zero (or tiny values if representable), decode exact.
//   * NaN anywhere in a block -> scale byte 0xFF (E8M0 NaN) -> every element of
//     the block decodes to NaN (spec: X = NaN => all v_i = NaN). Element codes
//     of such a block are stored as 0.
//   * +-Inf anywhere in a block -> treated like NaN (scale 0xFF, block decodes to
//     NaN). Rationale: the shared exponent floor(log2(Inf)) overflows E8M0,
//     which microxcaling also maps to a NaN scale; we never emit Inf.
//   * Integer formats: a NaN or Inf in a (row, group) makes scale = NaN and the
//     whole group dequantizes to NaN (what torch's reference produces, since
//     min/max propagate NaN and Inf * 0 = NaN); pack stores scale NaN, zero 0,
//     codes 0.
//   * encodeMxElement on its own: NaN -> E4M3/E5M2 NaN code 0x7F (sign kept),
//     0 for formats without NaN; +-Inf -> E5M2 +-Inf, other formats saturate
//     to +-max. -0 keeps its sign bit for FP formats (MXINT has no -0).
//
// Activations (fakeQuantizeActivations): Int = dynamic symmetric per token
// (row): s = absmax/qmax (qmax = 2^(bits-1)-1, 127 for 8 bits),
// q = clamp(round(x/s), -qmax, qmax), x' = q*s; an all-zero row stays zero;
// a row with NaN/Inf becomes NaN. MX = the same block code as weights, blocks
// of 32 along each row.
//
// GGUF kinds (gguf_q8_0/q4_0/q4_1) and fp16: the arithmetic is in
// quant/gguf_quants.cpp (ggml's reference code, bit for bit); here they are wired
// into findParams / quantizeColumn / fakeQuantize / pack / unpack.
#include "quant/formats.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/dtype.h"
#include "quant/gguf_quants.h"

namespace qs {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int kMxBlock = 32;

struct ElemSpec {
    bool isInt = false;
    int ebits = 0, mbits = 0, bias = 0;  // FP element fields
    int codeBits = 8;                    // storage width of one code
    int emax = 0;                        // exponent of the largest normal (shared-exponent offset)
    float maxNorm = 0;
    int intFrac = 0;                     // MXINT: implied scale 2^-intFrac
    int intMax = 0;                      // MXINT: |k| <= intMax
};

ElemSpec specOf(FormatKind k) {
    ElemSpec s;
    switch (k) {
    case FormatKind::MxInt8: s.isInt = true; s.codeBits = 8; s.intFrac = 6; s.intMax = 127; s.maxNorm = 127.f / 64.f; break;
    case FormatKind::MxInt4: s.isInt = true; s.codeBits = 4; s.intFrac = 2; s.intMax = 7; s.maxNorm = 7.f / 4.f; break;
    case FormatKind::MxFp8E4M3: s.ebits = 4; s.mbits = 3; s.bias = 7; s.codeBits = 8; s.emax = 8; s.maxNorm = 448.f; break;
    case FormatKind::MxFp8E5M2: s.ebits = 5; s.mbits = 2; s.bias = 15; s.codeBits = 8; s.emax = 15; s.maxNorm = 57344.f; break;
    case FormatKind::MxFp6E3M2: s.ebits = 3; s.mbits = 2; s.bias = 3; s.codeBits = 6; s.emax = 4; s.maxNorm = 28.f; break;
    case FormatKind::MxFp6E2M3: s.ebits = 2; s.mbits = 3; s.bias = 1; s.codeBits = 6; s.emax = 2; s.maxNorm = 7.5f; break;
    case FormatKind::MxFp4E2M1: s.ebits = 2; s.mbits = 1; s.bias = 1; s.codeBits = 4; s.emax = 2; s.maxNorm = 6.f; break;
    default: assert(false && "not an MX element kind"); break;
    }
    return s;
}

bool isMxKind(FormatKind k) {
    return static_cast<int>(k) >= static_cast<int>(FormatKind::MxInt8) &&
           static_cast<int>(k) <= static_cast<int>(FormatKind::MxFp4E2M1);
}

bool isGgufKind(FormatKind k) {
    return k == FormatKind::GgufQ8_0 || k == FormatKind::GgufQ4_0 || k == FormatKind::GgufQ4_1;
}

gguf::GgmlType ggmlTypeOf(FormatKind k) {
    switch (k) {
    case FormatKind::GgufQ8_0: return gguf::GgmlType::Q8_0;
    case FormatKind::GgufQ4_0: return gguf::GgmlType::Q4_0;
    case FormatKind::GgufQ4_1: return gguf::GgmlType::Q4_1;
    default: assert(false && "not a GGUF kind"); return gguf::GgmlType::F32;
    }
}

float fp16Round(float v) { return halfToFloat(floatToHalf(v)); }

/// GGUF params of one row's block of n values.
gguf::BlockParams ggufParams(FormatKind k, const float* x, int64_t n) {
    switch (k) {
    case FormatKind::GgufQ8_0: return gguf::q8_0Params(x, int(n));
    case FormatKind::GgufQ4_0: return gguf::q4_0Params(x, int(n));
    default: return gguf::q4_1Params(x, int(n));
    }
}

/// Code and value of x on a GGUF block grid (d16 NaN: NaN value, code 0).
inline int ggufCode(FormatKind k, float x, float inv, float offset) {
    switch (k) {
    case FormatKind::GgufQ8_0: return gguf::q8_0Code(x, inv);
    case FormatKind::GgufQ4_0: return gguf::q4_0Code(x, inv);
    default: return gguf::q4_1Code(x, inv, offset);
    }
}
inline float ggufValue(FormatKind k, int q, float d16, float m16) {
    switch (k) {
    case FormatKind::GgufQ8_0: return gguf::q8_0Value(q, d16);
    case FormatKind::GgufQ4_0: return gguf::q4_0Value(q, d16);
    default: return gguf::q4_1Value(q, d16, m16);
    }
}
inline float ggufFake(FormatKind k, float x, float d16, float m16, float inv, float offset) {
    if (std::isnan(d16)) return kNaN;
    return ggufValue(k, ggufCode(k, x, inv, offset), d16, m16);
}

/// fp16 rounding of a whole matrix.
MatrixRM fp16Matrix(const MatrixRM& W) {
    MatrixRM out(W.rows(), W.cols());
    for (Eigen::Index i = 0; i < W.size(); ++i) out.data()[i] = fp16Round(W.data()[i]);
    return out;
}

// Decode formula (exact); used to build the tables.
float decodeFormula(FormatKind k, uint8_t code) {
    const ElemSpec s = specOf(k);
    const uint32_t mask = (1u << s.codeBits) - 1;
    code = static_cast<uint8_t>(code & mask);
    if (s.isInt) {
        int v = code;
        if (v & (1 << (s.codeBits - 1))) v -= (1 << s.codeBits);  // two's complement
        return std::ldexp(static_cast<float>(v), -s.intFrac);
    }
    const int signBit = s.ebits + s.mbits;
    const bool neg = (code >> signBit) & 1;
    const int ef = (code >> s.mbits) & ((1 << s.ebits) - 1);
    const int mf = code & ((1 << s.mbits) - 1);
    float v;
    if (k == FormatKind::MxFp8E4M3 && ef == 15 && mf == 7) {
        v = kNaN;
    } else if (k == FormatKind::MxFp8E5M2 && ef == 31) {
        v = mf == 0 ? std::numeric_limits<float>::infinity() : kNaN;
    } else if (ef == 0) {
        v = std::ldexp(static_cast<float>(mf), 1 - s.bias - s.mbits);
    } else {
        v = std::ldexp(static_cast<float>(mf + (1 << s.mbits)), ef - s.bias - s.mbits);
    }
    return neg ? -v : v;
}

struct DecodeTables {
    std::array<std::array<float, 256>, 9> t{};
    DecodeTables() {
        for (int k = static_cast<int>(FormatKind::MxInt8); k <= static_cast<int>(FormatKind::MxFp4E2M1); ++k)
            for (int c = 0; c < 256; ++c) t[k][c] = decodeFormula(static_cast<FormatKind>(k), static_cast<uint8_t>(c));
    }
};
const DecodeTables& tables() {
    static const DecodeTables tb;
    return tb;
}

// Encodes a float (already divided by the block scale): RNE + saturation.
uint8_t encodeElem(const ElemSpec& s, FormatKind k, float x) {
    const uint32_t signMask = 1u << (s.codeBits - 1);
    if (s.isInt) {
        if (std::isnan(x)) return 0;
        float q = std::nearbyint(std::ldexp(x, s.intFrac));  // exact scaling, RNE
        q = std::clamp(q, static_cast<float>(-s.intMax), static_cast<float>(s.intMax));
        const int v = static_cast<int>(q);
        return static_cast<uint8_t>(static_cast<uint32_t>(v) & ((1u << s.codeBits) - 1));
    }
    const uint8_t sign = std::signbit(x) ? static_cast<uint8_t>(signMask) : 0;
    if (std::isnan(x)) {
        if (k == FormatKind::MxFp8E4M3 || k == FormatKind::MxFp8E5M2) return static_cast<uint8_t>(sign | 0x7F);
        return 0;
    }
    float a = std::fabs(x);
    if (std::isinf(a)) {
        if (k == FormatKind::MxFp8E5M2) return static_cast<uint8_t>(sign | 0x7C);
        a = s.maxNorm;
    }
    const int emin = 1 - s.bias;
    float r = 0;  // rounded magnitude
    if (a != 0) {
        const int pe = std::max(std::ilogb(a), emin);
        const int qe = pe - s.mbits;                       // exponent of one ulp
        const float m = std::nearbyint(std::ldexp(a, -qe));  // exact scaling, RNE
        r = std::ldexp(m, qe);
        if (!(r <= s.maxNorm)) r = s.maxNorm;              // saturate (also catches overflow to inf)
    }
    uint32_t ef, mf;
    if (r < std::ldexp(1.f, emin)) {
        ef = 0;
        mf = static_cast<uint32_t>(std::ldexp(r, s.mbits - emin));
    } else {
        const int e = std::ilogb(r);
        ef = static_cast<uint32_t>(e + s.bias);
        mf = static_cast<uint32_t>(std::ldexp(r, s.mbits - e)) - (1u << s.mbits);
    }
    return static_cast<uint8_t>(sign | (ef << s.mbits) | mf);
}

// Shared exponent of a block; returns the E8M0 byte (0xFF = NaN block).
uint8_t blockScaleByte(const ElemSpec& s, const float* x, int64_t n) {
    float amax = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (!std::isfinite(a)) return 0xFF;  // NaN or Inf -> NaN block
        amax = std::max(amax, a);
    }
    if (amax == 0) return 0;  // minimum exponent -127
    int e = std::ilogb(amax) - s.emax;
    e = std::clamp(e, -127, 127);
    return static_cast<uint8_t>(e + 127);
}

float scaleFromByte(uint8_t b) {
    return b == 0xFF ? kNaN : std::ldexp(1.f, static_cast<int>(b) - 127);
}

// One MX element: fake-quantize with the block's scale X (NaN X -> NaN).
inline float mxFake(const ElemSpec& s, FormatKind k, const float* tab, float v, float X, uint8_t* codeOut) {
    if (std::isnan(X)) {
        if (codeOut) *codeOut = 0;
        return kNaN;
    }
    const uint8_t c = encodeElem(s, k, v / X);
    if (codeOut) *codeOut = c;
    return tab[c] * X;
}

// Integer params of one contiguous run.
struct IntParam {
    float scale, zero;
};
IntParam intParams(const float* x, int64_t n, int bits, bool sym, bool fp16Scale = false) {
    const float maxq = static_cast<float>((1 << bits) - 1);
    float mn = 0, mx = 0;  // min(x.min, 0), max(x.max, 0)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        if (!std::isfinite(v)) return {kNaN, 0.f};
        mn = std::min(mn, v);
        mx = std::max(mx, v);
    }
    float xmin = mn, xmax = mx;
    if (sym) {
        xmax = std::max(std::fabs(xmin), xmax);
        if (xmin < 0) xmin = -xmax;
    }
    if (xmin == 0 && xmax == 0) {
        xmin = -1;
        xmax = 1;
    }
    float scale = (xmax - xmin) / maxq;
    if (fp16Scale) {  // the GPTQ-packed grid: the stored fp16 scale is the one rounded with
        scale = halfToFloat(floatToHalf(scale));
        if (scale == 0) scale = std::ldexp(1.f, -24);  // smallest fp16 subnormal
        const float zero = sym ? (maxq + 1) / 2 : std::clamp(std::nearbyint(-xmin / scale), 0.f, maxq);
        return {scale, zero};
    }
    const float zero = sym ? (maxq + 1) / 2 : std::nearbyint(-xmin / scale);
    return {scale, zero};
}

/// The value of code q: scale * (q - zero), rounded once to fp16 on the GPTQ-packed grid.
inline float intValue(float scale, float q, float zero, bool fp16Scale) {
    const float v = scale * (q - zero);
    return fp16Scale ? halfToFloat(floatToHalf(v)) : v;
}

inline float intQ(float x, float scale, float zero, float maxq) {
    float q = std::nearbyint(x / scale) + zero;
    q = q < 0 ? 0.f : (q > maxq ? maxq : q);  // NaN passes through
    return q;
}

int codeBitsOf(const QuantFormat& f) {
    if (f.kind == FormatKind::Int) return f.bits;
    if (f.kind == FormatKind::None) return 32;
    if (f.kind == FormatKind::Fp16) return 16;
    if (isGgufKind(f.kind)) return f.kind == FormatKind::GgufQ8_0 ? 8 : 4;
    return specOf(f.kind).codeBits;
}

void putBits(uint8_t* row, int64_t i, int bits, uint32_t code) {
    int64_t pos = i * bits;
    for (int b = 0; b < bits;) {
        const int64_t byte = pos >> 3;
        const int off = static_cast<int>(pos & 7);
        const int take = std::min(bits - b, 8 - off);
        const uint32_t part = (code >> b) & ((1u << take) - 1);
        row[byte] = static_cast<uint8_t>(row[byte] | (part << off));
        b += take;
        pos += take;
    }
}

uint32_t getBits(const uint8_t* row, int64_t i, int bits) {
    int64_t pos = i * bits;
    uint32_t code = 0;
    for (int b = 0; b < bits;) {
        const int64_t byte = pos >> 3;
        const int off = static_cast<int>(pos & 7);
        const int take = std::min(bits - b, 8 - off);
        code |= ((static_cast<uint32_t>(row[byte]) >> off) & ((1u << take) - 1)) << b;
        b += take;
        pos += take;
    }
    return code;
}

int64_t ceilDiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

}  // namespace

// ------------------------------------------------------------------ QuantFormat

bool QuantFormat::isMx() const {
    return isMxKind(kind);
}

bool QuantFormat::isGguf() const {
    return isGgufKind(kind);
}

int QuantFormat::blockSize() const {
    if (isMx() || isGguf()) return kMxBlock;
    if (kind == FormatKind::Int) return groupSize;
    return 0;
}

double QuantFormat::bitsPerWeight(int64_t inFeatures) const {
    // Overhead is counted exactly: ceil(in / group) scale (+ zero) entries per
    // row, spread over `in` weights (equal to overhead / group when group | in).
    if (kind == FormatKind::None) return 32.0;
    if (kind == FormatKind::Fp16) return 16.0;
    if (isGguf()) {
        if (inFeatures > 0 && inFeatures % kMxBlock != 0) return 16.0;  // stays fp16
        return 8.0 * double(gguf::blockBytes(ggmlTypeOf(kind))) / kMxBlock;
    }
    if (isMx()) {
        const int b = specOf(kind).codeBits;
        if (inFeatures <= 0) return b + 8.0 / kMxBlock;
        return b + 8.0 * static_cast<double>(ceilDiv(inFeatures, kMxBlock)) / static_cast<double>(inFeatures);
    }
    const double over = 16.0 + (symmetric ? 0.0 : bits);
    if (inFeatures <= 0) return groupSize > 0 ? bits + over / groupSize : static_cast<double>(bits);
    const int64_t g = groupSize > 0 ? groupSize : inFeatures;
    return bits + over * static_cast<double>(ceilDiv(inFeatures, g)) / static_cast<double>(inFeatures);
}

std::string QuantFormat::name() const {
    switch (kind) {
    case FormatKind::None: return "fp32";
    case FormatKind::MxInt8: return "mxint8";
    case FormatKind::MxInt4: return "mxint4";
    case FormatKind::MxFp8E4M3: return "mxfp8_e4m3";
    case FormatKind::MxFp8E5M2: return "mxfp8_e5m2";
    case FormatKind::MxFp6E3M2: return "mxfp6_e3m2";
    case FormatKind::MxFp6E2M3: return "mxfp6_e2m3";
    case FormatKind::MxFp4E2M1: return "mxfp4";
    case FormatKind::Fp16: return "fp16";
    case FormatKind::GgufQ8_0: return "gguf_q8_0";
    case FormatKind::GgufQ4_0: return "gguf_q4_0";
    case FormatKind::GgufQ4_1: return "gguf_q4_1";
    case FormatKind::Int: break;
    }
    std::string s = "int" + std::to_string(bits);
    if (symmetric) s += "-sym";
    if (groupSize > 0) s += "-g" + std::to_string(groupSize);
    if (fp16Scale) s += "-f16";
    return s;
}

std::optional<QuantFormat> QuantFormat::parse(const std::string& nameIn) {
    std::string n;
    n.reserve(nameIn.size());
    for (char c : nameIn) n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    auto mx = [](FormatKind k) {
        QuantFormat f;
        f.kind = k;
        f.bits = specOf(k).codeBits;
        f.symmetric = false;
        f.groupSize = kMxBlock;
        return f;
    };
    if (n == "none" || n == "fp32") {
        QuantFormat f;
        f.kind = FormatKind::None;
        f.bits = 32;
        f.symmetric = false;
        f.groupSize = 0;
        return f;
    }
    if (n == "mxint8") return mx(FormatKind::MxInt8);
    if (n == "mxint4") return mx(FormatKind::MxInt4);
    if (n == "mxfp8_e4m3" || n == "mxfp8") return mx(FormatKind::MxFp8E4M3);
    if (n == "mxfp8_e5m2") return mx(FormatKind::MxFp8E5M2);
    if (n == "mxfp6_e3m2" || n == "mxfp6") return mx(FormatKind::MxFp6E3M2);
    if (n == "mxfp6_e2m3") return mx(FormatKind::MxFp6E2M3);
    if (n == "mxfp4" || n == "mxfp4_e2m1") return mx(FormatKind::MxFp4E2M1);
    if (n == "fp16" || n == "f16") return QuantFormat{FormatKind::Fp16, 16, false, 0};
    if (n == "gguf_q8_0") return QuantFormat{FormatKind::GgufQ8_0, 8, false, kMxBlock};
    if (n == "gguf_q4_0") return QuantFormat{FormatKind::GgufQ4_0, 4, false, kMxBlock};
    if (n == "gguf_q4_1") return QuantFormat{FormatKind::GgufQ4_1, 4, false, kMxBlock};

    // int<b>[-sym][-g<G>] (the -sym and -g parts in either order)
    if (n.rfind("int", 0) != 0) return std::nullopt;
    size_t i = 3;
    auto readInt = [&](int64_t& out) {
        const size_t st = i;
        int64_t v = 0;
        while (i < n.size() && std::isdigit(static_cast<unsigned char>(n[i]))) {
            v = v * 10 + (n[i] - '0');
            if (v > (1ll << 31)) return false;
            ++i;
        }
        out = v;
        return i > st;
    };
    int64_t b = 0;
    if (!readInt(b)) return std::nullopt;
    QuantFormat f;
    f.kind = FormatKind::Int;
    f.symmetric = false;
    f.groupSize = 0;
    bool sawSym = false, sawG = false, sawF16 = false;
    while (i < n.size()) {
        if (n.compare(i, 4, "-f16") == 0 && !sawF16) {
            sawF16 = true;
            f.fp16Scale = true;
            i += 4;
        } else if (n.compare(i, 4, "-sym") == 0 && !sawSym) {
            sawSym = true;
            f.symmetric = true;
            i += 4;
        } else if (n.compare(i, 2, "-g") == 0 && !sawG) {
            sawG = true;
            i += 2;
            int64_t g = 0;
            if (!readInt(g)) return std::nullopt;  // rejects "-g-5", "-g"
            if (g > std::numeric_limits<int>::max()) return std::nullopt;
            f.groupSize = static_cast<int>(g);
        } else {
            return std::nullopt;
        }
    }
    if (b < 2 || b > 8) return std::nullopt;
    f.bits = static_cast<int>(b);
    return f;
}

// ------------------------------------------------------------------ Quantizer

Quantizer::Quantizer(const QuantFormat& f) : f_(f) {
    if (f_.isMx()) {
        f_.bits = specOf(f_.kind).codeBits;
        f_.groupSize = kMxBlock;
    }
    if (f_.isGguf()) {
        f_.bits = codeBitsOf(f_);
        f_.symmetric = false;
        f_.groupSize = kMxBlock;
    }
    if (f_.kind == FormatKind::Fp16) f_ = QuantFormat{FormatKind::Fp16, 16, false, 0};
    assert(f_.kind != FormatKind::Int || (f_.bits >= 2 && f_.bits <= 8 && f_.groupSize >= 0));
}

RowParams Quantizer::findParams(const Eigen::Ref<const MatrixRM>& cols) const {
    const int64_t rows = cols.rows(), n = cols.cols();
    RowParams p;
    p.scale.resize(rows);
    p.zero.setZero(rows);
    if (f_.kind == FormatKind::None || f_.kind == FormatKind::Fp16) {
        p.scale.setOnes();
        return p;
    }
    if (f_.isGguf()) {
        p.inv.resize(rows);
        if (f_.kind == FormatKind::GgufQ4_1) p.offset.resize(rows);
        for (int64_t r = 0; r < rows; ++r) {
            const gguf::BlockParams b = ggufParams(f_.kind, cols.row(r).data(), n);
            p.scale[r] = b.d16;
            p.zero[r] = b.m16;
            p.inv[r] = b.inv;
            if (p.offset.size()) p.offset[r] = b.min;
        }
        return p;
    }
    if (f_.kind == FormatKind::Int) {
        for (int64_t r = 0; r < rows; ++r) {
            const IntParam ip = intParams(cols.row(r).data(), n, f_.bits, f_.symmetric, f_.fp16Scale);
            p.scale[r] = ip.scale;
            p.zero[r] = ip.zero;
        }
        return p;
    }
    const ElemSpec s = specOf(f_.kind);
    for (int64_t r = 0; r < rows; ++r) p.scale[r] = scaleFromByte(blockScaleByte(s, cols.row(r).data(), n));
    return p;
}

Eigen::VectorXf Quantizer::quantizeColumn(const Eigen::Ref<const Eigen::VectorXf>& w, const RowParams& p) const {
    const int64_t rows = w.size();
    assert(p.scale.size() == rows);
    Eigen::VectorXf out(rows);
    if (f_.kind == FormatKind::None) return w;
    if (f_.kind == FormatKind::Fp16) {
        for (int64_t r = 0; r < rows; ++r) out[r] = fp16Round(w[r]);
        return out;
    }
    if (f_.isGguf()) {
        assert(p.inv.size() == rows && (f_.kind != FormatKind::GgufQ4_1 || p.offset.size() == rows));
        for (int64_t r = 0; r < rows; ++r)
            out[r] = ggufFake(f_.kind, w[r], p.scale[r], p.zero[r], p.inv[r], p.offset.size() ? p.offset[r] : 0.f);
        return out;
    }
    if (f_.kind == FormatKind::Int) {
        const float maxq = static_cast<float>((1 << f_.bits) - 1);
        for (int64_t r = 0; r < rows; ++r) {
            const float q = intQ(w[r], p.scale[r], p.zero[r], maxq);
            out[r] = intValue(p.scale[r], q, p.zero[r], f_.fp16Scale);
        }
        return out;
    }
    const ElemSpec s = specOf(f_.kind);
    const float* tab = tables().t[static_cast<int>(f_.kind)].data();
    for (int64_t r = 0; r < rows; ++r) out[r] = mxFake(s, f_.kind, tab, w[r], p.scale[r], nullptr);
    return out;
}

MatrixRM Quantizer::fakeQuantize(const MatrixRM& W) const {
    // Same arithmetic as findParams + quantizeColumn, done row by row.
    if (f_.kind == FormatKind::None) return W;
    const int64_t rows = W.rows(), cols = W.cols();
    if (f_.kind == FormatKind::Fp16 || (f_.isGguf() && cols % kMxBlock != 0)) return fp16Matrix(W);
    MatrixRM out(rows, cols);
    const int64_t g = f_.fixedBlocks() ? kMxBlock : (f_.groupSize > 0 ? f_.groupSize : std::max<int64_t>(cols, 1));
    if (f_.isGguf()) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
        for (int64_t r = 0; r < rows; ++r) {
            const float* x = W.row(r).data();
            float* y = out.row(r).data();
            for (int64_t c0 = 0; c0 < cols; c0 += g) {
                const gguf::BlockParams b = ggufParams(f_.kind, x + c0, g);
                for (int64_t c = c0; c < c0 + g; ++c) y[c] = ggufFake(f_.kind, x[c], b.d16, b.m16, b.inv, b.min);
            }
        }
        return out;
    }
    if (f_.kind == FormatKind::Int) {
        const float maxq = static_cast<float>((1 << f_.bits) - 1);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
        for (int64_t r = 0; r < rows; ++r) {
            const float* x = W.row(r).data();
            float* y = out.row(r).data();
            for (int64_t c0 = 0; c0 < cols; c0 += g) {
                const int64_t n = std::min(g, cols - c0);
                const IntParam ip = intParams(x + c0, n, f_.bits, f_.symmetric, f_.fp16Scale);
                for (int64_t c = c0; c < c0 + n; ++c) y[c] = intValue(ip.scale, intQ(x[c], ip.scale, ip.zero, maxq), ip.zero, f_.fp16Scale);
            }
        }
        return out;
    }
    const ElemSpec s = specOf(f_.kind);
    const float* tab = tables().t[static_cast<int>(f_.kind)].data();
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = W.row(r).data();
        float* y = out.row(r).data();
        for (int64_t c0 = 0; c0 < cols; c0 += g) {
            const int64_t n = std::min(g, cols - c0);
            const float X = scaleFromByte(blockScaleByte(s, x + c0, n));
            for (int64_t c = c0; c < c0 + n; ++c) y[c] = mxFake(s, f_.kind, tab, x[c], X, nullptr);
        }
    }
    return out;
}

// ------------------------------------------------------------------ grids

RowParams RowParams::segment(Eigen::Index r0, Eigen::Index n) const {
    RowParams p{scale.segment(r0, n), zero.segment(r0, n), {}, {}};
    if (inv.size()) p.inv = inv.segment(r0, n);
    if (offset.size()) p.offset = offset.segment(r0, n);
    return p;
}

void RowParams::setRows(Eigen::Index rows, Eigen::Index r0, const RowParams& p) {
    auto put = [&](Eigen::VectorXf& dst, const Eigen::VectorXf& src) {
        if (src.size() == 0) return;
        if (dst.size() != rows) dst.setZero(rows);
        dst.segment(r0, src.size()) = src;
    };
    put(scale, p.scale);
    put(zero, p.zero);
    put(inv, p.inv);
    put(offset, p.offset);
}

QuantGrid QuantGrid::rtn(const MatrixRM& W, const Quantizer& q) {
    QuantGrid g;
    g.rows = W.rows();
    g.cols = W.cols();
    const int64_t G = q.format().blockSize() > 0 ? q.format().blockSize() : std::max<int64_t>(g.cols, 1);
    g.gIdx.resize(static_cast<size_t>(g.cols));
    for (int64_t c0 = 0, k = 0; c0 < g.cols; c0 += G, ++k) {
        const int64_t n = std::min(G, g.cols - c0);
        g.groups.push_back(q.findParams(W.middleCols(c0, n)));
        for (int64_t c = c0; c < c0 + n; ++c) g.gIdx[static_cast<size_t>(c)] = static_cast<int>(k);
    }
    return g;
}

QuantFormat effectiveWeightFormat(const QuantFormat& f, int64_t inFeatures) {
    if (f.isGguf() && inFeatures % kMxBlock != 0) return QuantFormat{FormatKind::Fp16, 16, false, 0};
    return f;
}

// ------------------------------------------------------------------ pack / unpack

PackedMatrix pack(const MatrixRM& W, const QuantFormat& fIn) {
    const Quantizer qz(fIn);
    const QuantFormat& f = qz.format();
    PackedMatrix p;
    p.format = f;
    p.rows = W.rows();
    p.cols = W.cols();
    const int64_t rows = p.rows, cols = p.cols;
    if (f.kind == FormatKind::Fp16 || (f.isGguf() && cols % kMxBlock != 0)) {
        p.format = QuantFormat{FormatKind::Fp16, 16, false, 0};
        p.codes.resize(static_cast<size_t>(rows * cols) * 2);
        for (int64_t r = 0; r < rows; ++r)
            convertFromFloat(DType::F16, W.row(r).data(), p.codes.data() + r * cols * 2, static_cast<size_t>(cols));
        return p;
    }
    if (f.isGguf()) {  // the ggml blocks, bit for bit as llama.cpp's reference quantizer
        const gguf::GgmlType t = ggmlTypeOf(f.kind);
        const size_t rb = gguf::bytesFor(t, cols);
        p.codes.resize(static_cast<size_t>(rows) * rb);
        for (int64_t r = 0; r < rows; ++r) gguf::quantizeRowRef(t, W.row(r).data(), cols, p.codes.data() + r * rb);
        return p;
    }
    const int bits = codeBitsOf(f);
    const int64_t rowBytes = ceilDiv(cols * bits, 8);
    p.codes.assign(static_cast<size_t>(rows * rowBytes), 0);
    if (f.kind == FormatKind::None) {
        for (int64_t r = 0; r < rows; ++r)
            std::memcpy(p.codes.data() + r * rowBytes, W.row(r).data(), static_cast<size_t>(cols) * sizeof(float));
        return p;
    }
    const int64_t g = f.isMx() ? kMxBlock : (f.groupSize > 0 ? f.groupSize : std::max<int64_t>(cols, 1));
    const int64_t groups = cols == 0 ? 0 : ceilDiv(cols, g);
    if (f.kind == FormatKind::Int) {
        p.scale.assign(static_cast<size_t>(rows * groups), 0.f);
        p.zero.assign(static_cast<size_t>(rows * groups), 0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* x = W.row(r).data();
            uint8_t* row = p.codes.data() + r * rowBytes;
            for (int64_t gi = 0; gi < groups; ++gi) {
                const int64_t c0 = gi * g, n = std::min(g, cols - c0);
                const IntParam ip = intParams(x + c0, n, f.bits, f.symmetric, f.fp16Scale);
                p.scale[static_cast<size_t>(r * groups + gi)] = ip.scale;
                if (std::isnan(ip.scale)) continue;  // NaN group: codes 0, zero 0
                const float maxq = static_cast<float>((1 << f.bits) - 1);
                // A group whose scale underflowed to 0 (denormal inputs only) gets a NaN/Inf
                // zero and NaN codes: stored as 0 (a float -> integer cast of those is
                // undefined and differs between x86 instruction sets; the OpenCL pack kernel
                // stores the same).
                const float z = ip.zero;
                p.zero[static_cast<size_t>(r * groups + gi)] = (z >= 0.f && z <= 255.f) ? static_cast<uint8_t>(z) : uint8_t(0);
                for (int64_t c = c0; c < c0 + n; ++c) {
                    const float q = intQ(x[c], ip.scale, ip.zero, maxq);  // an integer in [0, maxq], or NaN
                    putBits(row, c, bits, std::isnan(q) ? 0u : static_cast<uint32_t>(q));
                }
            }
        }
        return p;
    }
    const ElemSpec s = specOf(f.kind);
    p.scaleE8M0.assign(static_cast<size_t>(rows * groups), 0);
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = W.row(r).data();
        uint8_t* row = p.codes.data() + r * rowBytes;
        for (int64_t gi = 0; gi < groups; ++gi) {
            const int64_t c0 = gi * g, n = std::min(g, cols - c0);
            const uint8_t sb = blockScaleByte(s, x + c0, n);
            p.scaleE8M0[static_cast<size_t>(r * groups + gi)] = sb;
            if (sb == 0xFF) continue;
            const float X = scaleFromByte(sb);
            for (int64_t c = c0; c < c0 + n; ++c) putBits(row, c, bits, encodeElem(s, f.kind, x[c] / X));
        }
    }
    return p;
}

MatrixRM unpack(const PackedMatrix& p) {
    const QuantFormat& f = p.format;
    const int64_t rows = p.rows, cols = p.cols;
    MatrixRM out(rows, cols);
    if (f.kind == FormatKind::Fp16) {
        assert(static_cast<int64_t>(p.codes.size()) == rows * cols * 2);
        for (int64_t r = 0; r < rows; ++r)
            convertToFloat(DType::F16, p.codes.data() + r * cols * 2, out.row(r).data(), static_cast<size_t>(cols));
        return out;
    }
    if (f.isGguf()) {
        const gguf::GgmlType t = ggmlTypeOf(f.kind);
        const size_t rb = gguf::bytesFor(t, cols);
        assert(p.codes.size() == static_cast<size_t>(rows) * rb);
        for (int64_t r = 0; r < rows; ++r) gguf::decodeRow(t, p.codes.data() + r * rb, out.row(r).data(), cols);
        return out;
    }
    const int bits = codeBitsOf(f);
    const int64_t rowBytes = ceilDiv(cols * bits, 8);
    assert(static_cast<int64_t>(p.codes.size()) == rows * rowBytes);
    if (f.kind == FormatKind::None) {
        for (int64_t r = 0; r < rows; ++r)
            std::memcpy(out.row(r).data(), p.codes.data() + r * rowBytes, static_cast<size_t>(cols) * sizeof(float));
        return out;
    }
    const int64_t g = f.isMx() ? kMxBlock : (f.groupSize > 0 ? f.groupSize : std::max<int64_t>(cols, 1));
    const int64_t groups = cols == 0 ? 0 : ceilDiv(cols, g);
    if (f.kind == FormatKind::Int) {
        assert(static_cast<int64_t>(p.scale.size()) == rows * groups && p.zero.size() == p.scale.size());
        for (int64_t r = 0; r < rows; ++r) {
            const uint8_t* row = p.codes.data() + r * rowBytes;
            for (int64_t c = 0; c < cols; ++c) {
                const size_t gi = static_cast<size_t>(r * groups + c / g);
                const float q = static_cast<float>(getBits(row, c, bits));
                out(r, c) = intValue(p.scale[gi], q, static_cast<float>(p.zero[gi]), f.fp16Scale);
            }
        }
        return out;
    }
    assert(static_cast<int64_t>(p.scaleE8M0.size()) == rows * groups);
    const float* tab = tables().t[static_cast<int>(f.kind)].data();
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* row = p.codes.data() + r * rowBytes;
        for (int64_t c = 0; c < cols; ++c) {
            const float X = scaleFromByte(p.scaleE8M0[static_cast<size_t>(r * groups + c / g)]);
            out(r, c) = std::isnan(X) ? kNaN : tab[getBits(row, c, bits)] * X;
        }
    }
    return out;
}

// ------------------------------------------------------------------ element codecs

uint8_t encodeMxElement(FormatKind k, float v) {
    assert(isMxKind(k));
    return encodeElem(specOf(k), k, v);
}

float decodeMxElement(FormatKind k, uint8_t code) {
    assert(isMxKind(k));
    const ElemSpec s = specOf(k);
    return tables().t[static_cast<int>(k)][code & ((1u << s.codeBits) - 1)];
}

// ------------------------------------------------------------------ activations

void fakeQuantizeActivations(MatrixRM& x, const QuantFormat& f) {
    if (f.kind == FormatKind::None) return;
    if (f.kind == FormatKind::Fp16) {
        x = fp16Matrix(x);
        return;
    }
    const int64_t rows = x.rows(), cols = x.cols();
    if (f.kind == FormatKind::Int) {
        const float qmax = static_cast<float>((1 << (f.bits - 1)) - 1);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
        for (int64_t r = 0; r < rows; ++r) {
            float* y = x.row(r).data();
            float amax = 0;
            bool bad = false;
            for (int64_t c = 0; c < cols; ++c) {
                if (!std::isfinite(y[c])) bad = true;
                else amax = std::max(amax, std::fabs(y[c]));
            }
            if (bad) {
                for (int64_t c = 0; c < cols; ++c) y[c] = kNaN;
                continue;
            }
            if (amax == 0) continue;
            const float s = amax / qmax;
            for (int64_t c = 0; c < cols; ++c) {
                float q = std::nearbyint(y[c] / s);
                q = std::clamp(q, -qmax, qmax);
                y[c] = q * s;
            }
        }
        return;
    }
    x = Quantizer(f).fakeQuantize(x);
}

}  // namespace qs
