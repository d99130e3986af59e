#pragma once
// Per-linear calibration statistics from the linear's inputs X [tokens, in]:
// the Hessian proxy H = 2/N · XᵀX (running update exactly as GPTQ's add_batch,
// accumulated in double) and per-input-channel activation statistics.
#include <cstdint>

#include <Eigen/Core>

#include "model/model.h"

namespace qs {

class HessianAccumulator {
public:
    explicit HessianAccumulator(int64_t inFeatures);
    /// Adds the rows of x ([tokens, in]); `samples` = how many calibration
    /// sequences these rows belong to (GPTQ counts sequences, not tokens, in N;
    /// the result is the same for equal-length sequences).
    void add(const MatrixRM& x, int64_t samples = 1);
    /// H = 2/N · XᵀX, [in, in].
    const Eigen::MatrixXd& hessian() const { return h_; }
    int64_t samples() const { return n_; }
    int64_t tokens() const { return tokens_; }
    /// Per input channel: max |x|, mean |x|.
    const Eigen::VectorXd& absMax() const { return absMax_; }
    Eigen::VectorXd meanAbs() const;
    /// Per input channel: Pearson kurtosis E[(x-μ)⁴] / σ⁴ over all tokens (3 for a
    /// Gaussian; large for channels with rare huge values); 0 for a constant channel.
    Eigen::VectorXd kurtosis() const;

private:
    Eigen::MatrixXd h_;
    Eigen::VectorXd absMax_, sumAbs_;
    Eigen::MatrixXd moments_;  // [in, 4]: Σy, Σy², Σy³, Σy⁴ per channel, y = x - shift_
    Eigen::VectorXd shift_;    // per channel: the mean of the first batch
    int64_t n_ = 0, tokens_ = 0;
};

}  // namespace qs
