#pragma once
// GPTQ (Frantar et al., 2022), following the reference implementation's
// fasterquant(): dead columns (diag(H) == 0) get H_jj = 1 and W[:, j] = 0;
// damping λ = percdamp · mean(diag H) added to the diagonal; Hinv = upper Cholesky
// factor of (H + λI)⁻¹; columns quantized one at a time in lazy blocks of
// `blockSize`, each column's error pushed onto the not-yet-quantized columns.
// act-order permutes columns by descending diag(H) (and un-permutes at the end);
// groups compute the quantizer's parameters at each group start from the
// error-updated weights, or (staticGroups) once from the original weights
// before any update. The rounding is the Quantizer's: any integer or MX format
// (MX blocks of 32 behave as groups of 32).
#include <Eigen/Core>

#include "jobs/job.h"
#include "model/model.h"
#include "quant/formats.h"

namespace qs {

struct GptqOptions {
    double percDamp = 0.01;
    int blockSize = 128;
    bool actOrder = false;
    bool staticGroups = false;
};

struct GptqResult {
    MatrixRM weight;        // the fake-quantized weight [out, in]
    double loss = 0;        // Σ (w - q)² / Hinv_jj² / 2, as the reference reports
    int deadColumns = 0;
};

/// Quantizes W [out, in] with Hessian H [in, in] (e.g. HessianAccumulator).
/// Throws qs::Error when H is not positive definite even after damping.
GptqResult gptqQuantize(const MatrixRM& W, const Eigen::MatrixXd& H, const Quantizer& q, const GptqOptions& opt,
                        const JobContext& ctx = {});

/// The predicted error tr(ΔW H ΔWᵀ) of replacing W by Wq.
double predictedError(const MatrixRM& W, const MatrixRM& Wq, const Eigen::MatrixXd& H);

}  // namespace qs
