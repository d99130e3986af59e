#include "alloc/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include "calib/hessian.h"
#include "eval/forward.h"
#include "quant/transforms.h"
#include "util/error.h"
#include "util/rng.h"

namespace qs {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

QJsonValue num(double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(); }

/// Orthonormal basis of the columns of V (thin QR).
Eigen::MatrixXd orthonormal(const Eigen::MatrixXd& V) {
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(V);
    return qr.householderQ() * Eigen::MatrixXd::Identity(V.rows(), V.cols());
}

Eigen::MatrixXd randomBasis(Eigen::Index n, Eigen::Index m, uint64_t seed) {
    SplitMix64 rng(seed);
    Eigen::MatrixXd V(n, m);
    for (Eigen::Index i = 0; i < V.size(); ++i) V.data()[i] = rng.uniformDouble() - 0.5;
    return orthonormal(V);
}

ChannelStatsReport summarize(const Eigen::VectorXd& absMax, const Eigen::VectorXd& meanAbs, const Eigen::VectorXd& kurt, int topK,
                             bool vectors) {
    ChannelStatsReport r;
    const Eigen::Index n = absMax.size();
    std::vector<double> sorted(absMax.data(), absMax.data() + n);
    std::nth_element(sorted.begin(), sorted.begin() + n / 2, sorted.end());
    double median = sorted[size_t(n / 2)];
    if (n % 2 == 0 && n > 1) {
        const double lower = *std::max_element(sorted.begin(), sorted.begin() + n / 2);
        median = 0.5 * (median + lower);
    }
    const double mx = n ? absMax.maxCoeff() : 0.0;
    r.outlierScore = median > 0 ? mx / median : (mx > 0 ? std::numeric_limits<double>::infinity() : 1.0);
    std::vector<int> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    const int k = int(std::min<Eigen::Index>(topK, n));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
        return absMax[a] != absMax[b] ? absMax[a] > absMax[b] : a < b;
    });
    for (int i = 0; i < k; ++i) r.top.push_back({idx[size_t(i)], absMax[idx[size_t(i)]], meanAbs[idx[size_t(i)]], kurt[idx[size_t(i)]]});
    if (vectors) {
        r.absMax.assign(absMax.data(), absMax.data() + n);
        r.meanAbs.assign(meanAbs.data(), meanAbs.data() + n);
        r.kurtosis.assign(kurt.data(), kurt.data() + n);
    }
    return r;
}

/// Per input column of W [out, in]: max |w|, mean |w|, kurtosis over the rows.
ChannelStatsReport weightStats(const MatrixRM& W, int topK, bool vectors) {
    const Eigen::Index in = W.cols();
    Eigen::VectorXd absMax(in), meanAbs(in), kurt(in);
    const Eigen::MatrixXd Wd = W.cast<double>();
    const double n = double(W.rows());
    for (Eigen::Index c = 0; c < in; ++c) {
        const auto col = Wd.col(c);
        absMax[c] = col.cwiseAbs().maxCoeff();
        meanAbs[c] = col.cwiseAbs().sum() / n;
        const double mu = col.sum() / n;
        const double var = (col.array() - mu).square().sum() / n;
        const double c4 = (col.array() - mu).square().square().sum() / n;
        kurt[c] = var > 0 ? c4 / (var * var) : 0.0;
    }
    return summarize(absMax, meanAbs, kurt, topK, vectors);
}

QJsonObject statsJson(const ChannelStatsReport& s) {
    auto vec = [](const std::vector<float>& v) {
        QJsonArray a;
        for (float x : v) a.append(double(x));
        return a;
    };
    QJsonArray top;
    for (const ChannelSummary& c : s.top)
        top.append(QJsonObject{{QStringLiteral("channel"), c.channel}, {QStringLiteral("absmax"), c.absMax},
                               {QStringLiteral("mean_abs"), c.meanAbs}, {QStringLiteral("kurtosis"), c.kurtosis}});
    QJsonObject o{{QStringLiteral("outlier_score"), num(s.outlierScore)}, {QStringLiteral("top_channels"), top}};
    if (!s.absMax.empty()) {
        o.insert(QStringLiteral("absmax"), vec(s.absMax));
        o.insert(QStringLiteral("mean_abs"), vec(s.meanAbs));
        o.insert(QStringLiteral("kurtosis"), vec(s.kurtosis));
    }
    return o;
}

/// Reading a report back: every access names its JSON path on failure.
struct Reader {
    QString label;
    [[noreturn]] void fail(const QString& path, const QString& what) const {
        throw Error(QStringLiteral("%1: %2: %3").arg(label, path, what));
    }
    QJsonValue at(const QJsonObject& o, const QString& path, const char* key) const {
        if (!o.contains(QLatin1String(key))) fail(path + QLatin1Char('.') + QLatin1String(key), QStringLiteral("missing"));
        return o.value(QLatin1String(key));
    }
    double number(const QJsonObject& o, const QString& path, const char* key, bool nullable = false) const {
        const QJsonValue v = at(o, path, key);
        if (nullable && v.isNull()) return std::numeric_limits<double>::quiet_NaN();
        if (!v.isDouble()) fail(path + QLatin1Char('.') + QLatin1String(key), QStringLiteral("expected a number"));
        return v.toDouble();
    }
    QString string(const QJsonObject& o, const QString& path, const char* key) const {
        const QJsonValue v = at(o, path, key);
        if (!v.isString()) fail(path + QLatin1Char('.') + QLatin1String(key), QStringLiteral("expected a string"));
        return v.toString();
    }
    QJsonArray array(const QJsonObject& o, const QString& path, const char* key) const {
        const QJsonValue v = at(o, path, key);
        if (!v.isArray()) fail(path + QLatin1Char('.') + QLatin1String(key), QStringLiteral("expected an array"));
        return v.toArray();
    }
    QJsonObject object(const QJsonValue& v, const QString& path) const {
        if (!v.isObject()) fail(path, QStringLiteral("expected an object"));
        return v.toObject();
    }
    QuantFormat format(const QJsonObject& o, const QString& path, const char* key) const {
        const QString s = string(o, path, key);
        const auto f = QuantFormat::parse(s.toStdString());
        if (!f) fail(path + QLatin1Char('.') + QLatin1String(key), QStringLiteral("unknown format '%1'").arg(s));
        return *f;
    }
    ChannelStatsReport stats(const QJsonObject& o, const QString& path) const {
        ChannelStatsReport s;
        s.outlierScore = number(o, path, "outlier_score", true);
        const QJsonArray top = array(o, path, "top_channels");
        for (int i = 0; i < top.size(); ++i) {
            const QString p = QStringLiteral("%1.top_channels[%2]").arg(path).arg(i);
            const QJsonObject c = object(top[i], p);
            s.top.push_back({int(number(c, p, "channel")), number(c, p, "absmax"), number(c, p, "mean_abs"), number(c, p, "kurtosis")});
        }
        if (o.contains(QStringLiteral("absmax"))) {
            auto vec = [&](const char* key) {
                std::vector<float> v;
                for (const QJsonValue& x : array(o, path, key)) v.push_back(float(x.toDouble()));
                return v;
            };
            s.absMax = vec("absmax");
            s.meanAbs = vec("mean_abs");
            s.kurtosis = vec("kurtosis");
        }
        return s;
    }
};

}  // namespace

std::vector<QuantFormat> SensitivityOptions::defaultCandidates() {
    std::vector<QuantFormat> c;
    for (const char* f : {"int2-g32", "int2-g64", "int2-g128", "int3-g32", "int3-g64", "int3-g128", "int4-g32", "int4-g64", "int4-g128",
                          "int8-g128"})
        c.push_back(*QuantFormat::parse(f));
    return c;
}

QJsonObject SensitivityOptions::toJson() const {
    QJsonArray c;
    for (const QuantFormat& f : candidates) c.append(QString::fromStdString(f.name()));
    QJsonObject o{{QStringLiteral("candidates"), c},
                  {QStringLiteral("method"), QLatin1String(quantMethodName(method))},
                  {QStringLiteral("top_eigenvalues"), topEigenvalues},
                  {QStringLiteral("top_channels"), topChannels},
                  {QStringLiteral("block_error_tokens"), blockErrorTokens},
                  {QStringLiteral("channel_vectors"), channelVectors}};
    if (method == QuantMethod::Gptq) {
        o.insert(QStringLiteral("damp"), gptq.percDamp);
        o.insert(QStringLiteral("act_order"), gptq.actOrder);
        o.insert(QStringLiteral("static_groups"), gptq.staticGroups);
        o.insert(QStringLiteral("block_size"), gptq.blockSize);
    }
    return o;
}

Spectrum extremalEigenvalues(const Eigen::MatrixXd& H, int k, double shift, Eigen::Index exactUpTo) {
    Spectrum s;
    const Eigen::Index n = H.rows();
    if (n == 0) return s;
    k = int(std::max<Eigen::Index>(1, std::min<Eigen::Index>(k, n)));
    if (n <= exactUpTo) {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(H, Eigen::EigenvaluesOnly);
        if (es.info() != Eigen::Success) throw Error(QStringLiteral("eigenvalue computation did not converge (n = %1)").arg(n));
        const Eigen::VectorXd& ev = es.eigenvalues();  // ascending
        for (int i = 0; i < k; ++i) s.top.push_back(ev[n - 1 - i]);
        s.min = ev[0];
        return s;
    }
    // top k: subspace iteration with oversampling, then Rayleigh-Ritz
    const Eigen::Index m = std::min<Eigen::Index>(n, k + 8);
    Eigen::MatrixXd V = randomBasis(n, m, 0x5eed);
    for (int it = 0; it < 40; ++it) V = orthonormal(H * V);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> small(V.transpose() * H * V, Eigen::EigenvaluesOnly);
    for (int i = 0; i < k; ++i) s.top.push_back(small.eigenvalues()[m - 1 - i]);
    // smallest: inverse subspace iteration on H + shift·I
    const double sh = shift > 0 ? shift : 1e-8 * std::max(H.diagonal().mean(), 1e-30);
    Eigen::MatrixXd Hs = H;
    Hs.diagonal().array() += sh;
    Eigen::LLT<Eigen::MatrixXd> llt(Hs);
    for (int tries = 0; llt.info() != Eigen::Success && tries < 6; ++tries) {  // numerically singular: shift more
        Hs.diagonal().array() += 99.0 * (sh * std::pow(100.0, tries));
        llt.compute(Hs);
    }
    if (llt.info() != Eigen::Success) throw Error(QStringLiteral("the shifted Hessian is not positive definite (n = %1)").arg(n));
    Eigen::MatrixXd U = randomBasis(n, 4, 0xfeed);
    for (int it = 0; it < 40; ++it) U = orthonormal(llt.solve(U));
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> low(U.transpose() * H * U, Eigen::EigenvaluesOnly);
    s.min = low.eigenvalues()[0];
    return s;
}

SensitivityReport analyzeSensitivity(const Model& model, const std::vector<int>& calibTokens, const CalibOptions& calib,
                                     const SensitivityOptions& optIn, const JobContext& ctx, const PplProbe* ppl) {
    const auto t0 = Clock::now();
    SensitivityOptions opt = optIn;
    if (opt.candidates.empty()) opt.candidates = SensitivityOptions::defaultCandidates();
    for (const QuantFormat& f : opt.candidates)
        if (f.kind == FormatKind::None) throw Error(QStringLiteral("sensitivity: the candidate 'fp32' is not a quantized format"));
    if (opt.method != QuantMethod::Rtn && opt.method != QuantMethod::Gptq)
        throw Error(QStringLiteral("sensitivity: the predicted error is made with rtn or gptq"));
    const int T = calib.seqlen;
    if (calibTokens.empty() || T < 1 || calibTokens.size() % size_t(T) != 0)
        throw Error(QStringLiteral("sensitivity needs calibration data: whole windows of %1 tokens (got %2 tokens)").arg(T).arg(calibTokens.size()));
    if (T > model.config.maxPositions)
        throw Error(QStringLiteral("calibration --seqlen %1 exceeds the model's max_position_embeddings %2").arg(T).arg(model.config.maxPositions));
    const int N = int(calibTokens.size() / size_t(T));

    SensitivityReport rep;
    rep.modelPath = model.path.toStdString();
    rep.modelHash = model.contentHash();
    rep.calib = calib;
    rep.options = opt;

    Model q = model;  // overrides are set on this copy, one layer at a time, and removed again
    for (Block& b : q.blocks)
        for (Linear& l : b.linears) l.override.reset(), l.actQuant.reset();
    const Forward fwd(q);
    if (ppl) {
        rep.evalData = ppl->label;
        rep.fpPpl = evaluatePerplexity(q, ppl->tokens, ppl->eval).ppl;
    }

    MatrixRM inps = fwd.embed(calibTokens.data(), N, T);
    const int batch = std::max(1, std::min(N, 4096 / T));
    // the block-error probe: a prefix of P tokens of the first nP windows
    const int P = std::min(T, 512);
    const int nP = opt.blockErrorTokens > 0 ? std::min(N, std::max(1, (opt.blockErrorTokens + P - 1) / P)) : 0;
    auto probeRows = [&](const MatrixRM& all) {
        MatrixRM x(int64_t(nP) * P, all.cols());
        for (int w = 0; w < nP; ++w) x.middleRows(int64_t(w) * P, P) = all.middleRows(int64_t(w) * T, P);
        return x;
    };
    const int nBlocks = int(q.blocks.size());
    for (int bi = 0; bi < nBlocks; ++bi) {
        ctx.check();
        Block& blk = q.blocks[size_t(bi)];
        std::vector<InputGroup> groups = inputGroups(blk, q.config);
        std::map<const Linear*, size_t> leader;  // group's first member -> group index
        for (size_t g = 0; g < groups.size(); ++g) leader[groups[g].members.front()] = g;
        std::vector<HessianAccumulator> acc;
        for (const InputGroup& g : groups) acc.emplace_back(g.members.front()->inFeatures);
        // one pass of the unquantized block over all windows: every group's input, and the next block's input
        MatrixRM next(inps.rows(), inps.cols());
        const LinearInputHook hook = [&](const Linear& l, const MatrixRM& x) {
            if (auto it = leader.find(&l); it != leader.end()) acc[it->second].add(x, x.rows() / T);
        };
        for (int w0 = 0; w0 < N; w0 += batch) {
            ctx.check();
            const int nb = std::min(batch, N - w0);
            MatrixRM h = inps.middleRows(int64_t(w0) * T, int64_t(nb) * T);
            fwd.block(bi, h, nb, T, hook);
            next.middleRows(int64_t(w0) * T, int64_t(nb) * T) = h;
        }
        MatrixRM probeIn, probeOut;
        double probeBase = 0;
        if (nP) {
            probeIn = probeRows(inps);
            probeOut = probeIn;
            fwd.block(bi, probeOut, nP, P);
            probeBase = (probeOut - probeIn).squaredNorm() / double(probeOut.size());
        }
        for (size_t g = 0; g < groups.size(); ++g) {
            const HessianAccumulator& a = acc[g];
            const Eigen::MatrixXd& H = a.hessian();
            const double lambda = opt.gptq.percDamp * H.diagonal().mean();
            // the smallest eigenvalue of H itself: a tiny shift only keeps the inverse
            // iteration's Cholesky defined (λ would hide eigenvalues below it)
            const Spectrum sp = extremalEigenvalues(H, opt.topEigenvalues, 1e-10 * std::max(H.diagonal().mean(), 1e-300));
            const ChannelStatsReport act = summarize(a.absMax(), a.meanAbs(), a.kurtosis(), opt.topChannels, opt.channelVectors);
            for (size_t mi = 0; mi < groups[g].members.size(); ++mi) {
                Linear& l = *groups[g].members[mi];
                ctx.check();
                LayerSensitivity ls;
                ls.name = l.name;
                ls.block = bi;
                ls.kind = linearKindName(l.kind);
                ls.outFeatures = l.outFeatures;
                ls.inFeatures = l.inFeatures;
                ls.traceH = H.trace();
                ls.topEigenvalues = sp.top;
                ls.minEigenvalue = sp.min;
                ls.damp = lambda;
                ls.conditionDamped = (sp.top.front() + lambda) / std::max(sp.min + lambda, 1e-300);
                ls.activations = act;
                const MatrixRM W = l.weightMatrix();
                ls.weights = weightStats(W, opt.topChannels, opt.channelVectors);
                const double base = predictedError(W, MatrixRM::Zero(W.rows(), W.cols()), H);
                for (const QuantFormat& f : opt.candidates) {
                    CandidateCost c;
                    c.format = f;
                    c.bitsPerWeight = f.bitsPerWeight(l.inFeatures);
                    const Quantizer quant(f);
                    auto Wq = std::make_shared<const MatrixRM>(opt.method == QuantMethod::Gptq ? gptqQuantize(W, H, quant, opt.gptq).weight
                                                                                           : quant.fakeQuantize(W));
                    c.predictedError = predictedError(W, *Wq, H);
                    c.relPredictedError = base > 0 ? c.predictedError / base : 0.0;
                    if (nP || ppl) {
                        l.override = Wq;  // only this layer quantized
                        if (nP) {
                            MatrixRM y = probeIn;
                            fwd.block(bi, y, nP, P);
                            const double mse = (y - probeOut).squaredNorm() / double(y.size());
                            c.blockError = probeBase > 0 ? mse / probeBase : mse;
                        }
                        if (ppl) c.pplDelta = evaluatePerplexity(q, ppl->tokens, ppl->eval).ppl - rep.fpPpl;
                        l.override.reset();
                    }
                    ls.candidates.push_back(c);
                }
                rep.layers.push_back(std::move(ls));
                if (mi == 0)  // one entry per distinct input; ratio to the median per-channel max (= score · absMax / max)
                    for (const ChannelSummary& cs : act.top)
                        rep.topOutliers.push_back(
                            {l.name, cs.channel, cs.absMax, act.outlierScore * (cs.absMax / std::max(act.top.front().absMax, 1e-300))});
                ctx.report((double(bi) + double(g + 1) / double(groups.size())) / nBlocks,
                           "block " + std::to_string(bi + 1) + "/" + std::to_string(nBlocks) + ": " + l.name);
            }
        }
        inps.swap(next);
    }
    std::stable_sort(rep.topOutliers.begin(), rep.topOutliers.end(), [](const GlobalOutlier& a, const GlobalOutlier& b) { return a.absMax > b.absMax; });
    if (rep.topOutliers.size() > size_t(opt.topChannels)) rep.topOutliers.resize(size_t(opt.topChannels));
    rep.seconds = since(t0);
    return rep;
}

const LayerSensitivity* SensitivityReport::find(const std::string& name) const {
    for (const LayerSensitivity& l : layers)
        if (l.name == name) return &l;
    return nullptr;
}

QJsonObject SensitivityReport::toJson() const {
    QJsonArray ls;
    for (const LayerSensitivity& l : layers) {
        QJsonArray top, cands;
        for (double e : l.topEigenvalues) top.append(e);
        for (const CandidateCost& c : l.candidates)
            cands.append(QJsonObject{{QStringLiteral("format"), QString::fromStdString(c.format.name())},
                                     {QStringLiteral("bits_per_weight"), c.bitsPerWeight},
                                     {QStringLiteral("predicted_error"), c.predictedError},
                                     {QStringLiteral("rel_predicted_error"), c.relPredictedError},
                                     {QStringLiteral("block_error"), num(c.blockError)},
                                     {QStringLiteral("ppl_delta"), num(c.pplDelta)}});
        ls.append(QJsonObject{
            {QStringLiteral("name"), QString::fromStdString(l.name)},
            {QStringLiteral("block"), l.block},
            {QStringLiteral("kind"), QString::fromStdString(l.kind)},
            {QStringLiteral("out_features"), qint64(l.outFeatures)},
            {QStringLiteral("in_features"), qint64(l.inFeatures)},
            {QStringLiteral("hessian"), QJsonObject{{QStringLiteral("trace"), l.traceH},
                                                    {QStringLiteral("top_eigenvalues"), top},
                                                    {QStringLiteral("min_eigenvalue"), l.minEigenvalue},
                                                    {QStringLiteral("damp"), l.damp},
                                                    {QStringLiteral("condition_number_damped"), num(l.conditionDamped)}}},
            {QStringLiteral("activations"), statsJson(l.activations)},
            {QStringLiteral("weights"), statsJson(l.weights)},
            {QStringLiteral("candidates"), cands}});
    }
    QJsonArray outl;
    for (const GlobalOutlier& o : topOutliers)
        outl.append(QJsonObject{{QStringLiteral("layer"), QString::fromStdString(o.layer)},
                                {QStringLiteral("channel"), o.channel},
                                {QStringLiteral("absmax"), o.absMax},
                                {QStringLiteral("ratio_to_median"), num(o.ratioToMedian)}});
    QJsonObject o{{QStringLiteral("quantscope_sensitivity"), kVersion},
                  {QStringLiteral("model"), QJsonObject{{QStringLiteral("path"), QString::fromStdString(modelPath)},
                                                        {QStringLiteral("content_hash"), QString::fromStdString(modelHash)}}},
                  {QStringLiteral("calibration"), calib.toJson()},
                  {QStringLiteral("options"), options.toJson()},
                  {QStringLiteral("layers"), ls},
                  {QStringLiteral("top_outliers"), outl},
                  {QStringLiteral("seconds"), seconds}};
    if (!evalData.empty()) {
        o.insert(QStringLiteral("eval_data"), QString::fromStdString(evalData));
        o.insert(QStringLiteral("fp_ppl"), num(fpPpl));
    }
    return o;
}

SensitivityReport SensitivityReport::fromJson(const QJsonObject& o, const QString& label) {
    const Reader rd{label};
    SensitivityReport r;
    const double v = rd.number(o, QStringLiteral("report"), "quantscope_sensitivity");
    if (int(v) != kVersion) rd.fail(QStringLiteral("quantscope_sensitivity"), QStringLiteral("unsupported version %1 (this build reads %2)").arg(v).arg(kVersion));
    const QJsonObject m = rd.object(rd.at(o, QStringLiteral("report"), "model"), QStringLiteral("model"));
    r.modelPath = rd.string(m, QStringLiteral("model"), "path").toStdString();
    r.modelHash = rd.string(m, QStringLiteral("model"), "content_hash").toStdString();
    const QJsonObject c = rd.object(rd.at(o, QStringLiteral("report"), "calibration"), QStringLiteral("calibration"));
    r.calib.nsamples = int(rd.number(c, QStringLiteral("calibration"), "nsamples"));
    r.calib.seqlen = int(rd.number(c, QStringLiteral("calibration"), "seqlen"));
    {  // the seed is written as a string (64 bits do not fit a JSON number exactly)
        const QJsonValue sv = rd.at(c, QStringLiteral("calibration"), "seed");
        bool ok = sv.isDouble();
        r.calib.seed = ok ? uint64_t(sv.toDouble()) : sv.toString().toULongLong(&ok);
        if (!ok) rd.fail(QStringLiteral("calibration.seed"), QStringLiteral("expected an unsigned integer"));
    }
    const QJsonObject op = rd.object(rd.at(o, QStringLiteral("report"), "options"), QStringLiteral("options"));
    for (const QJsonValue& f : rd.array(op, QStringLiteral("options"), "candidates")) {
        const auto fmt = QuantFormat::parse(f.toString().toStdString());
        if (!fmt) rd.fail(QStringLiteral("options.candidates"), QStringLiteral("unknown format '%1'").arg(f.toString()));
        r.options.candidates.push_back(*fmt);
    }
    const QString method = rd.string(op, QStringLiteral("options"), "method");
    if (method != QLatin1String("gptq") && method != QLatin1String("rtn"))
        rd.fail(QStringLiteral("options.method"), QStringLiteral("expected \"gptq\" or \"rtn\", found \"%1\"").arg(method));
    r.options.method = method == QLatin1String("gptq") ? QuantMethod::Gptq : QuantMethod::Rtn;
    if (r.options.method == QuantMethod::Gptq) {
        r.options.gptq.percDamp = rd.number(op, QStringLiteral("options"), "damp");
        r.options.gptq.actOrder = rd.at(op, QStringLiteral("options"), "act_order").toBool();
        r.options.gptq.staticGroups = rd.at(op, QStringLiteral("options"), "static_groups").toBool();
        r.options.gptq.blockSize = int(rd.number(op, QStringLiteral("options"), "block_size"));
    }
    r.options.topEigenvalues = int(rd.number(op, QStringLiteral("options"), "top_eigenvalues"));
    r.options.topChannels = int(rd.number(op, QStringLiteral("options"), "top_channels"));
    r.options.blockErrorTokens = int(rd.number(op, QStringLiteral("options"), "block_error_tokens"));
    r.options.channelVectors = rd.at(op, QStringLiteral("options"), "channel_vectors").toBool();
    if (o.contains(QStringLiteral("eval_data"))) {
        r.evalData = o.value(QStringLiteral("eval_data")).toString().toStdString();
        r.fpPpl = rd.number(o, QStringLiteral("report"), "fp_ppl", true);
    }
    r.seconds = o.value(QStringLiteral("seconds")).toDouble();
    const QJsonArray ls = rd.array(o, QStringLiteral("report"), "layers");
    for (int i = 0; i < ls.size(); ++i) {
        const QString p = QStringLiteral("layers[%1]").arg(i);
        const QJsonObject lo = rd.object(ls[i], p);
        LayerSensitivity l;
        l.name = rd.string(lo, p, "name").toStdString();
        l.block = int(rd.number(lo, p, "block"));
        l.kind = rd.string(lo, p, "kind").toStdString();
        l.outFeatures = int64_t(rd.number(lo, p, "out_features"));
        l.inFeatures = int64_t(rd.number(lo, p, "in_features"));
        const QString hp = p + QStringLiteral(".hessian");
        const QJsonObject h = rd.object(rd.at(lo, p, "hessian"), hp);
        l.traceH = rd.number(h, hp, "trace");
        for (const QJsonValue& e : rd.array(h, hp, "top_eigenvalues")) l.topEigenvalues.push_back(e.toDouble());
        l.minEigenvalue = rd.number(h, hp, "min_eigenvalue");
        l.damp = rd.number(h, hp, "damp");
        l.conditionDamped = rd.number(h, hp, "condition_number_damped", true);
        l.activations = rd.stats(rd.object(rd.at(lo, p, "activations"), p + QStringLiteral(".activations")), p + QStringLiteral(".activations"));
        l.weights = rd.stats(rd.object(rd.at(lo, p, "weights"), p + QStringLiteral(".weights")), p + QStringLiteral(".weights"));
        const QJsonArray cs = rd.array(lo, p, "candidates");
        for (int j = 0; j < cs.size(); ++j) {
            const QString cp = QStringLiteral("%1.candidates[%2]").arg(p).arg(j);
            const QJsonObject co = rd.object(cs[j], cp);
            CandidateCost cc;
            cc.format = rd.format(co, cp, "format");
            cc.bitsPerWeight = rd.number(co, cp, "bits_per_weight");
            cc.predictedError = rd.number(co, cp, "predicted_error");
            cc.relPredictedError = rd.number(co, cp, "rel_predicted_error");
            cc.blockError = rd.number(co, cp, "block_error", true);
            cc.pplDelta = rd.number(co, cp, "ppl_delta", true);
            l.candidates.push_back(cc);
        }
        r.layers.push_back(std::move(l));
    }
    const QJsonArray outl = rd.array(o, QStringLiteral("report"), "top_outliers");
    for (int i = 0; i < outl.size(); ++i) {
        const QString p = QStringLiteral("top_outliers[%1]").arg(i);
        const QJsonObject g = rd.object(outl[i], p);
        r.topOutliers.push_back({rd.string(g, p, "layer").toStdString(), int(rd.number(g, p, "channel")), rd.number(g, p, "absmax"),
                                 rd.number(g, p, "ratio_to_median", true)});
    }
    return r;
}

SensitivityReport SensitivityReport::load(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("cannot read sensitivity report '%1': %2").arg(path, f.errorString()));
    QJsonParseError pe;
    const QJsonDocument d = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError || !d.isObject())
        throw Error(QStringLiteral("%1: not a JSON object (%2)").arg(path, pe.errorString()));
    return fromJson(d.object(), path);
}

void SensitivityReport::save(const QString& path) const {
    QSaveFile f(path);
    const QByteArray data = QJsonDocument(toJson()).toJson(QJsonDocument::Compact);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
        throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
}

}  // namespace qs
