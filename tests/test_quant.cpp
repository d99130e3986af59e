// core/quant pipeline: RTN/GPTQ applied block by block on calibration data,
// the input model left untouched, cancel, saving, and on the real stories260K
// model the ordering FP < GPTQ < RTN at 4/3/2 bits.
#include <cmath>

#include <QTemporaryDir>
#include <QtTest>

#include "calib/calibration.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "model/save.h"
#include "model/tokenizer.h"
#include "quant/pipeline.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

const Demo& demo() {
    static Demo d = makeDemo();
    return d;
}

PlanFn uniform(QuantMethod m, const char* format) {
    LayerPlan p;
    p.method = m;
    p.weight = *QuantFormat::parse(format);
    return [p](const Linear&) { return p; };
}

/// Average stored bits per weight: `bits` per element plus `perGroup` bits of
/// scale/zero per group of `g` input columns (a trailing partial group counts whole).
double expectedAvgBits(const Model& m, double bits, double perGroup, int g) {
    double total = 0, params = 0;
    for (const Linear* l : m.linears()) {
        const double groups = double((l->inFeatures + g - 1) / g);
        total += double(l->outFeatures) * (double(l->inFeatures) * bits + groups * perGroup);
        params += double(l->params());
    }
    return total / params;
}

bool hasOverrides(const Model& m) {
    for (const auto& b : m.blocks)
        for (const auto& l : b.linears)
            if (l.override) return true;
    return false;
}

}  // namespace

class TestQuant : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void calibrationSamplingIsSeededAndInRange() {
        std::vector<int> toks(1000);
        for (int i = 0; i < 1000; ++i) toks[size_t(i)] = i;
        CalibOptions c;
        c.nsamples = 8;
        c.seqlen = 100;
        c.seed = 7;
        const auto a = sampleCalibration(toks, c), b = sampleCalibration(toks, c);
        QCOMPARE(a, b);
        QCOMPARE(a.size(), size_t(800));
        for (int s = 0; s < 8; ++s)
            for (int t = 1; t < 100; ++t) QCOMPARE(a[size_t(s * 100 + t)], a[size_t(s * 100)] + t);  // contiguous windows
        c.seed = 8;
        QVERIFY(sampleCalibration(toks, c) != a);
        c.seqlen = 1000;
        QVERIFY_THROWS_EXCEPTION(Error, sampleCalibration(toks, c));
    }

    void rtnEqualsTheQuantizerAndLeavesTheInputUntouched() {
        const Model& m = *demo().model;
        const std::string hash = m.contentHash();
        const QuantizeResult r = quantizeModel(m, {}, CalibOptions{}, uniform(QuantMethod::Rtn, "int4-g32"));
        QVERIFY(!hasOverrides(m));
        QCOMPARE(m.contentHash(), hash);
        const Quantizer q(*QuantFormat::parse("int4-g32"));
        QCOMPARE(int(r.layers.size()), int(m.linears().size()));
        for (size_t bi = 0; bi < m.blocks.size(); ++bi)
            for (size_t li = 0; li < m.blocks[bi].linears.size(); ++li) {
                const Linear& l = r.model->blocks[bi].linears[li];
                QVERIFY(l.override);
                QVERIFY(*l.override == q.fakeQuantize(m.blocks[bi].linears[li].weight.matrix()));
            }
        // 4 bits + (fp16 scale + 4-bit zero) per group of 32
        QVERIFY2(std::abs(r.avgBits - expectedAvgBits(m, 4, 20, 32)) < 1e-9, qPrintable(QString::number(r.avgBits)));
        QCOMPARE(r.quantizedParams, m.numLinearParams());
        // no calibration data: no output errors
        QVERIFY(std::isnan(r.layers.front().relOutputError));
    }

    void gptqBeatsRtnOnTheDemo() {
        const Demo& d = demo();
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        const size_t half = ids.size() / 2;
        const std::vector<int> calibText(ids.begin(), ids.begin() + ptrdiff_t(half));
        const std::vector<int> evalText(ids.begin() + ptrdiff_t(half), ids.end());
        CalibOptions c;
        c.nsamples = 16;
        c.seqlen = 256;
        const std::vector<int> calib = sampleCalibration(calibText, c);
        EvalOptions eo;
        eo.seqlen = 256;
        const double fp = evaluatePerplexity(*d.model, evalText, eo).ppl;
        const QuantizeResult rtn = quantizeModel(*d.model, calib, c, uniform(QuantMethod::Rtn, "int3"));
        const QuantizeResult gptq = quantizeModel(*d.model, calib, c, uniform(QuantMethod::Gptq, "int3"));
        const double pr = evaluatePerplexity(*rtn.model, evalText, eo).ppl;
        const double pg = evaluatePerplexity(*gptq.model, evalText, eo).ppl;
        QVERIFY2(fp < pg && pg < pr, qPrintable(QStringLiteral("fp %1, gptq %2, rtn %3").arg(fp).arg(pg).arg(pr)));
        double er = 0, eg = 0;
        for (size_t i = 0; i < rtn.layers.size(); ++i) {
            QVERIFY(std::isfinite(rtn.layers[i].relOutputError) && std::isfinite(gptq.layers[i].relOutputError));
            QVERIFY(std::isfinite(gptq.layers[i].gptqLoss));
            er += rtn.layers[i].relOutputError;
            eg += gptq.layers[i].relOutputError;
        }
        QVERIFY2(eg < er, qPrintable(QStringLiteral("summed relative output error: gptq %1, rtn %2").arg(eg).arg(er)));
        QVERIFY(gptq.calibrationSeconds > 0 && gptq.quantizeSeconds > 0);
    }

    void gptqWithMxFormatRuns() {
        const Demo& d = demo();
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        CalibOptions c;
        c.nsamples = 4;
        c.seqlen = 128;
        const QuantizeResult r = quantizeModel(*d.model, sampleCalibration(ids, c), c, uniform(QuantMethod::Gptq, "mxfp4"));
        QVERIFY2(std::abs(r.avgBits - expectedAvgBits(*d.model, 4, 8, 32)) < 1e-9, qPrintable(QString::number(r.avgBits)));  // E8M0 per 32
        EvalOptions eo;
        eo.seqlen = 256;
        eo.maxWindows = 4;
        QVERIFY(std::isfinite(evaluatePerplexity(*r.model, ids, eo).ppl));
    }

    void activationQuantizationW4A8AndW4A4() {
        const Demo& d = demo();
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        EvalOptions eo;
        eo.seqlen = 256;
        eo.maxWindows = 8;
        bool actOk = true;  // QVERIFY cannot be used inside a value-returning lambda
        auto run = [&](const char* w, const char* a) {
            LayerPlan p;
            p.method = QuantMethod::Rtn;
            p.weight = *QuantFormat::parse(w);
            p.activation = *QuantFormat::parse(a);
            const QuantizeResult r = quantizeModel(*d.model, {}, CalibOptions{}, [p](const Linear&) { return p; });
            for (const Linear* l : r.model->linears())
                actOk = actOk && (p.activation.kind == FormatKind::None ? !l->actQuant
                                                                        : (l->actQuant && *l->actQuant == p.activation));
            actOk = actOk && !d.model->linears().front()->actQuant;  // the input model is untouched
            return evaluatePerplexity(*r.model, ids, eo, {}, d.model.get());
        };
        const EvalResult w4 = run("int4-g32", "fp32"), w4a8 = run("int4-g32", "int8"), w4a4 = run("int4-g32", "mxint4");
        QVERIFY(actOk);
        QVERIFY2(*w4.klMean < *w4a8.klMean && *w4a8.klMean < *w4a4.klMean,
                 qPrintable(QStringLiteral("KL W4 %1, W4A8 %2, W4A4 %3").arg(*w4.klMean).arg(*w4a8.klMean).arg(*w4a4.klMean)));
        QVERIFY(w4a4.ppl > w4.ppl);
    }

    void gptqWithoutCalibrationIsAnError() {
        QVERIFY_THROWS_EXCEPTION(Error, quantizeModel(*demo().model, {}, CalibOptions{}, uniform(QuantMethod::Gptq, "int4")));
    }

    void cancelLeavesTheInputUntouched() {
        const Demo& d = demo();
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        CalibOptions c;
        c.nsamples = 4;
        c.seqlen = 128;
        JobContext ctx;
        int reports = 0;
        ctx.progress = [&](double, const std::string&) {
            if (++reports == 2) ctx.cancel.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(Cancelled, quantizeModel(*d.model, sampleCalibration(ids, c), c,
                                                          uniform(QuantMethod::Gptq, "int4"), ctx));
        QVERIFY(!hasOverrides(*d.model));
    }

    void realModelOrderingFpGptqRtn() {
        QS_REQUIRE_SHARED(shared);
        auto model = loadModel(shared + QStringLiteral("/models/stories260K/stories260K.bin"));
        auto tok = loadTokenizerFor(model->path, QString(), model->config);
        CalibOptions c;
        c.nsamples = 32;
        c.seqlen = 256;
        const std::vector<int> calib =
            sampleCalibration(tok->encodeForModel(loadText(shared + QStringLiteral("/data/tinystories/valid-slice.txt"))), c);
        const std::vector<int> evalIds =
            tok->encodeForModel(loadText(shared + QStringLiteral("/data/wikitext-2-raw/validation.jsonl")));
        EvalOptions eo;
        eo.seqlen = 512;
        eo.maxWindows = 60;
        const double fp = evaluatePerplexity(*model, evalIds, eo).ppl;
        for (const char* f : {"int4", "int3", "int2"}) {
            const double pr = evaluatePerplexity(*quantizeModel(*model, calib, c, uniform(QuantMethod::Rtn, f)).model, evalIds, eo).ppl;
            const double pg = evaluatePerplexity(*quantizeModel(*model, calib, c, uniform(QuantMethod::Gptq, f)).model, evalIds, eo).ppl;
            qInfo("%s: fp %.3f gptq %.3f rtn %.3f", f, fp, pg, pr);
            QVERIFY2(fp < pg && pg < pr, qPrintable(QStringLiteral("%1: fp %2, gptq %3, rtn %4").arg(QLatin1String(f)).arg(fp).arg(pg).arg(pr)));
        }
    }

    void savedQuantizedLlama2cModelEvaluatesTheSame() {
        QS_REQUIRE_SHARED(shared);
        auto model = loadModel(shared + QStringLiteral("/models/stories260K/stories260K.bin"));
        auto tok = loadTokenizerFor(model->path, QString(), model->config);
        const QuantizeResult r = quantizeModel(*model, {}, CalibOptions{}, uniform(QuantMethod::Rtn, "mxint4"));
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("q"));
        saveHfModel(*r.model, out, tok->sourceFiles);
        auto back = loadModel(out);
        QCOMPARE(back->format, QStringLiteral("safetensors"));
        auto tokBack = loadTokenizerFor(out, QString(), back->config);  // tokenizer.bin was copied
        const std::vector<int> ids = tokBack->encodeForModel(loadText(shared + QStringLiteral("/data/tinystories/valid-slice.txt")));
        EvalOptions eo;
        eo.seqlen = 512;
        QCOMPARE(evaluatePerplexity(*back, ids, eo).ppl, evaluatePerplexity(*r.model, ids, eo).ppl);
        QVERIFY_THROWS_EXCEPTION(Error, saveHfModel(*r.model, out));  // never overwrites a non-empty directory
    }
};

QTEST_APPLESS_MAIN(TestQuant)
#include "test_quant.moc"
