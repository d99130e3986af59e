// GPTQ (Frantar et al., 2022): a port of the reference implementation's
// GPTQ.fasterquant() (github.com/IST-DASLab/gptq, gptq.py) onto Eigen.
//
// Conventions:
//  * W is [out, in] (row-major float on the API); a column = one input channel.
//    H is [in, in] (GPTQ's 2/N·XᵀX of the linear's inputs, see calib/hessian.h).
//  * Internally the working weights are a column-major double matrix [out, in], so
//    a column (what the quantizer rounds and what the error is pushed along) is
//    contiguous. H, its damping, the Cholesky factors and all error propagation are
//    in double (the reference uses float32 on the GPU; double makes the result
//    deterministic and independent of summation order to ~1e-13). The rounding
//    step itself is the Quantizer's, in float32, on the float32-cast column, like the
//    reference's quantize() on its float32 W.
//  * Hinv = U, the upper Cholesky factor of (H + λI)⁻¹, i.e. (H + λI)⁻¹ = UᵀU.
//    The reference computes cholesky -> cholesky_inverse -> cholesky(upper). We get
//    the same (unique) factor with one Cholesky and one triangular inverse: with J the
//    reversal permutation, J(H+λI)J = LLᵀ  =>  (H+λI)⁻¹ = (J L⁻ᵀ J)(J L⁻¹ J), and
//    U = J L⁻¹ J is upper triangular with a positive diagonal.
//
// The algorithm, step for step as the reference:
//   1. per-channel Int formats (groupSize 0): quantizer params from the whole,
//      original W (before dead columns are zeroed): find_params(W, weight=True);
//   2. dead columns (H_jj == 0): H_jj = 1, W[:, j] = 0;
//   3. static groups: params of every group from this W (before any update);
//   4. act-order: perm = columns by descending diag(H) (stable for ties), W and H
//      permuted; the result is un-permuted at the end;
//   5. damping λ = percDamp · mean(diag H); U as above;
//   6. for each block [i1, i2) of blockSize columns: W1 = copy of the block; for each
//      column i: at a group start ((i1+i) % G == 0, non-static) the params are found
//      from W[:, i1+i : i1+i+G] — the OUTER W, which (exactly as in the reference)
//      holds the lazy updates of the previous blocks but not the in-block updates of
//      the columns before i in this block; q = quantize(w); err = (w - q) / U_ii;
//      W1[:, i+1:] -= err · U[i, i+1:i2]; loss += err² / 2. After the block:
//      W[:, i2:] -= Err1 · U[i1:i2, i2:] (one GEMM).
// MX formats behave as groups of 32 (blockSize()). With act-order, MX groups are
// always static (params of the original 32-column MX blocks, column j uses the block
// of its original index), because a group of permuted columns is not an MX block and
// the result would not be storable in the format.
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include <numeric>
#include <string>
#include <vector>

#include <Eigen/Cholesky>

#include "compute/backend.h"
#include "util/error.h"

namespace qs {

namespace {

// Message building by appends (GCC 12 warns falsely on `"literal" + std::string`).
template <class T>
void appendTo(std::string& s, const T& v) {
    if constexpr (std::is_arithmetic_v<T>) {
        if constexpr (std::is_floating_point_v<T>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", double(v));
            s += buf;
        } else {
            s += std::to_string(v);
        }
    } else {
        s += v;
    }
}
template <class... A>
std::string cat(const A&... a) {
    std::string s;
    (appendTo(s, a), ...);
    return s;
}

std::string shapeStr(int64_t r, int64_t c) { return cat("[", r, " x ", c, "]"); }

// Lower-triangular inverse, recursive with GEMMs (≈ n³/3 multiply-adds; the GEMMs
// run on Eigen's thread pool).
void invertLowerInPlace(Eigen::Ref<Eigen::MatrixXd> L) {
    const Eigen::Index n = L.rows();
    if (n <= 64) {
        Eigen::MatrixXd I = Eigen::MatrixXd::Identity(n, n);
        L.triangularView<Eigen::Lower>().solveInPlace(I);
        L = I;
        return;
    }
    const Eigen::Index h = n / 2;
    invertLowerInPlace(L.topLeftCorner(h, h));
    invertLowerInPlace(L.bottomRightCorner(n - h, n - h));
    // [A 0; B C]⁻¹ = [A⁻¹ 0; -C⁻¹ B A⁻¹  C⁻¹]
    Eigen::MatrixXd BA = L.bottomLeftCorner(n - h, h) * L.topLeftCorner(h, h).triangularView<Eigen::Lower>();
    L.bottomLeftCorner(n - h, h).noalias() = -(L.bottomRightCorner(n - h, n - h).triangularView<Eigen::Lower>() * BA);
    L.topRightCorner(h, n - h).setZero();
}

// U with UᵀU = H⁻¹ (upper, positive diagonal). H is overwritten.
Eigen::MatrixXd upperCholeskyOfInverse(Eigen::MatrixXd& H, const std::string& what) {
    const Eigen::Index n = H.rows();
    Eigen::MatrixXd R = H.reverse();  // J H J
    Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(R);
    bool ok = llt.info() == Eigen::Success;
    if (ok)
        for (Eigen::Index i = 0; i < n; ++i)
            if (!(R(i, i) > 0) || !std::isfinite(R(i, i))) ok = false;
    if (!ok) throw Error(cat("GPTQ: ", what, " is not positive definite even after damping"));
    invertLowerInPlace(R);  // L⁻¹ (lower part of R)
    Eigen::MatrixXd U = R.reverse();  // J L⁻¹ J: upper
    U.triangularView<Eigen::StrictlyLower>().setZero();
    if (!U.allFinite()) throw Error(cat("GPTQ: ", what, " is too ill-conditioned (non-finite inverse) even after damping"));
    return U;
}

MatrixRM toFloatRM(const Eigen::Ref<const Eigen::MatrixXd>& m) { return m.cast<float>(); }

}  // namespace

namespace {

/// Steps 1-5 of the algorithm (everything before the column loop), shared by GPTQ
/// and BoA: the working weights (dead columns zeroed, act-order permuted), U, and
/// the quantizer parameters fixed before any update.
struct Prepared {
    Eigen::MatrixXd Wd;                 // [rows, cols] column-major double, permuted order
    Eigen::MatrixXd U;                  // upper Cholesky factor of (H + λI)⁻¹, permuted order
    std::vector<Eigen::Index> perm;     // permuted column j = original column perm[j]
    RowParams rowParams;                // per-channel Int: from the original W
    std::vector<RowParams> groups;      // static groups
    Eigen::Index G = 0;
    bool grouped = false, staticGroups = false;
    int deadColumns = 0;
    /// Where the parameters each group was rounded with are recorded (may be null).
    QuantGrid* grid = nullptr;
    /// Mixed precision: one quantizer per group of G original columns (null: `quant` everywhere).
    const std::vector<Quantizer>* mixed = nullptr;
    const Quantizer& quantizerOf(const Quantizer& quant, Eigen::Index permutedCol) const {
        return mixed ? (*mixed)[size_t(perm[size_t(permutedCol)] / G)] : quant;
    }
};

void checkArgs(const MatrixRM& W, const Eigen::MatrixXd& Hin, const GptqOptions& opt, const std::string& layer) {
    const Eigen::Index cols = W.cols();
    if (Hin.rows() != cols || Hin.cols() != cols)
        throw Error(cat("GPTQ: Hessian is ", shapeStr(Hin.rows(), Hin.cols()), ", expected ", shapeStr(cols, cols),
                        " for ", layer));
    if (opt.blockSize <= 0) throw Error(cat("GPTQ: block size must be positive, got ", opt.blockSize));
    if (!(opt.percDamp >= 0) || !std::isfinite(opt.percDamp))
        throw Error(cat("GPTQ: percdamp must be a finite value >= 0, got ", opt.percDamp));
    if (!Hin.allFinite()) throw Error(cat("GPTQ: the Hessian ", shapeStr(cols, cols), " of ", layer, " contains NaN/Inf"));
    if (!W.allFinite()) throw Error(cat("GPTQ: ", layer, " contains NaN/Inf"));
}

Prepared prepare(const MatrixRM& W, const Eigen::MatrixXd& Hin, const Quantizer& quant, const GptqOptions& opt,
                 const std::string& layer, const std::vector<Quantizer>* mixed = nullptr) {
    const Eigen::Index rows = W.rows(), cols = W.cols();
    const QuantFormat& fmt = quant.format();
    Prepared P;
    P.mixed = mixed;
    P.G = fmt.blockSize();  // 0 = one group per row (per channel)
    P.grouped = P.G > 0;
    P.staticGroups = P.grouped && (opt.staticGroups || (fmt.fixedBlocks() && opt.actOrder));

    // 1. per-channel params from the original W
    if (!P.grouped) P.rowParams = quant.findParams(W);

    // 2. dead columns
    Eigen::MatrixXd H = Hin;
    P.Wd = W.cast<double>();  // column-major [rows, cols]
    for (Eigen::Index j = 0; j < cols; ++j) {
        if (H(j, j) == 0) {
            H(j, j) = 1;
            P.Wd.col(j).setZero();
            ++P.deadColumns;
        }
    }

    // 3. static groups from the (dead-zeroed) original W
    if (P.staticGroups) {
        for (Eigen::Index g = 0; g < cols; g += P.G)
            P.groups.push_back((mixed ? (*mixed)[size_t(g / P.G)] : quant).findParams(toFloatRM(P.Wd.middleCols(g, std::min(P.G, cols - g)))));
    }

    // 4. act-order
    P.perm.resize(static_cast<size_t>(cols));
    std::iota(P.perm.begin(), P.perm.end(), Eigen::Index(0));
    if (opt.actOrder) {
        std::stable_sort(P.perm.begin(), P.perm.end(), [&](Eigen::Index a, Eigen::Index b) { return H(a, a) > H(b, b); });
        Eigen::MatrixXd Wp(rows, cols), Hp(cols, cols);
        for (Eigen::Index j = 0; j < cols; ++j) Wp.col(j) = P.Wd.col(P.perm[size_t(j)]);
        for (Eigen::Index j = 0; j < cols; ++j)
            for (Eigen::Index i = 0; i < cols; ++i) Hp(i, j) = H(P.perm[size_t(i)], P.perm[size_t(j)]);
        P.Wd.swap(Wp);
        H.swap(Hp);
    }

    // 5. damping and U
    const double damp = opt.percDamp * H.diagonal().mean();
    H.diagonal().array() += damp;
    P.U = upperCholeskyOfInverse(H, cat("the Hessian ", shapeStr(cols, cols), " of ", layer, " (percdamp ", opt.percDamp, ")"));
    return P;
}

RowParams rowsOf(const RowParams& p, Eigen::Index r0, Eigen::Index n) {
    return p.segment(r0, n);
}

/// Sets up P.grid for the result's grid (before the column passes): its groups are
/// filled as they are found (non-static groups) or from P's fixed parameters.
void startGrid(Prepared& P, QuantGrid& grid, Eigen::Index rows, Eigen::Index cols) {
    grid.rows = rows;
    grid.cols = cols;
    grid.gIdx.assign(size_t(cols), 0);
    if (!P.grouped) {
        grid.groups = {P.rowParams};
    } else if (P.staticGroups) {
        grid.groups = P.groups;
        for (Eigen::Index c = 0; c < cols; ++c) grid.gIdx[size_t(c)] = int(c / P.G);
    } else {
        // group k = permuted columns [kG, (k+1)G): original column perm[j] is in group j / G
        grid.groups.assign(size_t((cols + P.G - 1) / P.G), RowParams{});
        for (Eigen::Index j = 0; j < cols; ++j) grid.gIdx[size_t(P.perm[size_t(j)])] = int(j / P.G);
    }
    P.grid = &grid;
}

/// 6. The lazy column blocks on rows [r0, r0+n) of P.Wd (updated in place): the
/// rounded values go to Q (same rows, permuted column order); with errOut, the
/// scaled errors (w - q) / U_jj of every column ([n, cols]). Returns the loss.
double columnsPass(Prepared& P, Eigen::Index r0, Eigen::Index n, const Quantizer& quant, const GptqOptions& opt,
                   Eigen::MatrixXf& Q, Eigen::MatrixXd* errOut, const JobContext& ctx, bool reportProgress) {
    const Eigen::Index cols = P.Wd.cols();
    const QuantFormat& fmt = quant.format();
    const Eigen::Index G = P.G;
    double loss = 0;
    RowParams chanParams, groupParams;
    const RowParams* params = nullptr;
    if (!P.grouped) {
        chanParams = rowsOf(P.rowParams, r0, n);
        params = &chanParams;
    }
    std::vector<RowParams> staticSub;
    if (P.staticGroups)
        for (const RowParams& g : P.groups) staticSub.push_back(rowsOf(g, r0, n));
    auto Wd = P.Wd.middleRows(r0, n);
    const Eigen::MatrixXd& U = P.U;
    const Eigen::Index B = opt.blockSize;
    const std::shared_ptr<ComputeBackend> backend = computeBackend();
    for (Eigen::Index i1 = 0; i1 < cols; i1 += B) {
        ctx.check();
        const Eigen::Index i2 = std::min(i1 + B, cols), count = i2 - i1;
        Eigen::MatrixXd W1 = Wd.middleCols(i1, count);
        Eigen::MatrixXd Err1(n, count);
        for (Eigen::Index i = 0; i < count; ++i) {
            const Eigen::Index j = i1 + i;
            if (P.grouped) {
                if (!P.staticGroups) {
                    if (j % G == 0) {
                        // Integer groups: the reference reads the group from the outer W, which
                        // lacks this lazy block's updates (kept for bit-exactness). MX (and GGUF) blocks take
                        // their shared exponent from the up-to-date weights: a stale max would
                        // saturate the updated values at the element format's max normal.
                        const bool inBlock = fmt.fixedBlocks() && i + G <= count;
                        const Quantizer& qg = P.quantizerOf(quant, j);
                        groupParams = inBlock ? qg.findParams(toFloatRM(W1.middleCols(i, G)))
                                              : qg.findParams(toFloatRM(Wd.middleCols(j, std::min(G, cols - j))));
                        params = &groupParams;
                        if (P.grid) P.grid->groups[size_t(j / G)].setRows(P.Wd.rows(), r0, groupParams);
                    }
                } else {
                    params = &staticSub[size_t(P.perm[size_t(j)] / G)];
                }
            }
            const Eigen::VectorXf w = W1.col(i).cast<float>();
            const Eigen::VectorXf q = P.quantizerOf(quant, j).quantizeColumn(w, *params);
            Q.block(r0, j, n, 1) = q;
            const double d = U(j, j);
            Eigen::VectorXd err = (W1.col(i) - q.cast<double>()) / d;
            loss += 0.5 * err.squaredNorm();
            const Eigen::Index rest = count - i - 1;
            if (rest > 0) W1.rightCols(rest).noalias() -= err * U.row(j).segment(j + 1, rest);
            Err1.col(i) = err;
        }
        // W[:, i2:] -= Err1 · U[i1:i2, i2:] through the compute backend (the CPU path
        // is this same Eigen GEMM, bit for bit; an OpenCL device within its tolerance)
        if (i2 < cols) backend->gptqBlockUpdate(Wd.rightCols(cols - i2), Err1, U.block(i1, i2, count, cols - i2));
        if (errOut) errOut->middleCols(i1, count) = Err1;
        if (reportProgress)
            ctx.report(double(i2) / double(cols), cat("GPTQ ", shapeStr(n, cols), ": ", i2, "/", cols, " columns"));
    }
    return loss;
}

MatrixRM unpermute(const Eigen::MatrixXf& Q, const std::vector<Eigen::Index>& perm) {
    MatrixRM out(Q.rows(), Q.cols());
    for (Eigen::Index j = 0; j < Q.cols(); ++j) out.col(perm[size_t(j)]) = Q.col(j);
    return out;
}

}  // namespace

GptqResult gptqQuantize(const MatrixRM& W, const Eigen::MatrixXd& Hin, const Quantizer& quant, const GptqOptions& opt,
                        const JobContext& ctx) {
    const Eigen::Index rows = W.rows(), cols = W.cols();
    const std::string layer = cat("layer W ", shapeStr(rows, cols));
    checkArgs(W, Hin, opt, layer);
    GptqResult res;
    if (quant.format().kind == FormatKind::None || rows == 0 || cols == 0) {
        res.weight = W;
        return res;
    }
    Prepared P = prepare(W, Hin, quant, opt, layer);
    res.deadColumns = P.deadColumns;
    startGrid(P, res.grid, rows, cols);
    Eigen::MatrixXf Q(rows, cols);  // permuted order
    res.loss = columnsPass(P, 0, rows, quant, opt, Q, nullptr, ctx, true);
    res.weight = unpermute(Q, P.perm);
    return res;
}

GptqResult gptqQuantizeMixed(const MatrixRM& W, const Eigen::MatrixXd& Hin, const std::vector<QuantFormat>& groupFormats,
                             const GptqOptions& opt, const JobContext& ctx) {
    const Eigen::Index rows = W.rows(), cols = W.cols();
    const std::string layer = cat("layer W ", shapeStr(rows, cols));
    checkArgs(W, Hin, opt, layer);
    if (groupFormats.empty()) throw Error(cat("mixed-precision GPTQ: no group formats for ", layer));
    const QuantFormat& f0 = groupFormats.front();
    const int G = f0.groupSize;
    if (f0.kind != FormatKind::Int || G <= 0)
        throw Error(cat("mixed-precision GPTQ: the formats must be grouped integer formats (e.g. int3-g64), got ", f0.name()));
    const Eigen::Index nGroups = (cols + G - 1) / G;
    if (Eigen::Index(groupFormats.size()) != nGroups)
        throw Error(cat("mixed-precision GPTQ: ", groupFormats.size(), " group formats for ", nGroups, " groups of ", G, " in ", layer));
    std::vector<Quantizer> qs;
    for (const QuantFormat& f : groupFormats) {
        if (f.kind != FormatKind::Int || f.groupSize != G || f.symmetric != f0.symmetric)
            throw Error(cat("mixed-precision GPTQ: every group format must be an integer format with groups of ", G,
                            " and the same symmetry as ", f0.name(), ", got ", f.name()));
        qs.emplace_back(f);
    }
    if (opt.actOrder && !opt.staticGroups)
        throw Error(std::string("mixed-precision GPTQ: act-order needs static groups (a group's grid is fixed before the columns are permuted)"));
    GptqResult res;
    if (rows == 0 || cols == 0) {
        res.weight = W;
        return res;
    }
    Prepared P = prepare(W, Hin, qs.front(), opt, layer, &qs);
    res.deadColumns = P.deadColumns;
    startGrid(P, res.grid, rows, cols);
    Eigen::MatrixXf Q(rows, cols);
    res.loss = columnsPass(P, 0, rows, qs.front(), opt, Q, nullptr, ctx, true);
    res.weight = unpermute(Q, P.perm);
    return res;
}

GptqResult boaQuantize(const MatrixRM& W, const Eigen::MatrixXd& Hcol, const std::vector<Eigen::MatrixXd>& Hrow,
                       const Quantizer& quant, const GptqOptions& opt, bool rowActOrder, const JobContext& ctx) {
    const Eigen::Index rows = W.rows(), cols = W.cols();
    const std::string layer = cat("layer W ", shapeStr(rows, cols));
    checkArgs(W, Hcol, opt, layer);
    if (Hrow.empty()) throw Error(cat("BoA: no output-side factors for ", layer));
    const Eigen::Index hd = Hrow.front().rows();
    if (hd <= 0 || rows % hd != 0 || rows / hd != Eigen::Index(Hrow.size()))
        throw Error(cat("BoA: ", Hrow.size(), " head factors of ", hd, " rows do not tile ", layer));
    for (const Eigen::MatrixXd& f : Hrow)
        if (f.rows() != hd || f.cols() != hd || !f.allFinite())
            throw Error(cat("BoA: every head factor must be a finite ", shapeStr(hd, hd), " matrix for ", layer));
    GptqResult res;
    if (quant.format().kind == FormatKind::None || rows == 0 || cols == 0) {
        res.weight = W;
        return res;
    }
    Prepared P = prepare(W, Hcol, quant, opt, layer);
    res.deadColumns = P.deadColumns;
    startGrid(P, res.grid, rows, cols);
    Eigen::MatrixXf Q(rows, cols);
    const Eigen::Index heads = rows / hd;
    for (Eigen::Index h = 0; h < heads; ++h) {
        // the head's output-side factor: damped, rows in act-order when asked, U_row
        Eigen::MatrixXd Hr = Hrow[size_t(h)];
        std::vector<Eigen::Index> order(static_cast<size_t>(hd));
        std::iota(order.begin(), order.end(), Eigen::Index(0));
        for (Eigen::Index i = 0; i < hd; ++i)
            if (Hr(i, i) == 0) Hr(i, i) = 1;  // a dead output row: nothing to couple
        if (rowActOrder) {
            std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return Hr(a, a) > Hr(b, b); });
            Eigen::MatrixXd Hp(hd, hd);
            for (Eigen::Index j = 0; j < hd; ++j)
                for (Eigen::Index i = 0; i < hd; ++i) Hp(i, j) = Hr(order[size_t(i)], order[size_t(j)]);
            Hr.swap(Hp);
        }
        Hr.diagonal().array() += opt.percDamp * Hr.diagonal().mean();
        const Eigen::MatrixXd Urow =
            upperCholeskyOfInverse(Hr, cat("the output-side factor of head ", h, " of ", layer, " (percdamp ", opt.percDamp, ")"));
        for (Eigen::Index k = 0; k < hd; ++k) {
            const Eigen::Index r = h * hd + order[size_t(k)];
            const Eigen::RowVectorXd start = P.Wd.row(r);
            res.loss += columnsPass(P, r, 1, quant, opt, Q, nullptr, ctx, false);
            // the row's total change w - q = E · U_col, pushed onto the head's later rows
            const Eigen::RowVectorXd dW = start - Q.row(r).cast<double>();
            for (Eigen::Index k2 = k + 1; k2 < hd; ++k2) {
                const double f = Urow(k, k2) / Urow(k, k);
                if (f != 0) P.Wd.row(h * hd + order[size_t(k2)]) -= f * dW;
            }
        }
        ctx.report(double(h + 1) / double(heads), cat("BoA ", shapeStr(rows, cols), ": head ", h + 1, "/", heads));
    }
    res.weight = unpermute(Q, P.perm);
    return res;
}

double predictedError(const MatrixRM& W, const MatrixRM& Wq, const Eigen::MatrixXd& H) {
    if (W.rows() != Wq.rows() || W.cols() != Wq.cols())
        throw Error(cat("predictedError: W is ", shapeStr(W.rows(), W.cols()), " but Wq is ", shapeStr(Wq.rows(), Wq.cols())));
    if (H.rows() != W.cols() || H.cols() != W.cols())
        throw Error(cat("predictedError: H is ", shapeStr(H.rows(), H.cols()), ", expected ", shapeStr(W.cols(), W.cols())));
    const Eigen::MatrixXd D = W.cast<double>() - Wq.cast<double>();  // [out, in]
    return (D * H).cwiseProduct(D).sum();
}

}  // namespace qs
