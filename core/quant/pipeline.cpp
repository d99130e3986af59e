#include "quant/pipeline.h"

#include <chrono>
#include <cmath>
#include <map>

#include <QJsonValue>

#include "calib/hessian.h"
#include "eval/forward.h"
#include "util/error.h"

namespace qs {

const char* quantMethodName(QuantMethod m) {
    switch (m) {
    case QuantMethod::None: return "none";
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Gptq: return "gptq";
    }
    return "?";
}

QJsonObject LayerResult::toJson() const {
    auto num = [](double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(); };
    return QJsonObject{{QStringLiteral("name"), QString::fromStdString(name)},
                       {QStringLiteral("block"), block},
                       {QStringLiteral("method"), QLatin1String(quantMethodName(method))},
                       {QStringLiteral("format"), QString::fromStdString(format.name())},
                       {QStringLiteral("aformat"), activation.kind == FormatKind::None ? QStringLiteral("none")
                                                                                        : QString::fromStdString(activation.name())},
                       {QStringLiteral("params"), qint64(params)},
                       {QStringLiteral("bits_per_weight"), bitsPerWeight},
                       {QStringLiteral("rel_output_error"), num(relOutputError)},
                       {QStringLiteral("gptq_loss"), num(gptqLoss)},
                       {QStringLiteral("seconds"), seconds}};
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// The sequential groups of a block, by linear kind.
std::vector<std::vector<LinearKind>> sequentialGroups(const Block& b) {
    if (b.find(LinearKind::Gate))
        return {{LinearKind::Q, LinearKind::K, LinearKind::V}, {LinearKind::O}, {LinearKind::Gate, LinearKind::Up}, {LinearKind::Down}};
    return {{LinearKind::Q, LinearKind::K, LinearKind::V}, {LinearKind::O}, {LinearKind::Fc1}, {LinearKind::Fc2}};
}

/// Linears that read the same input share one Hessian: K and V use Q's, Up uses Gate's.
LinearKind hessianOwner(LinearKind k) {
    if (k == LinearKind::K || k == LinearKind::V) return LinearKind::Q;
    if (k == LinearKind::Up) return LinearKind::Gate;
    return k;
}

bool planned(const LayerPlan& p) { return p.method != QuantMethod::None && p.weight.kind != FormatKind::None; }

/// Installs the plan's activation format on the layer (null for float inputs).
void setActivation(Linear& l, const LayerPlan& p) {
    l.actQuant = p.activation.kind == FormatKind::None ? nullptr : std::make_shared<const QuantFormat>(p.activation);
}

}  // namespace

QuantizeResult quantizeModel(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                             const PlanFn& plan, const JobContext& ctx) {
    QuantizeResult res;
    res.model = std::make_shared<Model>(model);  // shares the mapped weights; overrides only on the copy
    Model& q = *res.model;
    const int nBlocks = int(q.blocks.size());

    bool needCalib = !calibTokens.empty();
    for (const Block& b : q.blocks)
        for (const Linear& l : b.linears)
            if (plan(l).method == QuantMethod::Gptq) needCalib = true;
    if (needCalib && calibTokens.empty())
        throw Error(QStringLiteral("GPTQ needs calibration data (--calib)"));
    const int T = calib.seqlen, N = needCalib ? int(calibTokens.size() / size_t(T)) : 0;
    if (needCalib && (N < 1 || size_t(N) * size_t(T) != calibTokens.size()))
        throw Error(QStringLiteral("calibration tokens (%1) are not a whole number of windows of %2").arg(calibTokens.size()).arg(T));
    if (needCalib && T > q.config.maxPositions)
        throw Error(QStringLiteral("calibration --seqlen %1 exceeds the model's max_position_embeddings %2").arg(T).arg(q.config.maxPositions));

    auto quantizeLinear = [&](Linear& l, int blockIndex, const LayerPlan& p, const Eigen::MatrixXd* H) {
        const auto t0 = Clock::now();
        LayerResult r;
        r.name = l.name;
        r.block = blockIndex;
        r.method = p.method;
        r.format = p.weight;
        r.activation = p.activation;
        r.params = l.params();
        r.bitsPerWeight = p.weight.bitsPerWeight(l.inFeatures);
        const MatrixRM W = l.weightMatrix();
        const Quantizer quantizer(p.weight);
        MatrixRM Wq;
        if (p.method == QuantMethod::Gptq) {
            Q_ASSERT(H);
            GptqResult g = gptqQuantize(W, *H, quantizer, p.gptq, ctx);
            r.gptqLoss = g.loss;
            Wq = std::move(g.weight);
        } else {
            Wq = quantizer.fakeQuantize(W);
        }
        if (H) {
            const double base = predictedError(W, MatrixRM::Zero(W.rows(), W.cols()), *H);
            r.relOutputError = base > 0 ? predictedError(W, Wq, *H) / base : 0.0;
        }
        for (Eigen::Index i = 0; i < Wq.size(); ++i)
            if (!std::isfinite(Wq.data()[i]))
                throw Error(QStringLiteral("layer '%1': quantization produced a non-finite weight (NaN/Inf in the input weights?)")
                                .arg(QString::fromStdString(l.name)));
        l.override = std::make_shared<const MatrixRM>(std::move(Wq));
        r.seconds = since(t0);
        res.quantizeSeconds += r.seconds;
        res.layers.push_back(r);
    };

    if (!needCalib) {
        for (int bi = 0; bi < nBlocks; ++bi) {
            ctx.check();
            for (Linear& l : q.blocks[size_t(bi)].linears) {
                const LayerPlan p = plan(l);
                if (planned(p)) quantizeLinear(l, bi, p, nullptr);
                setActivation(l, p);
            }
            ctx.report(double(bi + 1) / nBlocks, "block " + std::to_string(bi + 1) + "/" + std::to_string(nBlocks));
        }
    } else {
        Forward fwd(q);
        const auto tEmbed = Clock::now();
        MatrixRM inps = fwd.embed(calibTokens.data(), N, T);
        res.calibrationSeconds += since(tEmbed);
        const int batch = std::max(1, std::min(N, 4096 / T));  // windows per forward batch
        // runs block bi over all windows; hook gets each linear's input
        auto runBlock = [&](int bi, MatrixRM* outs, const LinearInputHook& hook) {
            for (int w0 = 0; w0 < N; w0 += batch) {
                ctx.check();
                const int nb = std::min(batch, N - w0);
                MatrixRM h = inps.middleRows(int64_t(w0) * T, int64_t(nb) * T);
                fwd.block(bi, h, nb, T, hook);
                if (outs) outs->middleRows(int64_t(w0) * T, int64_t(nb) * T) = h;
            }
        };
        for (int bi = 0; bi < nBlocks; ++bi) {
            Block& blk = q.blocks[size_t(bi)];
            for (const auto& group : sequentialGroups(blk)) {
                std::vector<std::pair<Linear*, LayerPlan>> todo;
                for (LinearKind k : group)
                    if (Linear* l = blk.find(k)) todo.emplace_back(l, plan(*l));
                // Hessians for the group's inputs (shared by linears reading the same input)
                std::map<LinearKind, HessianAccumulator> acc;
                for (auto& [l, p] : todo) {
                    const LinearKind owner = hessianOwner(l->kind);
                    if (!acc.count(owner)) acc.emplace(owner, HessianAccumulator(l->inFeatures));
                }
                const auto tc = Clock::now();
                runBlock(bi, nullptr, [&](const Linear& l, const MatrixRM& x) {
                    auto it = acc.find(l.kind);
                    if (it != acc.end() && hessianOwner(l.kind) == l.kind) it->second.add(x, x.rows() / T);
                });
                res.calibrationSeconds += since(tc);
                for (auto& [l, p] : todo) {
                    if (planned(p)) quantizeLinear(*l, bi, p, &acc.at(hessianOwner(l->kind)).hessian());
                    setActivation(*l, p);  // later groups and blocks see quantized activations
                }
            }
            // outputs of the quantized block feed the next one
            const auto tc = Clock::now();
            MatrixRM outs(inps.rows(), inps.cols());
            runBlock(bi, &outs, {});
            inps.swap(outs);
            res.calibrationSeconds += since(tc);
            ctx.report(double(bi + 1) / nBlocks, "block " + std::to_string(bi + 1) + "/" + std::to_string(nBlocks) + " quantized");
        }
    }
    double bits = 0;
    for (const LayerResult& r : res.layers) {
        bits += r.bitsPerWeight * double(r.params);
        res.quantizedParams += r.params;
    }
    res.avgBits = res.quantizedParams ? bits / double(res.quantizedParams) : 0.0;
    return res;
}

}  // namespace qs
