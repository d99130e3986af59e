// HessianAccumulator: GPTQ's add_batch in double precision.
//
// Conventions: x is [tokens, in] row-major float (one row per token, columns =
// input channels of the linear); H is [in, in] (column-major double, symmetric).
// The running update is the reference's, step for step:
//     H *= n / (n + s);  n += s;  X = sqrt(2 / n) · X;  H += XᵀX
// so after any sequence of batches H = 2/N · Σ XᵀX with N = Σ samples (GPTQ counts
// sequences, not tokens). XᵀX is a symmetric rank-k update of the lower triangle
// (half the flops of a GEMM), mirrored to the upper triangle after each batch.
#include "calib/hessian.h"

#include <cmath>
#include <string>

#include "util/error.h"

namespace qs {

HessianAccumulator::HessianAccumulator(int64_t inFeatures) {
    if (inFeatures <= 0)
        throw Error("HessianAccumulator: in_features must be positive, got " + std::to_string(inFeatures));
    h_ = Eigen::MatrixXd::Zero(inFeatures, inFeatures);
    absMax_ = Eigen::VectorXd::Zero(inFeatures);
    sumAbs_ = Eigen::VectorXd::Zero(inFeatures);
}

void HessianAccumulator::add(const MatrixRM& x, int64_t samples) {
    const int64_t in = h_.rows();
    if (x.cols() != in)
        throw Error("HessianAccumulator::add: input has " + std::to_string(x.cols()) + " columns, expected " +
                    std::to_string(in) + " (the linear's in_features)");
    if (samples <= 0)
        throw Error("HessianAccumulator::add: samples must be positive, got " + std::to_string(samples));
    if (x.rows() == 0) return;

    // Activation statistics (per input channel, over all tokens).
    for (int64_t r = 0; r < x.rows(); ++r) {
        const auto row = x.row(r);
        for (int64_t c = 0; c < in; ++c) {
            const double a = std::abs(double(row[c]));
            if (a > absMax_[c]) absMax_[c] = a;
            sumAbs_[c] += a;
        }
    }

    // H *= n / (n + s); n += s
    h_ *= double(n_) / double(n_ + samples);
    n_ += samples;
    tokens_ += x.rows();
    // X = sqrt(2/n) · X (double); H += XᵀX
    const double f = std::sqrt(2.0 / double(n_));
    Eigen::MatrixXd xd = x.cast<double>() * f;  // [tokens, in], column-major
    h_.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose(), 1.0);
    h_.triangularView<Eigen::StrictlyUpper>() = h_.transpose();
}

Eigen::VectorXd HessianAccumulator::meanAbs() const {
    if (tokens_ == 0) return Eigen::VectorXd::Zero(sumAbs_.size());
    return sumAbs_ / double(tokens_);
}

}  // namespace qs
