#pragma once
// The quantization pipeline: per-layer plans applied block by block.
//
// Blocks are processed in order; each block is calibrated on the outputs of the
// already-quantized previous blocks. Inside a block the linears are quantized
// in sequential groups ("true sequential", as the GPTQ reference's option):
// {q,k,v}, {o}, {gate,up} / {fc1}, {down} / {fc2}; a group's Hessian is
// collected with the earlier groups of the same block already quantized.
// Only one block's activations (all calibration windows) are held in memory.
// Embeddings and lm_head stay unquantized.
//
// The input model is never modified: the result is a copy whose linears carry
// fake-quantized `override` weights. Cancelling throws qs::Cancelled and leaves
// the input untouched.
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <QJsonObject>

#include "calib/calibration.h"
#include "jobs/job.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/gptq.h"

namespace qs {

enum class QuantMethod { None, Rtn, Gptq };
const char* quantMethodName(QuantMethod m);

struct LayerPlan {
    QuantMethod method = QuantMethod::Rtn;
    QuantFormat weight;
    GptqOptions gptq;
    /// Dynamic quantization of the layer's input during evaluation (W×A×):
    /// kind None = float inputs; Int = per-token symmetric `bits`; MX kinds = blocks
    /// of 32 along the reduction dimension.
    QuantFormat activation{FormatKind::None, 0, false, 0};
};
using PlanFn = std::function<LayerPlan(const Linear&)>;

struct LayerResult {
    std::string name;
    int block = 0;
    QuantMethod method = QuantMethod::None;
    QuantFormat format;
    QuantFormat activation{FormatKind::None, 0, false, 0};
    int64_t params = 0;
    double bitsPerWeight = 32;
    /// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ): relative output error on the calibration inputs
    /// (NaN when no calibration data was used).
    double relOutputError = std::numeric_limits<double>::quiet_NaN();
    double gptqLoss = std::numeric_limits<double>::quiet_NaN();
    double seconds = 0;
    QJsonObject toJson() const;
};

struct QuantizeResult {
    std::shared_ptr<Model> model;     // copy of the input with fake-quantized overrides
    std::vector<LayerResult> layers;
    double avgBits = 0;               // parameter-weighted over quantized linears, incl. scales/zeros
    int64_t quantizedParams = 0;
    double calibrationSeconds = 0;    // forward passes + Hessians
    double quantizeSeconds = 0;       // RTN/GPTQ themselves
};

/// `calibTokens` = nsamples*seqlen ids (sampleCalibration); may be empty when
/// every planned method is RTN/None (then no output errors are reported).
QuantizeResult quantizeModel(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                             const PlanFn& plan, const JobContext& ctx = {});

}  // namespace qs
