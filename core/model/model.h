#pragma once
// The one internal representation of every supported architecture.
//
// Conventions (used by every later stage):
//  * A linear layer computes y = x Wᵀ + b with W stored as [out, in] (row-major):
//    "input channel" = column of W = feature of x.
//  * Activations are row-major [tokens, features].
//  * q/k rows use the HF "rotate-half" RoPE layout (llama2.c checkpoints are
//    permuted on load).
//  * Weights stay memory-mapped in their file dtype; a WeightSource converts to
//    float32 only when asked. A Linear may carry an `override` (e.g. the
//    fake-quantized weight of a run), which then replaces the file's weight.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "model/config.h"
#include "model/safetensors.h"

namespace qs {

struct QuantFormat;  // quant/formats.h

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorF = Eigen::VectorXf;

/// Where a 1-D or 2-D parameter comes from: a stored tensor plus an optional
/// transform (transpose of GPT-2 Conv1D, row slice of a fused tensor, row
/// permutation of llama2.c q/k) so the result is the logical [out, in] matrix.
struct WeightSource {
    TensorRef ref;
    bool transpose = false;       // stored [in, out] (GPT-2 Conv1D): logical = storedᵀ
    int64_t rowOffset = 0;        // first logical row of a slice of a fused tensor
    int64_t rows = -1;            // logical rows (-1: all)
    std::vector<int> rowPerm;     // logical row r comes from slice row rowPerm[r]
    std::shared_ptr<const std::vector<float>> owned;  // in-memory data (demo model), row-major stored shape

    bool valid() const { return ref.data != nullptr || owned != nullptr; }
    int64_t logicalRows() const;
    int64_t logicalCols() const;
    /// Materializes the logical matrix [rows, cols] as float32.
    MatrixRM matrix() const;
    /// Materializes logical rows [r0, r0+n).
    MatrixRM rowsBlock(int64_t r0, int64_t n) const;
    /// Materializes a 1-D parameter.
    VectorF vector() const;
    /// Drops this tensor's pages from the process's resident set (memory-mapped
    /// files only; the data is re-read from the page cache/file on next use).
    /// Used when weights are converted per block, so peak memory stays at one block.
    void releasePages() const;
    /// Bytes this parameter occupies in its file.
    size_t storedBytes() const;
    static WeightSource fromOwned(std::vector<float> data, std::vector<int64_t> shape, const std::string& name);
};

enum class LinearKind { Q, K, V, O, Gate, Up, Down, Fc1, Fc2 };
const char* linearKindName(LinearKind k);

struct Linear {
    std::string name;             // canonical name, e.g. "model.layers.3.self_attn.q_proj"
    LinearKind kind;
    int64_t outFeatures = 0, inFeatures = 0;
    WeightSource weight;
    std::optional<WeightSource> bias;
    std::shared_ptr<const MatrixRM> override;  // replaces the stored weight when set
    std::shared_ptr<const VectorF> biasOverride;  // replaces the stored bias (only when `bias` exists)
    /// Dynamic activation quantization of this linear's input during the forward
    /// pass (W×A× experiments); null = float inputs.
    std::shared_ptr<const QuantFormat> actQuant;

    MatrixRM weightMatrix() const { return override ? *override : weight.matrix(); }
    /// Empty when the linear has no bias.
    VectorF biasVector() const { return biasOverride ? *biasOverride : (bias ? bias->vector() : VectorF()); }
    int64_t params() const { return outFeatures * inFeatures; }
};

struct Norm {
    WeightSource weight;
    std::optional<WeightSource> bias;  // LayerNorm only
    /// Replacements (e.g. SmoothQuant folding its scales into the norm).
    std::shared_ptr<const VectorF> weightOverride, biasOverride;
    VectorF weightVector() const { return weightOverride ? *weightOverride : weight.vector(); }
    /// Empty when the norm has no bias.
    VectorF biasVector() const { return biasOverride ? *biasOverride : (bias ? bias->vector() : VectorF()); }
};

struct Block {
    /// Identity of every override in the block (weights, biases, norms): a cached
    /// float copy of the block is stale when this changes.
    std::vector<const void*> overrideKeys() const;
    int index = 0;
    std::string prefix;           // e.g. "model.layers.3"
    Norm attnNorm, mlpNorm;
    std::vector<Linear> linears;  // q,k,v,o then gate,up,down or fc1,fc2
    Linear* find(LinearKind k);
    const Linear* find(LinearKind k) const;
};

struct Model {
    ModelConfig config;
    QString path;                 // what was opened (directory or file)
    QString format;               // "safetensors", "llama2c", "demo", "gguf"
    /// Non-empty when the checkpoint itself is quantized (its weights were
    /// dequantized on loading): what it holds, e.g. "GPTQ-packed, 4 bits, group 128"
    /// or "GGUF: Q4_0 x30, F16 x5".
    QString quantization;
    WeightSource embedTokens;     // [vocab, embedDim]
    std::optional<WeightSource> embedPositions;  // [maxPos + offset, hidden] (OPT/GPT-2)
    std::optional<WeightSource> projectIn;   // OPT: [hidden, wordEmbedProjDim]
    std::optional<WeightSource> projectOut;  // OPT: [wordEmbedProjDim, hidden]
    Norm finalNorm;
    WeightSource lmHead;          // [vocab, embedDim] (same source as embedTokens when tied)
    /// Replacements of the embedding table and of lm_head (a recipe that quantizes
    /// them; null = the stored weights). They are independent even when the
    /// embeddings are tied; saving unties the checkpoint when they differ.
    std::shared_ptr<const MatrixRM> embedOverride, lmHeadOverride;
    /// Dynamic activation quantization of lm_head's input (W×A×); null = float.
    std::shared_ptr<const QuantFormat> lmHeadActQuant;
    std::vector<Block> blocks;

    /// Calls fn once per distinct stored tensor (tied/fused storage counted once).
    void forEachTensor(const std::function<void(const WeightSource&)>& fn) const;
    int64_t numParams() const;
    int64_t numLinearParams() const;
    size_t storedBytes() const;
    std::vector<const Linear*> linears() const;
    /// SHA-256 over the tensors' stored bytes (names, shapes and data), hex.
    std::string contentHash() const;
};

}  // namespace qs
