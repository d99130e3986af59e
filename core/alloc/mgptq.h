#pragma once
// MG-PTQ (Liu et al., 2025): a graph-network bit allocator for one weight matrix
// (core/alloc/mgptq). Its per-group bit widths feed gptqQuantizeMixed.
//
// Conventions: W is [out, in] row-major, H is the [in, in] input Hessian (GPTQ's
// 2/N·XᵀX). A "group" is a run of G consecutive input columns (group g covers
// columns [gG, min((g+1)G, in)); a trailing partial group is allowed); G and the
// symmetry come from the base integer format (e.g. int3-g64; its bit width is not
// used). Every group gets one width b_g from `choices`; the storage per row is
//   Σ_g (n_g·b_g + 16 + (asym ? b_g : 0))   bits
// (fp16 scale per group, a b_g-bit zero point when asymmetric), i.e. exactly
// QuantFormat::bitsPerWeight when every group has the same width.
//
// The method, per matrix:
//  1. Loss model: a matrix Q over (group, width) pairs; a hard assignment b costs
//     Σ_{g,h} Q[(g,b_g),(h,b_h)]; for a soft assignment p (independent categorical
//     per group) the training loss is its expectation
//       L(p) = Σ_{g≠h} Σ_{k,l} p_gk p_hl Q[(g,k),(h,l)] + Σ_{g,k} p_gk Q[(g,k),(g,k)]
//     (equal to the hard loss at one-hot p and linear in each group's p_g, so it does
//     not reward fractional mixtures as tr(ΔW(p) H ΔW(p)ᵀ) with ΔW(p) = Σ_k p_gk ΔW_k
//     would). Two models:
//     * Gptq (default): per-group GPTQ losses. A uniform GPTQ pass at width k (the
//       caller's GPTQ options) gives ΔW_k = E_k U with E_k the scaled rounding errors
//       of its columns (U the upper Cholesky factor of (H + λI)⁻¹), so its loss
//       tr(ΔW_k (H + λI) ΔW_kᵀ) = Σ_g ℓ_gk with ℓ_gk = ||E_k[:, group g]||². Q is
//       diagonal: Q[(g,k),(g,k)] = ℓ_gk. Approximation: in a mixed pass a group's
//       updated weights (and so its rounding error) also depend on the earlier
//       groups' widths; the model takes them from the uniform pass at the group's
//       own width. Cost: K GPTQ passes and K products ΔW·U⁻¹ (out·in²/2 each).
//     * Rtn: tr(ΔW H ΔWᵀ) of mixed-width RTN, with cross-group terms:
//       Q[(g,k),(h,l)] = Σ_{i∈g, j∈h} H_ij (D_kᵀD_l)_ij, D_k = W - RTN_k(W). Exact for
//       RTN but blind to GPTQ's error feedback. Cost: K·out·in², (N·K)² doubles.
//     On the down_proj layers of stories260K and on synthetic matrices, Gptq's
//     choices give the smaller error after the mixed GPTQ pass (tests/test_mgptq).
//  2. Graph: one node per group. Edge weight between groups g ≠ h: the mean of
//     |H_ij| / sqrt(H_ii H_jj) over i ∈ g, j ∈ h (mean absolute input correlation);
//     each node keeps its topK strongest neighbours, the union is symmetrised, self
//     loops of weight 1 are added and the adjacency is normalised D^-1/2 A D^-1/2.
//  3. Node features (8 + 2K, each standardised to mean 0 / std 1 across the
//     matrix's groups): log absmax, log std and log kurtosis of the group's weights,
//     log mean diag(H), log(max/mean diag(H)), log of the mean GPTQ-conditional
//     diagonal 1/U_jj² (the column's Hessian after the later columns compensate),
//     log Q[(g,k),(g,k)] per width, log of the loss saved per storage bit by each
//     next width, log of the node's edge strength, n_g/G and the position g/(N-1).
//  4. GNN: two GraphSAGE-style layers h' = tanh(h·W_self + Â·h·W_neigh + b) (hidden
//     width `hidden`) and a linear head on the last layer plus a skip connection
//     from the features: z = h2·W_o + x·W_x + b_o, logits over the K widths.
//     The budget is built into the relaxation: p_gk = softmax_k(z_gk/T - t·a_gk)
//     (a_gk = the bits per weight group g adds at width k) with the shift t solved
//     by bisection so that the expected bits equal target' exactly, so the training
//     objective is just J = L(p) / L_ref (L_ref = every group at the lowest width);
//     its gradient goes through t(z) by implicit differentiation:
//       dJ/dz_gk = p_gk [(G_gk - Ḡ_g) - (C/V)(a_gk - ā_g)] / T,  G = dJ/dp,
//     Ḡ_g, ā_g p-weighted means, V = Σ_g Var_g(a), C = Σ_g Cov_g(G, a).
//     Adam from a seeded Xavier init, T annealed geometrically over `steps`.
//     Backprop is hand written (mgptq::objective; finite-difference checked).
//  5. Exact budget: target' = the largest per-row storage ≤ target·in that any
//     assignment reaches (a reachability DP over group costs). The final assignment
//     is the most probable one under the trained p (minimum Σ -log p_g,b_g) among
//     those whose storage is exactly target' (a multiple-choice knapsack by DP,
//     ties broken towards lower indices), so the realised bits per weight are the
//     largest achievable value ≤ the target (equal to it when it is on the grid).
//     With the Gptq model the loss is separable, so the same DP on ℓ alone gives
//     the model's optimum: MgptqAllocation reports it (separableOptimumLoss) next
//     to the GNN's (modelLoss); the tests require the GNN within 10 % of it.
// Determinism: everything is seeded (SplitMix64); the products are either Eigen
// GEMMs computed single-threaded inside a statically partitioned OpenMP loop (each
// result coefficient computed by one thread in a fixed order), GPTQ's own passes,
// or small coefficient-wise products (lazyProduct) that Eigen never splits; a seed
// gives bit-identical logits for 1 and 2 threads (tests/test_mgptq).
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "jobs/job.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/gptq.h"

namespace qs {

/// The loss model the GNN is trained on (see above): Gptq = the per-group
/// decomposition of uniform GPTQ passes (default), Rtn = tr(ΔW H ΔWᵀ) of mixed RTN.
enum class MgptqLoss { Gptq, Rtn };
const char* mgptqLossName(MgptqLoss l);  // "gptq" | "rtn"

struct MgptqOptions {
    double targetBits = 0;             // average bits per weight incl. scales/zeros; 0 = unset
    std::vector<int> choices{2, 3, 4}; // candidate widths, ascending, distinct, 2..8
    uint64_t seed = 0;
    MgptqLoss loss = MgptqLoss::Gptq;
    // The GNN and its training (not recipe keys; the defaults are what the tests and
    // the bench use).
    int hidden = 32;
    int topK = 8;
    int steps = 400;
    double learningRate = 0.02;
    double tempStart = 1.0, tempEnd = 0.05;
    bool operator==(const MgptqOptions&) const = default;
};

/// Checks choices (non-empty, ascending, distinct, 2..8) and the target (finite,
/// > 0); returns an error message or an empty string.
std::string validateMgptqOptions(const MgptqOptions& o);

/// Bits per weight of a per-group assignment (widths per group of base.groupSize
/// columns) for rows of `inFeatures` columns, scales and zero points included.
double mixedBitsPerWeight(int64_t inFeatures, const QuantFormat& base, const std::vector<int>& groupBits);

/// Every achievable bits-per-weight value of an MG-PTQ assignment for rows of
/// `inFeatures` columns (ascending, distinct; computed as storage/in).
std::vector<double> mgptqAchievableBits(int64_t inFeatures, const QuantFormat& base, const std::vector<int>& choices);

struct MgptqAllocation {
    std::vector<int> groupBits;      // per group (original column order)
    double bitsPerWeight = 0;        // realised, incl. scales/zeros
    double targetBits = 0;           // as asked
    double relaxedBits = 0;          // expected bits of the trained soft assignment
    int repairedGroups = 0;          // groups whose final width differs from the argmax of p
    double modelLoss = 0;            // the loss model at groupBits (Gptq: Σ_g ℓ_g,b_g; Rtn: mixed RTN tr(ΔW H ΔWᵀ))
    double lowestLoss = 0;           // the same with every group at the lowest width (L_ref)
    /// The loss model at the exact-budget assignment minimising the per-group terms
    /// alone (a DP): the model's optimum when it is separable (Gptq), so
    /// modelLoss / separableOptimumLoss - 1 is how far the GNN is from it.
    double separableOptimumLoss = 0;
    double finalObjective = 0;       // J at the end of training
    Eigen::MatrixXd logits;          // [N, K] the trained GNN's output (p = softmax(logits / tempEnd))
    std::vector<QuantFormat> groupFormats(const QuantFormat& base) const;
};

/// Runs MG-PTQ on one matrix. `base`: a grouped integer format (group size and
/// symmetry). Throws qs::Error on bad input (with the matrix shape in the message),
/// e.g. a target below the smallest achievable bits per weight.
/// `gptq`: the options of the GPTQ pass the widths feed (damping, act-order with
/// static groups, block size): the loss model and the conditional diagonal use them.
MgptqAllocation mgptqAllocate(const MatrixRM& W, const Eigen::MatrixXd& H, const QuantFormat& base, const MgptqOptions& opt,
                              const GptqOptions& gptq = GptqOptions{}, const JobContext& ctx = {});

/// The pieces of MG-PTQ, exposed for the tests.
namespace mgptq {

using MatrixRD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A symmetric sparse matrix in CSR form (the normalised adjacency incl. self loops).
struct Graph {
    int n = 0;
    std::vector<int> start;     // n + 1
    std::vector<int> index;
    std::vector<double> weight;
    Eigen::MatrixXd times(const Eigen::MatrixXd& X) const;  // Â·X, fixed summation order
};

struct Problem {
    int64_t inFeatures = 0;
    int G = 0;
    bool symmetric = false;
    std::vector<int> choices;
    MgptqLoss loss = MgptqLoss::Gptq;
    bool cross = false;          // Qc holds cross-group terms (Rtn); else it is empty (the loss is separable)
    int N = 0, K = 0;
    Eigen::VectorXd groupCost;   // [N] storage bits per row per bit of width: n_g (+1 when asymmetric)
    double overheadBits = 0;     // per row: 16·N
    Eigen::MatrixXd X;           // [N, F] standardised node features
    Graph adj;
    MatrixRD Qc;                 // [N·K, N·K] symmetric, within-group blocks zero; index g·K + k
    Eigen::VectorXd Qd;          // [N·K] Q[(g,k),(g,k)]
    double lossRef = 1;          // L with every group at choices[0] (> 0)
    double expectedLoss(const MatrixRD& P) const;               // L(p), P [N, K]
    double expectedBits(const MatrixRD& P) const;               // bits per weight incl. overhead
    double hardLoss(const std::vector<int>& choiceIndex) const; // L at one-hot p
    double bitsPerWeightOf(int g, int k) const;                 // a_gk = c_g·b_k / in
};

/// Builds the loss model, graph and features (steps 1-3).
Problem buildProblem(const MatrixRM& W, const Eigen::MatrixXd& H, const QuantFormat& base, const MgptqOptions& opt,
                     const GptqOptions& gptq = GptqOptions{}, const JobContext& ctx = {});

/// The GNN: parameters in one flat vector (Ws1, Wn1, b1, Ws2, Wn2, b2, Wo, bo, Wx).
class Gnn {
public:
    Gnn(int features, int hidden, int K, uint64_t seed);
    Eigen::VectorXd params;
    /// Logits [N, K]; caches what backward needs.
    Eigen::MatrixXd forward(const Eigen::MatrixXd& X, const Graph& adj);
    /// dJ/dparams from dJ/dlogits of the last forward.
    Eigen::VectorXd backward(const Eigen::MatrixXd& dLogits) const;
    int features() const { return F_; }
    int hidden() const { return H_; }
    int outputs() const { return K_; }

private:
    int F_, H_, K_;
    // cached activations of the last forward
    const Graph* adj_ = nullptr;
    Eigen::MatrixXd X_, A1_, H1_, A2_, H2_;
};

/// The budget shift: t such that p_gk = softmax_k(z_gk / T - t·a_gk) (a_gk the bits
/// per weight group g adds at width k) has expected bits = targetBits (bisection to
/// the last bit; the nearest end when the target is outside the reachable range).
/// P receives p.
double budgetShift(const Problem& pr, const Eigen::MatrixXd& Z, double T, double targetBits, MatrixRD& P);

/// J(params) = L(p) / L_ref with p the budget-shifted softmax of the GNN's logits at
/// temperature T; with grad, dJ/dparams (through the implicit t(z)). P (optional)
/// receives p.
double objective(const Problem& pr, Gnn& net, double T, double targetBits, Eigen::VectorXd* grad, MatrixRD* P = nullptr);

/// Step 5: among assignments whose per-row storage is the largest achievable ≤
/// targetBits·in, the one with the least Σ score(g, choice) (score [N, K]). Returns
/// choice indices per group; throws qs::Error when even the cheapest exceeds the target.
std::vector<int> exactBudgetAssignment(const Problem& pr, double targetBits, const MatrixRD& score);

}  // namespace mgptq

}  // namespace qs
