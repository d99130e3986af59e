// core/quant pipeline: RTN/GPTQ applied block by block on calibration data,
// the input model left untouched, cancel, saving, and on the real stories260K
// model the ordering FP < GPTQ < RTN at 4/3/2 bits.
#include <cmath>

#include <QTemporaryDir>
#include <QtTest>

#include "calib/calibration.h"
#include "eval/forward.h"
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

    /// lm_head and the embedding table: float unless asked; RTN exact, used by
    /// the forward pass, counted in avg bits; GPTQ on lm_head with the final
    /// hidden states' Hessian beats RTN's predicted error.
    void lmHeadAndEmbeddingsOnlyWhenAsked() {
        const Demo& d = demo();
        const Model& m = *d.model;
        const QuantizeResult plain = quantizeModel(m, {}, CalibOptions{}, uniform(QuantMethod::Rtn, "int4"));
        QVERIFY(!plain.model->lmHeadOverride && !plain.model->embedOverride);
        for (const LayerResult& l : plain.layers) QVERIFY(l.block >= 0);

        OuterPlans o;
        LayerPlan e;
        e.method = QuantMethod::Rtn;
        e.weight = *QuantFormat::parse("int4-g32");
        o.embedTokens = e;
        LayerPlan h = e;
        h.weight = *QuantFormat::parse("int8");
        o.lmHead = h;
        const QuantizeResult r = quantizeModel(m, {}, CalibOptions{}, uniform(QuantMethod::None, "int4"), {}, o);
        QVERIFY(!m.embedOverride && !m.lmHeadOverride && !hasOverrides(*r.model));
        QVERIFY(r.model->embedOverride && r.model->lmHeadOverride);
        QVERIFY(*r.model->embedOverride == Quantizer(e.weight).fakeQuantize(m.embedTokens.matrix()));
        QVERIFY(*r.model->lmHeadOverride == Quantizer(h.weight).fakeQuantize(m.lmHead.matrix()));
        QCOMPARE(int(r.layers.size()), 2);
        QCOMPARE(r.layers[0].name, std::string(kEmbedTokensName));
        QCOMPARE(r.layers[1].name, std::string(kLmHeadName));
        QCOMPARE(r.layers[0].block, -1);
        const double V = double(m.config.vocabSize), H = double(m.embedTokens.logicalCols());
        const double want = (e.weight.bitsPerWeight(int64_t(H)) + h.weight.bitsPerWeight(int64_t(H))) / 2;
        QVERIFY2(std::abs(r.avgBits - want) < 1e-12, qPrintable(QStringLiteral("%1 vs %2").arg(r.avgBits).arg(want)));
        QCOMPARE(r.quantizedParams, int64_t(2 * V * H));
        // the forward pass reads the quantized table and head
        const Forward f(*r.model);
        const std::vector<int> toks = {1, 5, 7, 5};
        const MatrixRM x = f.embed(toks.data(), 1, 4);
        for (int i = 0; i < 4; ++i) QVERIFY(x.row(i) == r.model->embedOverride->row(toks[size_t(i)]));
        const MatrixRM fh = f.finalHidden(x);
        const MatrixRM want2 = fh * r.model->lmHeadOverride->transpose();
        QVERIFY((f.logits(fh) - want2).cwiseAbs().maxCoeff() < 1e-4f);
        QVERIFY((Forward(m).logits(fh) - want2).cwiseAbs().maxCoeff() > 1e-4f);

        // GPTQ vs RTN on lm_head (3 bits), same calibration, blocks float
        const std::vector<int> ids = d.tokenizer->encodeForModel(d.evalText);
        CalibOptions c;
        c.nsamples = 8;
        c.seqlen = 256;
        const std::vector<int> calib = sampleCalibration(ids, c);
        OuterPlans og, orr;
        og.lmHead = orr.lmHead = h;
        og.lmHead->method = QuantMethod::Gptq;
        og.lmHead->weight = orr.lmHead->weight = *QuantFormat::parse("int3-g32");
        const QuantizeResult rg = quantizeModel(m, calib, c, uniform(QuantMethod::None, "int4"), {}, og);
        const QuantizeResult rr = quantizeModel(m, calib, c, uniform(QuantMethod::None, "int4"), {}, orr);
        QCOMPARE(int(rg.layers.size()), 1);
        const LayerResult& lg = rg.layers[0];
        const LayerResult& lr = rr.layers[0];
        QCOMPARE(lg.name, std::string(kLmHeadName));
        QVERIFY(std::isfinite(lg.gptqLoss) && std::isfinite(lr.relOutputError));
        QVERIFY2(lg.relOutputError < lr.relOutputError,
                 qPrintable(QStringLiteral("lm_head predicted error: gptq %1, rtn %2").arg(lg.relOutputError).arg(lr.relOutputError)));
        EvalOptions eo;
        eo.seqlen = 256;
        const double pg = evaluatePerplexity(*rg.model, ids, eo).ppl, pr = evaluatePerplexity(*rr.model, ids, eo).ppl;
        qInfo("lm_head int3-g32 on the demo: gptq rel. error %.4g ppl %.4f, rtn rel. error %.4g ppl %.4f", lg.relOutputError, pg,
              lr.relOutputError, pr);
        QVERIFY(pg < pr);
        // SmoothQuant/AWQ and GPTQ on the lookup table are refused
        OuterPlans bad;
        bad.embedTokens = h;
        bad.embedTokens->method = QuantMethod::Gptq;
        QVERIFY_THROWS_EXCEPTION(Error, quantizeModel(m, calib, c, uniform(QuantMethod::None, "int4"), {}, bad));
        bad = OuterPlans{};
        bad.lmHead = h;
        bad.lmHead->awq = true;
        QVERIFY_THROWS_EXCEPTION(Error, quantizeModel(m, calib, c, uniform(QuantMethod::None, "int4"), {}, bad));
    }

    /// Tied embeddings: quantizing only lm_head (or only the table) saves an
    /// untied checkpoint that evaluates the same; both by the same RTN stay tied.
    void tiedEmbeddingsSaveUntiedWhenTheyDiffer() {
        Model t = *demo().model;
        t.lmHead = t.embedTokens;
        t.config.tiedEmbeddings = true;
        LayerPlan rtn;
        rtn.method = QuantMethod::Rtn;
        rtn.weight = *QuantFormat::parse("int4-g32");
        const std::vector<int> toks = {3, 9, 4, 4, 12, 1};
        auto logitsOf = [&](const Model& m) {
            const Forward f(m);
            return f.logits(f.finalHidden(f.embed(toks.data(), 1, int(toks.size()))));
        };
        QTemporaryDir dir;
        for (int which = 0; which < 3; ++which) {  // 0: lm_head only, 1: table only, 2: both (same RTN)
            OuterPlans o;
            if (which != 1) o.lmHead = rtn;
            if (which != 0) o.embedTokens = rtn;
            const QuantizeResult r = quantizeModel(t, {}, CalibOptions{}, uniform(QuantMethod::None, "int4"), {}, o);
            const QString out = dir.filePath(QStringLiteral("tied%1").arg(which));
            saveHfModel(*r.model, out, {});
            auto back = loadModel(out);
            const bool stillTied = back->lmHead.ref.data == back->embedTokens.ref.data;
            QCOMPARE(stillTied, which == 2);
            QCOMPARE(back->config.tiedEmbeddings, which == 2);
            const MatrixRM fq = Quantizer(rtn.weight).fakeQuantize(t.embedTokens.matrix());
            QVERIFY(back->lmHead.matrix() == (which == 1 ? t.embedTokens.matrix() : fq));
            QVERIFY(back->embedTokens.matrix() == (which == 0 ? t.embedTokens.matrix() : fq));
            const MatrixRM a = logitsOf(*r.model), b = logitsOf(*back);
            QVERIFY2((a - b).cwiseAbs().maxCoeff() < 1e-4f, qPrintable(QStringLiteral("case %1").arg(which)));
        }
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
