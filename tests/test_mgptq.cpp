// Tests of core/alloc/mgptq (MG-PTQ, the graph-network bit allocator) and its
// recipe / pipeline / CLI surface.
//
// Conventions: W [out, in] row-major, H [in, in] = 2/N·XᵀX of inputs X [tokens, in];
// groups of G input columns; bits per weight count scales (fp16) and zero points.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "alloc/allocate.h"
#include "alloc/mgptq.h"
#include "alloc/sensitivity.h"
#include "calib/calibration.h"
#include "calib/hessian.h"
#include "compute/threads.h"
#include "eval/forward.h"
#include "eval/perplexity.h"
#include "model/demo.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;
using mgptq::MatrixRD;

namespace {

QuantFormat fmt(const char* name) { return *QuantFormat::parse(name); }

/// Roughly Gaussian values (sum of 4 uniforms, variance 1).
double gauss(SplitMix64& rng) {
    double s = 0;
    for (int i = 0; i < 4; ++i) s += rng.uniformDouble() - 0.5;
    return s * std::sqrt(3.0);
}

struct Synthetic {
    MatrixRM W;
    Eigen::MatrixXd H;
};

/// W [out, in] and H from correlated inputs X [tokens, in]. Input channels of the
/// groups in `hotGroups` (of `G` columns) are `hotScale` times larger (a large
/// diag(H): the sensitive groups); weights of `outlierGroups` get a few outliers.
Synthetic synthetic(int out, int in, int G, uint64_t seed, const std::set<int>& hotGroups = {}, double hotScale = 1.0,
                    const std::set<int>& outlierGroups = {}, int tokens = 512) {
    SplitMix64 rng(seed);
    Synthetic s;
    s.W.resize(out, in);
    for (int r = 0; r < out; ++r)
        for (int c = 0; c < in; ++c) {
            double v = 0.05 * gauss(rng);
            if (outlierGroups.count(c / G) && (r * 7 + c) % 29 == 0) v *= 12;
            s.W(r, c) = float(v);
        }
    MatrixRM X(tokens, in);
    for (int t = 0; t < tokens; ++t) {
        double f[4];
        for (double& v : f) v = gauss(rng);
        for (int c = 0; c < in; ++c) {
            double v = gauss(rng) + 0.8 * f[c % 4];
            if (hotGroups.count(c / G)) v *= hotScale;
            X(t, c) = float(v);
        }
    }
    HessianAccumulator acc(in);
    acc.add(X, 1);
    s.H = acc.hessian();
    return s;
}

/// Mixed-width RTN of W: group g in groupBits[g] bits (format of `base`).
MatrixRM mixedRtn(const MatrixRM& W, const QuantFormat& base, const std::vector<int>& groupBits) {
    MatrixRM out(W.rows(), W.cols());
    const int G = base.groupSize;
    for (size_t g = 0; g < groupBits.size(); ++g) {
        QuantFormat f = base;
        f.bits = groupBits[g];
        const int c0 = int(g) * G, n = std::min<int>(G, int(W.cols()) - c0);
        out.middleCols(c0, n) = Quantizer(f).fakeQuantize(W.middleCols(c0, n));
    }
    return out;
}

/// Every per-row storage reachable by brute force (small N only), as bits per weight.
std::vector<double> bruteAchievable(int64_t in, const QuantFormat& base, const std::vector<int>& choices) {
    const int N = int((in + base.groupSize - 1) / base.groupSize);
    std::set<double> s;
    std::vector<int> idx(size_t(N), 0);
    for (;;) {
        std::vector<int> bits;
        for (int i : idx) bits.push_back(choices[size_t(i)]);
        s.insert(mixedBitsPerWeight(in, base, bits));
        int p = 0;
        while (p < N && ++idx[size_t(p)] == int(choices.size())) idx[size_t(p++)] = 0;
        if (p == N) break;
    }
    return {s.begin(), s.end()};
}

MgptqOptions opts(double target, std::vector<int> choices = {2, 3, 4}, uint64_t seed = 0) {
    MgptqOptions o;
    o.targetBits = target;
    o.choices = std::move(choices);
    o.seed = seed;
    return o;
}

}  // namespace

class TestMgptq : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gradientMatchesFiniteDifferences();
    void lossModelsAreExact();
    void achievableBitsMatchBruteForce();
    void budgetMetExactly();
    void errorsNameTheProblem();
    void deterministicForASeed();
    void sensitiveGroupsGetMoreBits();
    void beatsUniformGptqAtTheSameBits();
    void gnnReachesTheOptimumOfItsLossModel();
    void gptqLossModelBeatsRtnModel();
    void recipeKeys();
    void pipelineOnTheDemo();
    void cliQuantizeAndAllocate();
    void realLayersOfStories260K();
};

void TestMgptq::gradientMatchesFiniteDifferences() {
    // A small problem with a partial last group (in = 88, G = 16: 5 groups of 16 + 8),
    // both loss models (Rtn has cross-group terms, Gptq is per group).
    const Synthetic s = synthetic(12, 88, 16, 11, {2}, 3.0, {4});
    for (MgptqLoss loss : {MgptqLoss::Rtn, MgptqLoss::Gptq}) {
        MgptqOptions o = opts(3.0);
        o.topK = 2;
        o.loss = loss;
        const mgptq::Problem pr = mgptq::buildProblem(s.W, s.H, fmt("int3-g16"), o);
        QCOMPARE(pr.N, 6);
        QCOMPARE(pr.K, 3);
        QCOMPARE(pr.cross, loss == MgptqLoss::Rtn);
        mgptq::Gnn net(int(pr.X.cols()), 5, pr.K, 7);
        // random parameters of a visible size
        SplitMix64 rng(99);
        for (Eigen::Index i = 0; i < net.params.size(); ++i) net.params(i) = 0.8 * (2 * rng.uniformDouble() - 1);
        // targets inside the reachable range (3.23 .. 5.36 bits per weight)
        for (const auto& [T, target] : std::vector<std::pair<double, double>>{{1.0, 3.6}, {0.6, 3.4}, {0.3, 4.4}}) {
            Eigen::VectorXd grad;
            MatrixRD P;
            mgptq::objective(pr, net, T, target, &grad, &P);
            QCOMPARE(grad.size(), net.params.size());
            // the relaxation meets the budget exactly
            QVERIFY(std::abs(pr.expectedBits(P) - target) < 1e-12);
            double worst = 0;
            for (Eigen::Index i = 0; i < net.params.size(); ++i) {
                const double h = 1e-5, keep = net.params(i);
                net.params(i) = keep + h;
                const double jp = mgptq::objective(pr, net, T, target, nullptr);
                net.params(i) = keep - h;
                const double jm = mgptq::objective(pr, net, T, target, nullptr);
                net.params(i) = keep;
                const double fd = (jp - jm) / (2 * h);
                const double rel = std::abs(fd - grad(i)) / std::max(1e-4, std::abs(fd) + std::abs(grad(i)));
                worst = std::isfinite(rel) ? std::max(worst, rel) : INFINITY;
            }
            const QString what = QStringLiteral("%1 loss, T %2, target %3").arg(QLatin1String(mgptqLossName(loss))).arg(T).arg(target);
            QVERIFY2(worst < 1e-5, qPrintable(what + QStringLiteral(": worst relative gradient error %1").arg(worst)));
            QVERIFY2(grad.norm() > 1e-6, qPrintable(what + QStringLiteral(": |grad| %1").arg(grad.norm())));
        }
    }
}

void TestMgptq::lossModelsAreExact() {
    const Synthetic s = synthetic(20, 100, 32, 5, {1}, 4.0);
    // Rtn: a hard assignment's loss = tr(ΔW H ΔWᵀ) of mixed-width RTN, computed independently
    for (const char* base : {"int3-g32", "int3-sym-g32"}) {
        MgptqOptions o = opts(3.0);
        o.loss = MgptqLoss::Rtn;
        const mgptq::Problem pr = mgptq::buildProblem(s.W, s.H, fmt(base), o);
        QCOMPARE(pr.N, 4);
        for (const std::vector<int>& c : std::vector<std::vector<int>>{{0, 0, 0, 0}, {2, 1, 0, 2}, {1, 2, 2, 0}, {2, 2, 2, 2}}) {
            std::vector<int> bits;
            for (int i : c) bits.push_back(pr.choices[size_t(i)]);
            const double want = predictedError(s.W, mixedRtn(s.W, fmt(base), bits), s.H);
            QVERIFY2(std::abs(pr.hardLoss(c) - want) <= 1e-9 * want, qPrintable(QStringLiteral("%1 vs %2").arg(pr.hardLoss(c)).arg(want)));
            // the expected loss at one-hot p is the same number
            MatrixRD P = MatrixRD::Zero(pr.N, pr.K);
            for (int g = 0; g < pr.N; ++g) P(g, c[size_t(g)]) = 1;
            QVERIFY(std::abs(pr.expectedLoss(P) - want) <= 1e-9 * want);
            QVERIFY(std::abs(pr.expectedBits(P) - mixedBitsPerWeight(100, fmt(base), bits)) < 1e-12);
        }
        QuantFormat lowest = fmt(base);
        lowest.bits = 2;
        QVERIFY(std::abs(pr.lossRef - predictedError(s.W, Quantizer(lowest).fakeQuantize(s.W), s.H)) <= 1e-9 * pr.lossRef);
    }
    // Gptq: every group at width k sums to the uniform GPTQ pass's tr(ΔW (H + λI) ΔWᵀ)
    // = 2 · its loss, also with act-order (static groups) and a dead input column
    Synthetic d = s;
    d.H.row(37).setZero();
    d.H.col(37).setZero();
    for (bool actOrder : {false, true}) {
        GptqOptions go;
        go.actOrder = go.staticGroups = actOrder;
        const mgptq::Problem pr = mgptq::buildProblem(d.W, d.H, fmt("int3-g32"), opts(3.0), go);
        QVERIFY(!pr.cross);
        for (int k = 0; k < 3; ++k) {
            QuantFormat f = fmt("int3-g32");
            f.bits = pr.choices[size_t(k)];
            const GptqResult g = gptqQuantize(d.W, d.H, Quantizer(f), go);
            Eigen::MatrixXd Hd = d.H;
            Hd(37, 37) = 1;
            Hd.diagonal().array() += go.percDamp * Hd.diagonal().mean();
            MatrixRM Wz = d.W;
            Wz.col(37).setZero();
            const double want = predictedError(Wz, g.weight, Hd);
            const double got = pr.hardLoss(std::vector<int>(4, k));
            const QString what = QStringLiteral("act-order %1, width %2: %3 vs %4 (2 x loss %5)").arg(actOrder).arg(f.bits).arg(got).arg(want).arg(2 * g.loss);
            QVERIFY2(std::abs(got - want) <= 1e-8 * want, qPrintable(what));
            QVERIFY2(std::abs(got - 2 * g.loss) <= 1e-8 * want, qPrintable(what));
        }
    }
}

void TestMgptq::achievableBitsMatchBruteForce() {
    struct Case {
        int64_t in;
        const char* base;
        std::vector<int> choices;
    };
    for (const Case& c : std::vector<Case>{{64, "int2-g32", {2, 3, 4}}, {172, "int2-g32", {2, 3, 4}}, {100, "int4-sym-g16", {2, 4, 8}},
                                          {96, "int3-g32", {3}}, {130, "int2-g64", {2, 3, 5, 8}}}) {
        const std::vector<double> got = mgptqAchievableBits(c.in, fmt(c.base), c.choices);
        const std::vector<double> want = bruteAchievable(c.in, fmt(c.base), c.choices);
        QCOMPARE(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] - want[i]) < 1e-12);
    }
    // uniform formats are achievable and agree with QuantFormat::bitsPerWeight
    for (const char* f : {"int2-g32", "int3-g64", "int4-sym-g128"}) {
        const QuantFormat q = fmt(f);
        const std::vector<double> a = mgptqAchievableBits(200, q, {2, 3, 4});
        QVERIFY(std::any_of(a.begin(), a.end(), [&](double v) { return std::abs(v - q.bitsPerWeight(200)) < 1e-12; }));
    }
}

void TestMgptq::budgetMetExactly() {
    struct Case {
        int out, in;
        const char* base;
        std::vector<int> choices;
        double target;
    };
    const std::vector<Case> cases = {
        {16, 256, "int2-sym-g32", {2, 3}, 2.5 + 0.5},        // on the grid: 16/32 scale bits + half the groups at 3
        {16, 256, "int2-sym-g32", {2, 3}, 2.75},             // on the grid: a quarter at 3
        {16, 256, "int2-g32", {2, 3, 4}, 3.0},               // off the grid (asymmetric zero points)
        {16, 200, "int3-g32", {2, 3, 4}, 3.1},               // trailing partial group (200 = 6·32 + 8)
        {16, 200, "int3-sym-g64", {2, 4, 8}, 4.4},           // partial group, sparse widths
        {16, 130, "int2-g64", {2, 3}, 9.0},                  // above the most expensive: everything at 3
        {16, 96, "int2-g32", {2, 3, 4}, 2.0 + 18.0 / 32.0},  // exactly the cheapest
    };
    for (const Case& c : cases) {
        const Synthetic s = synthetic(c.out, c.in, fmt(c.base).groupSize, 3, {1}, 3.0);
        MgptqOptions o = opts(c.target, c.choices);
        o.steps = 60;
        const MgptqAllocation a = mgptqAllocate(s.W, s.H, fmt(c.base), o);
        const std::vector<double> ach = bruteAchievable(c.in, fmt(c.base), c.choices);
        double best = -1;
        for (double v : ach)
            if (v <= c.target + 1e-12) best = std::max(best, v);
        const QString what = QStringLiteral("%1 in=%2 target %3: got %4, best achievable %5").arg(QLatin1String(c.base)).arg(c.in).arg(c.target).arg(a.bitsPerWeight, 0, 'g', 17).arg(best, 0, 'g', 17);
        QVERIFY2(a.bitsPerWeight <= c.target + 1e-12, qPrintable(what));
        QVERIFY2(std::abs(a.bitsPerWeight - best) < 1e-12, qPrintable(what));
        QCOMPARE(a.bitsPerWeight, mixedBitsPerWeight(c.in, fmt(c.base), a.groupBits));
        for (int b : a.groupBits) QVERIFY(std::find(c.choices.begin(), c.choices.end(), b) != c.choices.end());
    }
    // on-grid targets are met with equality (not merely ≤): symmetric g32, {2,3}: bits = 0.5 + mean width
    const Synthetic s = synthetic(16, 256, 32, 4, {0, 3}, 5.0);
    for (int n3 = 0; n3 <= 8; ++n3) {
        const double target = 0.5 + (2.0 * (8 - n3) + 3.0 * n3) / 8.0;
        MgptqOptions o = opts(target, {2, 3});
        o.steps = 40;
        const MgptqAllocation a = mgptqAllocate(s.W, s.H, fmt("int2-sym-g32"), o);
        QCOMPARE(a.bitsPerWeight, target);
        QCOMPARE(int(std::count(a.groupBits.begin(), a.groupBits.end(), 3)), n3);
    }
}

void TestMgptq::errorsNameTheProblem() {
    const Synthetic s = synthetic(8, 64, 32, 1);
    auto message = [&](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error& e) {
            return QString::fromUtf8(e.what());
        }
        return QString();
    };
    QString m = message([&] { mgptqAllocate(s.W, s.H, fmt("int2-g32"), opts(2.5)); });
    QVERIFY2(m.contains(QLatin1String("below the smallest achievable 2.5625")), qPrintable(m));
    m = message([&] { mgptqAllocate(s.W, s.H, fmt("int4"), opts(3.0)); });
    QVERIFY2(m.contains(QLatin1String("grouped integer format")) && m.contains(QLatin1String("int4")), qPrintable(m));
    m = message([&] { mgptqAllocate(s.W, s.H, fmt("mxfp4"), opts(3.0)); });
    QVERIFY2(m.contains(QLatin1String("grouped integer format")), qPrintable(m));
    m = message([&] { mgptqAllocate(s.W, s.H, fmt("int3-g32"), opts(3.0, {4, 3})); });
    QVERIFY2(m.contains(QLatin1String("ascending")), qPrintable(m));
    m = message([&] { mgptqAllocate(s.W, s.H, fmt("int3-g32"), opts(3.0, {2, 9})); });
    QVERIFY2(m.contains(QLatin1String("2..8")), qPrintable(m));
    m = message([&] { mgptqAllocate(s.W, Eigen::MatrixXd::Identity(32, 32), fmt("int3-g32"), opts(3.0)); });
    QVERIFY2(m.contains(QLatin1String("[32 x 32]")) && m.contains(QLatin1String("[8 x 64]")), qPrintable(m));
}

void TestMgptq::deterministicForASeed() {
    const Synthetic s = synthetic(48, 512, 32, 21, {2, 9, 13}, 4.0, {5});
    const MgptqOptions o = opts(3.0, {2, 3, 4}, 7);
    const int keep = qs::threads();
    qs::setThreads(1);
    const MgptqAllocation a1 = mgptqAllocate(s.W, s.H, fmt("int3-g32"), o);
    qs::setThreads(2);
    const MgptqAllocation a2 = mgptqAllocate(s.W, s.H, fmt("int3-g32"), o);
    const MgptqAllocation a3 = mgptqAllocate(s.W, s.H, fmt("int3-g32"), o);
    qs::setThreads(keep);
    QCOMPARE(a1.groupBits, a2.groupBits);
    QCOMPARE(a2.groupBits, a3.groupBits);
    // bit for bit, not merely the same rounding: the trained network's outputs
    QCOMPARE(a1.logits.rows(), 16);
    QVERIFY(a1.logits == a2.logits);
    QVERIFY(a2.logits == a3.logits);
    QCOMPARE(a1.finalObjective, a2.finalObjective);
    QCOMPARE(a1.relaxedBits, a2.relaxedBits);
    // another seed trains another network (its outputs differ) under the same budget
    const MgptqAllocation b = mgptqAllocate(s.W, s.H, fmt("int3-g32"), opts(3.0, {2, 3, 4}, 8));
    QVERIFY(!(b.logits == a1.logits));
    QCOMPARE(b.bitsPerWeight, a1.bitsPerWeight);
}

void TestMgptq::sensitiveGroupsGetMoreBits() {
    // 16 groups of 32; groups 3 and 11 have 6x larger inputs (36x diag(H)), group 7 weight outliers
    const std::set<int> hot = {3, 11};
    const Synthetic s = synthetic(64, 512, 32, 8, hot, 6.0);
    const MgptqAllocation a = mgptqAllocate(s.W, s.H, fmt("int3-g32"), opts(3.0));
    QString bits;
    for (int b : a.groupBits) bits += QString::number(b);
    double hotMean = 0, coldMean = 0;
    int coldMax = 0;
    for (int g = 0; g < 16; ++g) {
        if (hot.count(g)) hotMean += a.groupBits[size_t(g)] / 2.0;
        else coldMean += a.groupBits[size_t(g)] / 14.0, coldMax = std::max(coldMax, a.groupBits[size_t(g)]);
    }
    for (int g : hot) QVERIFY2(a.groupBits[size_t(g)] >= coldMax, qPrintable(bits));
    QVERIFY2(hotMean >= coldMean + 1.0, qPrintable(bits));
    // the chosen assignment is much better under the loss model than spending the bits evenly
    QVERIFY2(a.modelLoss < a.lowestLoss, qPrintable(bits));
}

void TestMgptq::beatsUniformGptqAtTheSameBits() {
    // At exactly the bits of a uniform format (on the MG-PTQ grid, so the comparison
    // is exact), GPTQ with MG-PTQ's widths vs uniform GPTQ, same GPTQ settings.
    struct Case {
        const char* uniform;
        std::vector<int> choices;
        std::set<int> hot;
        double scale;
        std::set<int> outliers;
    };
    for (const Case& c : std::vector<Case>{{"int3-sym-g32", {2, 3, 4}, {3, 11}, 6.0, {}},
                                           {"int3-g32", {2, 3, 4}, {0, 1, 7}, 3.0, {12}},
                                           {"int4-sym-g64", {3, 4, 5}, {5}, 4.0, {2}}}) {
        const QuantFormat u = fmt(c.uniform);
        const Synthetic s = synthetic(64, 512, u.groupSize, 17, c.hot, c.scale, c.outliers);
        const double bits = u.bitsPerWeight(512);
        const MgptqAllocation a = mgptqAllocate(s.W, s.H, u, opts(bits, c.choices));
        QCOMPARE(a.bitsPerWeight, bits);
        const GptqResult mixed = gptqQuantizeMixed(s.W, s.H, a.groupFormats(u), GptqOptions{});
        const double eMixed = predictedError(s.W, mixed.weight, s.H);
        const double eUniform = predictedError(s.W, gptqQuantize(s.W, s.H, Quantizer(u), GptqOptions{}).weight, s.H);
        QVERIFY2(eMixed < eUniform, qPrintable(QStringLiteral("%1: MG-PTQ %2 vs uniform %3").arg(QLatin1String(c.uniform)).arg(eMixed).arg(eUniform)));
    }
}

void TestMgptq::gnnReachesTheOptimumOfItsLossModel() {
    // The default loss model (per-group GPTQ losses) is separable, so an exact DP finds
    // its optimum under the budget: the trained GNN's exact-budget assignment must come
    // close to it (and far below random assignments of the same storage).
    double sum = 0;
    int n = 0;
    for (uint64_t seed : {1, 2, 3}) {
        const Synthetic s = synthetic(64, 512, 32, seed, {1, 5, 9}, 2.0, {3, 12});
        for (double target : {2.9, 3.2, 3.6}) {
            const MgptqAllocation a = mgptqAllocate(s.W, s.H, fmt("int2-g32"), opts(target));
            const double r = a.modelLoss / a.separableOptimumLoss;
            QVERIFY2(r >= 1 - 1e-12 && r < 1.10, qPrintable(QStringLiteral("seed %1 target %2: GNN / optimum %3").arg(seed).arg(target).arg(r)));
            sum += r, ++n;
            // random assignments of the same storage are far worse under the model
            const mgptq::Problem pr = mgptq::buildProblem(s.W, s.H, fmt("int2-g32"), opts(target));
            SplitMix64 rng(seed * 31 + n);
            double rnd = 0;
            for (int t = 0; t < 8; ++t) {
                MatrixRD sc(pr.N, pr.K);
                for (int g = 0; g < pr.N; ++g)
                    for (int k = 0; k < pr.K; ++k) sc(g, k) = rng.uniformDouble();
                rnd += pr.hardLoss(mgptq::exactBudgetAssignment(pr, target, sc)) / 8;
            }
            QVERIFY2(a.modelLoss < 0.8 * rnd, qPrintable(QStringLiteral("seed %1 target %2: GNN %3 vs random %4").arg(seed).arg(target).arg(a.modelLoss).arg(rnd)));
        }
    }
    std::printf("GNN's loss / the loss model's optimum over 9 synthetic cases: mean %.4f\n", sum / n);
    QVERIFY2(sum / n < 1.03, qPrintable(QStringLiteral("mean GNN / optimum %1").arg(sum / n)));
}

void TestMgptq::gptqLossModelBeatsRtnModel() {
    // The error after the mixed GPTQ pass with the widths chosen on each loss model
    // (same matrices, budgets and GNN settings).
    double eGptq = 0, eRtn = 0;
    for (uint64_t seed : {4, 5}) {
        const Synthetic s = synthetic(64, 512, 32, seed, {2, 7, 11}, 2.5, {4, 13});
        for (double target : {3.0, 3.4}) {
            for (MgptqLoss loss : {MgptqLoss::Gptq, MgptqLoss::Rtn}) {
                MgptqOptions o = opts(target);
                o.loss = loss;
                const MgptqAllocation a = mgptqAllocate(s.W, s.H, fmt("int2-g32"), o);
                const double e = predictedError(s.W, gptqQuantizeMixed(s.W, s.H, a.groupFormats(fmt("int2-g32")), GptqOptions{}).weight, s.H);
                (loss == MgptqLoss::Gptq ? eGptq : eRtn) += e;
            }
        }
    }
    std::printf("tr(dW H dW^T) after mixed GPTQ, 4 synthetic cases: widths from the gptq loss model %.4g, from the rtn model %.4g\n", eGptq, eRtn);
    QVERIFY2(eGptq < eRtn, qPrintable(QStringLiteral("gptq model %1 vs rtn model %2").arg(eGptq).arg(eRtn)));
}

void TestMgptq::recipeKeys() {
    auto parse = [](const QByteArray& json) { return Recipe::parse(json, QStringLiteral("r.json")); };
    auto problems = [&](const QByteArray& json) {
        try {
            parse(json);
        } catch (const Error& e) {
            return QString::fromUtf8(e.what());
        }
        return QString();
    };
    const QByteArray good =
        "{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 2.5, "
        "\"mgptq_choices\": [4, 2, 3], \"damp\": 0.02},"
        " \"layers\": [{\"match\": \"*.down_proj\", \"mgptq_bits\": 3.25, \"mgptq_seed\": 5, \"mgptq_loss\": \"rtn\"},"
        "              {\"match\": \"*.q_proj\", \"method\": \"gptq\", \"wformat\": \"int4-g128\"},"
        "              {\"match\": \"*.k_proj\", \"method\": \"awq+mgptq\", \"wformat\": \"int3-sym-g32\", \"mgptq_bits\": 3.0, \"mgptq_choices\": [3, 4]}]}";
    const Recipe r = parse(good);
    const LayerPlan d = r.planFor("model.layers.0.mlp.up_proj");
    QCOMPARE(d.method, QuantMethod::Mgptq);
    QCOMPARE(d.weight, fmt("int2-g64"));
    QCOMPARE(d.mgptq.targetBits, 2.5);
    QCOMPARE(d.mgptq.choices, (std::vector<int>{2, 3, 4}));  // kept ascending
    QCOMPARE(d.mgptq.seed, uint64_t(0));
    QCOMPARE(d.mgptq.loss, MgptqLoss::Gptq);
    QCOMPARE(d.gptq.percDamp, 0.02);
    const LayerPlan down = r.planFor("model.layers.3.mlp.down_proj");
    QCOMPARE(down.method, QuantMethod::Mgptq);
    QCOMPARE(down.mgptq.targetBits, 3.25);
    QCOMPARE(down.mgptq.seed, uint64_t(5));
    QCOMPARE(down.mgptq.loss, MgptqLoss::Rtn);
    QCOMPARE(r.planFor("model.layers.1.self_attn.q_proj").method, QuantMethod::Gptq);
    const LayerPlan k = r.planFor("model.layers.1.self_attn.k_proj");
    QVERIFY(k.awq);
    QCOMPARE(k.mgptq.choices, (std::vector<int>{3, 4}));
    QVERIFY(usesGptq(QuantMethod::Mgptq));
    // canonical round trip
    const QJsonObject j = r.toJson();
    const Recipe back = parse(QJsonDocument(j).toJson());
    QVERIFY(back == r);
    QCOMPARE(back.toJson(), j);
    QCOMPARE(j["defaults"].toObject()["mgptq_bits"].toDouble(), 2.5);
    QCOMPARE(j["defaults"].toObject()["mgptq_choices"].toArray(), (QJsonArray{2, 3, 4}));
    QCOMPARE(j["defaults"].toObject()["mgptq_loss"].toString(), QStringLiteral("gptq"));
    // fromUniform / planJson / fromLayerPlans keep the MG-PTQ keys
    LayerPlan u = d;
    const Recipe uni = Recipe::fromUniform(u, CalibOptions{});
    QCOMPARE(parse(uni.toJsonBytes()).defaults().mgptq, u.mgptq);
    LayerPlan g = defaultRecipePlan();
    g.mgptq.targetBits = 7;  // ignored (and not written) when the method is not mgptq
    QVERIFY(!Recipe::fromUniform(g, CalibOptions{}).toJson()["defaults"].toObject().contains(QStringLiteral("mgptq_bits")));
    LayerPlan v = d;
    v.mgptq.targetBits = 3.75;
    const Recipe fl = Recipe::fromLayerPlans({{"a", 100, d}, {"b", 10, v}}, Recipe{});
    QCOMPARE(fl.planFor("a").mgptq.targetBits, 2.5);
    QCOMPARE(fl.planFor("b").mgptq.targetBits, 3.75);
    QCOMPARE(fl.toJson()["layers"].toArray()[0].toObject().keys(), (QStringList{"match", "mgptq_bits"}));

    // errors name the key and what was expected
    struct Case {
        QByteArray json;
        const char* expect;
    };
    const QList<Case> cases = {
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\"}}",
         "r.json: defaults.mgptq_bits: missing; method mgptq needs the average bits per weight"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"mgptq_bits\": 3}}",
         "defaults.wformat: missing (the built-in int4 has no groups); method mgptq allocates bits per group"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"mxfp4\", \"mgptq_bits\": 3}}",
         "defaults.wformat: 'mxfp4' does not suit: method mgptq allocates bits per group of input columns"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"gptq\", \"mgptq_bits\": 3}}",
         "defaults.mgptq_bits: applies to methods with mgptq only, but defaults.method is gptq"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 0}}",
         "defaults.mgptq_bits: expected the average bits per weight (scales included), a number in (0, 32], found 0"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3, \"mgptq_choices\": [2, 9]}}",
         "defaults.mgptq_choices: expected a non-empty array of distinct bit widths in 2..8 (e.g. [2, 3, 4]), found 9 in the array"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3, \"mgptq_choices\": [3, 3]}}",
         "defaults.mgptq_choices: expected a non-empty array of distinct bit widths in 2..8 (e.g. [2, 3, 4]); 3 appears twice"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3, \"mgptq_choices\": \"2,3\"}}",
         "defaults.mgptq_choices: expected a non-empty array of distinct bit widths in 2..8 (e.g. [2, 3, 4]), found \"2,3\""},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3, \"mgptq_loss\": \"l2\"}}",
         "defaults.mgptq_loss: expected \"gptq\" or \"rtn\", found \"l2\""},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3, \"act_order\": true}}",
         "defaults.act_order: method mgptq with act_order needs \"static_groups\": true"},
        {"{\"quantscope_recipe\": 1, \"layers\": [{\"match\": \"*\", \"method\": \"mgptq\", \"wformat\": \"int3-g32\"}]}",
         "layers[0].mgptq_bits: missing; method mgptq needs the average bits per weight"},
        {"{\"quantscope_recipe\": 1, \"layers\": [{\"match\": \"*\", \"mgptq_bitz\": 3}]}", "did you mean \"mgptq_bits\"?"},
        {"{\"quantscope_recipe\": 1, \"layers\": [{\"match\": \"*\", \"method\": \"rtn\", \"mgptq_seed\": 3}]}",
         "layers[0].mgptq_seed: applies to methods with mgptq only, but layers[0].method is rtn"},
        {"{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3}, "
         "\"lm_head\": {\"method\": \"mgptq\", \"wformat\": \"int8-g128\"}}",
         "lm_head.method: MG-PTQ applies to the linears of the decoder blocks; expected rtn, gptq or none"},
    };
    for (const Case& c : cases) {
        const QString m = problems(c.json);
        QVERIFY2(m.contains(QLatin1String(c.expect)), qPrintable(QString::fromUtf8(c.json) + QStringLiteral("\n -> ") + m));
    }
    // an override that names only mgptq_bits inherits the method from the defaults; lm_head
    // without a method rounds with GPTQ (MG-PTQ's widths are per decoder layer)
    const Recipe inh = parse("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"mgptq\", \"wformat\": \"int2-g64\", \"mgptq_bits\": 3},"
                             " \"layers\": [{\"match\": \"*.layers.0.*\", \"method\": \"mgptq\"}], \"lm_head\": {\"wformat\": \"int8-g128\"}}");
    QCOMPARE(inh.planFor("model.layers.0.mlp.up_proj").mgptq.targetBits, 3.0);
    QCOMPARE(inh.outerPlans().lmHead->method, QuantMethod::Gptq);
}

namespace {
const Demo& demoModel() {
    static Demo d = makeDemo(DemoOptions{.sampleWindows = 6});
    return d;
}
CalibOptions demoCalib() {
    CalibOptions c;
    c.nsamples = 2;
    c.seqlen = 128;
    c.seed = 1;
    return c;
}
}  // namespace

void TestMgptq::pipelineOnTheDemo() {
    const Demo& d = demoModel();
    const std::vector<int> toks = sampleCalibration(d.tokenizer->encodeForModel(d.evalText), demoCalib());
    // down_proj (688 inputs: 10 groups of 64 and one of 48) with MG-PTQ at 2.75 bits, the
    // rest RTN int3-g64
    LayerPlan mg = defaultRecipePlan();
    mg.method = QuantMethod::Mgptq;
    mg.weight = fmt("int2-g64");
    mg.mgptq.targetBits = 2.75;
    mg.mgptq.steps = 150;
    LayerPlan gp = defaultRecipePlan();
    gp.method = QuantMethod::Rtn;
    gp.weight = fmt("int3-g64");
    const PlanFn plan = [&](const Linear& l) { return l.kind == LinearKind::Down ? mg : gp; };
    const QuantizeResult r = quantizeModel(*d.model, toks, demoCalib(), plan);
    double bits = 0;
    int64_t params = 0, mgLayers = 0;
    for (const LayerResult& l : r.layers) {
        bits += l.bitsPerWeight * double(l.params);
        params += l.params;
        QVERIFY(std::isfinite(l.relOutputError) && l.relOutputError > 0);
        QCOMPARE(l.gptqLoss == l.gptqLoss, l.method == QuantMethod::Mgptq);  // GPTQ ran on the MG-PTQ layers only
        const QJsonObject j = l.toJson();
        if (l.method != QuantMethod::Mgptq) {
            QVERIFY(l.groupBits.empty() && !j.contains(QStringLiteral("group_bits")));
            continue;
        }
        ++mgLayers;
        const int64_t in = 688;
        QCOMPARE(l.params, int64_t(256 * 688));
        // the largest achievable value <= the target, and the histogram adds up
        const std::vector<double> ach = mgptqAchievableBits(in, mg.weight, mg.mgptq.choices);
        double best = 0;
        for (double v : ach)
            if (v <= 2.75 + 1e-12) best = v;
        QCOMPARE(l.bitsPerWeight, best);
        int64_t groups = 0;
        double sumBits = 0;
        for (const auto& [b, n] : l.groupBits) groups += n, sumBits += double(b) * double(n);
        QCOMPARE(groups, (in + 63) / 64);
        QVERIFY2(l.groupBits.size() >= 2, qPrintable(QString::fromStdString(l.name)));  // the layer mixes widths
        QCOMPARE(j["method"].toString(), QStringLiteral("mgptq"));
        QCOMPARE(j["group_bits"].toObject().size(), int(l.groupBits.size()));
        QCOMPARE(j["mgptq_target_bits"].toDouble(), 2.75);
        QCOMPARE(j["mgptq_loss_model"].toString(), QStringLiteral("gptq"));
        QVERIFY(j["mgptq_model_loss_vs_separable_optimum"].toDouble() >= 1.0 - 1e-12);
    }
    QCOMPARE(mgLayers, int64_t(6));
    QCOMPARE(r.quantizedParams, params);
    QVERIFY(std::abs(r.avgBits - bits / double(params)) < 1e-12);

    // an unachievable target is reported with the layer's name before any calibration
    LayerPlan low = mg;
    low.mgptq.targetBits = 2.2;
    try {
        quantizeModel(*d.model, toks, demoCalib(), [&](const Linear&) { return low; });
        QFAIL("expected an error");
    } catch (const Error& e) {
        const QString m = QString::fromUtf8(e.what());
        QVERIFY2(m.contains(QLatin1String("layer 'model.layers.0.self_attn.q_proj': mgptq_bits 2.2 is below the smallest achievable 2.2812 bits "
                                          "per weight for 256 inputs (every group int2-g64)")), qPrintable(m));
    }
    LayerPlan noGroups = mg;
    noGroups.weight = fmt("int3");
    QVERIFY_THROWS_EXCEPTION(Error, quantizeModel(*d.model, toks, demoCalib(), [&](const Linear&) { return noGroups; }));
}

void TestMgptq::cliQuantizeAndAllocate() {
    QTemporaryDir dir;
    const QString model = dir.filePath(QStringLiteral("demo"));
    writeDemo(demoModel(), model);
    const QString text = model + QStringLiteral("/eval.txt");
    auto cli = [](const QStringList& a) { return qs::test::runCli(a + QStringList{"--threads", "2", "--no-db"}); };
    // quantize --method mgptq
    auto r = cli({"quantize", "--model", model, "--calib", text, "--nsamples", "2", "--seqlen", "64", "--method", "mgptq",
                  "--mgptq-bits", "3.0", "--mgptq-choices", "2,3,4", "--group", "64", "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QVERIFY(o["avg_bits"].toDouble() <= 3.0 + 1e-12);
    QVERIFY(o["avg_bits"].toDouble() > 2.75);  // 256 inputs in groups of 64: the largest level <= 3 is 2.79
    const QJsonObject rd = o["recipe"].toObject()["defaults"].toObject();
    QCOMPARE(rd["method"].toString(), QStringLiteral("mgptq"));
    QCOMPARE(rd["mgptq_bits"].toDouble(), 3.0);
    for (const QJsonValue& l : o["layers"].toArray()) QVERIFY(l.toObject().contains(QStringLiteral("group_bits")));
    // allocate --method mgptq from a sensitivity report, then quantize with its recipe
    const QString rep = dir.filePath(QStringLiteral("rep.json")), recipe = dir.filePath(QStringLiteral("r.json"));
    r = cli({"sensitivity", "--model", model, "--calib", text, "--nsamples", "2", "--seqlen", "64", "--candidates", "2,3,4",
             "--group", "64", "--block-error-tokens", "128", "--out", rep});
    QVERIFY2(r.code == 0, r.err.constData());
    r = cli({"allocate", "--report", rep, "--budget", "2.8", "--method", "mgptq", "--group", "64", "--out", recipe, "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(o["method"].toString(), QStringLiteral("mgptq"));
    QCOMPARE(o["cost"].toString(), QStringLiteral("block"));
    const double planned = o["avg_bits"].toDouble();
    QVERIFY(planned <= 2.8 && planned > 2.7);
    const Recipe rr = Recipe::load(recipe);
    QCOMPARE(rr.defaults().method, QuantMethod::Mgptq);
    r = cli({"quantize", "--model", model, "--calib", text, "--recipe", recipe, "--json"});  // the report's calibration (2 x 64)
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(std::abs(QJsonDocument::fromJson(r.out).object()["avg_bits"].toDouble() - planned) < 1e-9);
    // uniform targets
    r = cli({"allocate", "--report", rep, "--budget", "2.8", "--method", "mgptq", "--group", "64", "--mgptq-targets", "uniform",
             "--out", recipe, "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    QCOMPARE(Recipe::load(recipe).planFor("model.layers.2.mlp.down_proj").mgptq.targetBits, 2.8);

    struct Case {
        QStringList args;
        const char* expect;
    };
    const QList<Case> cases = {
        {{"quantize", "--model", model, "--calib", text, "--method", "mgptq", "--group", "64"}, "--method mgptq needs --mgptq-bits B"},
        {{"quantize", "--model", model, "--calib", text, "--method", "mgptq", "--mgptq-bits", "3"}, "give --group G (e.g. --group 64)"},
        {{"quantize", "--model", model, "--calib", text, "--method", "gptq", "--mgptq-bits", "3"}, "apply to --method mgptq"},
        {{"quantize", "--model", model, "--calib", text, "--method", "mgptq", "--mgptq-bits", "3", "--group", "64", "--mgptq-choices", "2,9"},
         "--mgptq-choices: expected bit widths in 2..8"},
        {{"quantize", "--model", model, "--calib", text, "--method", "mgptq", "--mgptq-bits", "2.1", "--group", "64"},
         "mgptq_bits 2.1 is below the smallest achievable 2.2812"},
        {{"quantize", "--model", model, "--calib", text, "--recipe", recipe, "--mgptq-bits", "3"}, "--recipe cannot be combined with --mgptq-bits"},
        {{"allocate", "--report", rep, "--budget", "2.8", "--method", "mgptq", "--group", "32", "--out", recipe},
         "the sensitivity report has no candidate int2-g32"},
        {{"allocate", "--report", rep, "--budget", "2.1", "--method", "mgptq", "--group", "64", "--out", recipe}, "below the cheapest assignment"},
        {{"allocate", "--report", rep, "--budget", "2.1", "--method", "mgptq", "--group", "64", "--mgptq-targets", "uniform", "--out", recipe},
         "is below the smallest achievable"},
        {{"allocate", "--report", rep, "--budget", "3", "--group", "64", "--out", recipe}, "--group applies to allocate --method mgptq"},
    };
    for (const Case& c : cases) {
        const auto e = cli(c.args);
        QVERIFY2(e.code == 2, qPrintable(c.args.join(' ') + QStringLiteral(" -> %1: ").arg(e.code) + e.err));
        QVERIFY2(e.err.contains(c.expect), qPrintable(c.args.join(' ') + QStringLiteral(": ") + e.err));
    }
}

void TestMgptq::realLayersOfStories260K() {
    // The down_proj layers of stories260K (172 inputs: groups of 32, the last of 12)
    // with their Hessians from the float model on the calibration half of TinyStories:
    // GPTQ with MG-PTQ's widths vs random assignments of the same storage at two
    // budgets, and vs uniform int3-g32 at exactly its bits (where MG-PTQ may keep the
    // uniform assignment: it is one of the candidates).
    QS_REQUIRE_SHARED(shared);
    const test::HeldOutSplit sp = test::stories260KHeldOut(shared, 16, 256);
    Forward fwd(*sp.model);
    const int T = 256, N = 16;
    MatrixRM h = fwd.embed(sp.calibTokens.data(), N, T);
    std::map<std::string, HessianAccumulator> acc;
    for (int bi = 0; bi < int(sp.model->blocks.size()); ++bi)
        fwd.block(bi, h, N, T, [&](const Linear& l, const MatrixRM& x) {
            if (l.kind != LinearKind::Down) return;
            acc.try_emplace(l.name, l.inFeatures).first->second.add(x, N);
        });
    QCOMPARE(int(acc.size()), 5);
    const QuantFormat u = fmt("int3-g32");
    double eMg = 0, eUni = 0, eRand = 0, eMg2 = 0, eRand2 = 0;
    for (const Block& b : sp.model->blocks)
        for (const Linear& l : b.linears) {
            if (l.kind != LinearKind::Down) continue;
            const MatrixRM W = l.weightMatrix();
            const Eigen::MatrixXd& H = acc.at(l.name).hessian();
            const double bits = u.bitsPerWeight(W.cols());
            const MgptqAllocation a = mgptqAllocate(W, H, u, opts(bits));
            QCOMPARE(a.bitsPerWeight, bits);
            eMg += predictedError(W, gptqQuantizeMixed(W, H, a.groupFormats(u), GptqOptions{}).weight, H);
            eUni += predictedError(W, gptqQuantize(W, H, Quantizer(u), GptqOptions{}).weight, H);
            auto random = [&](double target) {
                const mgptq::Problem pr = mgptq::buildProblem(W, H, u, opts(target));
                SplitMix64 rng(7);
                double e = 0;
                for (int t = 0; t < 4; ++t) {
                    MatrixRD sc(pr.N, pr.K);
                    for (int g = 0; g < pr.N; ++g)
                        for (int k = 0; k < pr.K; ++k) sc(g, k) = rng.uniformDouble();
                    MgptqAllocation ra;
                    for (int c : mgptq::exactBudgetAssignment(pr, target, sc)) ra.groupBits.push_back(pr.choices[size_t(c)]);
                    e += predictedError(W, gptqQuantizeMixed(W, H, ra.groupFormats(u), GptqOptions{}).weight, H) / 4;
                }
                return e;
            };
            eRand += random(bits);
            // 3.1628 bits: two groups at 3 (or one at 4), the others at 2
            const MgptqAllocation a2 = mgptqAllocate(W, H, u, opts(3.17));
            QVERIFY(std::abs(a2.bitsPerWeight - 3.1627906976744184) < 1e-12);
            eMg2 += predictedError(W, gptqQuantizeMixed(W, H, a2.groupFormats(u), GptqOptions{}).weight, H);
            eRand2 += random(3.17);
        }
    std::printf("stories260K down_proj, tr(dW H dW^T) summed over 5 layers: at %.4f bits MG-PTQ %.4g, uniform int3-g32 %.4g, random %.4g; "
                "at 3.1628 bits MG-PTQ %.4g, random %.4g\n", u.bitsPerWeight(172), eMg, eUni, eRand, eMg2, eRand2);
    QVERIFY2(eMg <= eUni * (1 + 1e-12), qPrintable(QStringLiteral("MG-PTQ %1 vs uniform %2").arg(eMg).arg(eUni)));
    QVERIFY2(eMg < 0.8 * eRand, qPrintable(QStringLiteral("MG-PTQ %1 vs random %2").arg(eMg).arg(eRand)));
    QVERIFY2(eMg2 < 0.95 * eRand2, qPrintable(QStringLiteral("MG-PTQ %1 vs random %2").arg(eMg2).arg(eRand2)));
}

QTEST_GUILESS_MAIN(TestMgptq)
#include "test_mgptq.moc"
