// ggml's block quantization, bit for bit (see gguf_quants.h). This file is
// compiled with -ffp-contract=off (core/CMakeLists.txt): GCC would otherwise fuse
// x * id + 8.5f and q * d + m into FMAs, which round once instead of twice.
#include "quant/gguf_quants.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/dtype.h"

namespace qs::gguf {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float fp16Round(float v) { return halfToFloat(floatToHalf(v)); }

bool anyNonFinite(const float* x, int n) {
    for (int j = 0; j < n; ++j)
        if (!std::isfinite(x[j])) return true;
    return false;
}

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
void wr16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v & 0xFF);
    p[1] = uint8_t(v >> 8);
}

// E2M1 magnitudes of the 4-bit codes (bit 3 = sign), as ggml's kvalues_mxfp4 / 2.
constexpr float kE2M1[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};

}  // namespace

bool knownType(uint32_t id) {
    switch (GgmlType(id)) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q8_0:
    case GgmlType::BF16: case GgmlType::MXFP4: return true;
    }
    return false;
}

const char* typeName(GgmlType t) {
    switch (t) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::Q4_0: return "Q4_0";
    case GgmlType::Q4_1: return "Q4_1";
    case GgmlType::Q8_0: return "Q8_0";
    case GgmlType::BF16: return "BF16";
    case GgmlType::MXFP4: return "MXFP4";
    }
    return "?";
}

int blockElems(GgmlType t) {
    return (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) ? 1 : kBlock;
}

size_t blockBytes(GgmlType t) {
    switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: return 2;
    case GgmlType::BF16: return 2;
    case GgmlType::Q8_0: return 34;
    case GgmlType::Q4_0: return 18;
    case GgmlType::Q4_1: return 20;
    case GgmlType::MXFP4: return 17;
    }
    return 0;
}

size_t bytesFor(GgmlType t, int64_t n) {
    const int be = blockElems(t);
    assert(n % be == 0);
    return size_t(n / be) * blockBytes(t);
}

// ------------------------------------------------------------------ parameters

BlockParams q8_0Params(const float* x, int n) {
    BlockParams p;
    if (anyNonFinite(x, n)) {
        p.nan = true;
        p.d16 = kNaN;
        return p;
    }
    float amax = 0.0f;
    for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    p.inv = d != 0.0f ? 1.0f / d : 0.0f;
    p.d16 = fp16Round(d);
    return p;
}

BlockParams q4_0Params(const float* x, int n) {
    BlockParams p;
    if (anyNonFinite(x, n)) {
        p.nan = true;
        p.d16 = kNaN;
        return p;
    }
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8.0f;
    p.inv = d != 0.0f ? 1.0f / d : 0.0f;
    p.d16 = fp16Round(d);
    return p;
}

BlockParams q4_1Params(const float* x, int n) {
    BlockParams p;
    if (anyNonFinite(x, n)) {
        p.nan = true;
        p.d16 = kNaN;
        return p;
    }
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    p.inv = d != 0.0f ? 1.0f / d : 0.0f;
    p.min = min;
    p.d16 = fp16Round(d);
    p.m16 = fp16Round(min);
    return p;
}

// ------------------------------------------------------------------ codes and values

int q8_0Code(float x, float inv) {
    const float q = std::round(x * inv);  // roundf: halves away from zero
    return int(std::clamp(q, -128.0f, 127.0f));
}

int q4_0Code(float x, float inv) {
    const float x0 = x * inv;
    const float t = std::trunc(x0 + 8.5f);  // (int8_t)(x0 + 8.5f)
    return int(std::clamp(t, 0.0f, 15.0f));
}

int q4_1Code(float x, float inv, float min) {
    const float x0 = (x - min) * inv;
    const float t = std::trunc(x0 + 0.5f);
    return int(std::clamp(t, 0.0f, 15.0f));
}

float q8_0Value(int q, float d16) { return float(q) * d16; }
float q4_0Value(int q, float d16) { return float(q - 8) * d16; }
float q4_1Value(int q, float d16, float m16) {
    const float t = float(q) * d16;
    return t + m16;
}

// ------------------------------------------------------------------ blocks

void decodeBlock(GgmlType t, const uint8_t* b, float* out) {
    switch (t) {
    case GgmlType::Q8_0: {
        const float d = halfToFloat(rd16(b));
        for (int j = 0; j < kBlock; ++j) out[j] = q8_0Value(int(int8_t(b[2 + j])), d);
        return;
    }
    case GgmlType::Q4_0: {
        const float d = halfToFloat(rd16(b));
        for (int j = 0; j < kBlock / 2; ++j) {
            out[j] = q4_0Value(b[2 + j] & 0x0F, d);
            out[j + kBlock / 2] = q4_0Value(b[2 + j] >> 4, d);
        }
        return;
    }
    case GgmlType::Q4_1: {
        const float d = halfToFloat(rd16(b)), m = halfToFloat(rd16(b + 2));
        for (int j = 0; j < kBlock / 2; ++j) {
            out[j] = q4_1Value(b[4 + j] & 0x0F, d, m);
            out[j + kBlock / 2] = q4_1Value(b[4 + j] >> 4, d, m);
        }
        return;
    }
    case GgmlType::MXFP4: {
        // ggml: kvalues_mxfp4[c] (= 2 * E2M1, an int8) * 2^(e-128); the same value
        // as E2M1(c) * 2^(e-127), exactly (both products are exact in float32).
        // A code 8 (-0) decodes to +0 there, as here; e = 0xFF has no NaN meaning in ggml.
        const float scale = std::ldexp(1.0f, int(b[0]) - 128);
        for (int j = 0; j < kBlock / 2; ++j) {
            for (int h = 0; h < 2; ++h) {
                const int c = h ? (b[1 + j] >> 4) : (b[1 + j] & 0x0F);
                const int kv = int(2.0f * kE2M1[c & 7]) * ((c & 8) ? -1 : 1);  // kvalues_mxfp4[c]
                out[j + h * kBlock / 2] = float(kv) * scale;
            }
        }
        return;
    }
    default: assert(false && "not a block type"); return;
    }
}

void decodeRow(GgmlType t, const uint8_t* src, float* out, int64_t n) {
    switch (t) {
    case GgmlType::F32: std::memcpy(out, src, size_t(n) * 4); return;
    case GgmlType::F16: convertToFloat(DType::F16, src, out, size_t(n)); return;
    case GgmlType::BF16: convertToFloat(DType::BF16, src, out, size_t(n)); return;
    default: break;
    }
    assert(n % kBlock == 0);
    const size_t bb = blockBytes(t);
    for (int64_t i = 0; i < n / kBlock; ++i) decodeBlock(t, src + size_t(i) * bb, out + i * kBlock);
}

void encodeQ8_0(uint16_t d, const int* codes, uint8_t* b) {
    wr16(b, d);
    for (int j = 0; j < kBlock; ++j) b[2 + j] = uint8_t(int8_t(codes[j]));
}

void encodeQ4_0(uint16_t d, const int* codes, uint8_t* b) {
    wr16(b, d);
    for (int j = 0; j < kBlock / 2; ++j) b[2 + j] = uint8_t((codes[j] & 0x0F) | ((codes[j + kBlock / 2] & 0x0F) << 4));
}

void encodeQ4_1(uint16_t d, uint16_t m, const int* codes, uint8_t* b) {
    wr16(b, d);
    wr16(b + 2, m);
    for (int j = 0; j < kBlock / 2; ++j) b[4 + j] = uint8_t((codes[j] & 0x0F) | ((codes[j + kBlock / 2] & 0x0F) << 4));
}

void encodeMxfp4(uint8_t e, const int* codes, uint8_t* b) {
    b[0] = e;
    for (int j = 0; j < kBlock / 2; ++j) b[1 + j] = uint8_t((codes[j] & 0x0F) | ((codes[j + kBlock / 2] & 0x0F) << 4));
}

void quantizeRowRef(GgmlType t, const float* x, int64_t cols, uint8_t* out) {
    assert(cols % kBlock == 0);
    const size_t bb = blockBytes(t);
    int codes[kBlock];
    for (int64_t i = 0; i < cols / kBlock; ++i) {
        const float* xb = x + i * kBlock;
        uint8_t* b = out + size_t(i) * bb;
        switch (t) {
        case GgmlType::Q8_0: {
            const BlockParams p = q8_0Params(xb, kBlock);
            for (int j = 0; j < kBlock; ++j) codes[j] = p.nan ? 0 : q8_0Code(xb[j], p.inv);
            encodeQ8_0(floatToHalf(p.d16), codes, b);
            break;
        }
        case GgmlType::Q4_0: {
            const BlockParams p = q4_0Params(xb, kBlock);
            for (int j = 0; j < kBlock; ++j) codes[j] = p.nan ? 0 : q4_0Code(xb[j], p.inv);
            encodeQ4_0(floatToHalf(p.d16), codes, b);
            break;
        }
        case GgmlType::Q4_1: {
            const BlockParams p = q4_1Params(xb, kBlock);
            for (int j = 0; j < kBlock; ++j) codes[j] = p.nan ? 0 : q4_1Code(xb[j], p.inv, p.min);
            encodeQ4_1(floatToHalf(p.d16), floatToHalf(p.m16), codes, b);
            break;
        }
        default: assert(false && "quantizeRowRef: Q8_0, Q4_0 or Q4_1"); return;
        }
    }
}

}  // namespace qs::gguf
