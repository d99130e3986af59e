// HessianAccumulator: GPTQ's add_batch in double precision.
//
// Conventions: x is [tokens, in] row-major float (one row per token, columns =
// input channels of the linear); H is [in, in] (column-major double, symmetric).
// The running update is the reference's, step for step:
//     H *= n / (n + s);  n += s;  X = sqrt(2 / n) · X;  H += XᵀX
// so after any sequence of batches H = 2/N · Σ XᵀX with N = Σ samples (GPTQ counts
// sequences, not tokens). XᵀX is accumulated for the lower triangle only (about
// half the flops of a GEMM), in parallel column panels, and mirrored to the upper
// triangle after each batch.
#include "calib/hessian.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "compute/backend.h"
#include "util/error.h"

namespace qs {

HessianAccumulator::HessianAccumulator(int64_t inFeatures) {
    if (inFeatures <= 0)
        throw Error("HessianAccumulator: in_features must be positive, got " + std::to_string(inFeatures));
    h_ = Eigen::MatrixXd::Zero(inFeatures, inFeatures);
    absMax_ = Eigen::VectorXd::Zero(inFeatures);
    sumAbs_ = Eigen::VectorXd::Zero(inFeatures);
    moments_ = Eigen::MatrixXd::Zero(inFeatures, 4);
}

void HessianAccumulator::add(const MatrixRM& x, int64_t samples) {
    const int64_t in = h_.rows();
    if (x.cols() != in)
        throw Error("HessianAccumulator::add: input has " + std::to_string(x.cols()) + " columns, expected " +
                    std::to_string(in) + " (the linear's in_features)");
    if (samples <= 0)
        throw Error("HessianAccumulator::add: samples must be positive, got " + std::to_string(samples));
    if (x.rows() == 0) return;

    // Activation statistics (per input channel, over all tokens). The moments are
    // taken about each channel's mean in the first batch, so a channel with a large
    // mean and a small spread does not lose its variance to cancellation.
    if (tokens_ == 0) shift_ = x.cast<double>().colwise().mean().transpose();
    for (int64_t r = 0; r < x.rows(); ++r) {
        const auto row = x.row(r);
        for (int64_t c = 0; c < in; ++c) {
            const double a = std::abs(double(row[c])), v = double(row[c]) - shift_[c], v2 = v * v;
            if (a > absMax_[c]) absMax_[c] = a;
            sumAbs_[c] += a;
            moments_(c, 0) += v;
            moments_(c, 1) += v2;
            moments_(c, 2) += v2 * v;
            moments_(c, 3) += v2 * v2;
        }
    }

    // H = 2/N · Σ XᵀX, updated as the reference does, through the process-wide
    // compute backend (the CPU path unless the app installed another; an OpenCL
    // device runs it when its per-operation policy says so)
    computeBackend()->accumulateHessian(h_, n_, x, samples);
    tokens_ += x.rows();
}

Eigen::VectorXd HessianAccumulator::kurtosis() const {
    Eigen::VectorXd k = Eigen::VectorXd::Zero(moments_.rows());
    if (tokens_ == 0) return k;
    const double n = double(tokens_);
    for (Eigen::Index c = 0; c < k.size(); ++c) {
        const double m1 = moments_(c, 0) / n, m2 = moments_(c, 1) / n, m3 = moments_(c, 2) / n, m4 = moments_(c, 3) / n;
        const double var = m2 - m1 * m1;
        // central 4th moment from the (shifted) raw ones
        const double c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1;
        // a constant channel (variance at rounding level of its magnitude) has kurtosis 0
        const double mag2 = (m1 + shift_[c]) * (m1 + shift_[c]) + m2;
        k[c] = var > 1e-12 * mag2 && var > 0 ? std::max(0.0, c4) / (var * var) : 0.0;
    }
    return k;
}

Eigen::VectorXd HessianAccumulator::meanAbs() const {
    if (tokens_ == 0) return Eigen::VectorXd::Zero(sumAbs_.size());
    return sumAbs_ / double(tokens_);
}

}  // namespace qs
