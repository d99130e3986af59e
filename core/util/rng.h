#pragma once
// Deterministic, platform-independent random numbers for synthetic checkpoints,
// the demo model and seeded sampling. SplitMix64 is tiny and bit-reproducible in
// any language (tests/tools/*.py re-implement it to produce golden values).
#include <cstdint>
#include <string_view>

namespace qs {

struct SplitMix64 {
    uint64_t state;
    explicit SplitMix64(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1) with 24 random bits: exactly representable in float32.
    float uniform01() { return float(next() >> 40) * (1.0f / 16777216.0f); }
    /// Uniform in [-1, 1), exact in float32: (k - 2^23) / 2^23.
    float uniformSym() { return uniform01() * 2.0f - 1.0f; }
    /// Uniform double in [0, 1) with 53 bits.
    double uniformDouble() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
};

/// FNV-1a 64-bit hash of a string: seeds one stream per tensor name.
inline uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

}  // namespace qs
