// core/alloc: the sensitivity report (predicted error = tr(ΔW H ΔWᵀ) computed
// independently, spectra, kurtosis, planted outliers found, JSON round trip) and
// the budgeted allocation (knapsack = brute force, budget always met, Pareto
// frontier optimal at each point, recipe output that quantizes as allocated).
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include <Eigen/Eigenvalues>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

#include "alloc/allocate.h"
#include "alloc/sensitivity.h"
#include "calib/calibration.h"
#include "calib/hessian.h"
#include "eval/forward.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/hf_loader.h"
#include "model/demo.h"
#include "model/tokenizer.h"
#include "quant/pipeline.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;

namespace {

const Demo& demo() {
    static Demo d = makeDemo(DemoOptions{.sampleWindows = 6});
    return d;
}

CalibOptions smallCalib() {
    CalibOptions c;
    c.nsamples = 6;
    c.seqlen = 256;
    c.seed = 3;
    return c;
}

std::vector<int> calibTokens() {
    const Demo& d = demo();
    return sampleCalibration(d.tokenizer->encodeForModel(d.evalText), smallCalib());
}

/// The RTN report of the demo, computed once.
const SensitivityReport& rtnReport() {
    static SensitivityReport r = [] {
        SensitivityOptions o;
        o.method = QuantMethod::Rtn;
        o.blockErrorTokens = 1024;
        for (const char* f : {"int2-g128", "int3-g128", "int4-g128", "int8-g128"}) o.candidates.push_back(*QuantFormat::parse(f));
        return analyzeSensitivity(*demo().model, calibTokens(), smallCalib(), o);
    }();
    return r;
}

/// Random small instance: integer-ish costs, budgets small enough that the DP's unit is 1 bit.
std::vector<AllocItem> randomItems(uint64_t seed, int layers, int choices) {
    SplitMix64 rng(seed);
    const double bpw[] = {2.25, 3.125, 4.5, 8.0, 6.0};
    std::vector<AllocItem> items;
    for (int i = 0; i < layers; ++i) {
        AllocItem it;
        it.name = "layer" + std::to_string(i);
        it.params = 8 * (1 + int64_t(rng.next() % 12));
        for (int c = 0; c < choices; ++c)
            it.choices.push_back({*QuantFormat::parse("int4"), bpw[c], double(rng.next() % 1000) / 7.0 / double(c + 1)});
        items.push_back(it);
    }
    return items;
}

/// Exhaustive search: min Σ error with Σ bits <= budget.
double bruteForce(const std::vector<AllocItem>& items, int64_t budgetBits, int64_t* bitsOut = nullptr) {
    double best = std::numeric_limits<double>::infinity();
    std::vector<size_t> pick(items.size(), 0);
    std::function<void(size_t, int64_t, double)> go = [&](size_t i, int64_t bits, double err) {
        if (bits > budgetBits) return;
        if (i == items.size()) {
            if (err < best) {
                best = err;
                if (bitsOut) *bitsOut = bits;
            }
            return;
        }
        for (size_t c = 0; c < items[i].choices.size(); ++c) go(i + 1, bits + items[i].costBits(c), err + items[i].choices[c].error);
    };
    go(0, 0, 0.0);
    return best;
}

int64_t params(const std::vector<AllocItem>& items) {
    int64_t p = 0;
    for (const auto& it : items) p += it.params;
    return p;
}

}  // namespace

class TestAlloc : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void knapsackEqualsBruteForce() {
        for (uint64_t seed = 1; seed <= 40; ++seed) {
            const auto items = randomItems(seed, 3 + int(seed % 5), 2 + int(seed % 3));
            const int64_t P = params(items);
            for (double budget : {2.3, 2.9, 3.5, 4.4, 6.0, 9.0}) {
                const int64_t budgetBits = int64_t(std::floor(budget * double(P) + 1e-6));
                const double want = bruteForce(items, budgetBits);
                if (!std::isfinite(want)) {
                    QVERIFY_THROWS_EXCEPTION(Error, allocateKnapsack(items, budget));
                    continue;
                }
                const Allocation a = allocateKnapsack(items, budget);
                QCOMPARE(a.unitBits, int64_t(1));
                QVERIFY2(std::abs(a.error - want) <= 1e-9 * std::max(1.0, want),
                         qPrintable(QStringLiteral("seed %1 budget %2: dp %3, brute force %4").arg(seed).arg(budget).arg(a.error).arg(want)));
                QVERIFY(a.bits <= budgetBits);
                QVERIFY(a.avgBits <= budget + 1e-12);
                // the reported totals are those of the chosen choices
                double e = 0;
                int64_t b = 0;
                for (size_t i = 0; i < items.size(); ++i) e += items[i].choices[size_t(a.choice[i])].error, b += items[i].costBits(size_t(a.choice[i]));
                QCOMPARE(b, a.bits);
                QVERIFY(std::abs(e - a.error) < 1e-9 * std::max(1.0, e));
            }
        }
    }

    /// A coarse grid (unit > 1 bit) never exceeds the budget and is never better than the optimum.
    void coarseResolutionMeetsTheBudget() {
        for (uint64_t seed = 100; seed < 120; ++seed) {
            const auto items = randomItems(seed, 7, 4);
            const int64_t P = params(items);
            for (double budget : {3.0, 4.0, 5.5}) {
                const int64_t budgetBits = int64_t(std::floor(budget * double(P) + 1e-6));
                const double opt = bruteForce(items, budgetBits);
                if (!std::isfinite(opt)) continue;
                const Allocation a = allocateKnapsack(items, budget, 16);
                QVERIFY(a.bits <= budgetBits);
                QVERIFY(a.error >= opt - 1e-9);
            }
        }
    }

    void budgetEdges() {
        const auto items = randomItems(7, 5, 3);
        try {
            allocateKnapsack(items, 1.0);
            QFAIL("a budget below the cheapest assignment must be refused");
        } catch (const Error& e) {
            QVERIFY2(QString::fromLatin1(e.what()).contains(QStringLiteral("below the cheapest assignment (2.2500")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, allocateKnapsack(items, -3));
        QVERIFY_THROWS_EXCEPTION(Error, allocateKnapsack({}, 3));
        // a generous budget: every layer takes its least-error choice
        const Allocation a = allocateKnapsack(items, 100.0);
        for (size_t i = 0; i < items.size(); ++i) {
            double best = std::numeric_limits<double>::infinity();
            for (const auto& c : items[i].choices) best = std::min(best, c.error);
            QCOMPARE(items[i].choices[size_t(a.choice[i])].error, best);
        }
    }

    /// Model-sized parameter counts: a budget just above the cheapest assignment and
    /// a frontier whose choices all cost the same stay small (the DP counts bits above
    /// each layer's cheapest choice) and exact.
    void largeModelsNearTheMinimum() {
        auto items = randomItems(77, 200, 4);
        for (auto& it : items) it.params *= 1000000;  // ~1.4e9 parameters
        const int64_t P = params(items);
        int64_t minBits = 0;
        for (const auto& it : items) minBits += it.costBits(0);  // bpw ascending: choice 0 is the cheapest
        const double budget = (double(minBits) + 1e6) / double(P);
        const Allocation a = allocateKnapsack(items, budget);
        QVERIFY(a.bits <= int64_t(std::floor(budget * double(P) + 1e-6)));
        QVERIFY(a.unitBits <= 1000000 / 20000 + 1);
        for (auto& it : items)
            for (auto& c : it.choices) c.bitsPerWeight = 4.25;
        const auto front = paretoFrontier(items);
        QCOMPARE(int(front.size()), 1);
        double best = 0;
        for (const auto& it : items) {
            double m = std::numeric_limits<double>::infinity();
            for (const auto& c : it.choices) m = std::min(m, c.error);
            best += m;
        }
        QVERIFY(std::abs(front[0].error - best) <= 1e-9 * best);
    }

    void paretoFrontierIsOptimalAndMonotone() {
        for (uint64_t seed = 200; seed < 210; ++seed) {
            const auto items = randomItems(seed, 5, 3);
            const auto front = paretoFrontier(items, 100000);
            QVERIFY(front.size() >= 2);
            for (size_t i = 0; i < front.size(); ++i) {
                if (i) {
                    QVERIFY(front[i].bits > front[i - 1].bits);
                    QVERIFY(front[i].error < front[i - 1].error);
                }
                QCOMPARE(front[i].unitBits, int64_t(1));
                const double want = bruteForce(items, front[i].bits);
                QVERIFY2(std::abs(front[i].error - want) <= 1e-9 * std::max(1.0, want),
                         qPrintable(QStringLiteral("seed %1 point %2: %3 vs %4").arg(seed).arg(i).arg(front[i].error).arg(want)));
            }
        }
    }

    void kurtosisKnownAnswers() {
        HessianAccumulator a(3);
        MatrixRM x(10, 3);
        for (int r = 0; r < 10; ++r) {
            x(r, 0) = (r % 2) ? 1.0f : -1.0f;  // symmetric two-point: kurtosis 1
            x(r, 1) = r == 9 ? 10.0f : 0.0f;   // one spike in ten
            x(r, 2) = 4.0f;                    // constant: 0 by convention
        }
        a.add(x.topRows(4), 1);
        a.add(x.bottomRows(6), 1);
        const Eigen::VectorXd k = a.kurtosis();
        QVERIFY2(std::abs(k[0] - 1.0) < 1e-12, qPrintable(QString::number(k[0], 'g', 17)));
        // a scaled Bernoulli(p = 0.1): kurtosis = 1 / (p(1-p)) - 3 = (1 - 0.27) / 0.09
        QVERIFY2(std::abs(k[1] - 0.73 / 0.09) < 1e-9, qPrintable(QString::number(k[1], 'g', 17)));
        QCOMPARE(k[2], 0.0);
        // no cancellation: a constant 0.1f channel, and mean 300 with spread 0.05 (two-point: kurtosis 1)
        HessianAccumulator b(2);
        MatrixRM y(4096, 2);
        for (int r = 0; r < 4096; ++r) y(r, 0) = 0.1f, y(r, 1) = 300.0f + ((r % 2) ? 0.0625f : -0.0625f);
        for (int i = 0; i < 8; ++i) b.add(y.middleRows(i * 512, 512), 1);
        const Eigen::VectorXd kb = b.kurtosis();
        QCOMPARE(kb[0], 0.0);
        QVERIFY2(std::abs(kb[1] - 1.0) < 1e-9, qPrintable(QString::number(kb[1], 'g', 17)));
    }

    void spectrumExactAndIterativeAgree() {
        SplitMix64 rng(5);
        const int n = 300;
        Eigen::MatrixXd X(2 * n, n);
        for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = rng.uniformDouble() - 0.5;
        for (int c = 0; c < 3; ++c) X.col(c * 7) *= 30.0;  // a few dominant directions
        const Eigen::MatrixXd H = X.transpose() * X / double(X.rows());
        const double shift = 0.01 * H.diagonal().mean();
        const Spectrum exact = extremalEigenvalues(H, 5, shift);
        const Spectrum iter = extremalEigenvalues(H, 5, shift, 10);  // forces the iterative path
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(H, Eigen::EigenvaluesOnly);
        QCOMPARE(exact.top.size(), size_t(5));
        for (int i = 0; i < 5; ++i) {
            QVERIFY(std::abs(exact.top[size_t(i)] - es.eigenvalues()[n - 1 - i]) < 1e-9 * exact.top[0]);
            QVERIFY2(std::abs(iter.top[size_t(i)] - exact.top[size_t(i)]) < 1e-3 * exact.top[size_t(i)],
                     qPrintable(QStringLiteral("eigenvalue %1: %2 vs %3").arg(i).arg(iter.top[size_t(i)]).arg(exact.top[size_t(i)])));
        }
        QVERIFY(std::abs(exact.min - es.eigenvalues()[0]) < 1e-9 * exact.top[0]);
        QVERIFY2(std::abs(iter.min - exact.min) < 1e-3 * exact.min,
                 qPrintable(QStringLiteral("min: %1 vs %2").arg(iter.min).arg(exact.min)));
    }

    /// The report's predicted error equals tr(ΔW H ΔWᵀ) with H collected here,
    /// independently (2/N·XᵀX from a forward hook on the unquantized model).
    void predictedErrorEqualsMeasuredTrace() {
        const Model& m = *demo().model;
        const SensitivityReport& rep = rtnReport();
        QCOMPARE(int(rep.layers.size()), int(m.linears().size()));
        const CalibOptions c = smallCalib();
        const std::vector<int> toks = calibTokens();
        const Forward f(m);
        for (int bi : {0, int(m.blocks.size()) - 1}) {
            std::map<std::string, Eigen::MatrixXd> xtx;
            MatrixRM h = f.embed(toks.data(), c.nsamples, c.seqlen);
            for (int b = 0; b <= bi; ++b)
                f.block(b, h, c.nsamples, c.seqlen, [&](const Linear& l, const MatrixRM& x) {
                    if (b != bi) return;
                    const Eigen::MatrixXd xd = x.cast<double>();
                    auto& acc = xtx[l.name];
                    if (acc.size() == 0) acc = Eigen::MatrixXd::Zero(xd.cols(), xd.cols());
                    acc += xd.transpose() * xd;
                });
            for (const Linear& l : m.blocks[size_t(bi)].linears) {
                const Eigen::MatrixXd H = 2.0 / double(c.nsamples) * xtx.at(l.name);
                const LayerSensitivity* ls = rep.find(l.name);
                QVERIFY(ls);
                QVERIFY(std::abs(ls->traceH - H.trace()) < 1e-9 * H.trace());
                const MatrixRM W = l.weight.matrix();
                for (const CandidateCost& cc : ls->candidates) {
                    const Eigen::MatrixXd dW = (Quantizer(cc.format).fakeQuantize(W) - W).cast<double>();
                    const double want = (dW * H * dW.transpose()).trace();
                    QVERIFY2(std::abs(cc.predictedError - want) < 1e-9 * want,
                             qPrintable(QStringLiteral("%1 %2: %3 vs %4").arg(QString::fromStdString(l.name),
                                                                              QString::fromStdString(cc.format.name()))
                                            .arg(cc.predictedError, 0, 'g', 17).arg(want, 0, 'g', 17)));
                    QCOMPARE(cc.bitsPerWeight, cc.format.bitsPerWeight(l.inFeatures));
                }
            }
        }
        // more bits, less error: predicted and measured on the block output
        for (const LayerSensitivity& l : rep.layers) {
            QCOMPARE(int(l.candidates.size()), 4);
            for (size_t i = 1; i < l.candidates.size(); ++i) {
                QVERIFY(l.candidates[i].predictedError < l.candidates[i - 1].predictedError);
                QVERIFY2(l.candidates[i].blockError < l.candidates[i - 1].blockError,
                         qPrintable(QString::fromStdString(l.name + " " + l.candidates[i].format.name())));
            }
            QVERIFY(l.candidates.front().blockError > 0);
            QVERIFY(l.conditionDamped >= 1.0 && l.topEigenvalues.front() >= l.minEigenvalue);
        }
    }

    /// GPTQ as the error model: never worse than RTN's predicted error by much, usually better.
    void gptqPredictedErrorBelowRtn() {
        SensitivityOptions o;
        o.method = QuantMethod::Gptq;
        o.blockErrorTokens = 0;
        o.candidates = {*QuantFormat::parse("int3-g32")};
        const SensitivityReport g = analyzeSensitivity(*demo().model, calibTokens(), smallCalib(), o);
        o.method = QuantMethod::Rtn;
        const SensitivityReport r = analyzeSensitivity(*demo().model, calibTokens(), smallCalib(), o);
        double eg = 0, er = 0;
        for (size_t i = 0; i < g.layers.size(); ++i) {
            eg += g.layers[i].candidates[0].predictedError;
            er += r.layers[i].candidates[0].predictedError;
            QVERIFY(std::isnan(g.layers[i].candidates[0].blockError));
        }
        QVERIFY2(eg < er, qPrintable(QStringLiteral("gptq %1, rtn %2").arg(eg).arg(er)));
    }

    /// The demo's planted activation outliers (input-norm gains on channels 17,
    /// 101, 203) are the top channels of the q/k/v and gate/up inputs.
    void plantedOutliersAreFound() {
        const Demo& d = demo();
        const SensitivityReport& rep = rtnReport();
        for (const LayerSensitivity& l : rep.layers) {
            if (l.kind != "q" && l.kind != "gate") continue;
            std::set<int> top;
            for (size_t i = 0; i < 4 && i < l.activations.top.size(); ++i) top.insert(l.activations.top[i].channel);
            for (int c : d.outlierChannels) QVERIFY2(top.count(c), qPrintable(QStringLiteral("%1: channel %2 not in the top 4").arg(QString::fromStdString(l.name)).arg(c)));
            QVERIFY(l.activations.outlierScore > 3.0);
            QCOMPARE(l.activations.absMax.size(), size_t(l.inFeatures));
            QCOMPARE(l.weights.absMax.size(), size_t(l.inFeatures));
        }
        QVERIFY(!rep.topOutliers.empty());
        for (size_t i = 1; i < rep.topOutliers.size(); ++i) QVERIFY(rep.topOutliers[i].absMax <= rep.topOutliers[i - 1].absMax);
    }

    void reportJsonRoundTrip() {
        const SensitivityReport& rep = rtnReport();
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("r.json"));
        rep.save(path);
        const SensitivityReport back = SensitivityReport::load(path);
        QCOMPARE(QJsonDocument(back.toJson()).toJson(), QJsonDocument(rep.toJson()).toJson());
        // a damaged report names the JSON path
        QJsonObject o = rep.toJson();
        QJsonArray layers = o["layers"].toArray();
        QJsonObject l1 = layers[1].toObject();
        l1.remove(QStringLiteral("hessian"));
        layers[1] = l1;
        o["layers"] = layers;
        try {
            SensitivityReport::fromJson(o, QStringLiteral("bad.json"));
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString::fromLatin1(e.what()).contains(QStringLiteral("bad.json: layers[1].hessian: missing")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, SensitivityReport::load(dir.filePath(QStringLiteral("nope.json"))));
    }

    /// Report -> allocation -> recipe -> quantization: the run uses exactly the
    /// allocated formats and meets the budget.
    void allocationRecipeQuantizesAsAllocated() {
        const SensitivityReport& rep = rtnReport();
        const std::vector<QuantFormat> allowed = {*QuantFormat::parse("int2-g128"), *QuantFormat::parse("int3-g128"),
                                                  *QuantFormat::parse("int4-g128")};
        const auto items = allocItemsFromReport(rep, allowed, AllocCost::Predicted);
        const double budget = 3.0;
        const Allocation a = allocateKnapsack(items, budget);
        QVERIFY(a.avgBits <= budget);
        std::set<std::string> used;
        for (size_t i = 0; i < items.size(); ++i) used.insert(items[i].choices[size_t(a.choice[i])].format.name());
        QVERIFY2(used.size() >= 2, "a 3-bit budget between int2 and int4 should mix formats");
        const Recipe recipe = allocationRecipe(rep, items, a, QStringLiteral("test"));
        QCOMPARE(recipe.defaults().method, QuantMethod::Rtn);
        for (size_t i = 0; i < items.size(); ++i)
            QCOMPARE(recipe.planFor(items[i].name).weight, items[i].choices[size_t(a.choice[i])].format);
        const QuantizeResult q = quantizeModel(*demo().model, {}, CalibOptions{}, recipe.planFn());
        QVERIFY2(std::abs(q.avgBits - a.avgBits) < 1e-9, qPrintable(QStringLiteral("%1 vs %2").arg(q.avgBits).arg(a.avgBits)));
        // costs the report does not have are errors, as are formats it lacks
        QVERIFY_THROWS_EXCEPTION(Error, allocItemsFromReport(rep, allowed, AllocCost::Ppl));
        QVERIFY_THROWS_EXCEPTION(Error, allocItemsFromReport(rep, {*QuantFormat::parse("mxfp4")}, AllocCost::Predicted));
        // the block-error costs work too
        const auto blockItems = allocItemsFromReport(rep, allowed, AllocCost::Block);
        QVERIFY(allocateKnapsack(blockItems, budget).avgBits <= budget);
    }

    /// quantscope-cli sensitivity -> allocate -> quantize --recipe, and the CLI's errors.
    void cliSensitivityAllocateQuantize() {
        QTemporaryDir dir;
        const QString model = dir.filePath(QStringLiteral("demo"));
        writeDemo(demo(), model);
        const QString text = model + QStringLiteral("/eval.txt");
        const QString rep = dir.filePath(QStringLiteral("rep.json")), recipe = dir.filePath(QStringLiteral("r.json"));
        auto cli = [](const QStringList& a) { return qs::test::runCli(a + QStringList{"--threads", "2"}); };
        auto r = cli({"sensitivity", "--model", model, "--calib", text, "--nsamples", "4", "--seqlen", "128", "--candidates", "2,4",
                      "--group", "64", "--block-error-tokens", "256", "--out", rep, "--no-db"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(r.out.contains("model.layers.5.mlp.down_proj"));  // the table
        const SensitivityReport back = SensitivityReport::load(rep);
        QCOMPARE(int(back.layers.size()), int(demo().model->linears().size()));
        QCOMPARE(back.options.candidates.size(), size_t(2));
        QCOMPARE(back.options.method, QuantMethod::Gptq);
        r = cli({"allocate", "--report", rep, "--budget", "3.0", "--out", recipe, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["cost"].toString(), QStringLiteral("block"));  // the report has block errors
        QVERIFY(o["avg_bits"].toDouble() <= 3.0);
        QVERIFY(o["avg_bits"].toDouble() > 2.5);
        r = cli({"quantize", "--model", model, "--calib", text, "--nsamples", "4", "--recipe", recipe, "--json", "--no-db"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object()["avg_bits"].toDouble(), o["avg_bits"].toDouble());
        struct Case { QStringList args; const char* expect; };
        const QList<Case> cases = {
            {{"allocate", "--budget", "3", "--out", recipe}, "--report FILE is required"},
            {{"allocate", "--report", rep, "--out", recipe}, "--budget BITS is required"},
            {{"allocate", "--report", rep, "--budget", "1.5", "--out", recipe}, "below the cheapest assignment"},
            {{"allocate", "--report", rep, "--budget", "3", "--choices", "3", "--out", recipe}, "no 3-bit integer candidate"},
            {{"allocate", "--report", rep, "--budget", "3", "--cost", "ppl", "--out", recipe}, "no ppl cost"},
            {{"allocate", "--report", rep, "--budget", "3", "--method", "greedy", "--out", recipe}, "unknown allocator 'greedy'; available: knapsack, mgptq"},
            {{"allocate", "--report", rep, "--budget", "3", "--method", "mgptq", "--out", recipe}, "allocate --method mgptq needs --group G"},
            {{"allocate", "--report", dir.filePath(QStringLiteral("nope.json")), "--budget", "3", "--out", recipe}, "cannot read sensitivity report"},
            {{"sensitivity", "--model", model, "--nsamples", "4"}, "--calib is required"},
            {{"sensitivity", "--model", model, "--calib", text, "--candidates", "2,9"}, "'9' is neither a bit width"},
        };
        for (const Case& c : cases) {
            const auto rr = cli(c.args + QStringList{"--no-db"});
            QVERIFY2(rr.code == 2, qPrintable(c.args.join(' ') + QStringLiteral(" -> %1: ").arg(rr.code) + rr.err));
            QVERIFY2(rr.err.contains(c.expect), qPrintable(c.args.join(' ') + QStringLiteral(": ") + rr.err));
        }
    }

    /// stories260K, calibrated on the first half of the TinyStories slice and
    /// evaluated on the held-out second half: the block-error allocation at the
    /// average bits of uniform GPTQ int3-g32 / int4-g32 beats that uniform run
    /// (bench/alloc_table.sh has the full table, where the predicted-error cost
    /// does not beat uniform: that cost is not asserted).
    void mixedBeatsUniformGptqOnStories260K() {
        QS_REQUIRE_SHARED(shared);
        const qs::test::HeldOutSplit sp = qs::test::stories260KHeldOut(shared, 32, 256);
        EvalOptions eo;
        eo.seqlen = 512;
        const SensitivityReport rep = analyzeSensitivity(*sp.model, sp.calibTokens, sp.calib, SensitivityOptions{});
        const auto items = allocItemsFromReport(rep, {}, AllocCost::Block);
        for (const char* f : {"int3-g32", "int4-g32"}) {
            LayerPlan p;
            p.method = QuantMethod::Gptq;
            p.weight = *QuantFormat::parse(f);
            const QuantizeResult uni = quantizeModel(*sp.model, sp.calibTokens, sp.calib, [p](const Linear&) { return p; });
            const Allocation a = allocateKnapsack(items, uni.avgBits);
            const QuantizeResult mixed = quantizeModel(*sp.model, sp.calibTokens, sp.calib, allocationRecipe(rep, items, a, QStringLiteral("test")).planFn());
            QVERIFY(mixed.avgBits <= uni.avgBits);
            const double pu = evaluatePerplexity(*uni.model, sp.evalTokens, eo).ppl, pm = evaluatePerplexity(*mixed.model, sp.evalTokens, eo).ppl;
            qInfo("stories260K held-out TinyStories at %.4f bits: uniform GPTQ %s %.3f, mixed (block cost) %.3f", uni.avgBits, f, pu, pm);
            QVERIFY2(pm < pu, f);
        }
    }

    void badInputIsAnError() {
        SensitivityOptions o;
        QVERIFY_THROWS_EXCEPTION(Error, analyzeSensitivity(*demo().model, {}, smallCalib(), o));
        o.candidates = {QuantFormat{FormatKind::None, 0, false, 0}};
        QVERIFY_THROWS_EXCEPTION(Error, analyzeSensitivity(*demo().model, calibTokens(), smallCalib(), o));
    }

    void cancelStops() {
        JobContext ctx;
        int calls = 0;
        ctx.progress = [&](double, const std::string&) {
            if (++calls == 2) ctx.cancel.cancel();
        };
        SensitivityOptions o;
        o.method = QuantMethod::Rtn;
        o.blockErrorTokens = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyzeSensitivity(*demo().model, calibTokens(), smallCalib(), o, ctx));
    }
};

QTEST_GUILESS_MAIN(TestAlloc)
#include "test_alloc.moc"
