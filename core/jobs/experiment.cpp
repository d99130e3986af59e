#include "jobs/experiment.h"

#include <chrono>

#include "util/error.h"

namespace qs {

ExperimentResult runExperiment(const Model& model, const ExperimentSpec& spec, const JobContext& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    if (spec.calibTokens.empty() && spec.recipe.needsCalibration(model))
        throw Error(QStringLiteral("the recipe plans GPTQ, BoA, AWQ or SmoothQuant for some layers: it needs calibration text"));
    if (spec.evalTokens.empty()) throw Error(QStringLiteral("no evaluation text: the run measures perplexity on it"));
    ExperimentResult r;
    r.quant = quantizeModel(model, spec.calibTokens, spec.calib, spec.recipe.planFn(), ctx.sub(0.0, 0.8, "quantize: "),
                            spec.recipe.outerPlans());
    ctx.check();
    r.eval = evaluatePerplexity(*r.quant.model, spec.evalTokens, spec.eval, ctx.sub(0.8, 1.0, "perplexity: "),
                                spec.compareFp ? &model : nullptr);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.report(1.0, "done");
    return r;
}

}  // namespace qs
