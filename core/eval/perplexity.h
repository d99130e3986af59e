#pragma once
// Perplexity with the GPTQ protocol: the text is tokenized once, cut into
// non-overlapping windows of `seqlen` tokens (remainder dropped); each window's
// loss is the mean next-token cross-entropy over its seqlen-1 targets; ppl =
// exp(mean window loss). Optionally the KL divergence of the model's next-token
// distribution against a reference model (e.g. the unquantized one), as
// llama.cpp's perplexity tool reports it.
#include <optional>
#include <vector>

#include <QJsonObject>

#include "jobs/job.h"
#include "model/model.h"

namespace qs {

struct EvalOptions {
    int seqlen = 0;       // 0 = min(2048, max_position_embeddings)
    int maxWindows = 0;   // 0 = all
    int batch = 0;        // windows per forward batch, 0 = automatic
};

struct EvalResult {
    double ppl = 0;
    double meanLoss = 0;          // mean window loss (nats)
    long long tokens = 0;         // tokens in the whole text
    int windows = 0;
    int seqlen = 0;
    double seconds = 0;
    double tokensPerSecond = 0;   // evaluated tokens (windows*seqlen) per second
    std::vector<double> windowLoss;
    // against a reference model (when one was given)
    std::optional<double> klMean;      // mean KL(P_ref || P_model) per predicted token, nats
    std::optional<double> klMax;
    std::optional<double> top1Agreement;  // fraction of positions whose argmax matches
    std::optional<double> referencePpl;
    QJsonObject toJson() const;
};

/// Default window: min(2048, model's max positions).
int defaultSeqlen(const ModelConfig& c);

/// Evaluates `tokens` (already tokenized, BOS included as the tokenizer says).
/// Throws qs::Error when the text is shorter than one window; qs::Cancelled on cancel.
EvalResult evaluatePerplexity(const Model& model, const std::vector<int>& tokens, const EvalOptions& opt,
                              const JobContext& ctx = {}, const Model* reference = nullptr);

}  // namespace qs
