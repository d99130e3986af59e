// The real stories260K model from ../shared against golden values from an
// independent implementation (tests/tools/make_real_model_fixtures.py: a Python
// port of llama2.c's tokenizer + HF transformers' LlamaForCausalLM).
// Both checkpoint formats (llama2.c .bin and the HF safetensors directory) must
// tokenize and score identically. Skips when ../shared is absent.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "testutil.h"

using namespace qs;

namespace {

quint64 checksum(const std::vector<int>& ids) {
    const unsigned __int128 m = ((unsigned __int128)1 << 61) - 1;
    unsigned __int128 s = 0;
    for (size_t i = 0; i < ids.size(); ++i) s = (s + (unsigned __int128)(i + 1) * unsigned(ids[i])) % m;
    return quint64(s);
}

QJsonObject golden() {
    return QJsonDocument::fromJson(test::readAll(test::fixture(QStringLiteral("real/stories260K.json")))).object();
}

}  // namespace

class TestRealModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void perplexity_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("dataset");
        for (const char* fmt : {"llama2c", "hf"})
            for (const char* ds : {"tinystories", "wikitext2_test"})
                QTest::newRow(QByteArray(fmt) + "/" + ds) << QString::fromLatin1(fmt) << QString::fromLatin1(ds);
    }

    void perplexity() {
        QS_REQUIRE_SHARED(shared);
        QFETCH(QString, format);
        QFETCH(QString, dataset);
        const QJsonObject g = golden().value(QStringLiteral("datasets")).toObject().value(dataset).toObject();
        QVERIFY2(!g.isEmpty(), "golden fixture missing");
        const QString modelPath = format == QLatin1String("llama2c")
                                      ? shared + QStringLiteral("/models/stories260K/stories260K.bin")
                                      : shared + QStringLiteral("/models/stories260K-hf");
        // the llama2.c .bin finds tok512.bin beside it; the HF directory needs it explicitly
        const QString tokPath = format == QLatin1String("hf") ? shared + QStringLiteral("/models/stories260K/tok512.bin") : QString();
        auto model = loadModel(modelPath);
        auto tok = loadTokenizerFor(modelPath, tokPath, model->config);
        const std::string text = loadText(shared + QLatin1Char('/') + g.value(QStringLiteral("file")).toString());
        QCOMPARE(qint64(text.size()), qint64(g.value(QStringLiteral("bytes")).toInteger()));
        const std::vector<int> ids = tok->encodeForModel(text);
        QCOMPARE(qint64(ids.size()), qint64(g.value(QStringLiteral("tokens")).toInteger()));
        const QJsonArray first = g.value(QStringLiteral("first_ids")).toArray();
        for (int i = 0; i < first.size(); ++i) QCOMPARE(ids[size_t(i)], first[i].toInt());
        QCOMPARE(checksum(ids), quint64(g.value(QStringLiteral("checksum")).toInteger()));

        for (const QJsonValue& rv : g.value(QStringLiteral("runs")).toArray()) {
            const QJsonObject r = rv.toObject();
            EvalOptions opt;
            opt.seqlen = r.value(QStringLiteral("seqlen")).toInt();
            opt.maxWindows = r.value(QStringLiteral("max_windows")).toInt();
            const EvalResult res = evaluatePerplexity(*model, ids, opt);
            QCOMPARE(res.windows, r.value(QStringLiteral("windows")).toInt());
            const double want = r.value(QStringLiteral("ppl")).toDouble();
            const double rel = std::abs(res.ppl - want) / want;
            QVERIFY2(rel < 2e-5, qPrintable(QStringLiteral("seqlen %1: ppl %2, golden %3 (rel. diff %4)")
                                                 .arg(opt.seqlen).arg(res.ppl, 0, 'g', 10).arg(want, 0, 'g', 10).arg(rel)));
            const QJsonArray wl = r.value(QStringLiteral("first_window_losses")).toArray();
            for (int i = 0; i < wl.size(); ++i)
                QVERIFY2(std::abs(res.windowLoss[size_t(i)] - wl[i].toDouble()) < 1e-5,
                         qPrintable(QStringLiteral("window %1 loss %2 vs golden %3").arg(i).arg(res.windowLoss[size_t(i)]).arg(wl[i].toDouble())));
        }
    }

    void bothFormatsGiveTheSameLogits() {
        QS_REQUIRE_SHARED(shared);
        auto a = loadModel(shared + QStringLiteral("/models/stories260K/stories260K.bin"));
        auto b = loadModel(shared + QStringLiteral("/models/stories260K-hf"));
        QCOMPARE(a->numParams(), b->numParams());
        std::vector<int> ids;
        for (int i = 0; i < 256; ++i) ids.push_back(i == 0 ? 1 : (i * 131 + 7) % 512);
        EvalOptions opt;
        opt.seqlen = 128;
        const EvalResult ra = evaluatePerplexity(*a, ids, opt), rb = evaluatePerplexity(*b, ids, opt);
        QCOMPARE(ra.windows, 2);
        QVERIFY(std::abs(ra.ppl - rb.ppl) <= 1e-9 * ra.ppl);
    }
};

QTEST_APPLESS_MAIN(TestRealModel)
#include "test_real_model.moc"
