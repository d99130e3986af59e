#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <QJsonArray>

#include "eval/forward.h"
#include "util/error.h"

namespace qs {

int defaultSeqlen(const ModelConfig& c) { return std::min(2048, c.maxPositions); }

QJsonObject EvalResult::toJson() const {
    QJsonObject o;
    o.insert(QStringLiteral("ppl"), ppl);
    o.insert(QStringLiteral("mean_loss"), meanLoss);
    o.insert(QStringLiteral("tokens"), tokens);
    o.insert(QStringLiteral("windows"), windows);
    o.insert(QStringLiteral("seqlen"), seqlen);
    o.insert(QStringLiteral("seconds"), seconds);
    o.insert(QStringLiteral("tokens_per_second"), tokensPerSecond);
    if (klMean) {
        o.insert(QStringLiteral("kl_mean"), *klMean);
        o.insert(QStringLiteral("kl_max"), *klMax);
        o.insert(QStringLiteral("top1_agreement"), *top1Agreement);
        o.insert(QStringLiteral("reference_ppl"), *referencePpl);
    }
    return o;
}

namespace {

/// log-softmax of each row of `logits` in place (float, max-subtracted).
void logSoftmaxRows(MatrixRM& logits) {
    const Eigen::Index n = logits.rows();
#pragma omp parallel for schedule(static)
    for (Eigen::Index r = 0; r < n; ++r) {
        auto row = logits.row(r).array();
        const float mx = row.maxCoeff();
        const float lse = mx + std::log((row - mx).exp().sum());
        row -= lse;
    }
}

/// Runs the blocks of a batch of windows and returns final hidden states.
MatrixRM hiddenStates(const Forward& f, const int* tokens, int batch, int seqlen, const JobContext& ctx) {
    MatrixRM h = f.embed(tokens, batch, seqlen);
    for (int i = 0; i < int(f.model().blocks.size()); ++i) {
        ctx.check();
        f.block(i, h, batch, seqlen);
    }
    return f.finalHidden(h);
}

}  // namespace

EvalResult evaluatePerplexity(const Model& model, const std::vector<int>& tokens, const EvalOptions& opt,
                              const JobContext& ctx, const Model* reference) {
    const auto t0 = std::chrono::steady_clock::now();
    EvalResult res;
    res.seqlen = opt.seqlen > 0 ? opt.seqlen : defaultSeqlen(model.config);
    if (res.seqlen < 2) throw Error(QStringLiteral("--seqlen must be at least 2 (found %1)").arg(res.seqlen));
    if (res.seqlen > model.config.maxPositions)
        throw Error(QStringLiteral("--seqlen %1 exceeds the model's max_position_embeddings %2").arg(res.seqlen).arg(model.config.maxPositions));
    res.tokens = (long long)tokens.size();
    int windows = int(tokens.size() / size_t(res.seqlen));
    if (windows == 0)
        throw Error(QStringLiteral("the text has %1 tokens, fewer than one window of %2; use a longer text or a smaller --seqlen")
                        .arg(tokens.size()).arg(res.seqlen));
    if (opt.maxWindows > 0) windows = std::min(windows, opt.maxWindows);
    res.windows = windows;
    const int T = res.seqlen;
    const int batch = opt.batch > 0 ? opt.batch : std::max(1, std::min(windows, 4096 / T));

    Forward fwd(model);
    std::unique_ptr<Forward> ref;
    if (reference) {
        if (reference->config.vocabSize != model.config.vocabSize)
            throw Error(QStringLiteral("the reference model's vocabulary (%1) differs from the model's (%2)")
                            .arg(reference->config.vocabSize).arg(model.config.vocabSize));
        ref = std::make_unique<Forward>(*reference);
    }
    double klSum = 0, klMax = 0, refLossSum = 0;
    long long klCount = 0, agree = 0;
    const int rowChunk = 512;  // logits rows at a time: bounds memory to rowChunk x vocab
    for (int w0 = 0; w0 < windows; w0 += batch) {
        ctx.check();
        const int nb = std::min(batch, windows - w0);
        const int* tk = tokens.data() + size_t(w0) * size_t(T);
        const MatrixRM fh = hiddenStates(fwd, tk, nb, T, ctx);
        MatrixRM fhRef;
        if (ref) fhRef = hiddenStates(*ref, tk, nb, T, ctx);
        for (int b = 0; b < nb; ++b) {
            double loss = 0, refLoss = 0;
            for (int r0 = 0; r0 < T - 1; r0 += rowChunk) {
                const int n = std::min(rowChunk, T - 1 - r0);  // predicting targets r0+1 .. r0+n
                MatrixRM lg = fwd.logits(fh.middleRows(int64_t(b) * T + r0, n));
                logSoftmaxRows(lg);
                for (int r = 0; r < n; ++r) loss -= double(lg(r, tk[size_t(b) * T + r0 + r + 1]));
                if (ref) {
                    MatrixRM lr = ref->logits(fhRef.middleRows(int64_t(b) * T + r0, n));
                    logSoftmaxRows(lr);
                    for (int r = 0; r < n; ++r) {
                        refLoss -= double(lr(r, tk[size_t(b) * T + r0 + r + 1]));
                        const auto lpRef = lr.row(r).array();
                        double kl = double((lpRef.exp() * (lpRef - lg.row(r).array())).sum());
                        kl = std::max(0.0, kl);
                        klSum += kl;
                        klMax = std::max(klMax, kl);
                        ++klCount;
                        Eigen::Index a, c;
                        lr.row(r).maxCoeff(&a);
                        lg.row(r).maxCoeff(&c);
                        agree += (a == c);
                    }
                }
            }
            res.windowLoss.push_back(loss / double(T - 1));
            refLossSum += refLoss / double(T - 1);
        }
        const int done = w0 + nb;
        double running = 0;
        for (double l : res.windowLoss) running += l;
        ctx.report(double(done) / windows,
                   "window " + std::to_string(done) + "/" + std::to_string(windows) + ", running ppl " +
                       std::to_string(std::exp(running / double(res.windowLoss.size()))));
    }
    double sum = 0;
    for (double l : res.windowLoss) sum += l;
    res.meanLoss = sum / double(windows);
    res.ppl = std::exp(res.meanLoss);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.tokensPerSecond = double(windows) * T / std::max(res.seconds, 1e-9);
    if (ref) {
        res.klMean = klSum / double(std::max(1LL, klCount));
        res.klMax = klMax;
        res.top1Agreement = double(agree) / double(std::max(1LL, klCount));
        res.referencePpl = std::exp(refLossSum / double(windows));
    }
    return res;
}

}  // namespace qs
