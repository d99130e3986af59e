// Tests of core/calib/hessian and core/quant/gptq.
//
// Golden cases (tests/fixtures/gptq/*.json) come from tests/tools/make_gptq_fixtures.py,
// a line-by-line port of the reference GPTQ (gptq.py fasterquant + quant.py) in torch;
// inputs are regenerated here with the same SplitMix64 rule.
// Conventions: W [out, in] row-major, columns = input channels; X [tokens, in].
#include <QtTest>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include "calib/hessian.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;

namespace {

// ---- the generator's input rule (see make_gptq_fixtures.py) ----------------------
int smallInt(SplitMix64& rng) { return int(rng.next() >> 60) - 8; }

MatrixRM makeW(int rows, int cols, uint64_t seed) {
    SplitMix64 rng(seed);
    MatrixRM w(rows, cols);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            float v = rng.uniformSym();
            if ((7 * r + c) % 53 == 0) v *= 4.0f;
            w(r, c) = v;
        }
    return w;
}

MatrixRM makeX(int tokens, int cols, uint64_t seed, const std::set<int>& dead = {}) {
    SplitMix64 rng(seed);
    MatrixRM x(tokens, cols);
    for (int t = 0; t < tokens; ++t) {
        int f[4];
        for (int& m : f) m = smallInt(rng);
        for (int c = 0; c < cols; ++c) {
            int v = smallInt(rng) + 2 * f[c % 4];
            if (c % 13 == 5) v *= 8;
            if (dead.count(c)) v = 0;
            x(t, c) = float(v);
        }
    }
    return x;
}

Eigen::MatrixXd hessianOf(const MatrixRM& x, int seqlen, int batch) {
    HessianAccumulator acc(x.cols());
    const int samples = int(x.rows()) / seqlen;
    for (int s0 = 0; s0 < samples; s0 += batch) {
        const int nb = std::min(batch, samples - s0);
        acc.add(x.middleRows(int64_t(s0) * seqlen, int64_t(nb) * seqlen), nb);
    }
    return acc.hessian();
}

QuantFormat intFormat(int bits, bool sym = false, int group = 0) {
    QuantFormat f;
    f.kind = FormatKind::Int;
    f.bits = bits;
    f.symmetric = sym;
    f.groupSize = group;
    return f;
}

QuantFormat parseFormat(const char* name) {
    auto f = QuantFormat::parse(name);
    if (!f) qFatal("unknown format %s", name);
    return *f;
}

/// H after GPTQ's own preprocessing (dead columns -> 1, damping), for the loss identity.
Eigen::MatrixXd dampedHessian(Eigen::MatrixXd H, double percDamp) {
    for (Eigen::Index j = 0; j < H.rows(); ++j)
        if (H(j, j) == 0) H(j, j) = 1;
    H.diagonal().array() += percDamp * H.diagonal().mean();
    return H;
}

int countDiff(const MatrixRM& a, const MatrixRM& b) {
    int n = 0;
    for (Eigen::Index i = 0; i < a.size(); ++i)
        if (a.data()[i] != b.data()[i]) ++n;
    return n;
}

bool relClose(double a, double b, double tol) { return std::abs(a - b) <= tol * std::max(std::abs(a), std::abs(b)); }

/// A correlated, well-conditioned Hessian [n, n] from the generator rule.
Eigen::MatrixXd correlatedH(int n, uint64_t seed, int tokens = 512) { return hessianOf(makeX(tokens, n, seed), 16, 4); }

}  // namespace

class TestGptq : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void hessianMatchesDirect();
    void hessianBatchInvariant();
    void hessianRejectsBadInput();
    void golden_data();
    void golden();
    void identityHessianIsRtn_data();
    void identityHessianIsRtn();
    void oneColumn();
    void deadColumnsRankDeficient();
    void lossEqualsDampedPredictedError();
    void beatsRtn_data();
    void beatsRtn();
    void actOrderUnpermuted();
    void notPositiveDefiniteThrows();
    void cancelAndProgress();
    void mxFormats_data();
    void mxFormats();
    void timing4096();
    void mixedPrecisionGroups();
};

// ---------------------------------------------------------------- Hessian

void TestGptq::hessianMatchesDirect() {
    const int in = 24;
    const MatrixRM x = makeX(5 * 10, in, 7);
    HessianAccumulator acc(in);
    acc.add(x.topRows(20), 2);
    acc.add(x.middleRows(20, 10), 1);
    acc.add(x.bottomRows(20), 2);
    QCOMPARE(acc.samples(), int64_t(5));
    QCOMPARE(acc.tokens(), int64_t(50));
    const Eigen::MatrixXd xd = x.cast<double>();
    const Eigen::MatrixXd direct = (2.0 / 5.0) * (xd.transpose() * xd);
    const Eigen::MatrixXd& h = acc.hessian();
    QCOMPARE(h.rows(), Eigen::Index(in));
    QVERIFY((h - direct).cwiseAbs().maxCoeff() <= 1e-12 * direct.cwiseAbs().maxCoeff());
    QVERIFY((h - h.transpose()).cwiseAbs().maxCoeff() == 0.0);  // exactly symmetric
    // activation statistics
    const Eigen::VectorXd absMax = xd.cwiseAbs().colwise().maxCoeff().transpose();
    const Eigen::VectorXd meanAbs = xd.cwiseAbs().colwise().mean().transpose();
    QVERIFY((acc.absMax() - absMax).cwiseAbs().maxCoeff() == 0.0);
    QVERIFY((acc.meanAbs() - meanAbs).cwiseAbs().maxCoeff() <= 1e-12 * meanAbs.maxCoeff());
}

void TestGptq::hessianBatchInvariant() {
    const int in = 16, seqlen = 8, samples = 12;
    const MatrixRM x = makeX(samples * seqlen, in, 99);
    HessianAccumulator all(in);
    all.add(x, samples);
    for (int batch : {1, 2, 5, 12}) {
        const Eigen::MatrixXd h = hessianOf(x, seqlen, batch);
        QVERIFY2((h - all.hessian()).cwiseAbs().maxCoeff() <= 1e-12 * all.hessian().cwiseAbs().maxCoeff(),
                 qPrintable(QString("batch %1").arg(batch)));
    }
    HessianAccumulator empty(in);
    QCOMPARE(empty.meanAbs().size(), Eigen::Index(in));
    QCOMPARE(empty.hessian().norm(), 0.0);
}

void TestGptq::hessianRejectsBadInput() {
    QVERIFY_THROWS_EXCEPTION(qs::Error, HessianAccumulator(0));
    HessianAccumulator acc(8);
    QVERIFY_THROWS_EXCEPTION(qs::Error, acc.add(MatrixRM::Zero(4, 7)));
    QVERIFY_THROWS_EXCEPTION(qs::Error, acc.add(MatrixRM::Zero(4, 8), 0));
}

// ---------------------------------------------------------------- golden cases

void TestGptq::golden_data() {
    QTest::addColumn<QString>("path");
    const QDir dir(qs::test::fixture("gptq"));
    const QStringList files = dir.entryList({"*.json"}, QDir::Files, QDir::Name);
    QVERIFY2(files.size() >= 10, qPrintable("golden fixtures missing in " + dir.path()));
    for (const QString& f : files) QTest::newRow(qPrintable(f)) << dir.filePath(f);
}

void TestGptq::golden() {
    QFETCH(QString, path);
    const QJsonObject o = QJsonDocument::fromJson(qs::test::readAll(path)).object();
    QVERIFY2(!o.isEmpty(), qPrintable("cannot read " + path));
    const int rows = o["rows"].toInt(), cols = o["cols"].toInt();
    std::set<int> dead;
    for (const auto v : o["dead"].toArray()) dead.insert(v.toInt());
    const MatrixRM W = makeW(rows, cols, uint64_t(o["seed_w"].toInteger()));
    const int seqlen = o["seqlen"].toInt();
    const MatrixRM X = makeX(o["samples"].toInt() * seqlen, cols, uint64_t(o["seed_x"].toInteger()), dead);
    const Eigen::MatrixXd H = hessianOf(X, seqlen, o["batch"].toInt());
    // the same H as the reference's add_batch
    QVERIFY(relClose(H.trace(), o["h_trace"].toDouble(), 1e-13));
    QVERIFY(relClose(H(0, 1), o["h_0_1"].toDouble(), 1e-12));

    const QuantFormat fmt = intFormat(o["bits"].toInt(), o["sym"].toBool(), o["group"].toInt());
    GptqOptions opt;
    opt.percDamp = o["percdamp"].toDouble();
    opt.blockSize = o["blocksize"].toInt();
    opt.actOrder = o["actorder"].toBool();
    opt.staticGroups = o["static_groups"].toBool();
    const GptqResult res = gptqQuantize(W, H, Quantizer(fmt), opt);
    QCOMPARE(res.deadColumns, int(dead.size()));

    const QByteArray raw = QByteArray::fromBase64(o["wq_f32_b64"].toString().toLatin1());
    QCOMPARE(raw.size(), qsizetype(rows) * cols * 4);
    MatrixRM ref(rows, cols);
    std::memcpy(ref.data(), raw.constData(), size_t(raw.size()));  // little-endian float32

    // Nearly all entries identical; a flip of one grid step (float rounding of a value
    // that sits on a rounding boundary) may cascade into a few later columns.
    const int diff = countDiff(res.weight, ref);
    const double maxStep = (W.cwiseAbs().maxCoeff() * 4) / double((1 << fmt.bits) - 1);
    qInfo("%s: %d/%d entries differ from the reference, loss %.9g vs %.9g", qPrintable(QFileInfo(path).fileName()),
          diff, rows * cols, res.loss, o["loss"].toDouble());
    QVERIFY2(diff <= std::max(1, rows * cols / 200), "more than 0.5% of the entries differ from the reference");
    QVERIFY((res.weight - ref).cwiseAbs().maxCoeff() <= maxStep);
    QVERIFY2(relClose(res.loss, o["loss"].toDouble(), 1e-3), "loss differs from the reference");
    for (int j : dead) QVERIFY(res.weight.col(j).isZero(0));
    QVERIFY(res.weight.allFinite());

    // loss = ½ tr(ΔW H' ΔWᵀ) with ΔW against the dead-zeroed W and H' the damped H
    MatrixRM W0 = W;
    for (int j : dead) W0.col(j).setZero();
    const double pe = predictedError(W0, res.weight, dampedHessian(H, opt.percDamp));
    QVERIFY2(relClose(2 * res.loss, pe, 1e-9), qPrintable(QString("2·loss %1 vs %2").arg(2 * res.loss).arg(pe)));
}

// ---------------------------------------------------------------- known answers

void TestGptq::identityHessianIsRtn_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<double>("c");
    QTest::addColumn<bool>("actOrder");
    QTest::addColumn<bool>("staticGroups");
    for (const char* f : {"int4", "int3-sym", "int2", "int4-g16", "int3-sym-g32", "mxint4", "mxfp4", "mxint8"})
        for (double c : {1.0, 3.7}) {
            QTest::newRow(qPrintable(QString("%1 c=%2").arg(f).arg(c))) << QString(f) << c << false << false;
            QTest::newRow(qPrintable(QString("%1 c=%2 act").arg(f).arg(c))) << QString(f) << c << true << false;
            QTest::newRow(qPrintable(QString("%1 c=%2 static").arg(f).arg(c))) << QString(f) << c << false << true;
        }
}

void TestGptq::identityHessianIsRtn() {
    // H = c·I: U is diagonal, no error is propagated, every column is rounded as is
    // (with act-order the stable sort keeps the order of the equal diagonal).
    QFETCH(QString, format);
    QFETCH(double, c);
    QFETCH(bool, actOrder);
    QFETCH(bool, staticGroups);
    const Quantizer q(parseFormat(qPrintable(format)));
    const MatrixRM W = makeW(12, 80, 5);
    const Eigen::MatrixXd H = c * Eigen::MatrixXd::Identity(80, 80);
    GptqOptions opt;
    opt.blockSize = 24;
    opt.actOrder = actOrder;
    opt.staticGroups = staticGroups;
    const GptqResult res = gptqQuantize(W, H, q, opt);
    const MatrixRM rtn = q.fakeQuantize(W);
    QCOMPARE(countDiff(res.weight, rtn), 0);
    // loss = Σ (w-q)² / U_jj² / 2 with U_jj² = 1/(c(1+percdamp))
    const double expect = 0.5 * c * (1 + opt.percDamp) * (W - rtn).cast<double>().squaredNorm();
    QVERIFY(relClose(res.loss, expect, 1e-9));
}

void TestGptq::oneColumn() {
    const MatrixRM W = makeW(9, 1, 3);
    Eigen::MatrixXd H(1, 1);
    H(0, 0) = 2.5;
    const Quantizer q(intFormat(3));
    const GptqResult res = gptqQuantize(W, H, q, GptqOptions{});
    QCOMPARE(res.weight.rows(), Eigen::Index(9));
    QCOMPARE(res.weight.cols(), Eigen::Index(1));
    QCOMPARE(countDiff(res.weight, q.fakeQuantize(W)), 0);
    GptqOptions act;
    act.actOrder = true;
    QCOMPARE(countDiff(gptqQuantize(W, H, q, act).weight, q.fakeQuantize(W)), 0);
}

void TestGptq::deadColumnsRankDeficient() {
    // 10 tokens for 48 channels (rank <= 10) and 3 channels never active.
    const std::set<int> dead = {0, 17, 47};
    const MatrixRM X = makeX(10, 48, 21, dead);
    const Eigen::MatrixXd H = hessianOf(X, 5, 1);
    const MatrixRM W = makeW(16, 48, 22);
    for (const char* f : {"int4", "int3-g16", "mxfp4"}) {
        for (bool act : {false, true}) {
            GptqOptions opt;
            opt.blockSize = 16;
            opt.actOrder = act;
            const GptqResult res = gptqQuantize(W, H, Quantizer(parseFormat(f)), opt);
            QCOMPARE(res.deadColumns, 3);
            QVERIFY2(res.weight.allFinite(), f);
            QVERIFY(std::isfinite(res.loss));
            for (int j : dead) QVERIFY2(res.weight.col(j).isZero(0), f);  // no contribution
            const double pe = predictedError(W, res.weight, H);
            QVERIFY(std::isfinite(pe));
            // dead inputs are zero, so their weights do not change the output at all
            MatrixRM W0 = W;
            for (int j : dead) W0.col(j).setZero();
            QVERIFY(relClose(predictedError(W0, res.weight, H), pe, 1e-9));
        }
    }
}

void TestGptq::lossEqualsDampedPredictedError() {
    const Eigen::MatrixXd H = correlatedH(64, 31);
    const MatrixRM W = makeW(20, 64, 32);
    for (const char* f : {"int4", "int2-g16", "mxint4"}) {
        GptqOptions opt;
        opt.blockSize = 16;
        opt.percDamp = 0.05;
        const GptqResult res = gptqQuantize(W, H, Quantizer(parseFormat(f)), opt);
        QVERIFY(relClose(2 * res.loss, predictedError(W, res.weight, dampedHessian(H, opt.percDamp)), 1e-9));
    }
}

void TestGptq::beatsRtn_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<bool>("actOrder");
    QTest::addColumn<bool>("staticGroups");
    for (const char* f : {"int4", "int3", "int3-sym", "int2", "int4-g32", "int3-g32"}) {
        QTest::newRow(f) << QString(f) << false << false;
        QTest::newRow(qPrintable(QString(f) + " act")) << QString(f) << true << false;
    }
    QTest::newRow("int3-g32 static act") << QString("int3-g32") << true << true;
    QTest::newRow("int4-g32 static") << QString("int4-g32") << false << true;
}

void TestGptq::beatsRtn() {
    QFETCH(QString, format);
    QFETCH(bool, actOrder);
    QFETCH(bool, staticGroups);
    const Eigen::MatrixXd H = correlatedH(128, 41, 1024);
    const MatrixRM W = makeW(32, 128, 42);
    const Quantizer q(parseFormat(qPrintable(format)));
    GptqOptions opt;
    opt.blockSize = 32;
    opt.actOrder = actOrder;
    opt.staticGroups = staticGroups;
    const GptqResult res = gptqQuantize(W, H, q, opt);
    const double eg = predictedError(W, res.weight, H), er = predictedError(W, q.fakeQuantize(W), H);
    qInfo("%s: GPTQ %.6g, RTN %.6g (ratio %.3f)", qPrintable(format), eg, er, eg / er);
    QVERIFY(eg < er);
    QVERIFY(eg < 0.9 * er);  // clearly smaller on a correlated H
}

void TestGptq::actOrderUnpermuted() {
    // An H with integer entries (exact sums) and distinct diagonal. GPTQ with act-order
    // on (W, H) must equal plain GPTQ on the explicitly permuted (W P, Pᵀ H P), un-permuted.
    const int n = 40;
    SplitMix64 rng(77);
    Eigen::MatrixXd A(n, 3 * n);
    for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = double(smallInt(rng));
    Eigen::MatrixXd H = A * A.transpose();
    for (int j = 0; j < n; ++j) H(j, j) += 7 * j;  // distinct diagonal (ties broken)
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return H(a, a) > H(b, b); });
    bool identity = true;
    for (int j = 0; j < n; ++j) identity = identity && perm[size_t(j)] == j;
    QVERIFY(!identity);
    Eigen::MatrixXd Hp(n, n);
    const MatrixRM W = makeW(10, n, 78);
    MatrixRM Wp(10, n);
    for (int j = 0; j < n; ++j) {
        Wp.col(j) = W.col(perm[size_t(j)]);
        for (int i = 0; i < n; ++i) Hp(i, j) = H(perm[size_t(i)], perm[size_t(j)]);
    }
    const Quantizer q(intFormat(3));  // per-channel params are permutation invariant
    GptqOptions act;
    act.actOrder = true;
    act.blockSize = 8;
    GptqOptions plain = act;
    plain.actOrder = false;
    const GptqResult ra = gptqQuantize(W, H, q, act);
    const GptqResult rp = gptqQuantize(Wp, Hp, q, plain);
    for (int j = 0; j < n; ++j) QVERIFY(ra.weight.col(perm[size_t(j)]) == rp.weight.col(j));
    QCOMPARE(ra.loss, rp.loss);
    // and act-order differs from no act-order here (it does something)
    QVERIFY(countDiff(gptqQuantize(W, H, q, plain).weight, ra.weight) > 0);
    // with a diagonal H nothing is propagated: act-order result = RTN (un-permuted)
    const Eigen::MatrixXd D = H.diagonal().asDiagonal();
    QCOMPARE(countDiff(gptqQuantize(W, D, q, act).weight, q.fakeQuantize(W)), 0);
}

void TestGptq::notPositiveDefiniteThrows() {
    const MatrixRM W = makeW(4, 6, 1);
    Eigen::MatrixXd H = Eigen::MatrixXd::Identity(6, 6);
    H(2, 2) = -5;  // indefinite, damping 1% does not fix it
    try {
        gptqQuantize(W, H, Quantizer(intFormat(4)), GptqOptions{});
        QFAIL("no exception");
    } catch (const qs::Error& e) {
        const QString m = e.what();
        QVERIFY2(m.contains("positive definite") && m.contains("[6 x 6]") && m.contains("[4 x 6]"), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(qs::Error, gptqQuantize(W, Eigen::MatrixXd::Identity(5, 5), Quantizer(intFormat(4)), {}));
    Eigen::MatrixXd Hn = Eigen::MatrixXd::Identity(6, 6);
    Hn(1, 3) = Hn(3, 1) = std::nan("");
    QVERIFY_THROWS_EXCEPTION(qs::Error, gptqQuantize(W, Hn, Quantizer(intFormat(4)), {}));
}

void TestGptq::cancelAndProgress() {
    const Eigen::MatrixXd H = correlatedH(96, 51);
    const MatrixRM W = makeW(16, 96, 52);
    const Quantizer q(intFormat(4));
    GptqOptions opt;
    opt.blockSize = 16;
    {
        JobContext ctx;
        ctx.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(qs::Cancelled, gptqQuantize(W, H, q, opt, ctx));
    }
    {
        std::vector<double> fr;
        JobContext ctx;
        ctx.progress = [&](double f, const std::string&) { fr.push_back(f); };
        gptqQuantize(W, H, q, opt, ctx);
        QCOMPARE(int(fr.size()), 6);  // one report per block
        for (size_t i = 1; i < fr.size(); ++i) QVERIFY(fr[i] > fr[i - 1]);
        QCOMPARE(fr.back(), 1.0);
    }
    {
        // cancelled from the progress callback half way: the next block throws
        JobContext ctx;
        int reports = 0;
        CancelToken tok = ctx.cancel;
        ctx.progress = [&](double f, const std::string&) {
            ++reports;
            if (f >= 0.5) tok.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(qs::Cancelled, gptqQuantize(W, H, q, opt, ctx));
        QCOMPARE(reports, 3);
    }
}

void TestGptq::mxFormats_data() {
    QTest::addColumn<QString>("format");
    QTest::addColumn<bool>("actOrder");
    for (const char* f : {"mxint4", "mxfp4", "mxfp6_e2m3", "mxint8"}) {
        QTest::newRow(f) << QString(f) << false;
        QTest::newRow(qPrintable(QString(f) + " act")) << QString(f) << true;
    }
}

void TestGptq::mxFormats() {
    QFETCH(QString, format);
    QFETCH(bool, actOrder);
    const Quantizer q(parseFormat(qPrintable(format)));
    QVERIFY(q.format().isMx());
    QCOMPARE(q.format().blockSize(), 32);
    const Eigen::MatrixXd H = correlatedH(128, 61, 1024);
    const MatrixRM W = makeW(32, 128, 62);
    GptqOptions opt;
    opt.actOrder = actOrder;
    const GptqResult res = gptqQuantize(W, H, q, opt);
    QVERIFY(res.weight.allFinite());
    const double eg = predictedError(W, res.weight, H), er = predictedError(W, q.fakeQuantize(W), H);
    qInfo("%s%s: GPTQ %.6g, RTN %.6g (ratio %.3f)", qPrintable(format), actOrder ? " act" : "", eg, er, eg / er);
    QVERIFY(eg < er);
}

void TestGptq::timing4096() {
    // Opt-in (QS_GPTQ_TIMING=1): one 4096 x 4096 layer, int4 per channel, 128-column blocks.
    if (qEnvironmentVariableIntValue("QS_GPTQ_TIMING") != 1) QSKIP("set QS_GPTQ_TIMING=1 to time a 4096x4096 GPTQ");
    const int n = 4096;
    const MatrixRM X = makeX(2048, n, 91);
    QElapsedTimer t;
    t.start();
    HessianAccumulator acc(n);
    for (int s = 0; s < 4; ++s) acc.add(X.middleRows(s * 512, 512), 1);
    const qint64 tH = t.restart();
    const MatrixRM W = makeW(n, n, 92);
    t.restart();
    const GptqResult res = gptqQuantize(W, acc.hessian(), Quantizer(intFormat(4)), GptqOptions{});
    const qint64 tG = t.elapsed();
    qInfo("Hessian of 2048 tokens x 4096: %lld ms; GPTQ 4096x4096 int4 (blocks of 128): %lld ms; loss %.6g", tH, tG,
          res.loss);
    QVERIFY(res.weight.allFinite());
}

// ------------------------------------------------------- mixed precision per group

/// One format repeated = GPTQ bit for bit; mixed widths put every group on its own
/// grid, land between the uniform losses, and bad plans are refused.
void TestGptq::mixedPrecisionGroups() {
    const MatrixRM W = makeW(48, 96, 71);
    const Eigen::MatrixXd H = correlatedH(96, 72);
    const auto f = [](const char* n) { return *QuantFormat::parse(n); };
    for (bool actOrder : {false, true}) {
        GptqOptions o;
        o.actOrder = actOrder;
        o.staticGroups = actOrder;
        const GptqResult u3 = gptqQuantize(W, H, Quantizer(f("int3-g32")), o);
        const GptqResult m3 = gptqQuantizeMixed(W, H, {f("int3-g32"), f("int3-g32"), f("int3-g32")}, o);
        QCOMPARE(countDiff(u3.weight, m3.weight), 0);
        QCOMPARE(u3.loss, m3.loss);
        const GptqResult u2 = gptqQuantize(W, H, Quantizer(f("int2-g32")), o);
        const GptqResult u4 = gptqQuantize(W, H, Quantizer(f("int4-g32")), o);
        const GptqResult mx = gptqQuantizeMixed(W, H, {f("int4-g32"), f("int2-g32"), f("int4-g32")}, o);
        const double e2 = predictedError(W, u2.weight, H), e4 = predictedError(W, u4.weight, H), em = predictedError(W, mx.weight, H);
        QVERIFY2(e4 < em && em < e2, qPrintable(QStringLiteral("int4 %1, mixed %2, int2 %3").arg(e4).arg(em).arg(e2)));
        // each (row, group) holds at most 2^bits distinct values
        for (int r = 0; r < W.rows(); ++r)
            for (int g = 0; g < 3; ++g) {
                std::set<float> vals(mx.weight.row(r).data() + g * 32, mx.weight.row(r).data() + (g + 1) * 32);
                QVERIFY2(vals.size() <= (g == 1 ? 4u : 16u), qPrintable(QStringLiteral("row %1 group %2: %3 values").arg(r).arg(g).arg(vals.size())));
            }
    }
    GptqOptions o;
    QVERIFY_THROWS_EXCEPTION(Error, gptqQuantizeMixed(W, H, {f("int3-g32"), f("int3-g32")}, o));                 // 2 formats, 3 groups
    QVERIFY_THROWS_EXCEPTION(Error, gptqQuantizeMixed(W, H, {f("int3-g32"), f("int3-g64"), f("int3-g32")}, o));  // group sizes differ
    QVERIFY_THROWS_EXCEPTION(Error, gptqQuantizeMixed(W, H, {f("mxfp4"), f("mxfp4"), f("mxfp4")}, o));
    QVERIFY_THROWS_EXCEPTION(Error, gptqQuantizeMixed(W, H, {f("int3"), f("int3"), f("int3")}, o));             // not grouped
    o.actOrder = true;
    QVERIFY_THROWS_EXCEPTION(Error, gptqQuantizeMixed(W, H, {f("int3-g32"), f("int2-g32"), f("int3-g32")}, o));  // act-order without static groups
}

QTEST_APPLESS_MAIN(TestGptq)
#include "test_gptq.moc"
