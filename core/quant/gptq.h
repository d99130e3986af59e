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
    /// The grid the weight was rounded onto (per group the row parameters GPTQ
    /// used, and each column's group: with act-order on integer groups, group k
    /// holds the k-th G columns in act order). Empty for fp32 / empty matrices.
    QuantGrid grid;
    double loss = 0;        // Σ (w - q)² / Hinv_jj² / 2, as the reference reports
    int deadColumns = 0;
};

/// Quantizes W [out, in] with Hessian H [in, in] (e.g. HessianAccumulator).
/// Throws qs::Error when H is not positive definite even after damping.
GptqResult gptqQuantize(const MatrixRM& W, const Eigen::MatrixXd& H, const Quantizer& q, const GptqOptions& opt,
                        const JobContext& ctx = {});

/// GPTQ with mixed precision per group of input columns (what MG-PTQ's per-column
/// bit-widths feed): group k (original columns [kG, (k+1)G)) is rounded on
/// groupFormats[k]'s grid; errors propagate across groups as in GPTQ. The formats
/// must be integer formats with the same group size G and symmetry (bits 2..8
/// may differ); act-order needs static groups. With one format repeated it is
/// gptqQuantize exactly.
GptqResult gptqQuantizeMixed(const MatrixRM& W, const Eigen::MatrixXd& H, const std::vector<QuantFormat>& groupFormats,
                             const GptqOptions& opt, const JobContext& ctx = {});

/// BoA (Kim et al., 2024): GPTQ with a Kronecker-factored Hessian per attention
/// head, loss Σ_h tr(H_row,h · ΔW_h · H_col · ΔW_hᵀ). W [out, in] is viewed as
/// heads of hd = Hrow[h].rows() consecutive output rows (out = heads · hd). Rows of
/// a head are quantized one after another (natural order, or by descending
/// diag(H_row) with rowActOrder); each row is a GPTQ pass over its columns with
/// U_col (the same U, damping, dead columns, act-order and groups as GPTQ), and the
/// row's total change ΔW_r = w_r - q_r (= E · U_col) is pushed onto the head's
/// later rows: W[r'] -= U_row[r, r'] / U_row[r, r] · ΔW_r, with U_row the upper
/// Cholesky factor of (H_row + λ_row I)⁻¹ (λ_row = percDamp · mean diag). With
/// H_row = I this is GPTQ (rows independent; results equal up to the summation
/// order of one GEMM vs one GEMV). `loss` sums the rows' GPTQ column losses.
GptqResult boaQuantize(const MatrixRM& W, const Eigen::MatrixXd& Hcol, const std::vector<Eigen::MatrixXd>& Hrow,
                       const Quantizer& q, const GptqOptions& opt, bool rowActOrder = false, const JobContext& ctx = {});

/// The predicted error tr(ΔW H ΔWᵀ) of replacing W by Wq.
double predictedError(const MatrixRM& W, const MatrixRM& Wq, const Eigen::MatrixXd& H);

}  // namespace qs
