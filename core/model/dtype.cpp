#include "model/dtype.h"

#include <cmath>
#include <cstring>
#ifdef __F16C__
#include <immintrin.h>
#endif

namespace qs {

std::optional<DType> dtypeFromName(const std::string& name) {
    if (name == "F32") return DType::F32;
    if (name == "F16") return DType::F16;
    if (name == "BF16") return DType::BF16;
    return std::nullopt;
}

const char* dtypeName(DType t) {
    switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    }
    return "?";
}

size_t dtypeSize(DType t) { return t == DType::F32 ? 4 : 2; }

float halfToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: value = mant * 2^-24
            float f = std::ldexp(float(mant), -24);
            std::memcpy(&u, &f, 4);
            u |= sign;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t floatToHalf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000);
    const uint32_t absu = u & 0x7fffffff;
    if (absu >= 0x7f800000u) {  // Inf or NaN
        return uint16_t(sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0));
    }
    if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520 -> Inf
    if (absu < 0x38800000u) {  // below smallest normal half (2^-14): subnormal or zero
        // value / 2^-24, rounded to nearest even
        float a;
        std::memcpy(&a, &absu, 4);
        float scaled = a * 16777216.0f;  // exact (power of two)
        float r = std::nearbyint(scaled);  // default rounding mode: RNE
        return uint16_t(sign | uint16_t(r));
    }
    // normal: rebias exponent, round mantissa 23 -> 10 bits RNE
    uint32_t mant = absu & 0x7fffff;
    uint32_t exp = (absu >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // carry may bump exponent: correct
    return uint16_t(sign | h);
}

uint16_t floatToBf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    const uint32_t lsb = (u >> 16) & 1;
    u += 0x7fff + lsb;
    return uint16_t(u >> 16);
}

void convertToFloat(DType t, const void* src, float* dst, size_t n) {
    const auto* p = static_cast<const unsigned char*>(src);
    switch (t) {
    case DType::F32:
        std::memcpy(dst, p, n * 4);
        return;
    case DType::F16: {
        size_t i = 0;
#ifdef __F16C__
        // hardware conversion, exact like the scalar path (8 halves at a time)
        for (; i + 8 <= n; i += 8) {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
        }
#endif
        for (; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            dst[i] = halfToFloat(h);
        }
        return;
    }
    case DType::BF16:
        for (size_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            dst[i] = bf16ToFloat(h);
        }
        return;
    }
}

void convertFromFloat(DType t, const float* src, void* dst, size_t n) {
    auto* p = static_cast<unsigned char*>(dst);
    switch (t) {
    case DType::F32:
        std::memcpy(p, src, n * 4);
        return;
    case DType::F16:
        for (size_t i = 0; i < n; ++i) {
            uint16_t h = floatToHalf(src[i]);
            std::memcpy(p + 2 * i, &h, 2);
        }
        return;
    case DType::BF16:
        for (size_t i = 0; i < n; ++i) {
            uint16_t h = floatToBf16(src[i]);
            std::memcpy(p + 2 * i, &h, 2);
        }
        return;
    }
}

}  // namespace qs
