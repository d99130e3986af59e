#pragma once
// Storage dtypes of checkpoint tensors and their conversion to float32.
// Conversions are exact for F16/BF16 -> F32 and round-to-nearest-even for
// F32 -> F16/BF16 (used by the checkpoint writer and synthetic checkpoints).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace qs {

enum class DType { F32, F16, BF16 };

std::optional<DType> dtypeFromName(const std::string& name);  // "F32", "F16", "BF16"
const char* dtypeName(DType t);
size_t dtypeSize(DType t);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
inline float bf16ToFloat(uint16_t b) {
    uint32_t u = uint32_t(b) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
uint16_t floatToBf16(float f);

/// Converts n elements of type t at src (little-endian, possibly unaligned) to float.
void convertToFloat(DType t, const void* src, float* dst, size_t n);
/// Converts n floats to dtype t (RNE), writing dtypeSize(t)*n bytes at dst.
void convertFromFloat(DType t, const float* src, void* dst, size_t n);

}  // namespace qs
