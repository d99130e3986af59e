#pragma once
// The quantization recipe (core/recipe): a versioned JSON document that says per
// layer what to do, and the per-layer plan the pipeline runs.
//
// Schema, version 1 (every key optional except "quantscope_recipe"):
//   {
//     "quantscope_recipe": 1,
//     "description": "free text",
//     "defaults": {"method": "smoothquant+gptq", "wformat": "int4-g128", "act_order": true,
//                  "static_groups": false, "damp": 0.01, "block_size": 128, "aformat": "none",
//                  "smoothquant_alpha": 0.5},
//     "calibration": {"nsamples": 128, "seqlen": 2048, "seed": 0},
//     "layers": [
//       {"match": "model.layers.*.mlp.down_proj", "wformat": "int8"},
//       {"regex": "self_attn\\.(q|k)_proj$", "method": "rtn", "wformat": "mxfp4"},
//       {"match": "model.layers.0.*", "method": "none"},
//       {"match": "model.layers.*.mlp.*", "method": "mgptq", "wformat": "int2-g64", "mgptq_bits": 2.5,
//        "mgptq_choices": [2, 3, 4], "mgptq_seed": 0, "mgptq_loss": "gptq"}
//     ],
//     "lm_head": {"method": "gptq", "wformat": "int8-g128"},
//     "embed_tokens": {"method": "rtn", "wformat": "int8"}
//   }
// * defaults: the plan of every quantizable linear; built-in values for absent
//   keys: method gptq, wformat int4, act_order false, static_groups false,
//   damp 0.01, block_size 128, aformat none.
// * layers: overrides applied in order; every entry whose pattern matches a layer
//   name sets the keys it names (later entries win key by key). Exactly one of
//   "match" (glob over the whole name: '*' any run of characters, dots included,
//   '?' one character, everything else literal) or "regex" (a Perl-compatible
//   regular expression searched anywhere in the name; anchor with ^/$).
// * method: steps joined by '+' in the order smoothquant, awq, then the rounding
//   rtn, gptq, boa, mgptq or none (default rtn): "gptq", "awq" (= awq+rtn), "smoothquant+gptq",
//   "smoothquant+awq+gptq", "smoothquant+none" (fold SmoothQuant scales, keep
//   float weights: for activation-only experiments), "boa", "mgptq".
// * mgptq (MG-PTQ, core/alloc/mgptq.h): per group of input columns a width from
//   "mgptq_choices" (distinct integers in 2..8, default [2, 3, 4], written ascending)
//   chosen by the graph-network allocator so that the layer's bits per weight
//   (scales and zero points included) are the largest achievable value <=
//   "mgptq_bits" (required: in the object that names the method, or inherited from
//   defaults whose method is mgptq), then GPTQ with those widths. The group size
//   and symmetry come from wformat, which must be a grouped integer format (e.g.
//   int2-g64; its width is not used); "mgptq_seed" (default 0) seeds the GNN;
//   "mgptq_loss" is the loss model it is trained on: "gptq" (default: per-group
//   losses of uniform GPTQ passes) or "rtn" (tr(ΔW H ΔWᵀ) of mixed RTN). An
//   unachievable target (below every group at the lowest width) is reported with
//   the layer's name before calibration starts. AWQ's searches (awq+mgptq) round
//   with wformat's own width.
// * act_order / static_groups / damp / block_size apply to methods with gptq, boa or mgptq
//   (mgptq: act_order only with static_groups),
//   smoothquant_alpha (default 0.5) to methods with smoothquant, awq_grid (20),
//   awq_clip (true), awq_max_shrink (0.5) and awq_tokens (8192) to methods with awq,
//   mgptq_bits / mgptq_choices / mgptq_seed / mgptq_loss to methods with mgptq:
//   an object that sets them together with a method without that step is an
//   error; an override whose method rounds with none may not set wformat either. "aformat" is the dynamic
//   activation format of the layer's input: "none", "int8" (per token; int<B>
//   for other widths, no groups) or an MX format ("mxint8", "mxfp8_e4m3", ...).
// * lm_head / embed_tokens: the tensors outside the decoder blocks stay float
//   unless their own section quantizes them ("layers" patterns never reach them,
//   so "*" cannot quantize lm_head by accident). wformat is required; method is
//   rtn, gptq (lm_head only: Hessian of the final hidden states) or none, default
//   the defaults' rounding for lm_head (boa and mgptq become gptq there) and rtn for
//   embed_tokens; lm_head also takes
//   aformat and the GPTQ options (those it does not set come from "defaults").
//   SmoothQuant/AWQ steps are errors there.
// * calibration: the defaults of a run; command-line flags override them.
//
// Reading validates everything and reports every problem at once with its JSON
// path ("layers[2].wformat: unknown format 'int9'; expected ..."), one per line,
// each prefixed with the recipe's label (its file name), in one qs::Error.
#include <optional>
#include <string>
#include <vector>

#include <QByteArray>
#include <QJsonObject>
#include <QRegularExpression>
#include <QString>

#include "calib/calibration.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "quant/pipeline.h"

namespace qs {

/// The keys one recipe object sets; absent = inherited.
struct RecipeSettings {
    std::optional<QuantMethod> method;
    std::optional<QuantFormat> wformat;
    std::optional<bool> actOrder;
    std::optional<bool> staticGroups;
    std::optional<double> damp;
    std::optional<int> blockSize;
    std::optional<QuantFormat> aformat;  // kind None = float inputs
    std::optional<bool> smoothQuant, awq;  // set together with method
    std::optional<double> smoothAlpha, awqMaxShrink;
    std::optional<int> awqGrid, awqTokens;
    std::optional<bool> awqClip;
    std::optional<double> mgptqBits;
    std::optional<std::vector<int>> mgptqChoices;  // ascending
    std::optional<uint64_t> mgptqSeed;
    std::optional<MgptqLoss> mgptqLoss;
    bool empty() const;
    bool operator==(const RecipeSettings&) const = default;
};

/// One entry of "layers".
struct RecipeOverride {
    bool isRegex = false;   // "regex" (searched) vs "match" (glob over the whole name)
    QString pattern;        // as written
    QRegularExpression re;  // compiled (a glob is translated, anchored)
    RecipeSettings settings;
    bool matches(const std::string& layerName) const;
    /// "layers[i] (match 'model.layers.*.mlp.down_proj')"
    QString describe(int index) const;
};

class Recipe {
public:
    static constexpr int kVersion = 1;

    /// Parses and fully validates; `label` (usually the file name) prefixes every
    /// problem. Throws one qs::Error listing all problems.
    static Recipe parse(const QByteArray& json, const QString& label = QStringLiteral("recipe"));
    /// Reads a file and parses it (label = the path).
    static Recipe load(const QString& path);
    /// The recipe of a uniform run (every linear gets `plan`): what the CLI's
    /// --method/--wbits/... flags mean. GPTQ options are reset to their defaults
    /// unless plan.method is gptq.
    static Recipe fromUniform(const LayerPlan& plan, const CalibOptions& calib);

    /// The recipe stating exactly these per-layer plans: defaults = the plan covering
    /// the most parameters (first in order on ties), one exact-name override per
    /// other layer naming only the keys that differ; description, calibration and
    /// the lm_head/embed_tokens sections come from `base`. `label` prefixes errors.
    struct LayerPlanEntry {
        std::string name;
        int64_t params = 0;
        LayerPlan plan;
    };
    static Recipe fromLayerPlans(const std::vector<LayerPlanEntry>& layers, const Recipe& base,
                                 const QString& label = QStringLiteral("recipe"));
    /// The "defaults"-style JSON of one plan (only the keys its method uses).
    static QJsonObject planJson(const LayerPlan& p);

    /// Canonical JSON: parse(toJson()) == *this and toJson() of that is identical.
    QJsonObject toJson() const;
    QByteArray toJsonBytes() const;  // indented

    /// The plan of one linear: defaults, then every matching override in order.
    LayerPlan planFor(const std::string& layerName) const;
    PlanFn planFn() const;
    /// The plans of the embedding table and lm_head ("embed_tokens" / "lm_head"
    /// sections; absent = float).
    OuterPlans outerPlans() const;
    /// Sets them (as the CLI's --embed-format / --lm-head-format do); options that
    /// do not apply are reset so the recipe stays canonical.
    void setOuterPlans(const OuterPlans& o);
    /// True when some linear of the model (or lm_head) is planned with GPTQ, AWQ or SmoothQuant (needs calibration data).
    bool needsCalibration(const Model& model) const;

    /// Calibration settings from the recipe; keys the recipe does not set come from `fallback`.
    CalibOptions calibration(const CalibOptions& fallback = CalibOptions{}) const;
    /// Sets every calibration key (what a run actually used).
    void setCalibration(const CalibOptions& c);
    std::optional<int> calibNsamples() const { return nsamples_; }
    std::optional<int> calibSeqlen() const { return seqlen_; }
    std::optional<uint64_t> calibSeed() const { return seed_; }

    const LayerPlan& defaults() const { return defaults_; }
    const std::vector<RecipeOverride>& overrides() const { return overrides_; }
    const QString& description() const { return description_; }

    /// One message per override entry that matches none of the names / none of
    /// the model's quantizable linears, e.g. "layers[1] (regex 'foo$') matches no layer".
    std::vector<QString> unmatchedPatterns(const std::vector<std::string>& layerNames) const;
    std::vector<QString> unmatchedPatterns(const Model& model) const;

    bool operator==(const Recipe& o) const { return toJson() == o.toJson(); }

private:
    LayerPlan defaults_;
    std::optional<int> nsamples_, seqlen_;
    std::optional<uint64_t> seed_;
    std::vector<RecipeOverride> overrides_;
    std::optional<LayerPlan> lmHead_, embed_;
    QString description_;
};

/// The built-in defaults (method gptq, int4, GPTQ options at their defaults).
LayerPlan defaultRecipePlan();

}  // namespace qs
