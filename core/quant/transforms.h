#pragma once
// Equivalence-preserving weight transforms that run before the rounding
// (SmoothQuant → AWQ → GPTQ/RTN, the order of the MX paper). The pipeline
// (quant/pipeline.cpp) collects the statistics, runs the searches and folds the
// scales into the model; this file holds the maths, model-free, so it can be
// tested on small matrices.
//
// Both transforms pick per-input-channel scales s > 0 for a set of linears that
// read the same input X, multiply their weight columns by s (W[:, j] *= s_j) and
// divide the operation that produces X by s (a norm's weight and bias, or the
// rows of a preceding linear and its bias), so that in full precision the model
// computes the same function: (X / s)(W · diag(s))ᵀ = X Wᵀ.
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "model/model.h"
#include "quant/formats.h"

namespace qs {

/// SmoothQuant (Xiao et al., 2023): migrate activation outliers into the weights.
struct SmoothQuantOptions {
    double alpha = 0.5;  // migration strength, in [0, 1]
    bool operator==(const SmoothQuantOptions&) const = default;
};

/// s_j = max|X_j|^α / max_k |W_kj|^(1-α), the max over the rows of all linears
/// reading X (weights [out, in]). As the reference, both maxima are clamped to
/// ≥ 1e-5 first; a channel that never fires (max|X_j| == 0) keeps s_j = 1.
Eigen::VectorXd smoothQuantScales(const Eigen::VectorXd& actAbsMax, const std::vector<const MatrixRM*>& weights,
                                  double alpha);

/// AWQ (Lin et al., 2024): activation-aware scales found by a grid search on the
/// block output, then a clipping search per weight group.
struct AwqOptions {
    int grid = 20;            // scale ratios r = 0, 1/grid, ..., (grid-1)/grid
    bool clip = true;         // run the clipping search (not for q/k, as the reference)
    double maxShrink = 0.5;   // clipping tries max|w| · (1 - i/grid) for i < maxShrink·grid
    int tokens = 8192;        // calibration tokens used by the searches (a prefix of ≤ 512 of each window)
    bool operator==(const AwqOptions&) const = default;
};

/// The candidate scales for ratio r, as the reference: s = max(meanAbs^r, 1e-4),
/// then s /= sqrt(max(s) · min(s)). Ratio 0 gives s = 1 (plain rounding).
Eigen::VectorXd awqScales(const Eigen::VectorXd& meanAbs, double ratio);

/// Q(W · diag(s)) · diag(s)⁻¹: the weight as the scale search evaluates it.
MatrixRM quantizeScaled(const MatrixRM& W, const Eigen::VectorXd& s, const Quantizer& q);

/// Per-group Gram matrices of a linear's input, Σ X_gᵀ X_g over tokens for each
/// group g of `groupSize` consecutive input channels (the last one may be
/// shorter; groupSize 0 = one group of all channels), in double.
class GroupGram {
public:
    GroupGram(int64_t inFeatures, int groupSize);
    void add(const MatrixRM& x);
    int groupSize() const { return g_; }
    int64_t tokens() const { return tokens_; }
    const std::vector<Eigen::MatrixXd>& blocks() const { return blocks_; }

private:
    int64_t in_;
    int g_;
    int64_t tokens_ = 0;
    std::vector<Eigen::MatrixXd> blocks_;
};

struct ClipResult {
    MatrixRM weight;        // W with each (row, group) clamped to ±shrink·max|w|
    double lossBefore = 0;  // Σ over (row, group) of eᵀ G e with e = Q(W) - W (no clipping)
    double lossAfter = 0;   // the same with the chosen clipping
    double meanShrink = 1;  // average chosen shrink factor
};

/// AWQ's clipping search: for each (row, group) independently, the shrink factor
/// f in {1, 1 - 1/grid, ...} (i < maxShrink·grid) that minimises eᵀ G_g e, where
/// e = Q(clamp(W, ±f·max|w_g|))_g - W_g and G_g is the group's Gram matrix —
/// the squared error of the group's partial output on the calibration tokens.
/// `gram` must use the quantizer's group (its blockSize()). f = 1 is always a
/// candidate, so lossAfter ≤ lossBefore.
ClipResult awqClip(const MatrixRM& W, const Quantizer& q, const GroupGram& gram, const AwqOptions& opt);

// --- folding scales into a model (a Block of a Model copy) ----------------------

/// Linears that read one input, and what produces that input (for folding scales).
struct InputGroup {
    std::vector<Linear*> members;
    Norm* prevNorm = nullptr;      // {q,k,v} ← attention norm, {gate,up} / {fc1} ← MLP norm
    Linear* prevLinear = nullptr;  // {o} ← v (no GQA), {down} ← up, {fc2} ← fc1 (ReLU only)
    bool foldable() const { return prevNorm || prevLinear; }
};

/// The input groups of a block, in the order they run: {q,k,v}, {o}, then
/// {gate,up}, {down} or {fc1}, {fc2}. Pointers into `b`.
std::vector<InputGroup> inputGroups(Block& b, const ModelConfig& c);

/// Folds s (> 0, one per input channel) into the group as overrides: every
/// member's W[:, j] *= s_j, and the producer of the input divided by s (norm
/// weight and bias, or the previous linear's rows and bias). With a producer the
/// model's function is unchanged in exact arithmetic; without one (foldable()
/// false) only the members change, so callers fold only foldable groups.
void foldInputScales(InputGroup& g, const Eigen::VectorXd& s);

}  // namespace qs
