#pragma once
// One experiment = quantize a model with a recipe, then measure the perplexity of
// the result (core/jobs). What the GUI's run queue executes in a background
// thread; the CLI's `quantize --eval` does the same two steps.
#include <memory>
#include <optional>
#include <vector>

#include "eval/perplexity.h"
#include "jobs/job.h"
#include "model/model.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"

namespace qs {

struct ExperimentSpec {
    Recipe recipe;                  // per-layer plans, lm_head/embeddings sections
    CalibOptions calib;             // what calibTokens were sampled with
    std::vector<int> calibTokens;   // nsamples*seqlen ids; may be empty when the recipe needs none
    std::vector<int> evalTokens;    // the evaluation text, tokenized (BOS as the tokenizer says)
    EvalOptions eval;
    bool compareFp = false;         // also KL / top-1 agreement against the float model
};

struct ExperimentResult {
    QuantizeResult quant;
    EvalResult eval;
    double seconds = 0;             // wall time of both steps
};

/// Quantizes (progress 0..0.8) and evaluates (0.8..1). Throws qs::Error when the
/// recipe needs calibration data and none was given, or when the evaluation text
/// is shorter than one window; qs::Cancelled on cancel.
ExperimentResult runExperiment(const Model& model, const ExperimentSpec& spec, const JobContext& ctx = {});

}  // namespace qs
