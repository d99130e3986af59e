#pragma once
// The quantization pipeline: per-layer plans applied block by block.
//
// Blocks are processed in order; each block is calibrated on the outputs of the
// already-quantized previous blocks. Inside a block the linears are quantized
// in sequential groups ("true sequential", as the GPTQ reference's option):
// {q,k,v}, {o}, {gate,up} / {fc1}, {down} / {fc2}; a group's Hessian is
// collected with the earlier groups of the same block already quantized.
// Only one block's activations (all calibration windows) are held in memory.
// Embeddings and lm_head stay unquantized unless OuterPlans says otherwise.
//
// The input model is never modified: the result is a copy whose linears carry
// fake-quantized `override` weights. Cancelling throws qs::Cancelled and leaves
// the input untouched.
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <QJsonObject>

#include "calib/calibration.h"
#include "alloc/mgptq.h"
#include "jobs/job.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "quant/transforms.h"

namespace qs {

/// The rounding step of a plan. Boa = BoA's attention-aware GPTQ on q/k/v (on
/// every other linear it is GPTQ, as in the paper). Mgptq = MG-PTQ: per group of
/// input columns a bit width chosen by the graph-network allocator (core/alloc/mgptq)
/// under the layer's average-bits target, then GPTQ with those widths.
enum class QuantMethod { None, Rtn, Gptq, Boa, Mgptq };
const char* quantMethodName(QuantMethod m);
/// Methods that take GptqOptions (damp, act-order, groups, block size) and need calibration.
inline bool usesGptq(QuantMethod m) { return m == QuantMethod::Gptq || m == QuantMethod::Boa || m == QuantMethod::Mgptq; }

struct LayerPlan {
    QuantMethod method = QuantMethod::Rtn;
    QuantFormat weight;
    GptqOptions gptq;
    /// Dynamic quantization of the layer's input during evaluation (W×A×):
    /// kind None = float inputs; Int = per-token symmetric `bits`; MX kinds = blocks
    /// of 32 along the reduction dimension.
    QuantFormat activation{FormatKind::None, 0, false, 0};
    /// Transforms before the rounding (SmoothQuant → AWQ → rounding). They act on
    /// the linears that share an input ({q,k,v}, {o}, {gate,up} / {fc1}, {down} /
    /// {fc2}): the group is transformed when any member asks for it, and members
    /// that ask must agree on the options.
    bool smoothQuant = false;
    SmoothQuantOptions smooth;
    bool awq = false;
    AwqOptions awqOpt;
    /// MG-PTQ (method Mgptq): the average-bits target, the candidate widths and the
    /// seed; group size and symmetry come from `weight` (a grouped integer format
    /// whose own width is not used).
    MgptqOptions mgptq;
};
using PlanFn = std::function<LayerPlan(const Linear&)>;

/// "gptq", "boa", "smoothquant+gptq", "awq" (= awq+rtn), "smoothquant+awq+gptq",
/// "smoothquant+none" (transform only), "none".
std::string planMethodName(const LayerPlan& p);
/// Parses such a name into p.method / p.smoothQuant / p.awq (other fields are
/// kept). Steps are joined by '+', each at most once, in the order smoothquant,
/// awq, then one rounding (rtn, gptq or none; default rtn). Returns an error
/// message, or an empty string on success.
std::string parseMethodInto(const std::string& name, LayerPlan& p);
/// The list of accepted steps, for messages.
extern const char* const kMethodHelp;
/// Why an MG-PTQ plan cannot run on a linear of `inFeatures` inputs (a grouped
/// integer wformat, mgptq_bits set and achievable, valid choices, act-order only
/// with static groups); empty when it can.
std::string mgptqPlanError(const LayerPlan& p, int64_t inFeatures);

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
    /// Transforms applied to this layer's input group (NaN/0 when not applied).
    double smoothAlpha = std::numeric_limits<double>::quiet_NaN();
    double awqRatio = std::numeric_limits<double>::quiet_NaN();     // chosen scale ratio
    double awqLossGain = std::numeric_limits<double>::quiet_NaN();  // block-output MSE: best / ratio 0
    double awqClipShrink = std::numeric_limits<double>::quiet_NaN();// mean chosen clip factor
    std::string methodName;                                         // planMethodName of the plan
    double seconds = 0;
    /// MG-PTQ: number of column groups per bit width (empty otherwise), the target,
    /// the expected bits of the trained soft assignment, the groups the exact-budget
    /// step changed, the loss model's name and its value at the chosen widths relative
    /// to every group at the lowest width and to the optimum of its per-group terms
    /// (see MgptqAllocation). bitsPerWeight is the realised value.
    std::map<int, int64_t> groupBits;
    double mgptqTargetBits = std::numeric_limits<double>::quiet_NaN();
    double mgptqRelaxedBits = std::numeric_limits<double>::quiet_NaN();
    int mgptqRepairedGroups = 0;
    std::string mgptqLossModel;
    double mgptqModelLossVsLowest = std::numeric_limits<double>::quiet_NaN();
    double mgptqModelLossVsOptimum = std::numeric_limits<double>::quiet_NaN();
    /// The grid the weight was rounded onto (scales/zeros per group, column ->
    /// group), for the exporters (core/export); null for float layers. Not in toJson.
    /// `format` is the format the layer was evaluated in (a GGUF format on rows
    /// that are not a multiple of 32 becomes fp16 with RTN, see effectiveWeightFormat).
    std::shared_ptr<const QuantGrid> grid;
    QJsonObject toJson() const;
};

struct QuantizeResult {
    std::shared_ptr<Model> model;     // copy of the input with fake-quantized overrides
    std::vector<LayerResult> layers;
    double avgBits = 0;               // parameter-weighted over quantized linears, incl. scales/zeros
    int64_t quantizedParams = 0;
    double calibrationSeconds = 0;    // forward passes + Hessians
    double transformSeconds = 0;      // SmoothQuant / AWQ statistics and searches
    double quantizeSeconds = 0;       // RTN/GPTQ themselves
};

/// Plans for the tensors outside the decoder blocks. Absent = float (the
/// default, as in the papers). The embedding table is a lookup, so it has no
/// input Hessian: RTN only, groups along the hidden dimension (each token's row).
/// lm_head may use GPTQ with the Hessian of the final hidden states (after the
/// final norm, computed through the already-quantized blocks); SmoothQuant and AWQ
/// do not apply to either. Their results are reported as layers "model.embed_tokens"
/// and "lm_head" with block -1 and count in avg_bits.
struct OuterPlans {
    std::optional<LayerPlan> embedTokens, lmHead;
};
/// The names the results and recipes use.
extern const char* const kEmbedTokensName;  // "model.embed_tokens"
extern const char* const kLmHeadName;       // "lm_head"

/// `calibTokens` = nsamples*seqlen ids (sampleCalibration); may be empty when
/// every planned method is RTN/None (then no output errors are reported).
QuantizeResult quantizeModel(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                             const PlanFn& plan, const JobContext& ctx = {}, const OuterPlans& outer = {});

}  // namespace qs
