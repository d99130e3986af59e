#include "quant/pipeline.h"

#include <chrono>
#include <cstdio>
#include <cmath>
#include <algorithm>
#include <map>
#include <optional>

#include <QJsonValue>

#include "calib/hessian.h"
#include "compute/backend.h"
#include "quant/boa.h"
#include "eval/forward.h"
#include "util/error.h"

namespace qs {

const char* quantMethodName(QuantMethod m) {
    switch (m) {
    case QuantMethod::None: return "none";
    case QuantMethod::Rtn: return "rtn";
    case QuantMethod::Gptq: return "gptq";
    case QuantMethod::Boa: return "boa";
    case QuantMethod::Mgptq: return "mgptq";
    }
    return "?";
}

const char* const kEmbedTokensName = "model.embed_tokens";
const char* const kLmHeadName = "lm_head";

const char* const kMethodHelp =
    "steps joined by '+' in the order smoothquant, awq, then one of rtn, gptq, boa, mgptq or none (e.g. gptq, boa, mgptq, awq, "
    "smoothquant+gptq, smoothquant+awq+gptq)";

std::string planMethodName(const LayerPlan& p) {
    std::string n;
    if (p.smoothQuant) n += "smoothquant+";
    if (p.awq) n += "awq+";
    if (!n.empty() && p.method == QuantMethod::Rtn) return n.substr(0, n.size() - 1);  // "awq" = awq+rtn
    return n + quantMethodName(p.method);
}

std::string parseMethodInto(const std::string& name, LayerPlan& p) {
    bool sq = false, awq = false, rounded = false;
    QuantMethod m = QuantMethod::Rtn;
    int stage = 0;  // 0: smoothquant allowed, 1: awq allowed, 2: rounding allowed, 3: nothing more
    const QStringList steps = QString::fromStdString(name).toLower().split(QLatin1Char('+'));
    for (const QString& st : steps) {
        int at = -1;
        if (st == QLatin1String("smoothquant")) at = 0, sq = true;
        else if (st == QLatin1String("awq")) at = 1, awq = true;
        else if (st == QLatin1String("rtn")) at = 2, m = QuantMethod::Rtn, rounded = true;
        else if (st == QLatin1String("gptq")) at = 2, m = QuantMethod::Gptq, rounded = true;
        else if (st == QLatin1String("boa")) at = 2, m = QuantMethod::Boa, rounded = true;
        else if (st == QLatin1String("mgptq")) at = 2, m = QuantMethod::Mgptq, rounded = true;
        else if (st == QLatin1String("none")) at = 2, m = QuantMethod::None, rounded = true;
        else return "unknown method step '" + st.toStdString() + "' in '" + name + "'; expected " + kMethodHelp;
        if (at < stage) return "method '" + name + "': '" + st.toStdString() + "' is repeated or out of order; expected " + kMethodHelp;
        stage = at + 1;
    }
    Q_UNUSED(rounded);
    p.method = m;
    p.smoothQuant = sq;
    p.awq = awq;
    return {};
}

std::string mgptqPlanError(const LayerPlan& p, int64_t inFeatures) {
    const QuantFormat& f = p.weight;
    if (f.kind != FormatKind::Int || f.groupSize <= 0)
        return "method mgptq allocates bits per group of input columns; wformat must be a grouped integer format such as int3-g64 "
               "(its group size and symmetry are used, its width is not), got " + f.name();
    if (!(p.mgptq.targetBits > 0)) return "method mgptq needs mgptq_bits (the average bits per weight, scales included)";
    if (const std::string e = validateMgptqOptions(p.mgptq); !e.empty()) return e;
    if (p.gptq.actOrder && !p.gptq.staticGroups)
        return "method mgptq with act_order needs static_groups (each group's grid is fixed before the columns are permuted)";
    const std::vector<double> a = mgptqAchievableBits(inFeatures, f, p.mgptq.choices);
    if (!a.empty() && p.mgptq.targetBits < a.front() - 1e-9 * a.front()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.4f", a.front());
        QuantFormat low = f;
        low.bits = p.mgptq.choices.front();
        return "mgptq_bits " + QString::number(p.mgptq.targetBits).toStdString() + " is below the smallest achievable " + buf +
               " bits per weight for " + std::to_string(inFeatures) + " inputs (every group " + low.name() + ")";
    }
    return {};
}

QJsonObject LayerResult::toJson() const {
    auto num = [](double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(); };
    QJsonObject o{{QStringLiteral("name"), QString::fromStdString(name)},
                       {QStringLiteral("block"), block},
                       {QStringLiteral("method"), QString::fromStdString(methodName.empty() ? quantMethodName(method) : methodName)},
                       {QStringLiteral("format"), QString::fromStdString(format.name())},
                       {QStringLiteral("aformat"), activation.kind == FormatKind::None ? QStringLiteral("none")
                                                                                        : QString::fromStdString(activation.name())},
                       {QStringLiteral("params"), qint64(params)},
                       {QStringLiteral("bits_per_weight"), bitsPerWeight},
                       {QStringLiteral("rel_output_error"), num(relOutputError)},
                       {QStringLiteral("gptq_loss"), num(gptqLoss)},
                       {QStringLiteral("seconds"), seconds}};
    if (std::isfinite(smoothAlpha)) o.insert(QStringLiteral("smoothquant_alpha"), smoothAlpha);
    if (std::isfinite(awqRatio)) o.insert(QStringLiteral("awq_ratio"), awqRatio);
    if (std::isfinite(awqLossGain)) o.insert(QStringLiteral("awq_block_mse_vs_rtn"), awqLossGain);
    if (std::isfinite(awqClipShrink)) o.insert(QStringLiteral("awq_clip_mean_shrink"), awqClipShrink);
    if (!groupBits.empty()) {
        QJsonObject h;
        for (const auto& [b, n] : groupBits) h.insert(QString::number(b), qint64(n));
        o.insert(QStringLiteral("group_bits"), h);
        o.insert(QStringLiteral("mgptq_target_bits"), num(mgptqTargetBits));
        o.insert(QStringLiteral("mgptq_relaxed_bits"), num(mgptqRelaxedBits));
        o.insert(QStringLiteral("mgptq_repaired_groups"), mgptqRepairedGroups);
        o.insert(QStringLiteral("mgptq_loss_model"), QString::fromStdString(mgptqLossModel));
        o.insert(QStringLiteral("mgptq_model_loss_vs_lowest"), num(mgptqModelLossVsLowest));
        o.insert(QStringLiteral("mgptq_model_loss_vs_separable_optimum"), num(mgptqModelLossVsOptimum));
    }
    return o;
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool planned(const LayerPlan& p) { return p.method != QuantMethod::None && p.weight.kind != FormatKind::None; }

/// The plan as the layer can be stored: a GGUF format on rows that are not a
/// multiple of 32 becomes fp16 with RTN (llama.cpp keeps such tensors F16).
LayerPlan storablePlan(LayerPlan p, int64_t inFeatures) {
    const QuantFormat f = effectiveWeightFormat(p.weight, inFeatures);
    if (!(f == p.weight)) {
        p.weight = f;
        if (p.method != QuantMethod::None) p.method = QuantMethod::Rtn;
    }
    return p;
}

/// BoA's factors of one projection: per head output-side (row) factors, and for v
/// per KV head input-side (column) factors.
struct BoaFactors {
    std::vector<Eigen::MatrixXd> row, col;
};

/// The transforms a group runs: on when any member asks; members that ask must agree.
struct GroupTransforms {
    bool smooth = false, awq = false;
    SmoothQuantOptions sq;
    AwqOptions aw;
};

GroupTransforms groupTransforms(const InputGroup& g, const std::map<const Linear*, LayerPlan>& plans) {
    GroupTransforms t;
    const Linear* sqFrom = nullptr;
    const Linear* awFrom = nullptr;
    for (const Linear* m : g.members) {
        const LayerPlan& p = plans.at(m);
        if (p.smoothQuant) {
            if (sqFrom && !(p.smooth == t.sq))
                throw Error(QStringLiteral("'%1' and '%2' read the same input but ask for different SmoothQuant options")
                                .arg(QString::fromStdString(sqFrom->name), QString::fromStdString(m->name)));
            t.smooth = true, t.sq = p.smooth, sqFrom = m;
        }
        if (p.awq) {
            if (awFrom && !(p.awqOpt == t.aw))
                throw Error(QStringLiteral("'%1' and '%2' read the same input but ask for different AWQ options")
                                .arg(QString::fromStdString(awFrom->name), QString::fromStdString(m->name)));
            t.awq = true, t.aw = p.awqOpt, awFrom = m;
        }
    }
    t.smooth = t.smooth && g.prevNorm;  // SmoothQuant migrates the outliers of normalised inputs
    return t;
}

/// What the transforms did to a linear (reported in its LayerResult).
struct TransformInfo {
    double smoothAlpha = std::numeric_limits<double>::quiet_NaN();
    double awqRatio = std::numeric_limits<double>::quiet_NaN();
    double awqLossGain = std::numeric_limits<double>::quiet_NaN();
    double clipShrink = std::numeric_limits<double>::quiet_NaN();
};

/// Installs the plan's activation format on the layer (null for float inputs).
void setActivation(Linear& l, const LayerPlan& p) {
    l.actQuant = p.activation.kind == FormatKind::None ? nullptr : std::make_shared<const QuantFormat>(p.activation);
}

/// SmoothQuant and AWQ for block `bi` (full-precision weights of this block;
/// earlier blocks already quantized): statistics from the block's inputs `inps`
/// (N windows of T tokens), scales folded into the model, clipping applied.
void transformBlock(const Forward& fwd, int bi, std::vector<InputGroup>& groups, const std::map<const Linear*, LayerPlan>& plans,
                    const MatrixRM& inps, int N, int T, std::map<const Linear*, TransformInfo>& info, const JobContext& ctx) {
    std::vector<GroupTransforms> gt;
    bool anySmooth = false, anyAwq = false;
    int awqTokens = 0;
    for (const InputGroup& g : groups) {
        gt.push_back(groupTransforms(g, plans));
        anySmooth |= gt.back().smooth;
        anyAwq |= gt.back().awq;
        if (gt.back().awq) awqTokens = std::max(awqTokens, gt.back().aw.tokens);
    }
    if (anySmooth) {
        // per-channel max |x| of the normalised inputs over every calibration window
        std::map<const Linear*, Eigen::VectorXd> amax;  // keyed by the group's first member
        for (size_t gi = 0; gi < groups.size(); ++gi)
            if (gt[gi].smooth) amax.emplace(groups[gi].members.front(), Eigen::VectorXd::Zero(groups[gi].members.front()->inFeatures));
        const int batch = std::max(1, std::min(N, 4096 / T));
        for (int w0 = 0; w0 < N; w0 += batch) {
            ctx.check();
            const int nb = std::min(batch, N - w0);
            MatrixRM h = inps.middleRows(int64_t(w0) * T, int64_t(nb) * T);
            fwd.block(bi, h, nb, T, [&](const Linear& l, const MatrixRM& x) {
                auto it = amax.find(&l);
                if (it != amax.end()) it->second = it->second.cwiseMax(x.cwiseAbs().colwise().maxCoeff().transpose().cast<double>());
            });
        }
        for (size_t gi = 0; gi < groups.size(); ++gi) {
            if (!gt[gi].smooth) continue;
            std::vector<MatrixRM> W;
            for (const Linear* m : groups[gi].members) W.push_back(m->weightMatrix());
            std::vector<const MatrixRM*> wp;
            for (const MatrixRM& w : W) wp.push_back(&w);
            foldInputScales(groups[gi], smoothQuantScales(amax.at(groups[gi].members.front()), wp, gt[gi].sq.alpha));
            for (const Linear* m : groups[gi].members) info[m].smoothAlpha = gt[gi].sq.alpha;
        }
    }
    if (!anyAwq) return;

    // AWQ searches on the first min(T, 512) tokens of the first windows (causal
    // attention: a prefix's block output does not depend on what follows it)
    const int P = std::min(T, 512);
    const int nW = std::clamp(awqTokens / P, 1, N);
    MatrixRM sub(int64_t(nW) * P, inps.cols());
    for (int w = 0; w < nW; ++w) sub.middleRows(int64_t(w) * P, P) = inps.middleRows(int64_t(w) * T, P);
    auto runSub = [&](const LinearInputHook& hook) {
        ctx.check();
        MatrixRM h = sub;
        fwd.block(bi, h, nW, P, hook);
        return h;
    };
    const MatrixRM orgOut = runSub({});
    // MLP groups: the attention half does not depend on their weights, so their
    // searches start from its output (computed once the attention groups are folded)
    MatrixRM mid;
    auto isMlp = [](const InputGroup& g) {
        const LinearKind k = g.members.front()->kind;
        return k == LinearKind::Gate || k == LinearKind::Down || k == LinearKind::Fc1 || k == LinearKind::Fc2;
    };
    auto runFrom = [&](const InputGroup& g, const LinearInputHook& hook) {
        if (!isMlp(g)) return runSub(hook);
        ctx.check();
        if (mid.size() == 0) {
            mid = sub;
            fwd.blockAttention(bi, mid, nW, P);
        }
        MatrixRM h = mid;
        fwd.blockMlp(bi, h, hook);
        return h;
    };
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        InputGroup& g = groups[gi];
        if (!gt[gi].awq || !g.foldable()) continue;
        const Linear* first = g.members.front();
        Eigen::VectorXd sumAbs = Eigen::VectorXd::Zero(first->inFeatures);
        runFrom(g, [&](const Linear& l, const MatrixRM& x) {
            if (&l == first) sumAbs += x.cwiseAbs().colwise().sum().transpose().cast<double>();
        });
        const Eigen::VectorXd meanAbs = sumAbs / double(sub.rows());
        std::vector<std::shared_ptr<const MatrixRM>> saved;
        std::vector<MatrixRM> W;
        for (const Linear* m : g.members) {
            saved.push_back(m->override);
            W.push_back(m->weightMatrix());
        }
        double base = 0, best = std::numeric_limits<double>::infinity(), bestRatio = 0;
        Eigen::VectorXd bestS = Eigen::VectorXd::Ones(first->inFeatures);
        for (int r = 0; r < gt[gi].aw.grid; ++r) {
            const double ratio = double(r) / gt[gi].aw.grid;
            const Eigen::VectorXd s = awqScales(meanAbs, ratio);
            for (size_t k = 0; k < g.members.size(); ++k) {
                const LayerPlan& p = plans.at(g.members[k]);
                if (planned(p)) g.members[k]->override = std::make_shared<const MatrixRM>(quantizeScaled(W[k], s, Quantizer(p.weight)));
            }
            const MatrixRM out = runFrom(g, {});
            const double loss = (out - orgOut).squaredNorm() / double(out.size());
            if (r == 0) base = loss;
            if (loss < best) best = loss, bestRatio = ratio, bestS = s;
        }
        for (size_t k = 0; k < g.members.size(); ++k) g.members[k]->override = saved[k];
        foldInputScales(g, bestS);
        for (const Linear* m : g.members) {
            info[m].awqRatio = bestRatio;
            info[m].awqLossGain = base > 0 ? best / base : 1.0;
        }
    }
    // clipping search (not q/k: attention scores are sensitive, as the reference)
    std::vector<std::pair<Linear*, GroupGram>> grams;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
        if (!gt[gi].awq || !gt[gi].aw.clip) continue;
        for (Linear* m : groups[gi].members) {
            const LayerPlan& p = plans.at(m);
            if (planned(p) && m->kind != LinearKind::Q && m->kind != LinearKind::K)
                grams.emplace_back(m, GroupGram(m->inFeatures, p.weight.blockSize()));
        }
    }
    if (grams.empty()) return;
    runSub([&](const Linear& l, const MatrixRM& x) {
        for (auto& [m, gram] : grams)
            if (m == &l) gram.add(x);
    });
    for (auto& [m, gram] : grams) {
        const LayerPlan& p = plans.at(m);
        ClipResult c = awqClip(m->weightMatrix(), Quantizer(p.weight), gram, p.awqOpt);
        m->override = std::make_shared<const MatrixRM>(std::move(c.weight));
        info[m].clipShrink = c.meanShrink;
    }
}

}  // namespace

QuantizeResult quantizeModel(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                             const PlanFn& plan, const JobContext& ctx, const OuterPlans& outer) {
    QuantizeResult res;
    res.model = std::make_shared<Model>(model);  // shares the mapped weights; overrides only on the copy
    Model& q = *res.model;
    const int nBlocks = int(q.blocks.size());

    std::map<const Linear*, LayerPlan> plans;
    bool needCalib = !calibTokens.empty();
    for (const Block& b : q.blocks)
        for (const Linear& l : b.linears) {
            const LayerPlan p = plans.emplace(&l, storablePlan(plan(l), l.inFeatures)).first->second;
            if (usesGptq(p.method) || p.smoothQuant || p.awq) needCalib = true;
            if (p.method == QuantMethod::Mgptq && planned(p)) {
                // checked before any calibration work: the layer names the problem
                const std::string e = mgptqPlanError(p, l.inFeatures);
                if (!e.empty()) throw Error(QStringLiteral("layer '%1': %2").arg(QString::fromStdString(l.name), QString::fromStdString(e)));
            }
        }
    // the tensors outside the blocks
    auto checkOuter = [](const std::optional<LayerPlan>& p, const char* name, bool gptqOk) {
        if (!p) return;
        const QString n = QString::fromLatin1(name);
        if (p->smoothQuant || p->awq)
            throw Error(QStringLiteral("%1: SmoothQuant and AWQ do not apply outside the decoder blocks; use %2")
                            .arg(n, gptqOk ? QStringLiteral("rtn or gptq") : QStringLiteral("rtn")));
        if (p->method == QuantMethod::Boa)
            throw Error(QStringLiteral("%1: BoA applies to attention projections; use rtn or gptq").arg(n));
        if (p->method == QuantMethod::Mgptq)
            throw Error(QStringLiteral("%1: MG-PTQ applies to the linears of the decoder blocks; use rtn or gptq").arg(n));
        if (p->method == QuantMethod::Gptq && !gptqOk)
            throw Error(QStringLiteral("%1: the embedding table is a lookup without an input Hessian; GPTQ does not apply, use rtn").arg(n));
        if (!gptqOk && p->activation.kind != FormatKind::None)
            throw Error(QStringLiteral("%1: a lookup table has no input to quantize; remove the activation format").arg(n));
    };
    checkOuter(outer.embedTokens, kEmbedTokensName, false);
    checkOuter(outer.lmHead, kLmHeadName, true);
    const bool quantEmbed = outer.embedTokens && planned(*outer.embedTokens);
    const bool quantHead = outer.lmHead && planned(*outer.lmHead);
    if (quantHead && outer.lmHead->method == QuantMethod::Gptq) needCalib = true;
    if (needCalib && calibTokens.empty())
        throw Error(QStringLiteral("GPTQ, AWQ and SmoothQuant need calibration data (--calib)"));
    const int T = calib.seqlen, N = needCalib ? int(calibTokens.size() / size_t(T)) : 0;
    if (needCalib && (N < 1 || size_t(N) * size_t(T) != calibTokens.size()))
        throw Error(QStringLiteral("calibration tokens (%1) are not a whole number of windows of %2").arg(calibTokens.size()).arg(T));
    if (needCalib && T > q.config.maxPositions)
        throw Error(QStringLiteral("calibration --seqlen %1 exceeds the model's max_position_embeddings %2").arg(T).arg(q.config.maxPositions));

    std::map<const Linear*, TransformInfo> info;
    // progress: block bi's input groups share its 1/nBlocks of the bar equally
    // (a quantized lm_head takes the share of one more block at the end)
    const double blockShare = quantHead ? double(nBlocks) / double(nBlocks + 1) : 1.0;
    auto blockStart = [&](int bi) { return blockShare * double(bi) / nBlocks; };
    auto groupEnd = [&](int bi, size_t gi, size_t nGroups) {
        return blockShare * (double(bi) + double(gi + 1) / double(nGroups)) / nBlocks;
    };
    // Quantizes W [out, in] by plan p (GPTQ with H; output error with H when given),
    // records its LayerResult and returns the fake-quantized weight.
    // BoA's factors of the linear being quantized (null: BoA runs as GPTQ, i.e. o and the MLP)
    const BoaFactors* boaNow = nullptr;
    auto quantizeWeights = [&](const std::string& name, int blockIndex, const MatrixRM& W, const LayerPlan& planIn,
                               const Eigen::MatrixXd* H, double lo, double hi, const TransformInfo* ti) {
        const auto t0 = Clock::now();
        const LayerPlan p = storablePlan(planIn, W.cols());
        LayerResult r;
        r.name = name;
        r.block = blockIndex;
        r.method = p.method;
        r.methodName = planMethodName(p);
        r.format = p.weight;
        r.activation = p.activation;
        r.params = int64_t(W.rows()) * W.cols();
        r.bitsPerWeight = p.weight.bitsPerWeight(W.cols());
        if (ti) {
            r.smoothAlpha = ti->smoothAlpha;
            r.awqRatio = ti->awqRatio;
            r.awqLossGain = ti->awqLossGain;
            r.awqClipShrink = ti->clipShrink;
        }
        const Quantizer quantizer(p.weight);
        MatrixRM Wq;
        std::shared_ptr<QuantGrid> grid;
        if (usesGptq(p.method)) {
            Q_ASSERT(H);
            JobContext sub;  // GPTQ's column progress, mapped into this group's share of the bar
            sub.cancel = ctx.cancel;
            if (ctx.progress)
                sub.progress = [&](double f, const std::string& m) { ctx.report(lo + f * (hi - lo), name + ": " + m); };
            GptqResult g;
            if (p.method == QuantMethod::Boa && boaNow && boaNow->col.empty()) {
                g = boaQuantize(W, *H, boaNow->row, quantizer, p.gptq, p.gptq.actOrder, sub);
            } else if (p.method == QuantMethod::Boa && boaNow) {
                // v: each KV head has its own input-side factor (inputs mixed by its attention maps)
                const int64_t hd = boaNow->row.front().rows();
                g.weight.resize(W.rows(), W.cols());
                for (size_t h = 0; h < boaNow->row.size(); ++h) {
                    GptqResult gh = boaQuantize(W.middleRows(int64_t(h) * hd, hd), boaNow->col[h], {boaNow->row[h]}, quantizer, p.gptq,
                                                p.gptq.actOrder, sub);
                    g.weight.middleRows(int64_t(h) * hd, hd) = gh.weight;
                    g.loss += gh.loss;
                    // the heads' grids stacked by rows (one column->group map: equal unless
                    // act-order permuted integer groups differently per head, then no grid)
                    if (h == 0) {
                        g.grid = gh.grid;
                        g.grid.rows = W.rows();
                        for (RowParams& gp : g.grid.groups) gp = RowParams{};
                    } else if (gh.grid.gIdx != g.grid.gIdx) {
                        g.grid.groups.clear();
                    }
                    for (size_t k = 0; k < g.grid.groups.size(); ++k)
                        g.grid.groups[k].setRows(W.rows(), int64_t(h) * hd, gh.grid.groups[k]);
                }
                if (g.grid.groups.empty()) g.grid = QuantGrid{};
            } else if (p.method == QuantMethod::Mgptq) {
                // MG-PTQ: the allocator's per-group widths (its share of the bar: about
                // K GPTQ passes for the loss model), then GPTQ with them
                const MgptqAllocation a = mgptqAllocate(W, *H, p.weight, p.mgptq, p.gptq, sub.sub(0.0, 0.75, "MG-PTQ: "));
                g = gptqQuantizeMixed(W, *H, a.groupFormats(p.weight), p.gptq, sub.sub(0.75, 1.0));
                g.grid = QuantGrid{};  // mixed widths: no single-format grid for the exporters
                r.bitsPerWeight = a.bitsPerWeight;
                for (int b : a.groupBits) ++r.groupBits[b];
                r.mgptqTargetBits = a.targetBits;
                r.mgptqRelaxedBits = a.relaxedBits;
                r.mgptqRepairedGroups = a.repairedGroups;
                r.mgptqLossModel = mgptqLossName(p.mgptq.loss);
                r.mgptqModelLossVsLowest = a.lowestLoss > 0 ? a.modelLoss / a.lowestLoss : 0.0;
                r.mgptqModelLossVsOptimum = a.separableOptimumLoss > 0 ? a.modelLoss / a.separableOptimumLoss : 1.0;
            } else {
                g = gptqQuantize(W, *H, quantizer, p.gptq, sub);
            }
            r.gptqLoss = g.loss;
            Wq = std::move(g.weight);
            if (!g.grid.empty()) grid = std::make_shared<QuantGrid>(std::move(g.grid));
        } else {
            Wq = computeBackend()->fakeQuantize(W, p.weight);  // RTN: bit for bit Quantizer(p.weight).fakeQuantize(W)
            if (p.weight.kind != FormatKind::None && p.weight.kind != FormatKind::Fp16)
                grid = std::make_shared<QuantGrid>(QuantGrid::rtn(W, quantizer));
        }
        if (grid) {  // the exporters need the stored parameters only, not the rounding inputs
            for (RowParams& gp : grid->groups) gp.inv.resize(0), gp.offset.resize(0);
            r.grid = grid;
        }
        if (H) {
            const double base = predictedError(W, MatrixRM::Zero(W.rows(), W.cols()), *H);
            r.relOutputError = base > 0 ? predictedError(W, Wq, *H) / base : 0.0;
        }
        for (Eigen::Index i = 0; i < Wq.size(); ++i)
            if (!std::isfinite(Wq.data()[i]))
                throw Error(QStringLiteral("layer '%1': quantization produced a non-finite weight (NaN/Inf in the input weights?)")
                                .arg(QString::fromStdString(name)));
        r.seconds = since(t0);
        res.quantizeSeconds += r.seconds;
        res.layers.push_back(r);
        return std::make_shared<const MatrixRM>(std::move(Wq));
    };
    auto quantizeLinear = [&](Linear& l, int blockIndex, const LayerPlan& p, const Eigen::MatrixXd* H, double lo, double hi) {
        const auto it = info.find(&l);
        l.override = quantizeWeights(l.name, blockIndex, l.weightMatrix(), p, H, lo, hi, it == info.end() ? nullptr : &it->second);
    };
    auto reportGroup = [&](int bi, size_t gi, size_t nGroups, const std::vector<Linear*>& ls) {
        std::string names;
        for (const Linear* l : ls) names += (names.empty() ? "" : ", ") + l->name;
        ctx.report(groupEnd(bi, gi, nGroups), "block " + std::to_string(bi + 1) + "/" + std::to_string(nBlocks) + ": " + names);
    };

    // Embeddings first: every block is calibrated on what the quantized table feeds it.
    if (quantEmbed) {
        ctx.check();
        q.embedOverride = quantizeWeights(kEmbedTokensName, -1, q.embedTokens.matrix(), *outer.embedTokens, nullptr, 0, 0, nullptr);
    }
    // lm_head last, with the Hessian of the final hidden states when given.
    auto quantizeHead = [&](const Eigen::MatrixXd* H) {
        if (outer.lmHead && outer.lmHead->activation.kind != FormatKind::None)
            q.lmHeadActQuant = std::make_shared<const QuantFormat>(outer.lmHead->activation);
        if (!quantHead) return;
        ctx.check();
        ctx.report(blockShare, kLmHeadName);
        q.lmHeadOverride = quantizeWeights(kLmHeadName, -1, q.lmHead.matrix(), *outer.lmHead, H, blockShare, 1.0, nullptr);
        // Tied embeddings rounded the same way (RTN, same format: the same matrix,
        // bit for bit) stay one tensor, so a saved checkpoint stays tied.
        if (q.embedOverride && q.lmHead.ref.data == q.embedTokens.ref.data && outer.lmHead->method == QuantMethod::Rtn &&
            outer.lmHead->weight == outer.embedTokens->weight && *q.lmHeadOverride == *q.embedOverride)
            q.lmHeadOverride = q.embedOverride;
        ctx.report(1.0, kLmHeadName);
    };

    if (!needCalib) {
        for (int bi = 0; bi < nBlocks; ++bi) {
            ctx.check();
            auto groups = inputGroups(q.blocks[size_t(bi)], q.config);
            for (size_t gi = 0; gi < groups.size(); ++gi) {
                for (Linear* l : groups[gi].members) {
                    const LayerPlan& p = plans.at(l);
                    if (planned(p)) quantizeLinear(*l, bi, p, nullptr, 0, 0);
                    setActivation(*l, p);
                }
                reportGroup(bi, gi, groups.size(), groups[gi].members);
            }
        }
        quantizeHead(nullptr);
    } else {
        Forward fwd(q);
        const auto tEmbed = Clock::now();
        MatrixRM inps = fwd.embed(calibTokens.data(), N, T);
        res.calibrationSeconds += since(tEmbed);
        const int batch = std::max(1, std::min(N, 4096 / T));  // windows per forward batch
        // Each group's Hessian needs the block only up to the group's input: a
        // hook stops the pass there (StopPass). The state after the attention half
        // (`mid`, all windows) is computed once the attention groups are quantized
        // and serves the MLP groups and the block output, so a block costs about two
        // forward passes instead of one per group plus one.
        struct StopPass {};
        MatrixRM mid;       // [N*T, hidden] after the attention half; becomes the block output
        bool midValid = false;
        auto forBatches = [&](const std::function<void(int64_t r0, int64_t rows, int nb)>& fn) {
            for (int w0 = 0; w0 < N; w0 += batch) {
                ctx.check();
                const int nb = std::min(batch, N - w0);
                fn(int64_t(w0) * T, int64_t(nb) * T, nb);
            }
        };
        auto computeMid = [&](int bi) {
            if (midValid) return;
            mid.resize(inps.rows(), inps.cols());
            forBatches([&](int64_t r0, int64_t rows, int nb) {
                MatrixRM h = inps.middleRows(r0, rows);
                fwd.blockAttention(bi, h, nb, T);
                mid.middleRows(r0, rows) = h;
            });
            midValid = true;
        };
        auto isMlp = [](LinearKind k) { return k == LinearKind::Gate || k == LinearKind::Up || k == LinearKind::Down || k == LinearKind::Fc1 || k == LinearKind::Fc2; };
        for (int bi = 0; bi < nBlocks; ++bi) {
            Block& blk = q.blocks[size_t(bi)];
            auto groups = inputGroups(blk, q.config);
            const auto tt = Clock::now();
            transformBlock(fwd, bi, groups, plans, inps, N, T, info, ctx);
            res.transformSeconds += since(tt);
            midValid = false;
            for (size_t gi = 0; gi < groups.size(); ++gi) {
                const std::vector<Linear*>& todo = groups[gi].members;
                const bool mlpGroup = isMlp(todo.front()->kind);
                // one Hessian per group: its members read the same input
                std::optional<HessianAccumulator> acc;
                std::optional<BoaStats> boa;  // q/k/v with BoA: attention-aware output-side factors
                bool boaQK = false, boaV = false;
                for (Linear* l : todo) {
                    if (plans.at(l).method != QuantMethod::None && !acc) acc.emplace(l->inFeatures);
                    const bool isBoa = plans.at(l).method == QuantMethod::Boa;
                    boaQK = boaQK || (isBoa && (l->kind == LinearKind::Q || l->kind == LinearKind::K));
                    boaV = boaV || (isBoa && l->kind == LinearKind::V);
                }
                if (boaQK || boaV) boa.emplace(q.config, todo.front()->inFeatures, boaV);
                const auto tc = Clock::now();
                if (acc) {
                    const LinearInputHook hook = [&](const Linear& l, const MatrixRM& x) {
                        if (&l != todo.front()) return;
                        acc->add(x, x.rows() / T);
                        if (boa) {
                            MatrixRM qq, kk;
                            fwd.queriesKeys(bi, x, T, qq, kk);
                            boa->add(x, qq, kk, T);
                        }
                        throw StopPass{};
                    };
                    if (mlpGroup) computeMid(bi);
                    forBatches([&](int64_t r0, int64_t rows, int nb) {
                        MatrixRM h = (mlpGroup ? mid : inps).middleRows(r0, rows);
                        try {
                            if (mlpGroup) fwd.blockMlp(bi, h, hook);
                            else fwd.blockAttention(bi, h, nb, T, hook);
                        } catch (const StopPass&) {
                        }
                    });
                }
                res.calibrationSeconds += since(tc);
                const double glo = gi ? groupEnd(bi, gi - 1, groups.size()) : blockStart(bi), ghi = groupEnd(bi, gi, groups.size());
                std::map<LinearKind, BoaFactors> boaFactors;
                if (boa) {
                    boaFactors[LinearKind::Q].row = boa->qRowFactors();
                    boaFactors[LinearKind::K].row = boa->kRowFactors();
                    if (boaV) {
                        boaFactors[LinearKind::V].row = BoaStats::vRowFactors(blk.find(LinearKind::O)->weightMatrix(), q.config);
                        boaFactors[LinearKind::V].col = boa->vColFactors();
                    }
                }
                for (size_t k = 0; k < todo.size(); ++k) {
                    Linear* l = todo[k];
                    const LayerPlan& p = plans.at(l);
                    const double step = (ghi - glo) / double(todo.size());  // each member its share of the group's
                    const auto bf = boaFactors.find(l->kind);
                    boaNow = bf == boaFactors.end() ? nullptr : &bf->second;
                    if (planned(p))
                        quantizeLinear(*l, bi, p, acc ? &acc->hessian() : nullptr, glo + double(k) * step, glo + double(k + 1) * step);
                    boaNow = nullptr;
                    setActivation(*l, p);  // later groups and blocks see quantized activations
                }
                if (!mlpGroup) midValid = false;  // the attention half changed
                reportGroup(bi, gi, groups.size(), todo);
            }
            // outputs of the quantized block feed the next one: the MLP half on `mid`, in place
            const auto tc = Clock::now();
            computeMid(bi);
            forBatches([&](int64_t r0, int64_t rows, int) {
                MatrixRM h = mid.middleRows(r0, rows);
                fwd.blockMlp(bi, h);
                mid.middleRows(r0, rows) = h;
            });
            inps.swap(mid);
            midValid = false;
            res.calibrationSeconds += since(tc);
        }
        if (quantHead) {
            // lm_head's input: the final hidden states of the quantized blocks
            const auto tc = Clock::now();
            HessianAccumulator acc(q.lmHead.logicalCols());
            forBatches([&](int64_t r0, int64_t rows, int nb) { acc.add(fwd.finalHidden(inps.middleRows(r0, rows)), nb); });
            res.calibrationSeconds += since(tc);
            quantizeHead(&acc.hessian());
        } else {
            quantizeHead(nullptr);
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
