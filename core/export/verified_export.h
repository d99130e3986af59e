#pragma once
// Export with proof: write a run's quantized model as GGUF or as a GPTQ-packed
// checkpoint, read the written file back with QuantScope's own loader and compare
// every tensor with the weights the run evaluated. What the CLI's `export` /
// `--export-gguf` and the GUI's "Export model…" both do, so the exported file is
// the model whose perplexity QuantScope showed (or the difference is reported).
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QString>

#include "jobs/job.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "quant/formats.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"

namespace qs {

/// One quantizable linear as a recipe plans it (or as a run evaluated it).
struct PlannedLayer {
    std::string name;
    QuantMethod method = QuantMethod::None;  // None: kept in float
    QuantFormat format;
    int64_t inFeatures = 0, outFeatures = 0;
    bool outside = false;  // lm_head / the embedding table (GPTQ-packed stores them as they were evaluated)
};
/// Every linear of `model` as `recipe` plans it, then lm_head and the embedding
/// table when the recipe quantizes them.
std::vector<PlannedLayer> plannedLayers(const Model& model, const Recipe& recipe);

/// What exporting layers planned this way would refuse, known before anything is
/// quantized ("name (format) ..." per problem; empty: nothing to refuse).
///  * "gguf": every quantized layer in a format with an exact GGUF type
///    (exactGgufType: gguf_q8_0/q4_0/q4_1, mxfp4, fp16; float layers are F32); an
///    MG-PTQ layer never is. allowRequantize lifts the rule (the writer then
///    re-quantizes and reports the error it adds).
///  * "gptq": every linear quantized, none MG-PTQ, all in one integer format with
///    2, 3, 4 or 8 bits and fp16 scales (-f16; allowRequantize lifts only this),
///    with in and out packable at that width.
/// The writers apply the same rules to what the run evaluated (and check the weights).
QStringList exportPlanProblems(const QString& format, const std::vector<PlannedLayer>& layers, bool allowRequantize);
/// Throws qs::Error listing exportPlanProblems, when there are any ("GGUF export: no
/// GGUF type stores these layers exactly ...: a (int4-g128), ..." / "GPTQ-packed export: ...").
void requireExportablePlan(const QString& format, const std::vector<PlannedLayer>& layers, bool allowRequantize);

struct VerifiedExportRequest {
    QString format;              // "gguf" or "gptq"
    QString out;                 // the .gguf file, or the checkpoint's directory
    bool allowRequantize = false;
    std::optional<QuantFormat> requantizeTo;  // GGUF only: gguf_q8_0 / q4_0 / q4_1
    QJsonObject recipe;          // embedded in the file (quantscope.recipe / quantscope_run.json)
    /// The llama2.c tokenizer.bin image for a tokenizer read from no file (the
    /// demo's); ignored when the tokenizer has source files.
    QByteArray inMemoryTokenizer;
};

/// Every tensor of `back` (a written file read back) against the weights `q`
/// evaluated: how many were compared, how many are identical, and the names of the
/// differing ones that are not in `requantized`.
struct ReadBackCheck {
    int64_t checked = 0, identical = 0;
    QJsonArray mismatched;
};
ReadBackCheck compareReadBack(const Model& back, const Model& q, const std::set<std::string>& requantized);

struct VerifiedExport {
    QJsonObject json;                      // the writer's report + tensors_checked, tensors_identical
    std::shared_ptr<Model> readBack;       // the written file, loaded back
    ReadBackCheck check;
    QString summary;                       // one line: what was written and how it compared
    std::vector<std::string> details;      // re-quantized tensors with their added error, warnings
};

/// Writes `quantized` (a QuantizeResult's model and layers) in `req.format`, loads
/// it back and compares it tensor by tensor. Throws qs::Error with the writer's
/// message (a layer without an exact target type, an unsupported architecture,
/// ...) or when a tensor that was not re-quantized reads back different; the
/// writers leave no partial file behind. Progress and cancel through `ctx`.
VerifiedExport exportVerified(const Model& quantized, const std::vector<LayerResult>& layers, const Tokenizer& tokenizer,
                              const VerifiedExportRequest& req, const JobContext& ctx = {});

}  // namespace qs
