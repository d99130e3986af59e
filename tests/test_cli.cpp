// End-to-end tests of quantscope-cli: JSON on stdout, progress on stderr,
// exit code 0 on success and 2 on user errors with a message on stderr.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "testutil.h"

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args, int timeoutMs = 300000) {
    QProcess p;
    p.start(QStringLiteral(QS_CLI_PATH), args);
    Run r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
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
        QTemporaryDir dir;
        const Run w = cli({"demo", "--out", dir.path()});
        QVERIFY2(w.code == 0, w.err.constData());
        const Run a = cli({"eval", "--model", dir.path(), "--data", dir.filePath("eval.txt"), "--max-windows", "2", "--json"});
        QVERIFY2(a.code == 0, a.err.constData());
        const Run b = cli({"eval", "--model", "demo", "--max-windows", "2", "--json"});
        QVERIFY2(b.code == 0, b.err.constData());
        const double pa = QJsonDocument::fromJson(a.out).object().value("ppl").toDouble();
        const double pb = QJsonDocument::fromJson(b.out).object().value("ppl").toDouble();
        QVERIFY2(std::abs(pa - pb) < 1e-9 * pb, qPrintable(QStringLiteral("%1 vs %2").arg(pa).arg(pb)));
    }

    void klAgainstReference() {
        const Run r = cli({"eval", "--model", "demo", "--reference", "demo", "--max-windows", "1", "--seqlen", "64", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QVERIFY(o.contains("kl_mean"));
        QVERIFY(o.value("kl_mean").toDouble() < 1e-6);
    }

    void userErrorsExitWith2() {
        QTemporaryDir dir;
        struct Case { QStringList args; const char* expect; };
        const QList<Case> cases = {
            {{"eval", "--model", dir.filePath("nope")}, "no such file"},
            {{"eval", "--model", "demo", "--seqlen", "x"}, "--seqlen"},
            {{"eval", "--model", "demo", "--data", dir.filePath("missing.txt")}, "missing.txt"},
            {{"eval", "--bogus"}, "bogus"},
            {{"frobnicate"}, "unknown command"},
            {{"eval"}, "--model is required"},
            {{"eval", "--model", dir.path()}, "config.json"},
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
