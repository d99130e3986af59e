// QuantScope's quantization pipeline (calibration sampling, block-by-block true-
// sequential capture, Hessians, RTN/GPTQ, evaluation) on the real stories260K
// model against golden values from an independent implementation:
// tests/tools/make_quant_fixtures.py (HF transformers' LlamaForCausalLM + the
// GPTQ reference port of make_gptq_fixtures.py), fixture tests/fixtures/quant/.
//
//  * RTN is deterministic: every quantized weight must equal the reference's bit
//    for bit (sha256 of the float32 bytes) and the perplexity to 1e-5 relative.
//  * GPTQ: torch and Eigen sum in different orders, which can flip a rounding
//    decision and everything downstream of it, so the perplexity is compared to
//    3% (the measured difference is printed).
//  * FP < GPTQ < RTN at every bit width.
//  * The HF safetensors directory gives the same GPTQ result as the llama2.c .bin
//    (q/k rows are permuted to HF order on load; per-row grids and GPTQ's column
//    order are unaffected by a row permutation).
// Skips when ../shared is absent.
#include <cmath>
#include <map>

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "calib/calibration.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "quant/pipeline.h"
#include "testutil.h"
#include "util/rng.h"

using namespace qs;

namespace {

QJsonObject golden() {
    return QJsonDocument::fromJson(test::readAll(test::fixture(QStringLiteral("quant/stories260K.json")))).object();
}

QString sha256(const MatrixRM& w) {
    // little-endian float32, row-major (MatrixRM's storage order)
    static_assert(Q_BYTE_ORDER == Q_LITTLE_ENDIAN, "fixture hashes are of little-endian float32 bytes");
    const QByteArray bytes(reinterpret_cast<const char*>(w.data()), qsizetype(w.size() * sizeof(float)));
    return QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
}

double relDiff(double a, double b) { return std::abs(a - b) / std::abs(b); }

QuantMethod methodOf(const QString& m) { return m == QLatin1String("gptq") ? QuantMethod::Gptq : QuantMethod::Rtn; }

}  // namespace

class TestQuantReference : public QObject {
    Q_OBJECT

    QString shared_;
    QJsonObject g_;
    std::shared_ptr<Model> bin_;
    std::vector<int> calibTokens_, evalIds_;
    CalibOptions calib_;
    EvalOptions eval_;
    double fpPpl_ = 0;
    std::map<QString, double> ppl_;  // "rtn/int4" -> QuantScope's ppl on the .bin
    std::map<QString, int> binIdentical_;  // GPTQ format -> layers of the .bin run bit-identical to the reference

    QuantizeResult run(const Model& m, const QString& method, const QString& format) {
        LayerPlan p;
        p.method = methodOf(method);
        p.weight = *QuantFormat::parse(format.toStdString());
        return quantizeModel(m, calibTokens_, calib_, [p](const Linear&) { return p; });
    }

private Q_SLOTS:
    void initTestCase() {
        shared_ = test::sharedDir();
        if (shared_.isEmpty()) return;
        g_ = golden();
        QVERIFY2(!g_.isEmpty(), "golden fixture tests/fixtures/quant/stories260K.json missing");
        const QString binPath = shared_ + QStringLiteral("/models/stories260K/stories260K.bin");
        bin_ = loadModel(binPath);
        auto tok = loadTokenizerFor(binPath, QString(), bin_->config);

        const QJsonObject c = g_.value(QStringLiteral("calibration")).toObject();
        const std::vector<int> cids =
            tok->encodeForModel(loadText(shared_ + QLatin1Char('/') + c.value(QStringLiteral("file")).toString()));
        QCOMPARE(qint64(cids.size()), qint64(c.value(QStringLiteral("tokens")).toInteger()));
        calib_.nsamples = c.value(QStringLiteral("nsamples")).toInt();
        calib_.seqlen = c.value(QStringLiteral("seqlen")).toInt();
        calib_.seed = uint64_t(c.value(QStringLiteral("seed")).toInteger());
        calibTokens_ = sampleCalibration(cids, calib_);
        QCOMPARE(calibTokens_.size(), size_t(calib_.nsamples) * size_t(calib_.seqlen));
        // the window draw: starts and the first window's ids
        SplitMix64 rng(calib_.seed ^ 0x63616c6962ull);
        for (const QJsonValue& s : c.value(QStringLiteral("window_starts_first")).toArray())
            QCOMPARE(qint64(rng.next() % uint64_t(cids.size() - size_t(calib_.seqlen))), s.toInteger());
        const QJsonArray first = c.value(QStringLiteral("first_window_first_ids")).toArray();
        for (int i = 0; i < first.size(); ++i) QCOMPARE(calibTokens_[size_t(i)], first[i].toInt());

        const QJsonObject e = g_.value(QStringLiteral("eval")).toObject();
        evalIds_ = tok->encodeForModel(loadText(shared_ + QLatin1Char('/') + e.value(QStringLiteral("file")).toString()));
        QCOMPARE(qint64(evalIds_.size()), qint64(e.value(QStringLiteral("tokens")).toInteger()));
        eval_.seqlen = e.value(QStringLiteral("seqlen")).toInt();
        eval_.maxWindows = e.value(QStringLiteral("max_windows")).toInt();
    }

    void fpPerplexity() {
        QS_REQUIRE_SHARED(shared);
        const EvalResult r = evaluatePerplexity(*bin_, evalIds_, eval_);
        QCOMPARE(r.windows, g_.value(QStringLiteral("eval")).toObject().value(QStringLiteral("windows")).toInt());
        const double want = g_.value(QStringLiteral("fp_ppl")).toDouble();
        fpPpl_ = r.ppl;
        qInfo("FP ppl: QuantScope %.6f, reference %.6f (rel. diff %.2e)", r.ppl, want, relDiff(r.ppl, want));
        QVERIFY2(relDiff(r.ppl, want) < 1e-5, qPrintable(QStringLiteral("FP ppl %1 vs reference %2").arg(r.ppl, 0, 'g', 10).arg(want, 0, 'g', 10)));
    }

    void config_data() {
        QTest::addColumn<int>("index");
        const QJsonArray cs = golden().value(QStringLiteral("configs")).toArray();
        for (int i = 0; i < cs.size(); ++i) {
            const QJsonObject c = cs[i].toObject();
            QTest::newRow(qPrintable(c.value(QStringLiteral("method")).toString() + QLatin1Char('/') +
                                     c.value(QStringLiteral("format")).toString()))
                << i;
        }
    }

    void config() {
        QS_REQUIRE_SHARED(shared);
        QFETCH(int, index);
        const QJsonObject c = g_.value(QStringLiteral("configs")).toArray()[index].toObject();
        const QString method = c.value(QStringLiteral("method")).toString(), format = c.value(QStringLiteral("format")).toString();
        const bool rtn = method == QLatin1String("rtn");
        const QuantizeResult q = run(*bin_, method, format);
        const QJsonObject layers = c.value(QStringLiteral("layers")).toObject();
        QCOMPARE(int(q.layers.size()), int(layers.size()));

        // per-layer weights
        int exact = 0;
        QStringList report;
        for (const Block& b : q.model->blocks)
            for (const Linear& l : b.linears) {
                const QString name = QString::fromStdString(l.name);
                const QJsonObject ref = layers.value(name).toObject();
                QVERIFY2(!ref.isEmpty(), qPrintable(QStringLiteral("no reference for layer %1").arg(name)));
                QVERIFY2(l.override, qPrintable(QStringLiteral("layer %1 was not quantized").arg(name)));
                const MatrixRM& w = *l.override;
                const QJsonArray shape = ref.value(QStringLiteral("shape")).toArray();
                QCOMPARE(qint64(w.rows()), shape[0].toInteger());
                QCOMPARE(qint64(w.cols()), shape[1].toInteger());
                const double sum = w.cast<double>().sum(), sumsq = w.cast<double>().squaredNorm();
                const bool same = sha256(w) == ref.value(QStringLiteral("sha256")).toString();
                exact += same;
                if (rtn) {
                    for (const QJsonValue& ev : ref.value(QStringLiteral("entries")).toArray()) {
                        const QJsonArray e = ev.toArray();
                        QVERIFY2(w(e[0].toInt(), e[1].toInt()) == float(e[2].toDouble()),
                                 qPrintable(QStringLiteral("%1[%2,%3] = %4, reference %5").arg(name).arg(e[0].toInt()).arg(e[1].toInt())
                                                .arg(double(w(e[0].toInt(), e[1].toInt())), 0, 'g', 9).arg(e[2].toDouble(), 0, 'g', 9)));
                    }
                    QVERIFY2(same, qPrintable(QStringLiteral("%1: RTN weight differs from the reference (sum %2 vs %3, sumsq %4 vs %5)")
                                                  .arg(name).arg(sum, 0, 'g', 12).arg(ref.value(QStringLiteral("sum")).toDouble(), 0, 'g', 12)
                                                  .arg(sumsq, 0, 'g', 12).arg(ref.value(QStringLiteral("sumsq")).toDouble(), 0, 'g', 12)));
                    QCOMPARE(sum, ref.value(QStringLiteral("sum")).toDouble());
                    QCOMPARE(sumsq, ref.value(QStringLiteral("sumsq")).toDouble());
                } else {
                    double loss = std::numeric_limits<double>::quiet_NaN();
                    for (const LayerResult& r : q.layers)
                        if (r.name == l.name) loss = r.gptqLoss;
                    const double refLoss = ref.value(QStringLiteral("gptq_loss")).toDouble();
                    report << QStringLiteral("  %1: %2, sumsq rel %3, loss %4 vs %5 (rel %6)")
                                  .arg(name, -36)
                                  .arg(same ? QStringLiteral("identical") : QStringLiteral("differs  "))
                                  .arg(relDiff(sumsq, ref.value(QStringLiteral("sumsq")).toDouble()), 0, 'e', 2)
                                  .arg(loss, 0, 'g', 6).arg(refLoss, 0, 'g', 6).arg(relDiff(loss, refLoss), 0, 'e', 2);
                    QVERIFY2(std::isfinite(loss) && loss >= 0, qPrintable(QStringLiteral("%1: GPTQ loss %2").arg(name).arg(loss)));
                }
            }

        const EvalResult r = evaluatePerplexity(*q.model, evalIds_, eval_);
        qInfo("%s %s: calibration %.2f s, quantization %.2f s, evaluation %.2f s", qPrintable(method), qPrintable(format),
              q.calibrationSeconds, q.quantizeSeconds, r.seconds);
        const double want = c.value(QStringLiteral("ppl")).toDouble(), rel = relDiff(r.ppl, want);
        ppl_[method + QLatin1Char('/') + format] = r.ppl;
        if (!rtn) binIdentical_[format] = exact;
        qInfo("%s %s: ppl QuantScope %.6f, reference %.6f (rel. diff %.3e); %d/%d layers bit-identical",
              qPrintable(method), qPrintable(format), r.ppl, want, rel, exact, int(layers.size()));
        if (!rtn)
            for (const QString& s : report) qInfo("%s", qPrintable(s));
        const double tol = rtn ? 1e-5 : 0.03;
        QVERIFY2(rel < tol, qPrintable(QStringLiteral("%1 %2: ppl %3, reference %4 (rel. diff %5, tolerance %6)")
                                           .arg(method, format).arg(r.ppl, 0, 'g', 10).arg(want, 0, 'g', 10).arg(rel).arg(tol)));
    }

    void ordering() {
        QS_REQUIRE_SHARED(shared);
        QVERIFY(fpPpl_ > 0);
        for (const char* f : {"int4", "int3", "int2"}) {
            const QString fmt = QString::fromLatin1(f);
            QVERIFY2(ppl_.count(QStringLiteral("rtn/") + fmt) && ppl_.count(QStringLiteral("gptq/") + fmt), "configs not run");
            const double rtn = ppl_[QStringLiteral("rtn/") + fmt], gptq = ppl_[QStringLiteral("gptq/") + fmt];
            QVERIFY2(fpPpl_ < gptq && gptq < rtn,
                     qPrintable(QStringLiteral("%1: expected FP %2 < GPTQ %3 < RTN %4").arg(fmt).arg(fpPpl_).arg(gptq).arg(rtn)));
            // and the reference agrees
            double refRtn = 0, refGptq = 0;
            for (const QJsonValue& v : g_.value(QStringLiteral("configs")).toArray()) {
                const QJsonObject c = v.toObject();
                if (c.value(QStringLiteral("format")).toString() != fmt) continue;
                (c.value(QStringLiteral("method")).toString() == QLatin1String("rtn") ? refRtn : refGptq) = c.value(QStringLiteral("ppl")).toDouble();
            }
            QVERIFY(g_.value(QStringLiteral("fp_ppl")).toDouble() < refGptq && refGptq < refRtn);
        }
    }

    void hfDirectoryMatchesBin_data() {
        QTest::addColumn<QString>("format");
        for (const char* f : {"int4", "int3", "int2"}) QTest::newRow(f) << QString::fromLatin1(f);
    }

    void hfDirectoryMatchesBin() {
        QS_REQUIRE_SHARED(shared);
        QFETCH(QString, format);
        const QString dir = shared + QStringLiteral("/models/stories260K-hf");
        auto hf = loadModel(dir);
        auto tok = loadTokenizerFor(dir, shared + QStringLiteral("/models/stories260K/tok512.bin"), hf->config);
        // the same tokens from the same tokenizer file
        const QJsonObject c = g_.value(QStringLiteral("calibration")).toObject();
        const std::vector<int> cids =
            tok->encodeForModel(loadText(shared + QLatin1Char('/') + c.value(QStringLiteral("file")).toString()));
        QVERIFY(sampleCalibration(cids, calib_) == calibTokens_);

        const QuantizeResult q = run(*hf, QStringLiteral("gptq"), format);
        // layer by layer: the same weights as the .bin run, i.e. as the reference when that run matched it bit for bit
        QJsonObject layers;
        for (const QJsonValue& v : g_.value(QStringLiteral("configs")).toArray())
            if (v.toObject().value(QStringLiteral("method")).toString() == QLatin1String("gptq") &&
                v.toObject().value(QStringLiteral("format")).toString() == format)
                layers = v.toObject().value(QStringLiteral("layers")).toObject();
        int identical = 0;
        for (const Block& b : q.model->blocks)
            for (const Linear& l : b.linears)
                identical += l.override && sha256(*l.override) ==
                                               layers.value(QString::fromStdString(l.name)).toObject().value(QStringLiteral("sha256")).toString();
        QCOMPARE(identical, binIdentical_[format]);
        const EvalResult r = evaluatePerplexity(*q.model, evalIds_, eval_);
        QVERIFY2(ppl_.count(QStringLiteral("gptq/") + format), "the .bin config was not run");
        const double want = ppl_[QStringLiteral("gptq/") + format];
        qInfo("GPTQ %s: HF dir ppl %.9f, .bin ppl %.9f (rel. diff %.2e)", qPrintable(format), r.ppl, want, relDiff(r.ppl, want));
        QVERIFY2(relDiff(r.ppl, want) < 1e-6,
                 qPrintable(QStringLiteral("GPTQ %1: HF directory ppl %2 vs .bin %3").arg(format).arg(r.ppl, 0, 'g', 12).arg(want, 0, 'g', 12)));
    }
};

QTEST_APPLESS_MAIN(TestQuantReference)
#include "test_quant_reference.moc"
