// End-to-end tests of quantscope-cli: JSON on stdout, progress on stderr,
// exit code 0 on success and 2 on user errors with a message on stderr.
#include <QJsonDocument>
#include <QJsonObject>
#include <QFileInfo>
#include <QJsonArray>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "testutil.h"

namespace {

using Run = qs::test::CliRun;
// quantize runs are not logged here (test_store covers the experiment log): --no-db
inline Run cli(QStringList args) {
    if (!args.isEmpty() && args.front() == QLatin1String("quantize")) args << QStringLiteral("--no-db");
    return qs::test::runCli(args);
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString demoDir_;  // the demo written to disk once; loading it is instant

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        demoDir_ = tmp_.filePath("demo");
        const Run w = cli({"demo", "--out", demoDir_});
        QVERIFY2(w.code == 0, w.err.constData());
    }

    void evalDemoJson() {
        const Run r = cli({"eval", "--model", "demo", "--max-windows", "3", "--seqlen", "128", "--threads", "2", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QJsonParseError pe;
        const QJsonObject o = QJsonDocument::fromJson(r.out, &pe).object();
        QVERIFY2(pe.error == QJsonParseError::NoError, r.out.constData());
        for (const char* k : {"ppl", "tokens", "windows", "seqlen", "seconds", "tokens_per_second"})
            QVERIFY2(o.contains(QLatin1String(k)), k);
        QCOMPARE(o.value(QStringLiteral("windows")).toInt(), 3);
        QCOMPARE(o.value(QStringLiteral("seqlen")).toInt(), 128);
        QCOMPARE(o.value(QStringLiteral("threads")).toInt(), 2);
        QVERIFY(o.value(QStringLiteral("ppl")).toDouble() > 1.0);
        QVERIFY2(r.err.contains("window"), "progress goes to stderr");
    }

    void demoWrittenToDiskEvaluatesLikeTheBuiltIn() {
        const Run a = cli({"eval", "--model", demoDir_, "--data", demoDir_ + "/eval.txt", "--max-windows", "2", "--json"});
        QVERIFY2(a.code == 0, a.err.constData());
        const Run b = cli({"eval", "--model", "demo", "--max-windows", "2", "--json"});
        QVERIFY2(b.code == 0, b.err.constData());
        const double pa = QJsonDocument::fromJson(a.out).object().value("ppl").toDouble();
        const double pb = QJsonDocument::fromJson(b.out).object().value("ppl").toDouble();
        QVERIFY2(std::abs(pa - pb) < 1e-9 * pb, qPrintable(QStringLiteral("%1 vs %2").arg(pa).arg(pb)));
    }

    void klAgainstReference() {
        const Run r = cli({"eval", "--model", demoDir_, "--data", demoDir_ + "/eval.txt", "--reference", demoDir_,
                           "--max-windows", "1", "--seqlen", "64", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QVERIFY(o.contains("kl_mean"));
        QVERIFY(o.value("kl_mean").toDouble() < 1e-6);
    }

    void quantizeSaveAndReevaluate() {
        QTemporaryDir dir;
        const QString text = demoDir_ + "/eval.txt";
        const QString saved = dir.filePath("q");
        const Run r = cli({"quantize", "--model", demoDir_, "--calib", text, "--nsamples", "4", "--seqlen", "128", "--method",
                           "gptq", "--wbits", "3", "--group", "64", "--act-order", "--eval", text, "--max-windows", "3",
                           "--compare-fp", "--save", saved, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        for (const char* k : {"model_hash", "quantization", "calibration", "avg_bits", "layers", "eval", "timings"})
            QVERIFY2(o.contains(QLatin1String(k)), k);
        QCOMPARE(o["quantization"].toObject()["wformat"].toString(), QStringLiteral("int3-g64"));
        QVERIFY(o["avg_bits"].toDouble() > 3.0 && o["avg_bits"].toDouble() < 4.0);
        QCOMPARE(o["layers"].toArray().size(), 6 * 7);
        const QJsonObject e = o["eval"].toArray()[0].toObject();
        QCOMPARE(e["windows"].toInt(), 3);
        QVERIFY2(e["ppl"].toDouble() > e["fp_ppl"].toDouble(), r.out.constData());
        QVERIFY(e["kl_mean"].toDouble() > 0);
        // the saved directory (with its tokenizer and run record) evaluates to the same perplexity
        QVERIFY(QFileInfo::exists(saved + "/quantscope_run.json"));
        QVERIFY(QFileInfo::exists(saved + "/tokenizer.bin"));
        const Run back = cli({"eval", "--model", saved, "--data", text, "--seqlen", "128", "--max-windows", "3", "--json"});
        QVERIFY2(back.code == 0, back.err.constData());
        const double pb = QJsonDocument::fromJson(back.out).object()["ppl"].toDouble();
        QVERIFY2(std::abs(pb - e["ppl"].toDouble()) < 1e-9 * pb, back.out.constData());
        // the same run again is bit for bit the same
        const Run again = cli({"quantize", "--model", demoDir_, "--calib", text, "--nsamples", "4", "--seqlen", "128", "--method",
                               "gptq", "--wbits", "3", "--group", "64", "--act-order", "--eval", text, "--max-windows", "3", "--json"});
        QCOMPARE(QJsonDocument::fromJson(again.out).object()["eval"].toArray()[0].toObject()["ppl"].toDouble(), e["ppl"].toDouble());
        // never overwrites
        const Run over = cli({"quantize", "--model", demoDir_, "--method", "rtn", "--save", saved});
        QCOMPARE(over.code, 2);
        QVERIFY2(over.err.contains("already exists"), over.err.constData());
    }

    void userErrorsExitWith2() {
        QTemporaryDir dir;
        struct Case { QStringList args; const char* expect; };
        const QList<Case> cases = {
            {{"eval", "--model", dir.filePath("nope")}, "no such file"},
            {{"eval", "--model", demoDir_, "--seqlen", "x"}, "--seqlen"},
            {{"eval", "--model", demoDir_, "--data", dir.filePath("missing.txt")}, "missing.txt"},
            {{"eval", "--bogus"}, "bogus"},
            {{"frobnicate"}, "unknown command"},
            {{"eval"}, "--model is required"},
            {{"eval", "--model", dir.path()}, "config.json"},
            {{"quantize", "--model", demoDir_}, "--method"},
            {{"quantize", "--model", demoDir_, "--method", "gptq"}, "--calib is required"},
            {{"quantize", "--model", demoDir_, "--method", "rtn", "--wformat", "fp3"}, "--wformat"},
            {{"quantize", "--model", demoDir_, "--method", "rtn", "--wbits", "9"}, "--wbits"},
            {{"quantize", "--model", demoDir_, "--method", "rtn", "--wformat", "mxfp4", "--group", "32"}, "--wformat int only"},
            {{"quantize", "--model", demoDir_, "--method", "rtn", "--act-order"}, "apply to methods that round with gptq, boa or mgptq only"},
            {{"quantize", "--model", demoDir_, "--method", "rtn", "--aformat", "int8-g4"}, "--aformat"},
        };
        for (const Case& c : cases) {
            const Run r = cli(c.args);
            QVERIFY2(r.code == 2, qPrintable(c.args.join(' ') + QStringLiteral(" -> %1: ").arg(r.code) + r.err));
            QVERIFY2(r.err.contains(c.expect), qPrintable(c.args.join(' ') + QStringLiteral(": ") + r.err));
            QVERIFY(r.out.isEmpty());
        }
    }

    void realModelEval() {
        QS_REQUIRE_SHARED(shared);
        const Run r = cli({"eval", "--model", shared + "/models/stories260K-hf", "--tokenizer",
                           shared + "/models/stories260K/tok512.bin", "--data",
                           shared + "/data/tinystories/valid-slice.txt", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        const QJsonObject g = QJsonDocument::fromJson(qs::test::readAll(qs::test::fixture("real/stories260K.json")))
                                  .object()["datasets"].toObject()["tinystories"].toObject();
        const double want = g["runs"].toArray()[0].toObject()["ppl"].toDouble();
        QVERIFY2(std::abs(o["ppl"].toDouble() - want) < 2e-5 * want, r.out.constData());
        QCOMPARE(o["tokens"].toInteger(), g["tokens"].toInteger());
    }
};

QTEST_APPLESS_MAIN(TestCli)
#include "test_cli.moc"
