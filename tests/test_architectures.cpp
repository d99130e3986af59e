// Every supported architecture's loader + forward pass against golden logits from
// Hugging Face transformers (tests/fixtures/arch/*.json, produced by
// tests/tools/make_arch_fixtures.py; see tests/fixtures/arch/README.md).
//
// A fixture holds config.json, the checkpoint's tensor names/stored shapes, the storage
// dtype, the tokens and the golden logits. The tensor values are regenerated here by the
// same rule as the generator (SplitMix64 seeded with fnv1a64(name) ^ seed), bit-exactly,
// written as model.safetensors in a temporary directory and loaded with qs::loadModel.
// Tolerance: |ours - golden| <= 2e-4 * max(1, |golden|) for every logit.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>

#include "eval/forward.h"
#include "model/hf_loader.h"
#include "model/save.h"
#include "quant/formats.h"
#include "quant/transforms.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

namespace {

struct Fixture {
    QString caseName;
    uint64_t seed = 0;
    qs::DType dtype = qs::DType::F32;
    QJsonObject config;
    std::vector<std::pair<std::string, std::vector<int64_t>>> tensors;  // stored names/shapes
    std::vector<int> tokens;  // batch * seqlen, row-major windows
    int batch = 0, seqlen = 0;
    int rows = 0, vocab = 0;
    std::vector<float> logits;  // rows * vocab
};

Fixture loadFixture(const QString& path) {
    const QByteArray bytes = qs::test::readAll(path);
    if (bytes.isEmpty()) throw std::runtime_error(("cannot read fixture " + path).toStdString());
    QJsonParseError err;
    const QJsonObject o = QJsonDocument::fromJson(bytes, &err).object();
    if (err.error != QJsonParseError::NoError) throw std::runtime_error(("bad fixture JSON " + path).toStdString());
    Fixture f;
    f.caseName = o.value(QLatin1String("case")).toString();
    f.seed = uint64_t(o.value(QLatin1String("seed")).toInteger());
    const auto dt = qs::dtypeFromName(o.value(QLatin1String("dtype")).toString().toStdString());
    if (!dt) throw std::runtime_error(("bad dtype in " + path).toStdString());
    f.dtype = *dt;
    f.config = o.value(QLatin1String("config")).toObject();
    for (const QJsonValue& t : o.value(QLatin1String("tensors")).toArray()) {
        std::vector<int64_t> shape;
        for (const QJsonValue& d : t.toObject().value(QLatin1String("shape")).toArray()) shape.push_back(d.toInteger());
        f.tensors.emplace_back(t.toObject().value(QLatin1String("name")).toString().toStdString(), shape);
    }
    const QJsonArray windows = o.value(QLatin1String("tokens")).toArray();
    f.batch = int(windows.size());
    for (const QJsonValue& w : windows) {
        const QJsonArray wa = w.toArray();
        f.seqlen = int(wa.size());
        for (const QJsonValue& t : wa) f.tokens.push_back(int(t.toInteger()));
    }
    const QJsonArray ls = o.value(QLatin1String("logits_shape")).toArray();
    f.rows = int(ls.at(0).toInteger());
    f.vocab = int(ls.at(1).toInteger());
    for (const QJsonValue& v : o.value(QLatin1String("logits")).toArray()) f.logits.push_back(float(v.toDouble()));
    if (f.rows != f.batch * f.seqlen || f.logits.size() != size_t(f.rows) * size_t(f.vocab) || f.tensors.empty())
        throw std::runtime_error(("inconsistent fixture " + path).toStdString());
    return f;
}

/// The generator's value rule (tests/fixtures/arch/README.md), for elements
/// [first, first+count) in storage order. float32 arithmetic throughout.
std::function<void(float*, size_t, size_t)> valueFill(const std::string& name, const std::vector<int64_t>& shape,
                                                      uint64_t seed) {
    const uint64_t s0 = qs::fnv1a64(name) ^ seed;
    const bool oneD = shape.size() == 1;
    const bool isWeight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    const float scale = shape.size() >= 2 ? 1.0f / std::sqrt(float(shape.back())) : 1.0f;
    return [=](float* dst, size_t first, size_t count) {
        // state before element i is s0 + i * golden: skip straight to `first`
        qs::SplitMix64 rng(s0 + uint64_t(first) * 0x9E3779B97F4A7C15ull);
        for (size_t i = 0; i < count; ++i) {
            const float u = rng.uniformSym();
            if (oneD)
                dst[i] = isWeight ? 1.0f + 0.25f * u : 0.1f * u;
            else
                dst[i] = u * scale;
        }
    };
}

qs::TensorToWrite tensorToWrite(const Fixture& f, size_t i) {
    qs::TensorToWrite t;
    t.name = f.tensors[i].first;
    t.shape = f.tensors[i].second;
    t.dtype = f.dtype;
    t.fill = valueFill(t.name, t.shape, f.seed);
    return t;
}

void writeJson(const QString& path, const QJsonObject& o) {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly)) throw std::runtime_error(("cannot write " + path).toStdString());
    file.write(QJsonDocument(o).toJson());
}

/// config.json + model.safetensors (all tensors, or those accepted by `keep`).
void writeCheckpoint(const QString& dir, const Fixture& f,
                     const std::function<bool(const std::string&)>& keep = {}) {
    writeJson(dir + QStringLiteral("/config.json"), f.config);
    std::vector<qs::TensorToWrite> ts;
    for (size_t i = 0; i < f.tensors.size(); ++i)
        if (!keep || keep(f.tensors[i].first)) ts.push_back(tensorToWrite(f, i));
    qs::writeSafetensors(dir + QStringLiteral("/model.safetensors"), ts, {{"format", "pt"}});
}

/// Writes the fixture's checkpoint into `dir` and loads it.
std::shared_ptr<qs::Model> writeAndLoad(const QString& dir, const Fixture& f) {
    writeCheckpoint(dir, f);
    return qs::loadModel(dir);
}

struct Cmp {
    double maxDiff = 0, maxRel = 0;  // rel: diff / max(1, |golden|)
    int worstRow = -1, worstCol = -1;
    float worstOurs = 0, worstGolden = 0;
};

/// Compares rows [row0, row0 + ours.rows()) of the golden logits.
Cmp compare(const qs::MatrixRM& ours, const Fixture& f, int row0 = 0) {
    Cmp c;
    for (int r = 0; r < ours.rows(); ++r)
        for (int v = 0; v < f.vocab; ++v) {
            const float g = f.logits[size_t(row0 + r) * f.vocab + v];
            const float o = ours(r, v);
            const double d = std::isfinite(o) ? std::abs(double(o) - double(g)) : INFINITY;
            const double rel = d / std::max(1.0, std::abs(double(g)));
            if (rel > c.maxRel || c.worstRow < 0) {
                c.maxRel = rel;
                c.worstRow = row0 + r;
                c.worstCol = v;
                c.worstOurs = o;
                c.worstGolden = g;
            }
            c.maxDiff = std::max(c.maxDiff, d);
        }
    return c;
}

QString describe(const Cmp& c, const QString& what) {
    return QStringLiteral("%1: max |diff| %2 (max relative %3, tolerance 2e-4) at row %4 vocab %5: ours %6, golden %7")
        .arg(what)
        .arg(c.maxDiff, 0, 'g', 3)
        .arg(c.maxRel, 0, 'g', 3)
        .arg(c.worstRow)
        .arg(c.worstCol)
        .arg(double(c.worstOurs), 0, 'g', 8)
        .arg(double(c.worstGolden), 0, 'g', 8);
}

constexpr double kTol = 2e-4;

#define CHECK_LOGITS(ours, fx, row0, what)                                                     \
    do {                                                                                       \
        QVERIFY(int((ours).rows()) + (row0) <= (fx).rows);                                   \
        QCOMPARE(int((ours).cols()), (fx).vocab);                                              \
        const Cmp cmp_ = compare((ours), (fx), (row0));                                        \
        const QString msg_ = describe(cmp_, (what));                                           \
        qInfo().noquote() << msg_;                                                             \
        QVERIFY2(cmp_.maxRel <= kTol, qPrintable(msg_));                                       \
    } while (0)

QStringList fixtureFiles() {
    QDir d(qs::test::fixture(QStringLiteral("arch")));
    QStringList out;
    for (const QString& n : d.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name)) out << d.filePath(n);
    return out;
}

Fixture fixtureByName(const QString& name) {
    return loadFixture(qs::test::fixture(QStringLiteral("arch/%1.json").arg(name)));
}

/// Accepts "[a, b]", "[a,b]", "(a, b)" and "axb" spellings of a shape.
bool containsShape(const QString& msg, const std::vector<int64_t>& shape) {
    QStringList parts;
    for (int64_t d : shape) parts << QString::number(d);
    const QString re = QStringLiteral("(^|[^0-9])") + parts.join(QStringLiteral("\\s*[,x×]\\s*")) + QStringLiteral("([^0-9]|$)");
    return msg.contains(QRegularExpression(re));
}

/// Runs `fn`, expecting a qs::Error; returns its message (empty if none was thrown).
template <class F>
QString errorOf(F&& fn, bool* threw) {
    *threw = false;
    try {
        fn();
    } catch (const qs::Error& e) {
        *threw = true;
        return QString::fromStdString(e.what());
    }
    return {};
}

#define EXPECT_ERROR(expr, msgVar)                                                        \
    bool threw_ = false;                                                                  \
    const QString msgVar = errorOf([&] { (void)(expr); }, &threw_);                       \
    QVERIFY2(threw_, "expected qs::Error, nothing was thrown");                           \
    qInfo().noquote() << "error message:" << msgVar

}  // namespace

class TestArchitectures : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fixturesPresent() {
        const QStringList files = fixtureFiles();
        QVERIFY2(files.size() >= 8, qPrintable(QStringLiteral("expected >= 8 fixtures in tests/fixtures/arch, found %1").arg(files.size())));
        QStringList types;
        for (const QString& p : files) types << loadFixture(p).config.value(QLatin1String("model_type")).toString();
        for (const char* t : {"llama", "mistral", "qwen2", "opt", "gpt2"})
            QVERIFY2(types.contains(QLatin1String(t)), t);
    }

    /// The generator's value rule is reproduced bit-exactly (spot values computed by
    /// tests/tools/make_arch_fixtures.py's numpy implementation).
    void valueRule() {
        QCOMPARE(qs::SplitMix64(0).next(), 0xE220A8397B1DCDAFull);
        QCOMPARE(qs::fnv1a64("a"), 0xAF63DC4C8601EC8Cull);
        // chunked generation equals one pass (the `first` skip-ahead is right)
        auto fill = valueFill("x.weight", {7, 9}, 42);
        std::vector<float> all(63), part(63);
        fill(all.data(), 0, 63);
        fill(part.data(), 0, 10);
        fill(part.data() + 10, 10, 53);
        QVERIFY(all == part);
        for (float v : all) QVERIFY(std::abs(v) <= 1.0f / 3.0f);
        std::vector<float> w(5), b(5);
        valueFill("ln.weight", {5}, 1)(w.data(), 0, 5);
        valueFill("ln.bias", {5}, 1)(b.data(), 0, 5);
        for (int i = 0; i < 5; ++i) {
            QVERIFY(w[i] >= 0.75f && w[i] < 1.25f);
            QVERIFY(std::abs(b[i]) <= 0.1f);
        }
        // bit patterns printed by make_arch_fixtures.tensor_values (numpy float32)
        struct Spot { const char* name; std::vector<int64_t> shape; uint64_t seed; size_t index; uint32_t bits; };
        const Spot spots[] = {
            {"x.weight", {7, 9}, 42, 0, 0x3d5b9740u}, {"x.weight", {7, 9}, 42, 1, 0xbe846dccu},
            {"x.weight", {7, 9}, 42, 62, 0xbcd503abu}, {"ln.weight", {5}, 1, 0, 0x3f532fa9u},
            {"ln.weight", {5}, 1, 4, 0x3f6fb978u}, {"ln.bias", {5}, 1, 1, 0xbd1d51bau},
            {"ln.bias", {5}, 1, 4, 0x3db29d83u}, {"model.embed_tokens.weight", {3, 64}, 102, 191, 0x3dbff9dcu},
        };
        for (const Spot& sp : spots) {
            float v;
            valueFill(sp.name, sp.shape, sp.seed)(&v, sp.index, 1);
            uint32_t bits;
            std::memcpy(&bits, &v, 4);
            QVERIFY2(bits == sp.bits, qPrintable(QStringLiteral("%1[%2]: 0x%3, generator 0x%4").arg(QLatin1String(sp.name))
                                                     .arg(sp.index).arg(bits, 8, 16, QLatin1Char('0')).arg(sp.bits, 8, 16, QLatin1Char('0'))));
        }
    }

    void goldenLogits_data() {
        QTest::addColumn<QString>("path");
        for (const QString& p : fixtureFiles()) QTest::newRow(qPrintable(QFileInfo(p).baseName())) << p;
    }
    void goldenLogits() {
        QFETCH(QString, path);
        const Fixture fx = loadFixture(path);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        std::shared_ptr<qs::Model> model;
        try {
            model = qs::loadModel(dir.path());
        } catch (const qs::Error& e) {
            QFAIL(qPrintable(QStringLiteral("%1: loadModel failed: %2").arg(fx.caseName, QString::fromUtf8(e.what()))));
        }
        QCOMPARE(model->config.vocabSize, fx.vocab);
        QCOMPARE(model->config.modelType, fx.config.value(QLatin1String("model_type")).toString().toStdString());
        QCOMPARE(int(model->blocks.size()), model->config.numLayers);
        try {
            // cached float weights (default budget) and per-block conversion (budget 0)
            for (size_t budget : {qs::Forward::defaultCacheBudget(), size_t(0)}) {
                qs::Forward fwd(*model, budget);
                const qs::MatrixRM logits = fwd.run(fx.tokens, fx.batch, fx.seqlen);
                CHECK_LOGITS(logits, fx, 0,
                             QStringLiteral("%1 (%2, cache budget %3)").arg(fx.caseName, QString::fromLatin1(qs::dtypeName(fx.dtype))).arg(budget));
            }
            // the second window alone gives the same rows (windows are independent)
            qs::Forward fwd(*model);
            const std::vector<int> second(fx.tokens.begin() + fx.seqlen, fx.tokens.begin() + 2 * fx.seqlen);
            const qs::MatrixRM l2 = fwd.run(second, 1, fx.seqlen);
            CHECK_LOGITS(l2, fx, fx.seqlen, fx.caseName + QStringLiteral(" (window 2 alone)"));
        } catch (const qs::Error& e) {
            QFAIL(qPrintable(QStringLiteral("%1: forward failed: %2").arg(fx.caseName, QString::fromUtf8(e.what()))));
        }
    }

    /// Token-by-token decoding with the KV cache reproduces the full forward pass.
    void incrementalDecoding_data() { goldenLogits_data(); }
    void incrementalDecoding() {
        QFETCH(QString, path);
        const Fixture fx = loadFixture(path);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto model = writeAndLoad(dir.path(), fx);
        qs::Forward fwd(*model);
        qs::KvCache cache = fwd.makeCache(fx.batch, fx.seqlen);
        qs::MatrixRM all(fx.rows, fx.vocab);
        for (int t = 0; t < fx.seqlen; ++t) {
            std::vector<int> step(fx.batch);
            for (int b = 0; b < fx.batch; ++b) step[b] = fx.tokens[size_t(b) * fx.seqlen + t];
            const qs::MatrixRM l = fwd.step(step.data(), cache);
            QCOMPARE(int(l.rows()), fx.batch);
            QCOMPARE(int(l.cols()), fx.vocab);
            for (int b = 0; b < fx.batch; ++b) all.row(b * fx.seqlen + t) = l.row(b);
        }
        QCOMPARE(cache.length, fx.seqlen);
        CHECK_LOGITS(all, fx, 0, fx.caseName + QStringLiteral(" (incremental decoding)"));
    }

    /// Saving a model whose linears carry fake-quantized overrides writes a HF
    /// directory in the checkpoint's own layout (GPT-2 Conv1D transposed and
    /// c_attn re-fused, OPT projections, tied embeddings) that loads back to the
    /// same logits.
    void saveWithOverridesRoundTrips_data() { goldenLogits_data(); }
    void saveWithOverridesRoundTrips() {
        QFETCH(QString, path);
        const Fixture fx = loadFixture(path);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto model = writeAndLoad(dir.path(), fx);
        qs::Model q = *model;
        const qs::Quantizer quant(*qs::QuantFormat::parse("int3-g16"));
        for (auto& b : q.blocks)
            for (auto& l : b.linears) l.override = std::make_shared<const qs::MatrixRM>(quant.fakeQuantize(l.weight.matrix()));
        const QString out = dir.filePath(QStringLiteral("saved"));
        qs::saveHfModel(q, out);
        auto back = qs::loadModel(out);
        QCOMPARE(back->numParams(), model->numParams());
        const qs::MatrixRM want = qs::Forward(q).run(fx.tokens, fx.batch, fx.seqlen);
        const qs::MatrixRM got = qs::Forward(*back).run(fx.tokens, fx.batch, fx.seqlen);
        const float diff = (want - got).cwiseAbs().maxCoeff();
        QVERIFY2(diff < 1e-5f, qPrintable(QStringLiteral("%1: saved model differs by %2").arg(fx.caseName).arg(diff)));
        // and the quantization really changed the model
        const qs::MatrixRM orig = qs::Forward(*model).run(fx.tokens, fx.batch, fx.seqlen);
        QVERIFY((orig - got).cwiseAbs().maxCoeff() > 1e-4f);
        for (const auto& b : back->blocks)
            for (const auto& l : b.linears) QVERIFY(!l.override);
    }

    /// SmoothQuant/AWQ fold per-channel scales into the producer of each input
    /// (norm weight and bias, v rows, up rows, fc1 rows and bias); the model must
    /// compute the same function, and saving writes the folded tensors (fused
    /// GPT-2 c_attn slices, OPT LayerNorm biases) so they load back to the same logits.
    void foldedScalesKeepTheFunction_data() { goldenLogits_data(); }
    void foldedScalesKeepTheFunction() {
        QFETCH(QString, path);
        const Fixture fx = loadFixture(path);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto model = writeAndLoad(dir.path(), fx);
        qs::Model q = *model;
        qs::SplitMix64 rng(42);
        int folded = 0;
        for (auto& b : q.blocks)
            for (qs::InputGroup& g : qs::inputGroups(b, q.config)) {
                if (!g.foldable()) continue;
                Eigen::VectorXd s(g.members.front()->inFeatures);
                for (Eigen::Index j = 0; j < s.size(); ++j) s[j] = std::exp2(2.0 * double(rng.uniformSym()));  // [1/4, 4]
                qs::foldInputScales(g, s);
                ++folded;
            }
        // {q,k,v} and the MLP input always fold; o/down/fc2 depending on the architecture
        QVERIFY(folded >= 2 * int(q.blocks.size()));
        const qs::MatrixRM orig = qs::Forward(*model).run(fx.tokens, fx.batch, fx.seqlen);
        const qs::MatrixRM got = qs::Forward(q).run(fx.tokens, fx.batch, fx.seqlen);
        const float scale = std::max(1.0f, orig.cwiseAbs().maxCoeff());
        const float diff = (orig - got).cwiseAbs().maxCoeff();
        QVERIFY2(diff < 2e-4f * scale, qPrintable(QStringLiteral("%1: folding changed the logits by %2 (max |logit| %3)")
                                                      .arg(fx.caseName).arg(diff).arg(scale)));
        // the weights really changed
        const auto& l0 = q.blocks[0].linears[0];
        QVERIFY(l0.override && (*l0.override - l0.weight.matrix()).cwiseAbs().maxCoeff() > 1e-3f);
        QVERIFY(q.blocks[0].attnNorm.weightOverride);
        const QString out = dir.filePath(QStringLiteral("folded"));
        qs::saveHfModel(q, out);
        auto back = qs::loadModel(out);
        const qs::MatrixRM again = qs::Forward(*back).run(fx.tokens, fx.batch, fx.seqlen);
        QVERIFY2((again - got).cwiseAbs().maxCoeff() < 1e-5f,
                 qPrintable(QStringLiteral("%1: the saved folded model differs by %2").arg(fx.caseName).arg((again - got).cwiseAbs().maxCoeff())));
        QVERIFY((back->blocks[0].attnNorm.weight.vector() - *q.blocks[0].attnNorm.weightOverride).cwiseAbs().maxCoeff() == 0.0f);
    }

    /// Sharded checkpoint: two files + model.safetensors.index.json with a weight_map.
    void shardedCheckpoint_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("llama_bf16_tied_gqa") << QStringLiteral("llama_bf16_tied_gqa");
        QTest::newRow("gpt2_f32") << QStringLiteral("gpt2_f32");
    }
    void shardedCheckpoint() {
        QFETCH(QString, name);
        const Fixture fx = fixtureByName(name);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeJson(dir.filePath(QStringLiteral("config.json")), fx.config);
        const QString shard[2] = {QStringLiteral("model-00001-of-00002.safetensors"),
                                  QStringLiteral("model-00002-of-00002.safetensors")};
        std::vector<qs::TensorToWrite> parts[2];
        QJsonObject weightMap;
        qint64 total = 0;
        for (size_t i = 0; i < fx.tensors.size(); ++i) {
            const int s = i % 2;  // interleave so every block spans both shards
            parts[s].push_back(tensorToWrite(fx, i));
            weightMap.insert(QString::fromStdString(fx.tensors[i].first), shard[s]);
            int64_t n = 1;
            for (int64_t d : fx.tensors[i].second) n *= d;
            total += n * qint64(qs::dtypeSize(fx.dtype));
        }
        for (int s = 0; s < 2; ++s) qs::writeSafetensors(dir.filePath(shard[s]), parts[s], {{"format", "pt"}});
        writeJson(dir.filePath(QStringLiteral("model.safetensors.index.json")),
                  QJsonObject{{QStringLiteral("metadata"), QJsonObject{{QStringLiteral("total_size"), total}}},
                              {QStringLiteral("weight_map"), weightMap}});
        auto model = qs::loadModel(dir.path());
        const qs::MatrixRM logits = qs::Forward(*model).run(fx.tokens, fx.batch, fx.seqlen);
        CHECK_LOGITS(logits, fx, 0, fx.caseName + QStringLiteral(" (sharded)"));
    }

    /// Opening the .safetensors file itself (config.json beside it) instead of the directory.
    void loadViaSafetensorsFile() {
        const Fixture fx = fixtureByName(QStringLiteral("opt_f16_proj"));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        auto model = qs::loadModel(dir.filePath(QStringLiteral("model.safetensors")));
        const qs::MatrixRM logits = qs::Forward(*model).run(fx.tokens, fx.batch, fx.seqlen);
        CHECK_LOGITS(logits, fx, 0, fx.caseName + QStringLiteral(" (opened as file)"));
    }

    /// Pre-5.x transformers write a top-level "rope_theta" instead of "rope_parameters".
    void legacyRopeThetaConfig() {
        Fixture fx = fixtureByName(QStringLiteral("mistral_f32_gqa"));
        const QJsonObject rp = fx.config.value(QLatin1String("rope_parameters")).toObject();
        QVERIFY(rp.contains(QLatin1String("rope_theta")));
        fx.config.remove(QStringLiteral("rope_parameters"));
        fx.config.insert(QStringLiteral("rope_theta"), rp.value(QLatin1String("rope_theta")));
        fx.config.insert(QStringLiteral("rope_scaling"), QJsonValue::Null);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto model = writeAndLoad(dir.path(), fx);
        QCOMPARE(model->config.ropeTheta, rp.value(QLatin1String("rope_theta")).toDouble());
        const qs::MatrixRM logits = qs::Forward(*model).run(fx.tokens, fx.batch, fx.seqlen);
        CHECK_LOGITS(logits, fx, 0, fx.caseName + QStringLiteral(" (legacy rope_theta config)"));
    }

    // ---- errors: each names the thing that is wrong ----

    void errorMissingTensor_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("tensor");
        QTest::newRow("llama") << QStringLiteral("llama_f32_untied_headdim") << QStringLiteral("model.layers.1.mlp.up_proj.weight");
        QTest::newRow("llama-lm_head") << QStringLiteral("llama_f32_untied_headdim") << QStringLiteral("lm_head.weight");
        QTest::newRow("qwen2-bias") << QStringLiteral("qwen2_f16_bias_tied") << QStringLiteral("model.layers.0.self_attn.k_proj.bias");
        QTest::newRow("opt") << QStringLiteral("opt_f32") << QStringLiteral("model.decoder.layers.1.fc2.weight");
        QTest::newRow("opt-project_in") << QStringLiteral("opt_f16_proj") << QStringLiteral("model.decoder.project_in.weight");
        QTest::newRow("gpt2") << QStringLiteral("gpt2_f32") << QStringLiteral("transformer.h.0.attn.c_attn.weight");
    }
    void errorMissingTensor() {
        QFETCH(QString, name);
        QFETCH(QString, tensor);
        const Fixture fx = fixtureByName(name);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string drop = tensor.toStdString();
        writeCheckpoint(dir.path(), fx, [&](const std::string& n) { return n != drop; });
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(tensor), qPrintable(msg));
    }

    void errorShapeMismatch_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("tensor");
        QTest::newRow("llama-k_proj-transposed") << QStringLiteral("llama_bf16_tied_gqa") << QStringLiteral("model.layers.0.self_attn.k_proj.weight");
        QTest::newRow("llama-norm") << QStringLiteral("llama_f32_untied_headdim") << QStringLiteral("model.norm.weight");
        QTest::newRow("gpt2-conv1d-as-linear") << QStringLiteral("gpt2_f32") << QStringLiteral("transformer.h.1.mlp.c_fc.weight");
        QTest::newRow("opt-positions") << QStringLiteral("opt_f32") << QStringLiteral("model.decoder.embed_positions.weight");
    }
    void errorShapeMismatch() {
        QFETCH(QString, name);
        QFETCH(QString, tensor);
        Fixture fx = fixtureByName(name);
        std::vector<int64_t> expected, found;
        for (auto& [n, shape] : fx.tensors)
            if (n == tensor.toStdString()) {
                expected = shape;
                if (shape.size() == 2 && shape[0] != shape[1])
                    std::swap(shape[0], shape[1]);  // e.g. a Conv1D [in, out] stored as [out, in]
                else
                    shape.back() += 1;
                found = shape;
            }
        QVERIFY(!expected.empty());
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(tensor), qPrintable(msg));
        QVERIFY2(containsShape(msg, found), qPrintable(QStringLiteral("found shape missing: ") + msg));
        QVERIFY2(containsShape(msg, expected), qPrintable(QStringLiteral("expected shape missing: ") + msg));
    }

    /// config.json disagrees with the tensors (vocab_size changed): the embedding is named.
    void errorConfigDisagrees() {
        Fixture fx = fixtureByName(QStringLiteral("mistral_f32_gqa"));
        const int vocab = fx.config.value(QLatin1String("vocab_size")).toInt();
        fx.config.insert(QStringLiteral("vocab_size"), vocab + 4);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(QLatin1String("embed_tokens.weight")) || msg.contains(QLatin1String("lm_head.weight")), qPrintable(msg));
        QVERIFY2(containsShape(msg, {vocab + 4, 32}), qPrintable(msg));
        QVERIFY2(containsShape(msg, {vocab, 32}), qPrintable(msg));
    }

    void errorUnsupportedModelType() {
        Fixture fx = fixtureByName(QStringLiteral("llama_f32_untied_headdim"));
        fx.config.insert(QStringLiteral("model_type"), QStringLiteral("mamba"));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(QLatin1String("model_type")), qPrintable(msg));
        QVERIFY2(msg.contains(QLatin1String("mamba")), qPrintable(msg));
        QVERIFY2(msg.contains(QLatin1String("config.json")), qPrintable(msg));
    }

    void errorMissingShard() {
        const Fixture fx = fixtureByName(QStringLiteral("gpt2_f32"));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeJson(dir.filePath(QStringLiteral("config.json")), fx.config);
        const QString present = QStringLiteral("model-00001-of-00002.safetensors");
        const QString absent = QStringLiteral("model-00002-of-00002.safetensors");
        std::vector<qs::TensorToWrite> first;
        QJsonObject weightMap;
        for (size_t i = 0; i < fx.tensors.size(); ++i) {
            const bool inFirst = i < fx.tensors.size() / 2;
            if (inFirst) first.push_back(tensorToWrite(fx, i));
            weightMap.insert(QString::fromStdString(fx.tensors[i].first), inFirst ? present : absent);
        }
        qs::writeSafetensors(dir.filePath(present), first);
        writeJson(dir.filePath(QStringLiteral("model.safetensors.index.json")),
                  QJsonObject{{QStringLiteral("weight_map"), weightMap}});
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(absent), qPrintable(msg));
        QVERIFY2(msg.contains(QLatin1String("model.safetensors.index.json")), qPrintable(msg));
    }

    void errorMissingConfig() {
        const Fixture fx = fixtureByName(QStringLiteral("opt_f32"));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeCheckpoint(dir.path(), fx);
        QVERIFY(QFile::remove(dir.filePath(QStringLiteral("config.json"))));
        EXPECT_ERROR(qs::loadModel(dir.filePath(QStringLiteral("model.safetensors"))), msg);
        QVERIFY2(msg.contains(QLatin1String("config.json")), qPrintable(msg));
    }

    void errorNoCheckpointInDirectory() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeJson(dir.filePath(QStringLiteral("config.json")), fixtureByName(QStringLiteral("opt_f32")).config);
        EXPECT_ERROR(qs::loadModel(dir.path()), msg);
        QVERIFY2(msg.contains(QLatin1String("model.safetensors")), qPrintable(msg));
        QVERIFY2(msg.contains(dir.path()), qPrintable(msg));
    }
};

QTEST_APPLESS_MAIN(TestArchitectures)
#include "test_architectures.moc"
