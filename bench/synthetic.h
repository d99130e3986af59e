#pragma once
// Synthetic LLaMA-shaped Hugging Face checkpoints for benchmarks: config.json +
// model.safetensors with the tensor names and shapes of a real model, filled with
// deterministic pseudo-random values (no download, any size).
//
// Values: element i of tensor `name` is uniformSym() of a SplitMix64 stream whose
// state starts at seed ^ fnv1a64(name) and is advanced i times — SplitMix64's
// state is a counter, so element i is computed directly (random access) and the
// file does not depend on how generation is chunked or threaded.
//   * 2-D weights [out, in]: uniform in [-1, 1) / sqrt(in)   (in = fan_in = last dim)
//   * norm weights [H]:      1 + 0.05 * uniform in [-1, 1)
// The values are only meant to give realistic magnitudes (activations stay O(1)
// through the layers); the "model" predicts nothing.
#include <cstdint>
#include <optional>
#include <string>

#include <QString>

#include "model/dtype.h"

namespace qs::bench {

struct SyntheticShape {
    std::string name;
    int hidden = 0, layers = 0, heads = 0, kvHeads = 0, intermediate = 0, vocab = 0, maxPositions = 0;
    bool tied = false;
    double normEps = 1e-5;

    int headDim() const { return hidden / heads; }
    /// Parameters of the linears of all blocks (q, k, v, o, gate, up, down).
    int64_t linearParams() const;
    /// All stored parameters (embeddings, norms, linears, lm_head unless tied).
    int64_t totalParams() const;
    /// Bytes of model.safetensors' data buffer in `dtype` (the header adds a few KB).
    uint64_t dataBytes(DType dtype) const;
};

/// "125m" (hidden 768, 12 layers, 12 heads, intermediate 2048, vocab 32000,
/// max pos 2048, untied, ~134M params) or "7b" (LLaMA-2-7B: hidden 4096, 32 layers,
/// 32 heads, intermediate 11008, vocab 32000, max pos 4096, untied, ~6.74B params).
std::optional<SyntheticShape> syntheticShape(const std::string& name);
/// "125m, 7b" for messages.
std::string syntheticShapeNames();

struct SyntheticWriteStats {
    double seconds = 0;
    uint64_t fileBytes = 0;   // size of model.safetensors
    int64_t params = 0;
};

/// Writes `dir`/config.json and `dir`/model.safetensors (creating `dir`). Values are
/// generated chunk by chunk (qs::writeSafetensors' `fill`), so memory stays small
/// whatever the model size; `fillThreads` > 1 generates each chunk with OpenMP.
/// Default 1: generation costs ~0.5 ns/element, while writeSafetensors' own
/// float -> F16/BF16 conversion (single-threaded, ~3 ns/element) dominates, and
/// on a 2-core machine shared with other jobs a parallel region per 1M-element
/// chunk measured 2x slower (threads wait for each other at every chunk).
/// Prints progress to stderr when `progress` is set. Throws qs::Error on I/O failure.
SyntheticWriteStats writeSyntheticCheckpoint(const QString& dir, const SyntheticShape& shape, DType dtype,
                                             uint64_t seed = 0x5EED, bool progress = true, int fillThreads = 1);

}  // namespace qs::bench
