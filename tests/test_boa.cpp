// BoA (core/quant/gptq boaQuantize + core/quant/boa): identity output factors give
// GPTQ; the Kronecker loss is lower than GPTQ's; the RoPE frame mapping equals the
// explicit mean of R_tᵀ C R_t; o_proj factors are the sum over the KV group; the
// pipeline's "boa" method on the demo and, with ../shared, on stories260K.
#include <cmath>

#include <QtTest>

#include "calib/calibration.h"
#include "eval/forward.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "quant/boa.h"
#include "quant/gptq.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;

namespace {

MatrixRM randomMatrix(int rows, int cols, uint64_t seed) {
    SplitMix64 rng(seed);
    MatrixRM m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniformSym();
    return m;
}

/// A correlated PSD matrix: XᵀX/n of tokens with a few shared directions.
Eigen::MatrixXd correlated(int n, uint64_t seed) {
    MatrixRM x = randomMatrix(4 * n, n, seed);
    const MatrixRM mix = randomMatrix(n, n, seed + 1) * 0.3f;
    x += x * mix;
    for (int c = 0; c < n; c += 7) x.col(c) *= 4.0f;
    const Eigen::MatrixXd xd = x.cast<double>();
    return xd.transpose() * xd / double(x.rows());
}

/// Σ_h tr(Hrow_h ΔW_h Hcol ΔW_hᵀ)
double kroneckerLoss(const MatrixRM& W, const MatrixRM& Wq, const Eigen::MatrixXd& Hcol, const std::vector<Eigen::MatrixXd>& Hrow) {
    const Eigen::Index hd = Hrow.front().rows();
    double l = 0;
    for (size_t h = 0; h < Hrow.size(); ++h) {
        const Eigen::MatrixXd D = (W.middleRows(Eigen::Index(h) * hd, hd) - Wq.middleRows(Eigen::Index(h) * hd, hd)).cast<double>();
        l += (Hrow[h] * D * Hcol * D.transpose()).trace();
    }
    return l;
}

const Demo& demo() {
    static Demo d = makeDemo(DemoOptions{.sampleWindows = 6});
    return d;
}

}  // namespace

class TestBoa : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void identityRowFactorsAreGptq_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<bool>("actOrder");
        for (const char* f : {"int3-g32", "int4", "int2-g16", "mxfp4"})
            for (bool a : {false, true}) QTest::newRow(qPrintable(QStringLiteral("%1%2").arg(f, a ? "-actorder" : ""))) << QString(f) << a;
    }
    void identityRowFactorsAreGptq() {
        QFETCH(QString, format);
        QFETCH(bool, actOrder);
        const MatrixRM W = randomMatrix(32, 96, 11);
        const Eigen::MatrixXd H = correlated(96, 12);
        const Quantizer q(*QuantFormat::parse(format.toStdString()));
        GptqOptions o;
        o.actOrder = actOrder;
        o.blockSize = 32;
        const GptqResult g = gptqQuantize(W, H, q, o);
        const GptqResult b = boaQuantize(W, H, std::vector<Eigen::MatrixXd>(4, Eigen::MatrixXd::Identity(8, 8)), q, o, actOrder);
        // equal up to the summation order of GEMM vs GEMV (1e-16 relative in double):
        // a rounding decision can only flip at an exact tie
        int differ = 0;
        for (Eigen::Index i = 0; i < W.size(); ++i) differ += g.weight.data()[i] != b.weight.data()[i];
        QVERIFY2(differ <= 2, qPrintable(QStringLiteral("%1 of %2 weights differ").arg(differ).arg(W.size())));
        if (differ == 0) QVERIFY(std::abs(g.loss - b.loss) <= 1e-9 * g.loss);
    }

    /// On its own objective, BoA beats GPTQ (which ignores H_row).
    void kroneckerLossBelowGptq() {
        double gl = 0, bl = 0;
        for (uint64_t seed = 1; seed <= 5; ++seed) {
            const MatrixRM W = randomMatrix(32, 64, 100 + seed);
            const Eigen::MatrixXd Hcol = correlated(64, 200 + seed);
            std::vector<Eigen::MatrixXd> Hrow;
            for (int h = 0; h < 4; ++h) Hrow.push_back(correlated(8, 300 + 10 * seed + uint64_t(h)));
            const Quantizer q(*QuantFormat::parse("int3"));
            const GptqResult g = gptqQuantize(W, Hcol, q, GptqOptions{});
            const GptqResult b = boaQuantize(W, Hcol, Hrow, q, GptqOptions{});
            gl += kroneckerLoss(W, g.weight, Hcol, Hrow);
            bl += kroneckerLoss(W, b.weight, Hcol, Hrow);
        }
        qInfo("Kronecker loss over 5 seeds: GPTQ %.4f, BoA %.4f", gl, bl);
        QVERIFY2(bl < 0.9 * gl, qPrintable(QStringLiteral("BoA %1, GPTQ %2").arg(bl).arg(gl)));
    }

    void badFactorsAreErrors() {
        const MatrixRM W = randomMatrix(16, 32, 1);
        const Eigen::MatrixXd H = correlated(32, 2);
        const Quantizer q(*QuantFormat::parse("int4"));
        QVERIFY_THROWS_EXCEPTION(Error, boaQuantize(W, H, {}, q, GptqOptions{}));
        QVERIFY_THROWS_EXCEPTION(Error, boaQuantize(W, H, std::vector<Eigen::MatrixXd>(3, Eigen::MatrixXd::Identity(5, 5)), q, GptqOptions{}));
        std::vector<Eigen::MatrixXd> nan(2, Eigen::MatrixXd::Identity(8, 8));
        nan[1](0, 1) = std::nan("");
        QVERIFY_THROWS_EXCEPTION(Error, boaQuantize(W, H, nan, q, GptqOptions{}));
    }

    /// mean_t R_tᵀ C R_t from the cos/sin product tables equals the explicit rotation matrices.
    void ropeMeanMatchesExplicitRotations() {
        ModelConfig c;
        c.arch = Arch::Llama;
        c.headDim = 8;
        c.ropeTheta = 100.0;
        const int T = 13, hd = 8, half = 4;
        const Eigen::MatrixXd C = correlated(hd, 9);
        std::vector<float> cosT, sinT;
        ropeTables(c, T, cosT, sinT);
        Eigen::MatrixXd want = Eigen::MatrixXd::Zero(hd, hd);
        for (int t = 0; t < T; ++t) {
            Eigen::MatrixXd R = Eigen::MatrixXd::Zero(hd, hd);  // rotated = R · v (rotate-half)
            for (int j = 0; j < half; ++j) {
                const double co = cosT[size_t(t * half + j)], si = sinT[size_t(t * half + j)];
                R(j, j) = co, R(j, j + half) = -si;
                R(j + half, j + half) = co, R(j + half, j) = si;
            }
            want += R.transpose() * C * R;
        }
        want /= T;
        const Eigen::MatrixXd got = BoaStats::ropeMean(C, c, T);
        QVERIFY2((got - want).cwiseAbs().maxCoeff() < 1e-12 * C.cwiseAbs().maxCoeff(), qPrintable(QString::number((got - want).cwiseAbs().maxCoeff())));
        c.arch = Arch::Opt;  // no rotation
        QVERIFY(BoaStats::ropeMean(C, c, T) == C);
    }

    void vRowFactorsSumTheGroup() {
        ModelConfig c;
        c.numHeads = 4;
        c.numKvHeads = 2;
        c.headDim = 3;
        const MatrixRM Wo = randomMatrix(10, 12, 5);
        const auto f = BoaStats::vRowFactors(Wo, c);
        QCOMPARE(int(f.size()), 2);
        const Eigen::MatrixXd W = Wo.cast<double>();
        const Eigen::MatrixXd g1 = W.middleCols(6, 3).transpose() * W.middleCols(6, 3) + W.middleCols(9, 3).transpose() * W.middleCols(9, 3);
        QVERIFY((f[1] - g1).cwiseAbs().maxCoeff() < 1e-12);
    }

    /// The pipeline's "boa" method on the demo: q/k/v get BoA (different from
    /// GPTQ), the recipe reads it, and the result is a working model.
    void pipelineOnTheDemo() {
        const Demo& d = demo();
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        CalibOptions c;
        c.nsamples = 6;
        c.seqlen = 256;
        const std::vector<int> calib = sampleCalibration(ids, c);
        const Recipe boa = Recipe::parse("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"boa\", \"wformat\": \"int3-g64\"}}");
        const Recipe gptq = Recipe::parse("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"gptq\", \"wformat\": \"int3-g64\"}}");
        QVERIFY(boa.needsCalibration(*d.model));
        QCOMPARE(boa.defaults().method, QuantMethod::Boa);
        const QuantizeResult rb = quantizeModel(*d.model, calib, c, boa.planFn());
        const QuantizeResult rg = quantizeModel(*d.model, calib, c, gptq.planFn());
        QCOMPARE(rb.layers.size(), rg.layers.size());
        QCOMPARE(QString::fromStdString(rb.layers.front().methodName), QStringLiteral("boa"));
        // block 0's q (first quantized, same inputs): BoA moves weights GPTQ does not
        QVERIFY(*rb.model->blocks[0].linears[0].override != *rg.model->blocks[0].linears[0].override);
        EvalOptions eo;
        eo.seqlen = 256;
        const double pb = evaluatePerplexity(*rb.model, ids, eo).ppl, pg = evaluatePerplexity(*rg.model, ids, eo).ppl;
        const double fp = evaluatePerplexity(*d.model, ids, eo).ppl;
        qInfo("demo int3-g64: fp %.4f, gptq %.4f, boa %.4f", fp, pg, pb);
        QVERIFY(std::isfinite(pb) && pb > fp);
        QVERIFY_THROWS_EXCEPTION(Error, quantizeModel(*d.model, {}, c, boa.planFn()));
    }

    /// stories260K, calibrated on the first half of the TinyStories slice's tokens,
    /// held-out second half: BoA beats GPTQ at int2-g32 and int4-g32. int3-g32 is
    /// printed, not asserted: it wins with this split and loses with the bench's
    /// line split (within calibration noise; see the README table).
    void boaVersusGptqOnStories260K() {
        QS_REQUIRE_SHARED(shared);
        const qs::test::HeldOutSplit sp = qs::test::stories260KHeldOut(shared, 32, 256);
        EvalOptions eo;
        eo.seqlen = 512;
        auto ppl = [&](QuantMethod m, const char* f) {
            LayerPlan p;
            p.method = m;
            p.weight = *QuantFormat::parse(f);
            return evaluatePerplexity(*quantizeModel(*sp.model, sp.calibTokens, sp.calib, [p](const Linear&) { return p; }).model, sp.evalTokens, eo).ppl;
        };
        for (const char* f : {"int2-g32", "int3-g32", "int4-g32"}) {
            const double g = ppl(QuantMethod::Gptq, f), b = ppl(QuantMethod::Boa, f);
            qInfo("stories260K held-out TinyStories %s: gptq %.3f, boa %.3f", f, g, b);
            if (std::string(f) != "int3-g32") QVERIFY2(b < g, f);
        }
    }
};

QTEST_GUILESS_MAIN(TestBoa)
#include "test_boa.moc"
