// core/eval: the perplexity protocol, KL divergence, text loading, the demo
// model, incremental decoding and thread/batch invariance. Needs no ../shared.
#include <cmath>

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include "compute/threads.h"
#include "eval/forward.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "util/error.h"

using namespace qs;

namespace {

void writeFile(const QString& path, const QByteArray& data) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

/// Independent evaluation of the GPTQ protocol from full-window logits.
double manualPpl(const Model& m, const std::vector<int>& ids, int T, int maxWindows) {
    Forward f(m);
    int n = int(ids.size()) / T;
    if (maxWindows) n = std::min(n, maxWindows);
    double sum = 0;
    for (int w = 0; w < n; ++w) {
        std::vector<int> win(ids.begin() + w * T, ids.begin() + (w + 1) * T);
        MatrixRM lg = f.run(win, 1, T);
        double loss = 0;
        for (int t = 0; t < T - 1; ++t) {
            const double mx = lg.row(t).maxCoeff();
            double s = 0;
            for (int j = 0; j < lg.cols(); ++j) s += std::exp(double(lg(t, j)) - mx);
            loss += (mx + std::log(s)) - lg(t, win[size_t(t) + 1]);
        }
        sum += loss / (T - 1);
    }
    return std::exp(sum / n);
}

/// Rounds every linear weight to `bits`-bit symmetric per-row RTN (a stand-in
/// for quantization until core/quant lands) and installs it as an override.
void roundLinears(Model& m, int bits) {
    const float qmax = float((1 << (bits - 1)) - 1);
    for (auto& b : m.blocks)
        for (auto& l : b.linears) {
            MatrixRM w = l.weight.matrix();
            for (Eigen::Index r = 0; r < w.rows(); ++r) {
                const float s = w.row(r).cwiseAbs().maxCoeff() / qmax;
                if (s > 0) w.row(r) = (w.row(r) / s).array().round().matrix() * s;
            }
            l.override = std::make_shared<const MatrixRM>(std::move(w));
        }
}

const Demo& demo() {
    static Demo d = makeDemo();
    return d;
}

}  // namespace

class TestEval : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void textJsonlJoinsRowsWithBlankLine() {
        QTemporaryDir dir;
        const QString p = dir.filePath(QStringLiteral("t.jsonl"));
        writeFile(p, "{\"text\": \"a\"}\r\n{\"text\": \" = B =\\n\"}\n\n{\"text\": \"\"}\n");
        QCOMPARE(loadText(p), std::string("a\n\n = B =\n\n\n"));
    }

    void textPlainNormalisesCrlf() {
        QTemporaryDir dir;
        const QString p = dir.filePath(QStringLiteral("t.txt"));
        writeFile(p, "one\r\ntwo\rthree\r\n");
        QCOMPARE(loadText(p), std::string("one\ntwo\rthree\n"));
    }

    void textErrorsNameFileAndPlace() {
        QTemporaryDir dir;
        const QString bad = dir.filePath(QStringLiteral("bad.jsonl"));
        writeFile(bad, "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
        try {
            loadText(bad);
            QFAIL("expected an error");
        } catch (const Error& e) {
            const QString m = QString::fromUtf8(e.what());
            QVERIFY2(m.contains(bad) && m.contains(QStringLiteral("line 2")) && m.contains(QStringLiteral("'text'")), e.what());
        }
        const QString utf = dir.filePath(QStringLiteral("bad.txt"));
        writeFile(utf, QByteArray("abc\xff\xfe", 5));
        try {
            loadText(utf);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("byte 3")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, loadText(dir.filePath(QStringLiteral("missing.txt"))));
    }

    void protocolMatchesManualComputation() {
        const Model& m = *demo().model;
        std::vector<int> ids = demo().tokenizer->encodeForModel(demo().evalText);
        ids.resize(3 * 96 + 17);  // 3 windows of 96 and a remainder that must be dropped
        EvalOptions opt;
        opt.seqlen = 96;
        const EvalResult r = evaluatePerplexity(m, ids, opt);
        QCOMPARE(r.windows, 3);
        QCOMPARE(r.tokens, 3LL * 96 + 17);
        QCOMPARE(int(r.windowLoss.size()), 3);
        const double want = manualPpl(m, ids, 96, 0);
        QVERIFY2(std::abs(r.ppl - want) < 1e-4 * want, qPrintable(QStringLiteral("%1 vs %2").arg(r.ppl).arg(want)));
        opt.maxWindows = 2;
        const EvalResult r2 = evaluatePerplexity(m, ids, opt);
        QCOMPARE(r2.windows, 2);
        QVERIFY(std::abs(r2.ppl - manualPpl(m, ids, 96, 2)) < 1e-4 * r2.ppl);
        QVERIFY(r.tokensPerSecond > 0 && r.seconds > 0);
    }

    void defaultSeqlenIsCappedByPositions() {
        ModelConfig c;
        c.maxPositions = 512;
        QCOMPARE(defaultSeqlen(c), 512);
        c.maxPositions = 4096;
        QCOMPARE(defaultSeqlen(c), 2048);
    }

    void tooShortTextIsAnError() {
        std::vector<int> ids(100, 5);
        EvalOptions opt;
        opt.seqlen = 128;
        try {
            evaluatePerplexity(*demo().model, ids, opt);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("100 tokens")), e.what());
        }
        opt.seqlen = 100000;
        QVERIFY_THROWS_EXCEPTION(Error, evaluatePerplexity(*demo().model, ids, opt));
    }

    void batchAndThreadsDoNotChangeTheResult() {
        const Model& m = *demo().model;
        std::vector<int> ids = demo().tokenizer->encodeForModel(demo().evalText);
        EvalOptions opt;
        opt.seqlen = 128;
        opt.maxWindows = 5;
        opt.batch = 1;
        const double a = evaluatePerplexity(m, ids, opt).ppl;
        opt.batch = 3;
        const double b = evaluatePerplexity(m, ids, opt).ppl;
        const int before = threads();
        setThreads(1);
        const double c = evaluatePerplexity(m, ids, opt).ppl;
        setThreads(before);
        QVERIFY2(std::abs(a - b) < 1e-5 * a && std::abs(a - c) < 1e-5 * a,
                 qPrintable(QStringLiteral("%1 %2 %3").arg(a, 0, 'g', 10).arg(b, 0, 'g', 10).arg(c, 0, 'g', 10)));
    }

    void incrementalDecodingEqualsFullForward() {
        const Model& m = *demo().model;
        Forward f(m);
        std::vector<int> ids = demo().tokenizer->encodeForModel(demo().evalText);
        ids.resize(40);
        const MatrixRM full = f.run(ids, 1, 40);
        KvCache kv = f.makeCache(1, 40);
        for (int t = 0; t < 40; ++t) {
            const MatrixRM s = f.step(&ids[size_t(t)], kv);
            QVERIFY((s.row(0) - full.row(t)).cwiseAbs().maxCoeff() < 1e-3f);
        }
        QVERIFY_THROWS_EXCEPTION(Error, f.step(&ids[0], kv));  // cache full
    }

    void klAgainstItselfIsZeroAndAgainstQuantizedIsPositive() {
        const Demo& d = demo();
        std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        EvalOptions opt;
        opt.seqlen = 256;
        opt.maxWindows = 4;
        const EvalResult self = evaluatePerplexity(*d.model, ids, opt, {}, d.model.get());
        QVERIFY(self.klMean.has_value());
        QVERIFY2(*self.klMean < 1e-6, qPrintable(QString::number(*self.klMean)));
        QCOMPARE(*self.top1Agreement, 1.0);
        QVERIFY(std::abs(*self.referencePpl - self.ppl) < 1e-6 * self.ppl);

        Model q = *d.model;  // shares the weights, gets overrides
        roundLinears(q, 3);
        const EvalResult rq = evaluatePerplexity(q, ids, opt, {}, d.model.get());
        QVERIFY2(*rq.klMean > 1e-3, qPrintable(QString::number(*rq.klMean)));
        QVERIFY(*rq.top1Agreement < 1.0);
        QVERIFY2(rq.ppl > self.ppl * 1.02, qPrintable(QStringLiteral("3-bit %1 vs fp %2").arg(rq.ppl).arg(self.ppl)));
        QVERIFY(std::abs(*rq.referencePpl - self.ppl) < 1e-6 * self.ppl);
    }

    void cancelStopsEvaluation() {
        std::vector<int> ids = demo().tokenizer->encodeForModel(demo().evalText);
        JobContext ctx;
        ctx.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, evaluatePerplexity(*demo().model, ids, EvalOptions{}, ctx));
    }

    void demoIsDeterministicConfidentAndHasOutliers() {
        const Demo& d = demo();
        const Demo again = makeDemo();
        QCOMPARE(again.evalText, d.evalText);
        QCOMPARE(again.model->contentHash(), d.model->contentHash());
        const int64_t params = d.model->numParams();
        QVERIFY2(params > 1'000'000 && params < 10'000'000, qPrintable(QString::number(params)));
        QCOMPARE(d.model->config.arch, Arch::Llama);

        // the sampled text round-trips through the tokenizer
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        QCOMPARE(d.tokenizer->decode(ids), d.evalText);
        QCOMPARE(std::vector<int>(ids.begin() + 1, ids.end()), d.sampledIds);

        // confident: perplexity far below the vocabulary size
        const EvalResult r = evaluatePerplexity(*d.model, ids, EvalOptions{});
        QVERIFY2(r.ppl < d.model->config.vocabSize / 10.0, qPrintable(QString::number(r.ppl)));
        QVERIFY(r.windows >= 20);

        // planted outlier channels dominate the inputs of q_proj
        Forward f(*d.model);
        std::vector<int> win(ids.begin(), ids.begin() + 128);
        MatrixRM h = f.embed(win.data(), 1, 128);
        Eigen::VectorXf absmax;
        f.block(0, h, 1, 128, [&](const Linear& l, const MatrixRM& x) {
            if (l.kind == LinearKind::Q) absmax = x.cwiseAbs().colwise().maxCoeff().transpose();
        });
        std::vector<float> sorted(absmax.data(), absmax.data() + absmax.size());
        std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
        const float median = sorted[sorted.size() / 2];
        for (int ch : d.outlierChannels)
            QVERIFY2(absmax[ch] > 5 * median, qPrintable(QStringLiteral("channel %1: %2 vs median %3").arg(ch).arg(absmax[ch]).arg(median)));
    }

    void demoWrittenToDiskLoadsBackIdentically() {
        QTemporaryDir dir;
        writeDemo(demo(), dir.path());
        auto m = loadModel(dir.path());
        QCOMPARE(m->contentHash(), demo().model->contentHash());
        std::vector<int> ids = demo().tokenizer->encodeForModel(demo().evalText);
        EvalOptions opt;
        opt.seqlen = 128;
        opt.maxWindows = 2;
        QCOMPARE(evaluatePerplexity(*m, ids, opt).ppl, evaluatePerplexity(*demo().model, ids, opt).ppl);
    }
};

QTEST_APPLESS_MAIN(TestEval)
#include "test_eval.moc"
