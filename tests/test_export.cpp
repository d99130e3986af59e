// core/export: the GGUF writer and reader and the gguf_* weight formats.
//  * the gguf_q8_0/q4_0/q4_1 grids on known answers (ggml's rounding: roundf,
//    Q4_0's signed max and clipped -8, Q4_1's +0.5, fp16 scales) and against the
//    packed ggml blocks (pack = ggml's reference quantizer, unpack = ggml's
//    dequantization = the fake quantization, bit for bit);
//  * GPTQ rounds onto the block grid and records the parameters it used;
//  * export -> QuantScope's reader -> the same tensors bit for bit as the run's
//    fake-quantized weights, for RTN, GPTQ (with act-order), AWQ+GPTQ and BoA onto
//    every GGUF type (and mxfp4 / fp16 fallbacks), logits and perplexity equal;
//    on stories260K (../shared) from the llama2.c .bin and from the HF copy
//    (identical tensor data: q/k rows back in llama.cpp's order either way);
//  * the lossless rule (a format without a GGUF type is an error naming the layer
//    and the format; --allow-requantize re-quantizes with ggml's RTN and reports
//    the error), the tokenizers embedded and read back, malformed files and
//    unsupported architectures rejected with clear errors, and the CLI (export,
//    export --run, quantize --export-gguf, eval --model x.gguf).
// It also leaves GGUF files and the fake-quantized weights they must hold in
// QS_EXPORT_CHECK_DIR for the independent numpy reader tests/tools/check_gguf.py
// (CTest test check_gguf, which runs after this one).
#include <cmath>
#include <cstring>
#include <random>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "calib/calibration.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "export/gguf.h"
#include "store/store.h"
#include "export/gptq_packed.h"
#include "export/verified_export.h"
#include "model/demo.h"
#include "model/dtype.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "quant/gguf_quants.h"
#include "quant/pipeline.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

QuantFormat fmt(const char* n) {
    const auto f = QuantFormat::parse(n);
    if (!f) qFatal("bad format %s", n);
    return *f;
}

bool bitEqual(const MatrixRM& a, const MatrixRM& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
    return a.size() == 0 || std::memcmp(a.data(), b.data(), size_t(a.size()) * sizeof(float)) == 0;
}
bool bitEqual(const VectorF& a, const VectorF& b) {
    if (a.size() != b.size()) return false;
    return a.size() == 0 || std::memcmp(a.data(), b.data(), size_t(a.size()) * sizeof(float)) == 0;
}
/// Equal as floats (+0 == -0): MXFP4 in ggml has no -0.
bool valueEqual(const MatrixRM& a, const MatrixRM& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

/// A small random LLaMA model with owned weights (q/k in rotate-half order, as
/// every Model holds them).
std::shared_ptr<Model> tinyLlama(int vocab, int inter = 96, uint64_t seed = 7, bool tied = false) {
    ModelConfig c;
    c.arch = Arch::Llama;
    c.modelType = "llama";
    c.hiddenSize = 64;
    c.intermediateSize = inter;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = 2;
    c.headDim = 16;
    c.vocabSize = vocab;
    c.maxPositions = 128;
    c.tiedEmbeddings = tied;
    c.bosTokenId = 1;
    c.eosTokenId = 2;
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::normal_distribution<float> nd(0.f, 1.f);
    auto mat = [&](const std::string& name, int64_t r, int64_t cc, float s) {
        std::vector<float> v(size_t(r * cc));
        for (float& x : v) x = s * nd(rng);
        return WeightSource::fromOwned(std::move(v), {r, cc}, name);
    };
    auto vec = [&](const std::string& name, int64_t n) {
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v) x = 1.0f + 0.1f * nd(rng);
        return WeightSource::fromOwned(std::move(v), {n}, name);
    };
    auto m = std::make_shared<Model>();
    m->config = c;
    m->path = QStringLiteral("tiny-llama");
    m->format = QStringLiteral("demo");
    const int64_t H = c.hiddenSize, qd = int64_t(c.numHeads) * c.headDim, kvd = int64_t(c.numKvHeads) * c.headDim;
    m->embedTokens = mat("model.embed_tokens.weight", vocab, H, 1.0f);
    m->finalNorm.weight = vec("model.norm.weight", H);
    m->lmHead = tied ? m->embedTokens : mat("lm_head.weight", vocab, H, 0.3f);
    for (int i = 0; i < c.numLayers; ++i) {
        Block b;
        b.index = i;
        b.prefix = "model.layers." + std::to_string(i);
        b.attnNorm.weight = vec(b.prefix + ".input_layernorm.weight", H);
        b.mlpNorm.weight = vec(b.prefix + ".post_attention_layernorm.weight", H);
        auto lin = [&](const char* n, LinearKind k, int64_t out, int64_t in) {
            Linear l;
            l.name = b.prefix + "." + n;
            l.kind = k;
            l.outFeatures = out;
            l.inFeatures = in;
            l.weight = mat(l.name + ".weight", out, in, 1.0f / std::sqrt(float(in)));
            b.linears.push_back(std::move(l));
        };
        lin("self_attn.q_proj", LinearKind::Q, qd, H);
        lin("self_attn.k_proj", LinearKind::K, kvd, H);
        lin("self_attn.v_proj", LinearKind::V, kvd, H);
        lin("self_attn.o_proj", LinearKind::O, H, qd);
        lin("mlp.gate_proj", LinearKind::Gate, inter, H);
        lin("mlp.up_proj", LinearKind::Up, inter, H);
        lin("mlp.down_proj", LinearKind::Down, H, inter);
        m->blocks.push_back(std::move(b));
    }
    return m;
}

/// A llama2.c tokenizer.bin for a vocabulary of `vocab` (<unk>, BOS, EOS, the 256
/// byte tokens, then letters and pairs with scores).
QByteArray tinyLlama2cTokenizer(int vocab) {
    std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        pieces.push_back(buf);
    }
    const std::string letters = " abcdefghijklmnopqrstuvwxyz";
    for (char ch : letters) pieces.push_back(std::string(1, ch));
    for (size_t i = 0; int(pieces.size()) < vocab; ++i) pieces.push_back(std::string(1, letters[i % 27]) + letters[(i / 27 + 1) % 27]);
    QByteArray out;
    auto put = [&](const void* p, int n) { out.append(static_cast<const char*>(p), n); };
    int32_t maxLen = 0;
    for (const auto& p : pieces) maxLen = std::max<int32_t>(maxLen, int32_t(p.size()));
    put(&maxLen, 4);
    for (size_t i = 0; i < pieces.size(); ++i) {
        const float score = i < 286 ? 0.0f : -float(i);
        const int32_t len = int32_t(pieces[i].size());
        put(&score, 4);
        put(&len, 4);
        put(pieces[i].data(), len);
    }
    return out;
}

TokenizerSource llama2cSource(const QByteArray& bytes) {
    TokenizerSource s;
    s.kind = TokenizerSource::Kind::Llama2c;
    s.data = bytes;
    s.label = QStringLiteral("tokenizer.bin");
    return s;
}

std::vector<int> randomTokens(int n, int vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(3, vocab - 1);
    std::vector<int> t(static_cast<size_t>(n));
    for (int& x : t) x = d(rng);
    return t;
}

PlanFn uniform(const char* method, const char* format, bool actOrder = false) {
    LayerPlan p;
    if (!parseMethodInto(method, p).empty()) qFatal("bad method %s", method);
    p.weight = fmt(format);
    p.gptq.actOrder = actOrder;
    return [p](const Linear&) { return p; };
}

/// Every tensor of `back` (read from a GGUF) against the evaluated weights of `q`:
/// bit for bit, or (signedZeros false: MXFP4) equal as floats.
QString compareModels(const Model& back, const Model& q, bool signedZeros = true) {
    auto mat = [](const std::shared_ptr<const MatrixRM>& o, const WeightSource& w) { return o ? *o : w.matrix(); };
    auto same = [&](const MatrixRM& a, const MatrixRM& b) { return signedZeros ? bitEqual(a, b) : valueEqual(a, b); };
    if (!same(mat(back.embedOverride, back.embedTokens), mat(q.embedOverride, q.embedTokens))) return QStringLiteral("embed_tokens");
    if (!same(mat(back.lmHeadOverride, back.lmHead), mat(q.lmHeadOverride, q.lmHead))) return QStringLiteral("lm_head");
    if (!bitEqual(back.finalNorm.weightVector(), q.finalNorm.weightVector())) return QStringLiteral("norm");
    if (back.blocks.size() != q.blocks.size()) return QStringLiteral("block count");
    for (size_t i = 0; i < q.blocks.size(); ++i) {
        if (!bitEqual(back.blocks[i].attnNorm.weightVector(), q.blocks[i].attnNorm.weightVector())) return QStringLiteral("attn norm");
        if (!bitEqual(back.blocks[i].mlpNorm.weightVector(), q.blocks[i].mlpNorm.weightVector())) return QStringLiteral("mlp norm");
        for (size_t k = 0; k < q.blocks[i].linears.size(); ++k) {
            const Linear& a = back.blocks[i].linears[k];
            const Linear& b = q.blocks[i].linears[k];
            if (a.name != b.name || !same(a.weightMatrix(), b.weightMatrix())) return QString::fromStdString(b.name);
            if (!bitEqual(a.biasVector(), b.biasVector())) return QString::fromStdString(b.name + ".bias");
        }
    }
    return {};
}

// ------------------------------------------------------------------ dumps for check_gguf.py

/// A directory of dumps for one of the numpy checkers (tests/tools): emptied when
/// created; manifest.json lists the cases and is rewritten after each one.
class ManifestDir {
public:
    explicit ManifestDir(const QString& dir) : dir_(dir) {
        QDir(dir_).removeRecursively();
        QDir().mkpath(dir_);
    }
    QString path(const QString& name) const { return dir_ + QLatin1Char('/') + name; }

protected:
    void addCase(const QJsonObject& c) {
        cases_.append(c);
        QFile mf(path(QStringLiteral("manifest.json")));
        if (!mf.open(QIODevice::WriteOnly)) qFatal("cannot write manifest");
        mf.write(QJsonDocument(QJsonObject{{QStringLiteral("cases"), cases_}}).toJson());
    }

private:
    QString dir_;
    QJsonArray cases_;
};

/// Writes `gguf` next to a raw float32 dump of the evaluated weights (Model row
/// order) and a manifest entry, for the independent numpy reader.
class CheckDump : public ManifestDir {
public:
    CheckDump() : ManifestDir(QStringLiteral(QS_EXPORT_CHECK_DIR)) {}
    /// Records the expectations of `name`.gguf (already written at path(name + ".gguf")).
    void add(const QString& name, const Model& q, const GgufExportResult& r) {
        QFile f(path(name + QStringLiteral(".f32")));
        if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write dump");
        QJsonArray tensors;
        qint64 offset = 0;
        auto put = [&](const GgufTensorReport& t, const MatrixRM& m, const char* permute) {
            f.write(reinterpret_cast<const char*>(m.data()), qint64(m.size()) * 4);
            QJsonObject o{{QStringLiteral("gguf_name"), QString::fromStdString(t.name)},
                          {QStringLiteral("source"), QString::fromStdString(t.source)},
                          {QStringLiteral("type"), QString::fromStdString(t.type)},
                          {QStringLiteral("format"), QString::fromStdString(t.format)},
                          {QStringLiteral("shape"), QJsonArray{qint64(m.rows()), qint64(m.cols())}},
                          {QStringLiteral("offset"), offset}};
            if (permute) o.insert(QStringLiteral("permute"), QLatin1String(permute));
            tensors.append(o);
            offset += qint64(m.size());
        };
        std::map<std::string, const GgufTensorReport*> byName;
        for (const auto& t : r.tensors) byName[t.name] = &t;
        auto row = [](const VectorF& v) { return MatrixRM(v.transpose()); };
        put(*byName.at("token_embd.weight"), q.embedOverride ? *q.embedOverride : q.embedTokens.matrix(), nullptr);
        if (byName.count("output.weight")) put(*byName.at("output.weight"), q.lmHeadOverride ? *q.lmHeadOverride : q.lmHead.matrix(), nullptr);
        put(*byName.at("output_norm.weight"), row(q.finalNorm.weightVector()), nullptr);
        const char* names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        for (const Block& b : q.blocks) {
            const std::string p = "blk." + std::to_string(b.index) + ".";
            put(*byName.at(p + "attn_norm.weight"), row(b.attnNorm.weightVector()), nullptr);
            put(*byName.at(p + "ffn_norm.weight"), row(b.mlpNorm.weightVector()), nullptr);
            for (size_t k = 0; k < b.linears.size(); ++k) {
                const char* perm = k == 0 ? "q" : k == 1 ? "k" : nullptr;
                put(*byName.at(p + names[k] + ".weight"), b.linears[k].weightMatrix(), perm);
            }
        }
        addCase(QJsonObject{{QStringLiteral("gguf"), name + QStringLiteral(".gguf")},
                                  {QStringLiteral("weights"), name + QStringLiteral(".f32")},
                                  {QStringLiteral("n_layer"), int(q.blocks.size())},
                                  {QStringLiteral("n_head"), q.config.numHeads},
                                  {QStringLiteral("n_head_kv"), q.config.numKvHeads},
                                  {QStringLiteral("n_embd"), q.config.hiddenSize},
                                  {QStringLiteral("n_ff"), q.config.intermediateSize},
                                  {QStringLiteral("n_vocab"), q.config.vocabSize},
                                  {QStringLiteral("tensors"), tensors}});
    }
};

CheckDump& dump() {
    static CheckDump d;
    return d;
}

/// The same for GPTQ-packed checkpoints (QS_EXPORT_CHECK_DIR/gptq, for check_gptq_packed.py):
/// the evaluated weights of every linear, in the checkpoint's own (HF) row order.
class GptqDump : public ManifestDir {
public:
    GptqDump() : ManifestDir(QStringLiteral(QS_EXPORT_CHECK_DIR "/gptq")) {}
    void add(const QString& name, const Model& q, const GptqPackedResult& r) {
        QFile f(path(name + QStringLiteral(".f32")));
        if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write dump");
        QJsonArray linears;
        qint64 offset = 0;
        for (const Linear* l : q.linears()) {
            const MatrixRM w = l->weightMatrix();
            f.write(reinterpret_cast<const char*>(w.data()), qint64(w.size()) * 4);
            linears.append(QJsonObject{{QStringLiteral("name"), QString::fromStdString(l->name)},
                                       {QStringLiteral("shape"), QJsonArray{qint64(w.rows()), qint64(w.cols())}},
                                       {QStringLiteral("offset"), offset}});
            offset += qint64(w.size());
        }
        addCase(QJsonObject{{QStringLiteral("dir"), name},
                                  {QStringLiteral("weights"), name + QStringLiteral(".f32")},
                                  {QStringLiteral("bits"), r.bits},
                                  {QStringLiteral("group_size"), r.groupSize},
                                  {QStringLiteral("sym"), r.sym},
                                  {QStringLiteral("desc_act"), r.descAct},
                                  {QStringLiteral("linears"), linears}});
    }
};

GptqDump& gptqDump() {
    static GptqDump d;
    return d;
}

/// A copy of a safetensors file's tensors, to build malformed checkpoints from.
std::vector<RawTensor> rawTensors(const QString& path) {
    const SafetensorsHeader h = openSafetensors(path);
    std::vector<RawTensor> out;
    for (const auto& [name, t] : h.tensors)
        out.push_back({name, t.dtypeName, t.shape, QByteArray(reinterpret_cast<const char*>(t.data), qsizetype(t.nbytes))});
    return out;
}

}  // namespace

class TestExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void exportPlanProblemsRules() {
        // what an export refuses before quantizing, per target
        auto L = [](const char* name, QuantMethod m, const char* f, int64_t in, int64_t out = 64, bool outside = false) {
            return PlannedLayer{name, m, m == QuantMethod::None ? QuantFormat{FormatKind::None, 0, false, 0} : fmt(f), in, out, outside};
        };
        const QString gguf = QStringLiteral("gguf"), gptq = QStringLiteral("gptq");
        // GGUF: llama.cpp's grids, mxfp4, fp16 and float are exact; a grid on rows not a multiple of 32 stays F16
        QVERIFY(exportPlanProblems(gguf, {L("a", QuantMethod::Gptq, "gguf_q4_0", 64), L("b", QuantMethod::Rtn, "mxfp4", 64),
                                          L("c", QuantMethod::Rtn, "fp16", 64), L("d", QuantMethod::None, "", 64),
                                          L("e", QuantMethod::Gptq, "gguf_q8_0", 172)},
                                   false).isEmpty());
        QStringList p = exportPlanProblems(gguf, {L("a", QuantMethod::Gptq, "int4-g128", 64), L("b", QuantMethod::Mgptq, "int2-g64", 64),
                                                  L("c", QuantMethod::Rtn, "mxfp4", 172), L("lm_head", QuantMethod::Rtn, "int8-g128", 64, 512, true)},
                                           false);
        QCOMPARE(p, (QStringList{"a (int4-g128)", "b (MG-PTQ, widths per column group)", "c (mxfp4)", "lm_head (int8-g128)"}));
        QVERIFY(exportPlanProblems(gguf, {L("a", QuantMethod::Gptq, "int4-g128", 64)}, true).isEmpty());  // re-quantized
        // GPTQ-packed: one integer configuration with fp16 scales, every linear quantized and packable
        QVERIFY(exportPlanProblems(gptq, {L("a", QuantMethod::Gptq, "int4-g32-f16", 64), L("b", QuantMethod::Rtn, "int4-g32-f16", 128),
                                          L("lm_head", QuantMethod::Rtn, "int8-g128", 64, 512, true)},
                                   false).isEmpty());
        p = exportPlanProblems(gptq, {L("a", QuantMethod::Gptq, "int4-g32-f16", 64), L("b", QuantMethod::Gptq, "int3-g32-f16", 64),
                                      L("c", QuantMethod::None, "", 64), L("d", QuantMethod::Gptq, "int4-g32", 64),
                                      L("e", QuantMethod::Gptq, "int5-g32-f16", 64), L("f", QuantMethod::Gptq, "mxfp4", 64),
                                      L("g", QuantMethod::Mgptq, "int2-g64", 64), L("h", QuantMethod::Gptq, "int4-g32-f16", 4, 64)},
                               false);
        QCOMPARE(p.size(), 7);
        QVERIFY(p[0].startsWith(QStringLiteral("b is int3-g32-f16 but other layers are int4-g32-f16")));
        QCOMPARE(p[1], QStringLiteral("c is not quantized"));
        QVERIFY(p[2].startsWith(QStringLiteral("d (int4-g32) has float32 scales")));
        QVERIFY(p[3].startsWith(QStringLiteral("e (int5-g32-f16): GPTQ checkpoints hold 2, 3, 4 or 8 bits")));
        QVERIFY(p[4].startsWith(QStringLiteral("f (mxfp4) is not an integer format")));
        QVERIFY(p[5].startsWith(QStringLiteral("g is MG-PTQ")));
        QVERIFY(p[6].startsWith(QStringLiteral("h [64 x 4] cannot be packed at 4 bits")));
        // float32 scales are re-quantized when allowed; the rest stays refused
        QCOMPARE(exportPlanProblems(gptq, {L("a", QuantMethod::Gptq, "int4-g32", 64), L("b", QuantMethod::Gptq, "int4-g32-f16", 64)}, true),
                 QStringList());
        QVERIFY(!exportPlanProblems(QStringLiteral("onnx"), {}, false).isEmpty());
    }

    void formatNamesAndBits() {
        QCOMPARE(fmt("gguf_q8_0").kind, FormatKind::GgufQ8_0);
        QCOMPARE(fmt("GGUF_Q4_0").kind, FormatKind::GgufQ4_0);
        QCOMPARE(fmt("gguf_q4_1").name(), std::string("gguf_q4_1"));
        QCOMPARE(fmt("fp16").name(), std::string("fp16"));
        QVERIFY(!QuantFormat::parse("gguf_q5_0"));
        QCOMPARE(fmt("gguf_q8_0").bitsPerWeight(64), 8.5);
        QCOMPARE(fmt("gguf_q4_0").bitsPerWeight(4096), 4.5);
        QCOMPARE(fmt("gguf_q4_1").bitsPerWeight(0), 5.0);
        QCOMPARE(fmt("gguf_q4_0").bitsPerWeight(172), 16.0);  // stays fp16
        QCOMPARE(fmt("gguf_q4_0").blockSize(), 32);
        QVERIFY(fmt("gguf_q4_0").fixedBlocks() && fmt("mxfp4").fixedBlocks() && !fmt("int4-g32").fixedBlocks());
        QCOMPARE(effectiveWeightFormat(fmt("gguf_q4_1"), 172).kind, FormatKind::Fp16);
        QCOMPARE(effectiveWeightFormat(fmt("gguf_q4_1"), 64).kind, FormatKind::GgufQ4_1);
        QCOMPARE(effectiveWeightFormat(fmt("int4-g32"), 172).kind, FormatKind::Int);
    }

    void ggmlRoundingKnownAnswers() {
        // Q8_0: d = amax/127 (fp16), q = roundf(x / d) with halves away from zero
        {
            std::vector<float> x(32, 0.f);
            x[0] = 127.f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.49f, x[4] = -127.f;
            const MatrixRM W = Eigen::Map<MatrixRM>(x.data(), 1, 32);
            const MatrixRM F = Quantizer(fmt("gguf_q8_0")).fakeQuantize(W);
            QCOMPARE(F(0, 0), 127.f);
            QCOMPARE(F(0, 1), 3.f);
            QCOMPARE(F(0, 2), -3.f);
            QCOMPARE(F(0, 3), 0.f);
            QCOMPARE(F(0, 4), -127.f);
        }
        {  // the scale is the fp16 rounding of amax/127: 1/127 -> 0.0078735352 (0x2008)
            std::vector<float> x(32, 0.f);
            x[0] = 1.f;
            const MatrixRM W = Eigen::Map<MatrixRM>(x.data(), 1, 32);
            const MatrixRM F = Quantizer(fmt("gguf_q8_0")).fakeQuantize(W);
            QCOMPARE(F(0, 0), 127.f * halfToFloat(0x2008));
            QCOMPARE(floatToHalf(1.f / 127.f), uint16_t(0x2008));
        }
        // Q4_0: d = max / -8 with max the signed value of largest |x|: the extreme maps
        // to code 0 exactly, the opposite extreme is clipped to code 15 (7 steps)
        {
            std::vector<float> x(32, 0.f);
            x[0] = 8.f, x[1] = -8.f, x[2] = 1.5f, x[3] = -2.5f;
            const MatrixRM W = Eigen::Map<MatrixRM>(x.data(), 1, 32);
            const MatrixRM F = Quantizer(fmt("gguf_q4_0")).fakeQuantize(W);
            QCOMPARE(F(0, 0), 8.f);     // d = -1, code 0 -> (0 - 8) * -1
            QCOMPARE(F(0, 1), -7.f);    // -8 * -1 + 8.5 = 16.5 -> 16 -> min(15) -> (15-8) * -1
            QCOMPARE(F(0, 2), 1.f);     // 1.5 * -1 + 8.5 = 7 -> (7 - 8) * -1: the tie goes down
            QCOMPARE(F(0, 3), -3.f);    // -2.5 * -1 + 8.5 = 11 -> (11 - 8) * -1: down again
        }
        // Q4_1: d = (max - min) / 15, m = fp16(min), q = trunc((x - min) / d + 0.5)
        {
            std::vector<float> x(32, 0.f);
            x[0] = -1.f, x[1] = 14.f, x[2] = 0.5f, x[3] = 3.49f;
            const MatrixRM W = Eigen::Map<MatrixRM>(x.data(), 1, 32);
            const MatrixRM F = Quantizer(fmt("gguf_q4_1")).fakeQuantize(W);
            QCOMPARE(F(0, 0), -1.f);
            QCOMPARE(F(0, 1), 14.f);
            QCOMPARE(F(0, 2), 1.f);     // the tie goes up
            QCOMPARE(F(0, 3), 3.f);
            QCOMPARE(F(0, 4), 0.f);
        }
    }

    void ggmlBlocksEqualFakeQuant() {
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.f, 1.f);
        MatrixRM W(9, 256);
        for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = nd(rng) * std::exp(0.5f * nd(rng));
        W.row(1).segment(32, 32).setZero();                 // all-zero block
        W.row(2).segment(0, 32).setZero();
        W(2, 5) = -3.f;                                      // one negative value: Q4_0's d > 0
        W.row(3).segment(64, 32).setConstant(0.25f);         // all equal: Q4_1 d = 0, value = fp16(min)
        W.row(4) *= 1e-9f;                                   // scales underflow fp16 (d16 = 0 or subnormal)
        W.row(5).segment(96, 32).setConstant(-1.f);
        for (int j = 0; j < 32; ++j) W(6, j) = float(j) - 15.5f;  // exact ties of the rounding rules
        for (const char* name : {"gguf_q8_0", "gguf_q4_0", "gguf_q4_1"}) {
            const QuantFormat f = fmt(name);
            const Quantizer q(f);
            const MatrixRM F = q.fakeQuantize(W);
            const PackedMatrix p = pack(W, f);
            const gguf::GgmlType t = f.kind == FormatKind::GgufQ8_0 ? gguf::GgmlType::Q8_0
                                     : f.kind == FormatKind::GgufQ4_0 ? gguf::GgmlType::Q4_0 : gguf::GgmlType::Q4_1;
            QCOMPARE(p.codes.size(), size_t(9) * gguf::bytesFor(t, 256));
            QVERIFY2(bitEqual(unpack(p), F), name);
            // per column (GPTQ's path) with the params of each block = the whole-matrix RTN
            const QuantGrid g = QuantGrid::rtn(W, q);
            QCOMPARE(int(g.groups.size()), 8);
            MatrixRM C(W.rows(), W.cols());
            for (int c = 0; c < 256; ++c) C.col(c) = q.quantizeColumn(W.col(c), g.groups[size_t(g.gIdx[size_t(c)])]);
            QVERIFY2(bitEqual(C, F), name);
            // the stored scale is an fp16 value; Q4_1's min too
            for (const RowParams& rp : g.groups)
                for (int r = 0; r < 9; ++r) {
                    QCOMPARE(halfToFloat(floatToHalf(rp.scale[r])), rp.scale[r]);
                    QCOMPARE(halfToFloat(floatToHalf(rp.zero[r])), rp.zero[r]);
                }
        }
        // rows that are not a multiple of 32 stay fp16
        MatrixRM W2 = W.leftCols(72);
        const MatrixRM F2 = Quantizer(fmt("gguf_q4_0")).fakeQuantize(W2);
        for (Eigen::Index i = 0; i < W2.size(); ++i) QCOMPARE(F2.data()[i], halfToFloat(floatToHalf(W2.data()[i])));
        QCOMPARE(pack(W2, fmt("gguf_q4_0")).format.kind, FormatKind::Fp16);
        QVERIFY(bitEqual(unpack(pack(W2, fmt("gguf_q4_0"))), F2));
    }

    void gptqRecordsItsGrid() {
        std::mt19937 rng(11);
        std::normal_distribution<float> nd(0.f, 1.f);
        const int out = 24, in = 128, n = 512;
        MatrixRM W(out, in), X(n, in);
        for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = nd(rng) * 0.1f;
        for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = nd(rng) * (1.f + float(i % in) / 32.f);
        const Eigen::MatrixXd H = 2.0 / n * (X.cast<double>().transpose() * X.cast<double>());
        for (const char* name : {"gguf_q8_0", "gguf_q4_0", "gguf_q4_1", "mxfp4", "int4-g32"}) {
            for (bool actOrder : {false, true}) {
                GptqOptions o;
                o.actOrder = actOrder;
                const Quantizer q(fmt(name));
                const GptqResult r = gptqQuantize(W, H, q, o);
                QVERIFY(!r.grid.empty());
                QCOMPARE(r.grid.rows, int64_t(out));
                // block formats keep their blocks of 32 original columns even with act-order
                if (fmt(name).fixedBlocks())
                    for (int c = 0; c < in; ++c) QCOMPARE(r.grid.gIdx[size_t(c)], c / 32);
                // each column is its group's rounding of itself: on the grid
                MatrixRM C(out, in);
                for (int c = 0; c < in; ++c) C.col(c) = q.quantizeColumn(r.weight.col(c), r.grid.groups[size_t(r.grid.gIdx[size_t(c)])]);
                QVERIFY2(bitEqual(C, r.weight), name);
                // and GPTQ beats RTN on the layer's output error
                QVERIFY(predictedError(W, r.weight, H) < predictedError(W, q.fakeQuantize(W), H));
            }
        }
    }

    void roundTripTinyModel_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("format");
        QTest::addColumn<bool>("actOrder");
        QTest::addColumn<int>("inter");
        QTest::addColumn<QString>("expectType");
        for (const char* f : {"gguf_q8_0", "gguf_q4_0", "gguf_q4_1"}) {
            const QString t = QString::fromLatin1(f + 5).toUpper();
            const QString fs = QString::fromLatin1(f);
            QTest::addRow("rtn %s", f) << QStringLiteral("rtn") << fs << false << 96 << t;
            QTest::addRow("gptq %s", f) << QStringLiteral("gptq") << fs << false << 96 << t;
            QTest::addRow("gptq act-order %s", f) << QStringLiteral("gptq") << fs << true << 96 << t;
            QTest::addRow("awq+gptq %s", f) << QStringLiteral("awq+gptq") << fs << false << 96 << t;
            QTest::addRow("boa %s", f) << QStringLiteral("boa") << fs << false << 96 << t;
        }
        QTest::addRow("gptq mxfp4") << QStringLiteral("gptq") << QStringLiteral("mxfp4") << false << 96 << QStringLiteral("MXFP4");
        QTest::addRow("rtn fp16") << QStringLiteral("rtn") << QStringLiteral("fp16") << false << 96 << QStringLiteral("F16");
        QTest::addRow("gptq gguf_q4_0, ffn 72 (down stays fp16)")
            << QStringLiteral("gptq") << QStringLiteral("gguf_q4_0") << false << 72 << QStringLiteral("Q4_0");
    }
    void roundTripTinyModel() {
        QFETCH(QString, method);
        QFETCH(QString, format);
        QFETCH(bool, actOrder);
        QFETCH(int, inter);
        QFETCH(QString, expectType);
        const int V = 320;
        auto m = tinyLlama(V, inter);
        const CalibOptions calib{8, 32, 0};
        const std::vector<int> calibTokens = randomTokens(8 * 32, V, 5);
        OuterPlans outer;
        LayerPlan head;
        head.method = method.contains(QLatin1String("gptq")) ? QuantMethod::Gptq : QuantMethod::Rtn;
        head.weight = fmt("gguf_q8_0");
        outer.lmHead = head;
        LayerPlan emb;
        emb.weight = fmt(format.toLatin1().constData());
        outer.embedTokens = emb;
        const QuantizeResult qr = quantizeModel(*m, calibTokens, calib, uniform(method.toLatin1().constData(),
                                                format.toLatin1().constData(), actOrder), {}, outer);
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("tiny.gguf"));
        const QByteArray tokBytes = tinyLlama2cTokenizer(V);
        std::unique_ptr<Tokenizer> tok = parseLlama2cTokenizer(tokBytes, V, QStringLiteral("tiny"));
        const GgufExportResult r = exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), path);
        bool sawType = false;
        for (const GgufTensorReport& t : r.tensors) {
            QVERIFY(!t.requantized);
            if (t.name == "blk.0.attn_q.weight") sawType = t.type == expectType.toStdString();
            if (t.name == "blk.0.ffn_down.weight" && inter % 32) QCOMPARE(t.type, std::string("F16"));
            if (t.name == "output.weight") QCOMPARE(t.type, std::string("Q8_0"));
        }
        QVERIFY(sawType);
        const std::shared_ptr<Model> back = loadGgufModel(path);
        QCOMPARE(back->format, QStringLiteral("gguf"));
        QVERIFY2(back->quantization.contains(expectType + QStringLiteral(" x")), qPrintable(back->quantization));
        const QString diff = compareModels(*back, *qr.model, format != QLatin1String("mxfp4"));
        QVERIFY2(diff.isEmpty(), qPrintable(QStringLiteral("differs: ") + diff));
        // the same logits: perplexity identical to the last bit
        const std::vector<int> evalTokens = randomTokens(4 * 32, V, 9);
        const EvalOptions eo{32, 0, 0};
        QCOMPARE(evaluatePerplexity(*back, evalTokens, eo).ppl, evaluatePerplexity(*qr.model, evalTokens, eo).ppl);
        // and the numpy reader gets a copy of some of them
        const QString tag = QString(QTest::currentDataTag()).replace(QRegularExpression(QStringLiteral("[^a-z0-9_]+")), QStringLiteral("_"));
        if (tag.startsWith(QLatin1String("gptq_act")) || tag.startsWith(QLatin1String("rtn")) || tag.contains(QLatin1String("mxfp4")) ||
            tag.contains(QLatin1String("ffn_72"))) {
            const QString name = QStringLiteral("tiny_") + tag;
            QFile::remove(dump().path(name + QStringLiteral(".gguf")));
            QVERIFY(QFile::copy(path, dump().path(name + QStringLiteral(".gguf"))));
            dump().add(name, *qr.model, r);
        }
    }

    void tiedEmbeddingsOmitOutput() {
        auto m = tinyLlama(300, 96, 3, true);
        const QByteArray tokBytes = tinyLlama2cTokenizer(300);
        auto tok = parseLlama2cTokenizer(tokBytes, 300, QStringLiteral("tiny"));
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("t.gguf"));
        // float and tied: no output.weight; llama.cpp uses token_embd
        GgufExportResult r = exportGguf(*m, {}, *tok, llama2cSource(tokBytes), path);
        for (const auto& t : r.tensors) QVERIFY(t.name != "output.weight");
        auto back = loadGgufModel(path);
        QVERIFY(back->config.tiedEmbeddings);
        QVERIFY2(back->quantization.isEmpty(), qPrintable(back->quantization));  // a float file is not a quantized checkpoint
        QVERIFY(compareModels(*back, *m).isEmpty());
        // lm_head quantized on its own: untied in the file
        OuterPlans outer;
        LayerPlan h;
        h.weight = fmt("gguf_q4_0");
        outer.lmHead = h;
        const QuantizeResult qr = quantizeModel(*m, {}, CalibOptions{}, uniform("rtn", "gguf_q4_1"), {}, outer);
        r = exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), path);
        bool out = false;
        for (const auto& t : r.tensors) out = out || (t.name == "output.weight" && t.type == "Q4_0");
        QVERIFY(out);
        back = loadGgufModel(path);
        QVERIFY(!back->config.tiedEmbeddings);
        QVERIFY(compareModels(*back, *qr.model).isEmpty());
    }

    void losslessRule() {
        const int V = 300;
        auto m = tinyLlama(V);
        const QByteArray tokBytes = tinyLlama2cTokenizer(V);
        auto tok = parseLlama2cTokenizer(tokBytes, V, QStringLiteral("tiny"));
        // q_proj in int4-g32, the rest gguf_q4_0
        const PlanFn plan = [](const Linear& l) {
            LayerPlan p;
            p.weight = fmt(l.kind == LinearKind::Q ? "int4-g32" : "gguf_q4_0");
            return p;
        };
        const QuantizeResult qr = quantizeModel(*m, {}, CalibOptions{}, plan);
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("r.gguf"));
        try {
            exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), path);
            QFAIL("an int4-g32 layer exported without --allow-requantize");
        } catch (const Error& e) {
            const QString msg = QString::fromUtf8(e.what());
            QVERIFY2(msg.contains(QLatin1String("model.layers.0.self_attn.q_proj (int4-g32)")), e.what());
            QVERIFY2(msg.contains(QLatin1String("--allow-requantize")), e.what());
        }
        QVERIFY(!QFile::exists(path));  // nothing half-written
        GgufExportOptions o;
        o.allowRequantize = true;
        GgufExportResult r = exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), path, o);
        auto back = loadGgufModel(path);
        int requant = 0;
        for (const auto& t : r.tensors) {
            if (!t.requantized) continue;
            ++requant;
            QCOMPARE(t.type, std::string("Q4_1"));  // 4 bits, asymmetric
            QVERIFY(t.relError > 0 && t.relError < 0.2);
            // what the file holds: ggml's RTN of the evaluated weights, in llama.cpp's row order
            const int blk = std::stoi(t.name.substr(4));
            const MatrixRM evaluated = qr.model->blocks[size_t(blk)].linears[0].weightMatrix();
            const MatrixRM got = back->blocks[size_t(blk)].linears[0].weightMatrix();
            const MatrixRM viaQ41 = Quantizer(fmt("gguf_q4_1")).fakeQuantize(evaluated);  // per row: row order does not matter
            QVERIFY(bitEqual(got, viaQ41));
            const double rel = std::sqrt((got - evaluated).cast<double>().squaredNorm() / evaluated.cast<double>().squaredNorm());
            QVERIFY(std::abs(rel - t.relError) < 1e-9);
        }
        QCOMPARE(requant, 2);
        // the other layers stay exact
        QVERIFY(bitEqual(back->blocks[0].linears[1].weightMatrix(), qr.model->blocks[0].linears[1].weightMatrix()));
        o.requantizeTo = fmt("gguf_q8_0");
        r = exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), path, o);
        for (const auto& t : r.tensors)
            if (t.requantized) QCOMPARE(t.type, std::string("Q8_0"));
    }

    void weightsOffTheirGridAreRejected() {
        const int V = 300;
        auto m = tinyLlama(V);
        const QByteArray tokBytes = tinyLlama2cTokenizer(V);
        auto tok = parseLlama2cTokenizer(tokBytes, V, QStringLiteral("tiny"));
        QuantizeResult qr = quantizeModel(*m, {}, CalibOptions{}, uniform("rtn", "gguf_q4_0"));
        // tamper with one evaluated weight: the export must notice
        Linear& l = qr.model->blocks[1].linears[2];
        MatrixRM w = *l.override;
        w(3, 40) += 1e-3f;
        l.override = std::make_shared<const MatrixRM>(w);
        QTemporaryDir tmp;
        try {
            exportGguf(*qr.model, qr.layers, *tok, llama2cSource(tokBytes), tmp.filePath(QStringLiteral("x.gguf")));
            QFAIL("a weight off its grid was exported");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("blk.1.attn_v.weight")), e.what());
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("row 3, column 40")), e.what());
        }
    }

    void unsupportedArchitecture() {
        auto m = tinyLlama(300);
        m->config.arch = Arch::Opt;
        m->config.modelType = "opt";
        const QByteArray tokBytes = tinyLlama2cTokenizer(300);
        auto tok = parseLlama2cTokenizer(tokBytes, 300, QStringLiteral("tiny"));
        QTemporaryDir tmp;
        try {
            exportGguf(*m, {}, *tok, llama2cSource(tokBytes), tmp.filePath(QStringLiteral("x.gguf")));
            QFAIL("an OPT model exported as GGUF");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("LLaMA-family")), e.what());
        }
    }

    void tokenizersRoundTrip() {
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("tok.gguf"));
        // llama2.c: the file read back rebuilds the very same tokenizer.bin
        {
            const QByteArray tokBytes = tinyLlama2cTokenizer(300);
            auto tok = parseLlama2cTokenizer(tokBytes, 300, QStringLiteral("tiny"));
            exportGguf(*tinyLlama(300), {}, *tok, llama2cSource(tokBytes), path);
            const GgufFile g = openGguf(path);
            QCOMPARE(QString::fromStdString(g.find("tokenizer.ggml.model")->s), QStringLiteral("llama"));
            QCOMPARE(g.find("tokenizer.ggml.tokens")->arr[1].s, std::string("<s>"));
            QCOMPARE(g.find("tokenizer.ggml.tokens")->arr[3].s, std::string("<0x00>"));
            QCOMPARE(g.find("tokenizer.ggml.tokens")->arr[259].s, std::string("\xE2\x96\x81"));  // " " escaped
            QCOMPARE(g.find("tokenizer.ggml.token_type")->arr[3].i, int64_t(6));              // BYTE
            QCOMPARE(g.find("tokenizer.ggml.token_type")->arr[2].i, int64_t(3));              // CONTROL
            QCOMPARE(ggufTokenizerSource(path).data, tokBytes);
            auto back = loadTokenizerFor(path, QString(), tinyLlama(300)->config);
            const std::string text = "hello world, abc xyz";
            QCOMPARE(back->encodeForModel(text), tok->encodeForModel(text));
        }
        // byte-level BPE: model gpt2 with merges, read back from tokenizer.huggingface.json or
        // (without it) from the standard keys
        const QString gpt2 = test::fixture(QStringLiteral("tokenizers/gpt2/tokenizer.json"));
        auto tok = loadTokenizerFor(QString(), gpt2, ModelConfig{});
        TokenizerSource src = tokenizerSourceFromFiles(tok->sourceFiles);
        QCOMPARE(int(src.kind), int(TokenizerSource::Kind::HfJson));
        auto m = tinyLlama(tok->vocabSize());
        const std::string text = "Hello world! It's 2024: tokens, merges and   spaces.\nNew line";
        for (bool embedJson : {true, false}) {
            TokenizerSource s = src;
            std::vector<std::string> warnings;
            exportGguf(*m, {}, *tok, s, path);
            if (!embedJson) {  // strip tokenizer.huggingface.json: rewrite the file without it
                GgufFile g = openGguf(path);
                QVERIFY(g.find("tokenizer.huggingface.json"));
                QVERIFY(g.find("tokenizer.ggml.merges") && !g.find("tokenizer.ggml.merges")->arr.empty());
                QCOMPARE(QString::fromStdString(g.find("tokenizer.ggml.pre")->s), QStringLiteral("gpt-2"));
                QByteArray bytes = test::readAll(path);
                const QByteArray key("tokenizer.huggingface.json");
                const qsizetype at = bytes.indexOf(key);
                QVERIFY(at > 0);
                bytes[at] = 'X';  // the key is renamed: the reader no longer sees it
                QFile f(path);
                QVERIFY(f.open(QIODevice::WriteOnly));
                f.write(bytes);
                f.close();
            }
            auto back = loadTokenizerFor(path, QString(), m->config);
            QCOMPARE(back->encodeForModel(text), tok->encodeForModel(text));
            QCOMPARE(back->decode(tok->encodeForModel(text)), tok->decode(tok->encodeForModel(text)));
        }
        // SentencePiece-style tokenizer.json: model llama with scores; the reader uses the embedded json
        const QString llama2 = test::fixture(QStringLiteral("tokenizers/llama2/tokenizer.json"));
        auto sp = loadTokenizerFor(QString(), llama2, ModelConfig{});
        auto m2 = tinyLlama(sp->vocabSize());
        exportGguf(*m2, {}, *sp, tokenizerSourceFromFiles(sp->sourceFiles), path);
        const GgufFile g = openGguf(path);
        QCOMPARE(QString::fromStdString(g.find("tokenizer.ggml.model")->s), QStringLiteral("llama"));
        QCOMPARE(g.find("tokenizer.ggml.scores")->arr.size(), size_t(sp->vocabSize()));
        auto back = loadTokenizerFor(path, QString(), m2->config);
        QCOMPARE(back->encodeForModel(text), sp->encodeForModel(text));
    }

    void malformedFilesAreRejected() {
        const int V = 300;
        const QByteArray tokBytes = tinyLlama2cTokenizer(V);
        auto tok = parseLlama2cTokenizer(tokBytes, V, QStringLiteral("tiny"));
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("ok.gguf"));
        exportGguf(*tinyLlama(V), {}, *tok, llama2cSource(tokBytes), path);
        const QByteArray good = test::readAll(path);
        const GgufFile g = parseGguf(reinterpret_cast<const uint8_t*>(good.constData()), size_t(good.size()), QStringLiteral("good"));
        QCOMPARE(g.version, 3u);
        QCOMPARE(g.alignment, 32u);
        QCOMPARE(g.dataStart % 32, uint64_t(0));
        for (const auto& t : g.tensors) QCOMPARE(t.offset % 32, uint64_t(0));
        auto expectError = [](const QByteArray& b, const char* needle) {
            try {
                parseGguf(reinterpret_cast<const uint8_t*>(b.constData()), size_t(b.size()), QStringLiteral("bad.gguf"));
                QFAIL(qPrintable(QStringLiteral("accepted a file that should fail with '%1'").arg(QLatin1String(needle))));
            } catch (const Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(needle)), e.what());
                QVERIFY2(QString::fromUtf8(e.what()).startsWith(QLatin1String("bad.gguf")), e.what());
            }
        };
        expectError(QByteArray("GGML1234"), "not a GGUF file");
        QByteArray b = good;
        b[4] = 9;
        expectError(b, "GGUF version 9");
        expectError(good.left(200), "truncated");
        expectError(good.left(qsizetype(g.dataStart) + 100), "extends past the end");
        // the first tensor's offset, moved off the alignment
        const QByteArray name("token_embd.weight");
        const qsizetype at = good.indexOf(name) + name.size() + 4 + 16 + 4;  // n_dims, 2 x ne, type
        b = good;
        b[at] = char(b[at] + 1);
        expectError(b, "not a multiple of the alignment");
        b = good;
        const uint32_t badType = 12;  // Q4_K: not read by QuantScope
        std::memcpy(b.data() + at - 4, &badType, 4);
        expectError(b, "ggml type 12");
        // a tensor that overlaps the next one
        b = good;
        const uint64_t off = 32;
        std::memcpy(b.data() + at, &off, 8);
        expectError(b, "overlap");
        // a missing tensor in a llama file
        b = good;
        const qsizetype nameAt = b.indexOf("blk.1.ffn_up.weight");
        b[nameAt] = 'X';
        QFile f(tmp.filePath(QStringLiteral("missing.gguf")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(b);
        f.close();
        try {
            loadGgufModel(f.fileName());
            QFAIL("a llama GGUF without blk.1.ffn_up.weight loaded");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("'blk.1.ffn_up.weight' is missing")), e.what());
        }
    }

    void stories260KRoundTrips() {
        QS_REQUIRE_SHARED(shared);
        const test::HeldOutSplit s = test::stories260KHeldOut(shared, 16, 256);
        auto tok = loadTokenizerFor(s.model->path, QString(), s.model->config);
        const TokenizerSource src = tokenizerSourceFromFiles(tok->sourceFiles);
        const auto hf = loadModel(shared + QStringLiteral("/models/stories260K-hf"));
        const EvalOptions eo{256, 0, 0};
        QTemporaryDir tmp;
        for (const char* f : {"gguf_q8_0", "gguf_q4_0", "gguf_q4_1"}) {
            for (const char* method : {"rtn", "gptq"}) {
                const QuantizeResult qr = quantizeModel(*s.model, s.calibTokens, s.calib, uniform(method, f));
                const QString path = tmp.filePath(QStringLiteral("%1_%2.gguf").arg(QLatin1String(method), QLatin1String(f)));
                const GgufExportResult r = exportGguf(*qr.model, qr.layers, *tok, src, path);
                const auto back = loadGgufModel(path);
                const QString diff = compareModels(*back, *qr.model);
                QVERIFY2(diff.isEmpty(), qPrintable(QStringLiteral("%1 %2: %3 differs").arg(QLatin1String(method), QLatin1String(f), diff)));
                const double runPpl = evaluatePerplexity(*qr.model, s.evalTokens, eo).ppl;
                QCOMPARE(evaluatePerplexity(*back, s.evalTokens, eo).ppl, runPpl);
                // the HF copy of the same weights gives the same tensors in the file
                const QuantizeResult qh = quantizeModel(*hf, s.calibTokens, s.calib, uniform(method, f));
                const QString hpath = tmp.filePath(QStringLiteral("hf_%1_%2.gguf").arg(QLatin1String(method), QLatin1String(f)));
                exportGguf(*qh.model, qh.layers, *tok, src, hpath);
                const GgufFile a = openGguf(path), b = openGguf(hpath);
                QCOMPARE(a.tensors.size(), b.tensors.size());
                for (size_t k = 0; k < a.tensors.size(); ++k) {
                    QCOMPARE(a.tensors[k].name, b.tensors[k].name);
                    QVERIFY2(a.tensors[k].nbytes == b.tensors[k].nbytes &&
                                 std::memcmp(a.tensors[k].data, b.tensors[k].data, a.tensors[k].nbytes) == 0,
                             a.tensors[k].name.c_str());
                }
                const QString name = QStringLiteral("stories260K_%1_%2").arg(QLatin1String(method), QLatin1String(f));
                QFile::remove(dump().path(name + QStringLiteral(".gguf")));
                QVERIFY(QFile::copy(path, dump().path(name + QStringLiteral(".gguf"))));
                dump().add(name, *qr.model, r);
                qInfo("stories260K %s %s: held-out ppl %.6f, file %.6f", method, f, runPpl, evaluatePerplexity(*back, s.evalTokens, eo).ppl);
            }
        }
    }

    void fp16ScaleIntFormats() {
        const QuantFormat f = fmt("int4-g32-f16");
        QVERIFY(f.fp16Scale && f.kind == FormatKind::Int && f.groupSize == 32 && !f.symmetric);
        QCOMPARE(f.name(), std::string("int4-g32-f16"));
        QVERIFY(fmt("int3-f16-sym-g64") == fmt("int3-sym-g64-f16"));
        QVERIFY(!(fmt("int4-g32") == f));
        QCOMPARE(f.bitsPerWeight(64), fmt("int4-g32").bitsPerWeight(64));
        std::mt19937 rng(5);
        std::normal_distribution<float> nd(0.f, 1.f);
        MatrixRM W(16, 96);
        for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = nd(rng) * 0.05f;
        for (const char* name : {"int2-g32-f16", "int3-sym-g32-f16", "int4-f16", "int8-sym-g32-f16"}) {
            const Quantizer q(fmt(name));
            const MatrixRM F = q.fakeQuantize(W);
            const QuantGrid g = QuantGrid::rtn(W, q);
            for (Eigen::Index i = 0; i < F.size(); ++i) QCOMPARE(halfToFloat(floatToHalf(F.data()[i])), F.data()[i]);  // fp16 values
            for (const RowParams& p : g.groups)
                for (int r = 0; r < 16; ++r) QCOMPARE(halfToFloat(floatToHalf(p.scale[r])), p.scale[r]);
            QVERIFY2(bitEqual(unpack(pack(W, fmt(name))), F), name);
        }
        // the default (float32 scales) is untouched: not fp16-rounded
        const MatrixRM F32 = Quantizer(fmt("int4-g32")).fakeQuantize(W);
        int notHalf = 0;
        for (Eigen::Index i = 0; i < F32.size(); ++i) notHalf += halfToFloat(floatToHalf(F32.data()[i])) != F32.data()[i];
        QVERIFY(notHalf > 0);
    }

    void gptqPackedRoundTrip_data() {
        QTest::addColumn<QString>("format");
        QTest::addColumn<bool>("actOrder");
        for (const char* f : {"int2-g32-f16", "int3-g32-f16", "int4-sym-g32-f16", "int4-g32-f16", "int8-sym-g32-f16", "int3-sym-f16"})
            for (bool a : {false, true}) QTest::addRow("%s%s", f, a ? " act-order" : "") << QString::fromLatin1(f) << a;
    }
    void gptqPackedRoundTrip() {
        QFETCH(QString, format);
        QFETCH(bool, actOrder);
        const int V = 300;
        auto m = tinyLlama(V);
        const CalibOptions calib{8, 32, 0};
        const QuantizeResult qr =
            quantizeModel(*m, randomTokens(8 * 32, V, 5), calib, uniform("gptq", format.toLatin1().constData(), actOrder));
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("ckpt"));
        const GptqPackedResult r = exportGptqPacked(*qr.model, qr.layers, dir);
        const QuantFormat f = fmt(format.toLatin1().constData());
        QCOMPARE(r.bits, f.bits);
        QCOMPARE(r.sym, f.symmetric);
        QCOMPARE(r.descAct, actOrder && f.groupSize > 0);
        const QJsonObject cfg = QJsonDocument::fromJson(test::readAll(dir + QStringLiteral("/config.json"))).object();
        const QJsonObject qc = cfg.value(QStringLiteral("quantization_config")).toObject();
        QCOMPARE(qc.value(QStringLiteral("quant_method")).toString(), QStringLiteral("gptq"));
        QCOMPARE(qc.value(QStringLiteral("bits")).toInt(), f.bits);
        QCOMPARE(qc.value(QStringLiteral("group_size")).toInt(), f.groupSize > 0 ? f.groupSize : -1);
        QCOMPARE(qc.value(QStringLiteral("checkpoint_format")).toString(), QStringLiteral("gptq"));
        QVERIFY(QFile::exists(dir + QStringLiteral("/quantize_config.json")));
        // the packed tensors' shapes (q_proj: in 64, out 64)
        const SafetensorsHeader h = openSafetensors(dir + QStringLiteral("/model.safetensors"));
        const TensorRef& qw = h.tensors.at("model.layers.0.self_attn.q_proj.qweight");
        QCOMPARE(qw.dtypeName, std::string("I32"));
        QCOMPARE(qw.shape, (std::vector<int64_t>{64 * f.bits / 32, 64}));
        QCOMPARE(h.tensors.at("model.layers.0.self_attn.q_proj.scales").dtypeName, std::string("F16"));
        QCOMPARE(h.tensors.at("model.layers.0.mlp.down_proj.g_idx").shape, (std::vector<int64_t>{96}));
        // read back: every tensor bit for bit, the same perplexity
        const auto back = loadModel(dir);
        QVERIFY2(back->quantization.startsWith(QStringLiteral("GPTQ-packed, %1 bits").arg(f.bits)), qPrintable(back->quantization));
        const QString diff = compareModels(*back, *qr.model);
        QVERIFY2(diff.isEmpty(), qPrintable(QStringLiteral("differs: ") + diff));
        const std::vector<int> evalTokens = randomTokens(4 * 32, V, 9);
        const EvalOptions eo{32, 0, 0};
        QCOMPARE(evaluatePerplexity(*back, evalTokens, eo).ppl, evaluatePerplexity(*qr.model, evalTokens, eo).ppl);
        const QString name = QString(QTest::currentDataTag()).replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("_"));
        QDir(gptqDump().path(name)).removeRecursively();
        QVERIFY(QDir().rename(dir, gptqDump().path(name)));
        gptqDump().add(name, *qr.model, r);
    }

    void gptqPackedLosslessRule() {
        const int V = 300;
        auto m = tinyLlama(V);
        QTemporaryDir tmp;
        // float32 scales: an error naming the layer, or re-quantized with --allow-requantize
        QuantizeResult qr = quantizeModel(*m, {}, CalibOptions{}, uniform("rtn", "int4-sym-g32"));
        try {
            exportGptqPacked(*qr.model, qr.layers, tmp.filePath(QStringLiteral("a")));
            QFAIL("float32 scales exported as GPTQ");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("model.layers.0.self_attn.q_proj (int4-sym-g32) has float32 scales")), e.what());
        }
        QVERIFY(!QFileInfo::exists(tmp.filePath(QStringLiteral("a"))));
        GptqPackedOptions o;
        o.allowRequantize = true;
        const GptqPackedResult r = exportGptqPacked(*qr.model, qr.layers, tmp.filePath(QStringLiteral("a")), {}, {}, o);
        // the run's codes and zero points kept, the scales rounded to fp16: an error of about 2^-12
        for (const auto& l : r.layers) QVERIFY2(l.requantized && l.relError > 0 && l.relError < 1e-3, qPrintable(QString::number(l.relError)));
        const auto back = loadModel(tmp.filePath(QStringLiteral("a")));
        const MatrixRM ev = qr.model->blocks[0].linears[0].weightMatrix(), got = back->blocks[0].linears[0].weightMatrix();
        const double rel = std::sqrt((got - ev).cast<double>().squaredNorm() / ev.cast<double>().squaredNorm());
        QVERIFY(std::abs(rel - r.layers[0].relError) < 1e-12);
        QVERIFY(!bitEqual(got, ev));
        // formats a GPTQ checkpoint cannot hold
        for (const char* f : {"gguf_q4_0", "int5-g32-f16", "mxfp4"}) {
            qr = quantizeModel(*m, {}, CalibOptions{}, uniform("rtn", f));
            try {
                exportGptqPacked(*qr.model, qr.layers, tmp.filePath(QStringLiteral("b")), {}, {}, o);
                QFAIL(f);
            } catch (const Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("model.layers.0.self_attn.q_proj")), e.what());
            }
        }
        // mixed configurations
        const PlanFn mixed = [](const Linear& l) {
            LayerPlan p;
            p.weight = fmt(l.kind == LinearKind::Down ? "int8-sym-g32-f16" : "int4-sym-g32-f16");
            return p;
        };
        qr = quantizeModel(*m, {}, CalibOptions{}, mixed);
        try {
            exportGptqPacked(*qr.model, qr.layers, tmp.filePath(QStringLiteral("c")));
            QFAIL("two configurations in one GPTQ checkpoint");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("one bits/group/sym configuration")), e.what());
        }
    }

    void gptqLoaderRejectsBadInput() {
        const int V = 300;
        auto m = tinyLlama(V);
        const QuantizeResult qr = quantizeModel(*m, {}, CalibOptions{}, uniform("rtn", "int4-sym-g32-f16"));
        QTemporaryDir tmp;
        const QString good = tmp.filePath(QStringLiteral("good"));
        exportGptqPacked(*qr.model, qr.layers, good);
        QVERIFY(loadModel(good));
        int n = 0;
        // a copy of the checkpoint with its tensors or config.json changed
        auto variant = [&](const std::function<void(std::vector<RawTensor>&, QJsonObject&)>& change) {
            const QString dir = tmp.filePath(QStringLiteral("v%1").arg(n++));
            QDir().mkpath(dir);
            std::vector<RawTensor> t = rawTensors(good + QStringLiteral("/model.safetensors"));
            QJsonObject cfg = QJsonDocument::fromJson(test::readAll(good + QStringLiteral("/config.json"))).object();
            change(t, cfg);
            writeRawSafetensors(dir + QStringLiteral("/model.safetensors"), t);
            QFile f(dir + QStringLiteral("/config.json"));
            if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write");
            f.write(QJsonDocument(cfg).toJson());
            f.close();
            return dir;
        };
        auto expectError = [](const QString& dir, const char* needle) {
            try {
                loadModel(dir);
                QFAIL(qPrintable(QStringLiteral("loaded a checkpoint that should fail with '%1'").arg(QLatin1String(needle))));
            } catch (const Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String(needle)), e.what());
            }
        };
        auto find = [](std::vector<RawTensor>& t, const char* name) -> RawTensor& {
            for (RawTensor& x : t)
                if (x.name == name) return x;
            qFatal("no tensor %s", name);
        };
        expectError(variant([&](std::vector<RawTensor>& t, QJsonObject&) {
                        t.erase(std::find_if(t.begin(), t.end(), [](const RawTensor& x) { return x.name == "model.layers.1.mlp.up_proj.g_idx"; }));
                    }),
                    "'model.layers.1.mlp.up_proj.g_idx' is missing");
        expectError(variant([&](std::vector<RawTensor>& t, QJsonObject&) {
                        RawTensor& q = find(t, "model.layers.0.self_attn.k_proj.qweight");
                        q.dtype = "F32";
                    }),
                    "'model.layers.0.self_attn.k_proj.qweight' has dtype F32; expected I32");
        expectError(variant([&](std::vector<RawTensor>& t, QJsonObject&) {
                        RawTensor& s = find(t, "model.layers.0.self_attn.o_proj.scales");
                        s.dtype = "BF16";
                    }),
                    "has dtype BF16; expected F16");
        expectError(variant([&](std::vector<RawTensor>& t, QJsonObject&) {
                        RawTensor& q = find(t, "model.layers.0.mlp.gate_proj.qweight");
                        q.shape = {q.shape[1], q.shape[0]};  // transposed: the shapes disagree
                    }),
                    "'model.layers.0.mlp.gate_proj.qweight' has shape");
        expectError(variant([&](std::vector<RawTensor>& t, QJsonObject&) {
                        RawTensor& g = find(t, "model.layers.0.self_attn.v_proj.g_idx");
                        const int32_t bad = 99;
                        std::memcpy(g.bytes.data() + 8, &bad, 4);
                    }),
                    "is not a group index");
        expectError(variant([&](std::vector<RawTensor>&, QJsonObject& cfg) {
                        QJsonObject q = cfg.value(QStringLiteral("quantization_config")).toObject();
                        q.insert(QStringLiteral("bits"), 5);
                        cfg.insert(QStringLiteral("quantization_config"), q);
                    }),
                    "bits is 5; expected 2, 3, 4 or 8");
        expectError(variant([&](std::vector<RawTensor>&, QJsonObject& cfg) {
                        QJsonObject q = cfg.value(QStringLiteral("quantization_config")).toObject();
                        q.insert(QStringLiteral("group_size"), 64);  // scales then have the wrong number of groups
                        cfg.insert(QStringLiteral("quantization_config"), q);
                    }),
                    "[groups = ceil(in / group_size), out]");
        expectError(variant([&](std::vector<RawTensor>&, QJsonObject& cfg) {
                        QJsonObject q = cfg.value(QStringLiteral("quantization_config")).toObject();
                        q.insert(QStringLiteral("quant_method"), QStringLiteral("awq"));
                        cfg.insert(QStringLiteral("quantization_config"), q);
                    }),
                    "quant_method is 'awq'");
        expectError(variant([&](std::vector<RawTensor>&, QJsonObject& cfg) { cfg.remove(QStringLiteral("quantization_config")); }),
                    "no quantization_config");
    }

    void cliExportGptqDemo() {
        QTemporaryDir tmp;
        test::CliRun r = test::runCli({"demo", "--out", tmp.filePath(QStringLiteral("demo"))});
        QVERIFY2(r.code == 0, r.err.constData());
        const QString text = tmp.filePath(QStringLiteral("demo/eval.txt"));
        const QString recipe = tmp.filePath(QStringLiteral("r.json"));
        QFile rf(recipe);
        QVERIFY(rf.open(QIODevice::WriteOnly));
        rf.write("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"gptq\", \"wformat\": \"int4-sym-g32-f16\", \"act_order\": true},"
                 " \"calibration\": {\"nsamples\": 8, \"seqlen\": 128}}");
        rf.close();
        const QString out = tmp.filePath(QStringLiteral("ckpt"));
        r = test::runCli({"export", "--model", tmp.filePath(QStringLiteral("demo")), "--recipe", recipe, "--calib", text, "--format", "gptq",
                          "--out", out, "--eval", text, "--eval-seqlen", "256", "--max-windows", "4", "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject ex = QJsonDocument::fromJson(r.out).object().value(QStringLiteral("export")).toObject();
        QCOMPARE(ex.value(QStringLiteral("format")).toString(), QStringLiteral("gptq"));
        QVERIFY(ex.value(QStringLiteral("desc_act")).toBool());
        QCOMPARE(ex.value(QStringLiteral("tensors_identical")).toInt(), ex.value(QStringLiteral("tensors_checked")).toInt());
        QVERIFY(ex.value(QStringLiteral("eval")).toArray().at(0).toObject().value(QStringLiteral("ppl_equal")).toBool());
        // the checkpoint evaluates on its own (tokenizer.bin copied beside it)
        r = test::runCli({"eval", "--model", out, "--data", text, "--seqlen", "256", "--max-windows", "4", "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("ppl")).toDouble(),
                 ex.value(QStringLiteral("eval")).toArray().at(0).toObject().value(QStringLiteral("run_ppl")).toDouble());
    }

    void cliExportAndEval() {
        QS_REQUIRE_SHARED(shared);
        QTemporaryDir tmp;
        const QString model = shared + QStringLiteral("/models/stories260K/stories260K.bin");
        const QString data = shared + QStringLiteral("/data/tinystories/valid-slice.txt");
        const QString recipe = tmp.filePath(QStringLiteral("r.json"));
        QFile rf(recipe);
        QVERIFY(rf.open(QIODevice::WriteOnly));
        rf.write("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"gptq\", \"wformat\": \"gguf_q4_0\"},"
                 " \"calibration\": {\"nsamples\": 8, \"seqlen\": 128}}");
        rf.close();
        const QString db = tmp.filePath(QStringLiteral("runs.sqlite"));
        // quantize --export-gguf: logged, evaluated, exported and checked
        const QString q1 = tmp.filePath(QStringLiteral("q1.gguf"));
        test::CliRun r = test::runCli({"quantize", "--model", model, "--calib", data, "--recipe", recipe, "--eval", data, "--eval-seqlen",
                                       "256", "--export-gguf", q1, "--db", db, "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        const QJsonObject ex = o.value(QStringLiteral("export")).toObject();
        QCOMPARE(ex.value(QStringLiteral("tensors_identical")).toInt(), ex.value(QStringLiteral("tensors_checked")).toInt());
        const QJsonObject e0 = ex.value(QStringLiteral("eval")).toArray().at(0).toObject();
        QVERIFY(e0.value(QStringLiteral("ppl_equal")).toBool());
        QVERIFY(e0.value(QStringLiteral("same_token_ids")).toBool());
        const double runPpl = o.value(QStringLiteral("eval")).toArray().at(0).toObject().value(QStringLiteral("ppl")).toDouble();
        QCOMPARE(e0.value(QStringLiteral("ppl")).toDouble(), runPpl);
        const qint64 runId = o.value(QStringLiteral("run_id")).toInteger();
        QVERIFY(runId > 0);
        // export --run ID: the logged recipe and calibration set again -> the same file
        const QString q2 = tmp.filePath(QStringLiteral("q2.gguf"));
        r = test::runCli({"export", "--model", model, "--run", QString::number(runId), "--db", db, "--format", "gguf", "--out", q2,
                          "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(test::readAll(q2), test::readAll(q1));
        // eval --model x.gguf: its own tokenizer, the run's perplexity
        r = test::runCli({"eval", "--model", q1, "--data", data, "--seqlen", "256", "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("ppl")).toDouble(), runPpl);
        QCOMPARE(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("format")).toString(), QStringLiteral("gguf"));
        // info names what the file holds
        r = test::runCli({"info", "--model", q1, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("quantization")).toString().contains(QStringLiteral("Q4_0 x")),
                 r.out.constData());
        // user errors: exit 2 with a message
        r = test::runCli({"export", "--model", model, "--recipe", recipe, "--format", "gguf"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--out"), r.err.constData());
        r = test::runCli({"export", "--model", model, "--recipe", recipe, "--format", "onnx", "--out", q2});
        QCOMPARE(r.code, 2);
        QFile rf2(recipe);
        QVERIFY(rf2.open(QIODevice::WriteOnly));
        rf2.write("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"rtn\", \"wformat\": \"int4-g64\"}}");
        rf2.close();
        r = test::runCli({"export", "--model", model, "--recipe", recipe, "--format", "gguf", "--out", q2, "--device", "cpu"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("model.layers.0.self_attn.q_proj (int4-g64)"), r.err.constData());
        // the check covers lm_head too: int8-g128 has no GGUF type, gguf_q8_0 has
        {
            const QString headRecipe = tmp.filePath(QStringLiteral("head.json"));
            QFile hf(headRecipe);
            QVERIFY(hf.open(QIODevice::WriteOnly));
            hf.write("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"rtn\", \"wformat\": \"gguf_q4_0\"},"
                     " \"lm_head\": {\"method\": \"rtn\", \"wformat\": \"int8-g128\"}}");
            hf.close();
            r = test::runCli({"export", "--model", model, "--recipe", headRecipe, "--format", "gguf", "--out", q2, "--device", "cpu"});
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains("lm_head (int8-g128)") && !r.err.contains("model.layers."), r.err.constData());
        }
        // quantize --export-gguf of such a recipe: refused before anything is quantized or logged
        const int runsBefore = int(ExperimentStore(db).listRuns().size());
        r = test::runCli({"quantize", "--model", model, "--calib", data, "--recipe", recipe, "--eval", data, "--eval-seqlen", "256",
                          "--max-windows", "2", "--export-gguf", q2 + QStringLiteral(".bad.gguf"), "--db", db, "--device", "cpu"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("model.layers.0.self_attn.q_proj (int4-g64)") && r.err.contains("as the recipe plans them"), r.err.constData());
        QCOMPARE(int(ExperimentStore(db).listRuns().size()), runsBefore);
        QVERIFY(!QFileInfo::exists(q2 + QStringLiteral(".bad.gguf")));
        // an export that fails after the run (here: the file cannot be written): the command fails,
        // the run is logged with its results and the export's error
        const QString q8recipe = tmp.filePath(QStringLiteral("q8.json"));
        QFile rf3(q8recipe);
        QVERIFY(rf3.open(QIODevice::WriteOnly));
        rf3.write("{\"quantscope_recipe\": 1, \"defaults\": {\"method\": \"rtn\", \"wformat\": \"gguf_q8_0\"}}");
        rf3.close();
        const QString unwritable = tmp.filePath(QStringLiteral("no-such-dir/x.gguf"));
        r = test::runCli({"quantize", "--model", model, "--calib", data, "--recipe", q8recipe, "--eval", data, "--eval-seqlen", "256",
                          "--max-windows", "2", "--export-gguf", unwritable, "--db", db, "--device", "cpu"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("only the export failed"), r.err.constData());
        QVERIFY(!QFileInfo::exists(unwritable));
        {
            ExperimentStore store(db);
            const RunRecord last = store.listRuns().front();
            QCOMPARE(last.status, QStringLiteral("finished"));
            QCOMPARE(int(last.datasets.size()), 1);
            const QJsonObject ex = last.params.value(QStringLiteral("export")).toObject();
            QVERIFY(!ex.value(QStringLiteral("written")).toBool());
            QVERIFY2(ex.value(QStringLiteral("error")).toString().contains(unwritable), qPrintable(ex.value(QStringLiteral("error")).toString()));
            // and the earlier successful run recorded its file
            const QJsonObject ok = store.run(runId)->params.value(QStringLiteral("export")).toObject();
            QVERIFY(ok.value(QStringLiteral("written")).toBool());
            QCOMPARE(ok.value(QStringLiteral("path")).toString(), QFileInfo(q1).absoluteFilePath());
            // runs --show says so too
            test::CliRun shown = test::runCli({"runs", "--show", QString::number(last.id), "--db", db});
            QVERIFY2(shown.code == 0 && shown.out.contains("export to ") && shown.out.contains(" failed: "), shown.out.constData());
            shown = test::runCli({"runs", "--show", QString::number(runId), "--db", db});
            QVERIFY2(shown.code == 0 && shown.out.contains("  export: exported "), shown.out.constData());
        }
        r = test::runCli({"export", "--model", model, "--recipe", recipe, "--format", "gguf", "--out", q2, "--allow-requantize",
                          "--device", "cpu", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        int requantized = 0;
        for (const QJsonValue& t : QJsonDocument::fromJson(r.out).object().value(QStringLiteral("export")).toObject().value(QStringLiteral("tensors")).toArray())
            requantized += t.toObject().value(QStringLiteral("requantized")).toBool() && t.toObject().value(QStringLiteral("rel_error")).toDouble() > 0;
        QCOMPARE(requantized, 35);
    }
};

QTEST_GUILESS_MAIN(TestExport)
#include "test_export.moc"
