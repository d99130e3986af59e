#pragma once
// Per-layer sensitivity and outlier analysis (core/alloc): what a quantization
// engineer opens QuantScope for — which layers hurt, why, and what each
// candidate setting would cost.
//
// One calibration pass over the *unquantized* model, block by block (only one
// block's activations in memory). For every quantizable linear:
//  * the Hessian H = 2/N·XᵀX of its input (as GPTQ): trace, top eigenvalues,
//    smallest eigenvalue and the condition number of the damped H + λI
//    (λ = damp · mean diag H, the matrix GPTQ actually inverts);
//  * per input channel of the activations: max |x|, mean |x|, Pearson kurtosis
//    (3 = Gaussian); per input column of W: max |w|, kurtosis over the rows.
//    outlier score = max / median of the per-channel max |x| (or |w|); the top-k
//    channels by max |x|, and the top-k across the model ("massive activations");
//  * for each candidate format: the predicted output error tr(ΔW H ΔWᵀ) with ΔW
//    from RTN or GPTQ (the method the allocation will run), also relative to
//    tr(W H Wᵀ); optionally the measured block-output error when only this layer
//    is quantized (on a token prefix), and the perplexity change on an evaluation
//    text when only this layer is quantized (on request: one evaluation per
//    layer and candidate).
// Conventions: W is [out, in]; "channel" = input channel = column of W.
#include <limits>
#include <string>
#include <vector>

#include <QJsonObject>

#include "calib/calibration.h"
#include "eval/perplexity.h"
#include "jobs/job.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "quant/pipeline.h"

namespace qs {

struct SensitivityOptions {
    /// Candidate weight formats (default: int2/3/4 with groups of 32, 64 and 128,
    /// and int8-g128: group sizes let the allocation trade scale overhead for bits).
    std::vector<QuantFormat> candidates;
    /// How ΔW of the predicted error is made: Rtn or Gptq.
    QuantMethod method = QuantMethod::Gptq;
    GptqOptions gptq;
    int topEigenvalues = 8;
    int topChannels = 16;   // per layer and across the model
    /// Tokens (a prefix of each calibration window, at most 512 per window) on
    /// which the block-output error of each (layer, candidate) is measured;
    /// 0 = do not measure.
    int blockErrorTokens = 4096;
    /// Keep the per-channel vectors in the report (the GUI's heatmap needs them).
    bool channelVectors = true;
    QJsonObject toJson() const;
    /// The default candidate list.
    static std::vector<QuantFormat> defaultCandidates();
};

struct CandidateCost {
    QuantFormat format;
    double bitsPerWeight = 0;
    double predictedError = 0;       // tr(ΔW H ΔWᵀ)
    double relPredictedError = 0;    // / tr(W H Wᵀ)
    /// mean squared block-output change / mean squared change the block makes
    /// to its input (NaN when not measured).
    double blockError = std::numeric_limits<double>::quiet_NaN();
    double pplDelta = std::numeric_limits<double>::quiet_NaN();  // ppl(only this layer) - ppl(fp)
};

struct ChannelSummary {
    int channel = 0;
    double absMax = 0, meanAbs = 0, kurtosis = 0;
};

struct ChannelStatsReport {
    std::vector<float> absMax, meanAbs, kurtosis;  // per channel (empty when channelVectors is off)
    double outlierScore = 0;                       // max / median of absMax
    std::vector<ChannelSummary> top;               // by absMax, descending
};

struct LayerSensitivity {
    std::string name;
    int block = 0;
    std::string kind;       // linearKindName: "q", "k", ..., "down", "fc1", "fc2"
    int64_t outFeatures = 0, inFeatures = 0;
    int64_t params() const { return outFeatures * inFeatures; }
    double traceH = 0;
    std::vector<double> topEigenvalues;  // of H, descending
    double minEigenvalue = 0;            // of H
    double conditionDamped = 0;          // of H + λI
    double damp = 0;                     // λ
    ChannelStatsReport activations, weights;
    std::vector<CandidateCost> candidates;
};

struct GlobalOutlier {
    std::string layer;
    int channel = 0;
    double absMax = 0, ratioToMedian = 0;
};

struct SensitivityReport {
    static constexpr int kVersion = 1;
    std::string modelPath, modelHash;
    CalibOptions calib;
    SensitivityOptions options;
    std::string evalData;   // when perplexity deltas were measured
    double fpPpl = std::numeric_limits<double>::quiet_NaN();
    std::vector<LayerSensitivity> layers;
    std::vector<GlobalOutlier> topOutliers;
    double seconds = 0;

    QJsonObject toJson() const;
    /// Reads what toJson wrote; throws qs::Error naming the JSON path of a problem.
    static SensitivityReport fromJson(const QJsonObject& o, const QString& label = QStringLiteral("report"));
    static SensitivityReport load(const QString& path);
    void save(const QString& path) const;
    const LayerSensitivity* find(const std::string& name) const;
};

/// Optional perplexity measurement: tokens of an evaluation text and how to evaluate.
struct PplProbe {
    std::vector<int> tokens;
    EvalOptions eval;
    std::string label;
};

SensitivityReport analyzeSensitivity(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                                     const SensitivityOptions& opt, const JobContext& ctx = {},
                                     const PplProbe* ppl = nullptr);

/// Extremal eigenvalues of a symmetric positive semi-definite matrix: the k
/// largest (descending) and the smallest. Exact (Eigen's eigensolver) up to
/// n = exactUpTo; beyond, subspace iteration for the top ones (40 iterations,
/// k + 8 vectors, Rayleigh-Ritz) and inverse iteration on H + shift·I (Cholesky)
/// for the smallest.
struct Spectrum {
    std::vector<double> top;
    double min = 0;
};
Spectrum extremalEigenvalues(const Eigen::MatrixXd& H, int k, double shift = 0, Eigen::Index exactUpTo = 4096);

}  // namespace qs
