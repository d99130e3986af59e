#pragma once
// BoA's output-side factors (Kim et al., 2024; ../shared/design/papers.md, seed 2):
// the attention-aware Kronecker Hessians of one block's q/k/v projections,
// accumulated over calibration windows from the *current* block weights.
//
// Per query head h with KV head g = h / (heads / kvHeads), over tokens t of all
// windows (q̃, k̃ = post-RoPE queries/keys, [hd] each):
//  * W_q, head h:  H_row = mean_t R_tᵀ C_K,g R_t with C_K,g = E[k̃ k̃ᵀ] of KV head g;
//  * W_k, head g:  H_row = mean_t R_tᵀ (Σ_{h∈g} E[q̃_h q̃_hᵀ]) R_t (GQA: summed over the group);
//  * W_v, head g:  H_col = 2/N Σ_windows Σ_{h∈g} (A_h X)ᵀ (A_h X) with A_h the causal
//                  attention map [T, T] and X the normed input [T, in];
//                  H_row = Σ_{h∈g} W_o,hᵀ W_o,h, W_o,h = o_proj's columns of head h.
// R_t is the RoPE rotation at position t (identity without RoPE); the mean over
// the window's positions maps the rotated-frame covariance back to W's rows:
// with column a of R_t = cos(θ_i t) e_a + σ_a sin(θ_i t) e_ā (ā = a ± hd/2, i = a mod
// hd/2, σ = +1 for the first half, −1 for the second),
//   M_ab = C_ab·cc + σ_b C_a,b̄·cs + σ_a C_ā,b·sc + σ_a σ_b C_ā,b̄·ss,
// cc/cs/sc/ss = mean_t of cos(θ_i t)cos(θ_j t), cos·sin, sin·cos, sin·sin (i = i(a), j = i(b)).
// Factor scales do not matter to the solver (only ratios within a factor and the
// relative damping), so covariances are plain means.
#include <vector>

#include <Eigen/Core>

#include "model/config.h"
#include "model/model.h"

namespace qs {

class BoaStats {
public:
    /// withV: also the v projection's input-side factors (the expensive part).
    BoaStats(const ModelConfig& c, int64_t inFeatures, bool withV = true);
    /// x: the normed attention input of whole windows [nWindows*seqlen, in];
    /// q/k: Forward::queriesKeys of x. `samples` = windows (GPTQ's N).
    void add(const MatrixRM& x, const MatrixRM& q, const MatrixRM& k, int seqlen);

    std::vector<Eigen::MatrixXd> qRowFactors() const;  // per query head
    std::vector<Eigen::MatrixXd> kRowFactors() const;  // per KV head
    std::vector<Eigen::MatrixXd> vColFactors() const;  // per KV head, [in, in]
    /// Per KV head, from o_proj's weight Wo [hidden, heads*hd].
    static std::vector<Eigen::MatrixXd> vRowFactors(const MatrixRM& Wo, const ModelConfig& c);
    /// mean_t R_tᵀ C R_t for positions 0..seqlen-1 (exposed for tests).
    static Eigen::MatrixXd ropeMean(const Eigen::MatrixXd& C, const ModelConfig& c, int seqlen);

private:
    ModelConfig c_;
    int64_t in_ = 0;
    bool withV_ = true;
    int seqlen_ = 0;
    int64_t tokens_ = 0, windows_ = 0;
    std::vector<Eigen::MatrixXd> covK_, covQ_;  // per KV head, sums of outer products
    std::vector<Eigen::MatrixXd> vCol_;         // per KV head, sums
};

}  // namespace qs
