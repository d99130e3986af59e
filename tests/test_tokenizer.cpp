// Tokenizers against golden ids from independent implementations
// (tests/fixtures/tokenizers/, produced by tests/tools/make_tokenizer_fixtures.py:
// Hugging Face `tokenizers`, a port of GPT-2's encoder.py, a port of llama2.c's
// run.c), discovery next to a model, and the error messages on malformed files.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <thread>

#include "model/config.h"
#include "model/tokenizer.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

struct Case {
    std::string text;
    std::vector<int> ids;         // encode()
    std::vector<int> idsSpecial;  // encodeForModel()
    bool hasDecoded = false;
    std::string decoded;          // decode(idsSpecial), when the reference gives valid text
};

std::vector<int> toIds(const QJsonValue& v) {
    std::vector<int> out;
    for (const QJsonValue& x : v.toArray()) out.push_back(x.toInt());
    return out;
}

QJsonObject readJson(const QString& path) {
    const QByteArray bytes = qs::test::readAll(path);
    if (bytes.isEmpty()) qWarning("cannot read %s", qPrintable(path));
    return QJsonDocument::fromJson(bytes).object();
}

std::vector<Case> readCases(const QString& path) {
    std::vector<Case> out;
    for (const QJsonValue& v : readJson(path).value(QStringLiteral("cases")).toArray()) {
        const QJsonObject o = v.toObject();
        Case c;
        c.text = o.value(QStringLiteral("text")).toString().toStdString();
        c.ids = toIds(o.value(QStringLiteral("ids")));
        c.idsSpecial = toIds(o.value(QStringLiteral("ids_special")));
        if (o.contains(QStringLiteral("decoded"))) {
            const QString d = o.value(QStringLiteral("decoded")).toString();
            // The references decode invalid UTF-8 to U+FFFD, QuantScope keeps the raw
            // bytes: compare only where the reference produced no replacement.
            c.hasDecoded = !d.contains(QChar(0xFFFD)) || QString::fromStdString(c.text).contains(QChar(0xFFFD));
            c.decoded = d.toStdString();
        }
        out.push_back(std::move(c));
    }
    return out;
}

QString showText(const std::string& s) {
    QString q = QString::fromUtf8(s.data(), qsizetype(s.size()));
    if (q.size() > 80) q = q.left(77) + QStringLiteral("...");
    q.replace(QLatin1Char('\n'), QStringLiteral("\\n")).replace(QLatin1Char('\t'), QStringLiteral("\\t"));
    return QStringLiteral("\"%1\"").arg(q);
}

QString showIds(const std::vector<int>& v, size_t from, size_t n = 12) {
    QStringList parts;
    for (size_t i = from; i < v.size() && i < from + n; ++i) parts << QString::number(v[i]);
    return QStringLiteral("[%1%2]").arg(parts.join(QLatin1Char(' ')), from + n < v.size() ? QStringLiteral(" ...") : QString());
}

/// Empty when equal, else where they differ.
QString idsDiff(const std::vector<int>& got, const std::vector<int>& want) {
    if (got == want) return {};
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const size_t from = i > 3 ? i - 3 : 0;
    return QStringLiteral("first difference at index %1 (got %2 ids, expected %3): got %4, expected %5 (from index %6)")
        .arg(i)
        .arg(got.size())
        .arg(want.size())
        .arg(showIds(got, from), showIds(want, from))
        .arg(from);
}

#define QS_COMPARE_IDS(got, want, what)                                                        \
    do {                                                                                       \
        const QString d_ = idsDiff((got), (want));                                             \
        if (!d_.isEmpty()) QFAIL(qPrintable(QString(what) + QStringLiteral(": ") + d_));       \
    } while (0)

/// Runs every golden case through a tokenizer.
void checkCases(const Tokenizer& tok, const std::vector<Case>& cases, bool checkDecode) {
    QVERIFY2(!cases.empty(), "no golden cases (fixture missing?)");
    for (const Case& c : cases) {
        std::vector<int> ids, idsSp;
        try {
            ids = tok.encode(c.text);
            idsSp = tok.encodeForModel(c.text);
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QStringLiteral("%1 threw: %2").arg(showText(c.text), QString::fromUtf8(e.what()))));
        }
        QS_COMPARE_IDS(ids, c.ids, QStringLiteral("encode(%1)").arg(showText(c.text)));
        QS_COMPARE_IDS(idsSp, c.idsSpecial, QStringLiteral("encodeForModel(%1)").arg(showText(c.text)));
        if (checkDecode && c.hasDecoded) {
            const std::string d = tok.decode(c.idsSpecial);
            if (d != c.decoded)
                QFAIL(qPrintable(QStringLiteral("decode of %1: got %2, expected %3")
                                     .arg(showText(c.text), showText(d), showText(c.decoded))));
        }
    }
}

uint64_t checksum(const std::vector<int>& ids) {
    const uint64_t mod = (uint64_t(1) << 61) - 1;
    uint64_t s = 0;
    for (size_t i = 0; i < ids.size(); ++i) s = (s + uint64_t(i + 1) * uint64_t(ids[i]) % mod) % mod;
    return s;
}

QString tokFixture(const QString& rel) { return qs::test::fixture(QStringLiteral("tokenizers/") + rel); }

void writeFile(const QString& path, const QByteArray& data) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
    QCOMPARE(f.write(data), data.size());
}

/// The message of the qs::Error thrown by `fn`, or a marker when none is thrown.
template <class F>
QString errorOf(F&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return QString::fromUtf8(e.what());
    } catch (const std::exception& e) {
        return QStringLiteral("<not a qs::Error: %1>").arg(QString::fromUtf8(e.what()));
    }
    return QStringLiteral("<no error>");
}

#define QS_EXPECT_ERROR(call, ...)                                                                   \
    do {                                                                                             \
        const QString msg_ = errorOf([&] { (void)(call); });                                         \
        for (const QString& part_ : QStringList{__VA_ARGS__})                                        \
            if (!msg_.contains(part_))                                                               \
                QFAIL(qPrintable(QStringLiteral("error of %1 lacks \"%2\": %3").arg(#call, part_, msg_))); \
    } while (0)

/// llama2.c tokenizer.bin image.
QByteArray llama2cBytes(int32_t maxLen, const std::vector<std::pair<float, std::string>>& entries) {
    QByteArray out;
    out.append(reinterpret_cast<const char*>(&maxLen), 4);
    for (const auto& [score, piece] : entries) {
        const int32_t len = int32_t(piece.size());
        out.append(reinterpret_cast<const char*>(&score), 4);
        out.append(reinterpret_cast<const char*>(&len), 4);
        out.append(piece.data(), qsizetype(piece.size()));
    }
    return out;
}

std::vector<std::pair<float, std::string>> minimalLlama2cVocab() {
    std::vector<std::pair<float, std::string>> v = {{0.f, "<unk>"}, {0.f, "\n<s>\n"}, {0.f, "\n</s>\n"}};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        v.push_back({0.f, buf});
    }
    v.push_back({0.f, " "});
    v.push_back({0.f, "h"});
    v.push_back({0.f, "i"});
    v.push_back({-1.f, "hi"});
    v.push_back({-2.f, " hi"});
    return v;
}

/// A small valid tokenizer.json to derive malformed variants from.
QJsonObject minimalHfJson() {
    QJsonObject vocab{{"a", 0}, {"b", 1}, {"ab", 2}, {"<unk>", 3}};
    QJsonObject model{{"type", "BPE"}, {"vocab", vocab}, {"merges", QJsonArray{"a b"}}, {"unk_token", "<unk>"}};
    return QJsonObject{{"version", "1.0"}, {"model", model}, {"normalizer", QJsonValue()},
                       {"pre_tokenizer", QJsonValue()}, {"post_processor", QJsonValue()}, {"decoder", QJsonValue()}};
}

QByteArray jsonBytes(const QJsonObject& o) { return QJsonDocument(o).toJson(QJsonDocument::Compact); }

QJsonObject withModel(QJsonObject root, const QString& key, const QJsonValue& v) {
    QJsonObject m = root.value(QStringLiteral("model")).toObject();
    if (v.isUndefined()) m.remove(key);
    else m.insert(key, v);
    root.insert(QStringLiteral("model"), m);
    return root;
}

std::string loadWikiText(const QString& shared) {
    QFile f(shared + QStringLiteral("/data/wikitext-2-raw/test.jsonl"));
    if (!f.open(QIODevice::ReadOnly)) return {};
    std::string out;
    bool first = true;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (line.trimmed().isEmpty()) continue;
        if (!first) out += "\n\n";
        first = false;
        out += QJsonDocument::fromJson(line).object().value(QStringLiteral("text")).toString().toStdString();
    }
    return out;
}

std::string loadTinyStories(const QString& shared) {
    QByteArray b = qs::test::readAll(shared + QStringLiteral("/data/tinystories/valid-slice.txt"));
    b.replace("\r\n", "\n");
    return b.toStdString();
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // ---- golden ids ----
    void hfGolden_data();
    void hfGolden();
    void gpt2VocabMerges();
    void optVocabMergesWithConfig();
    void llama2cSynthetic();
    void llama2cTok512Golden();
    void llama2cRealData_data();
    void llama2cRealData();
    // ---- behaviour ----
    void byteLevelRoundTrip();
    void invalidUtf8Input();
    void tokenizerConfigOverrides();
    void decodeOutOfRange();
    void concurrentEncode();
    void largeInputsAreFast();
    // ---- discovery ----
    void discovery();
    void discoveryErrors();
    // ---- malformed files ----
    void llama2cErrors();
    void hfJsonErrors();
    void gpt2FileErrors();
};

// ---------------------------------------------------------------------------

void TestTokenizer::hfGolden_data() {
    QTest::addColumn<QString>("dir");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<bool>("addBos");
    QTest::newRow("gpt2") << "gpt2" << "hf-bpe-bytelevel" << false;
    QTest::newRow("roberta") << "roberta" << "hf-bpe-bytelevel" << true;
    QTest::newRow("qwen2") << "qwen2" << "hf-bpe-bytelevel" << false;
    QTest::newRow("llama3") << "llama3" << "hf-bpe-bytelevel" << true;
    QTest::newRow("llama2") << "llama2" << "hf-bpe-sentencepiece" << true;
    QTest::newRow("mistral") << "mistral" << "hf-bpe-sentencepiece" << true;
    QTest::newRow("sp-misc") << "sp-misc" << "hf-bpe-sentencepiece" << true;
    QTest::newRow("subword") << "subword" << "hf-bpe" << false;
}

void TestTokenizer::hfGolden() {
    QFETCH(QString, dir);
    QFETCH(QString, kind);
    QFETCH(bool, addBos);
    std::unique_ptr<Tokenizer> tok;
    try {
        tok = loadHfTokenizer(tokFixture(dir + QStringLiteral("/tokenizer.json")));
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
    QCOMPARE(QString::fromStdString(tok->kind()), kind);
    QCOMPARE(tok->addBos, addBos);
    const QJsonObject exp = readJson(tokFixture(dir + QStringLiteral("/expected.json")));
    QCOMPARE(tok->vocabSize(), exp.value(QStringLiteral("vocab_size")).toInt());
    checkCases(*tok, readCases(tokFixture(dir + QStringLiteral("/expected.json"))), true);
    // The same through the in-memory entry point.
    auto again = parseHfTokenizer(qs::test::readAll(tokFixture(dir + QStringLiteral("/tokenizer.json"))),
                                  qs::test::readAll(tokFixture(dir + QStringLiteral("/tokenizer_config.json"))),
                                  QStringLiteral("(memory)"));
    QCOMPARE(again->encodeForModel("Hello world, 123!"), tok->encodeForModel("Hello world, 123!"));
}

void TestTokenizer::gpt2VocabMerges() {
    auto tok = loadGpt2Tokenizer(tokFixture(QStringLiteral("gpt2/vocab.json")), tokFixture(QStringLiteral("gpt2/merges.txt")));
    QCOMPARE(QString::fromStdString(tok->kind()), QStringLiteral("gpt2-vocab-merges"));
    QVERIFY(!tok->addBos);
    QVERIFY(tok->eosId >= 0);
    checkCases(*tok, readCases(tokFixture(QStringLiteral("gpt2/expected_vocab_merges.json"))), false);
}

void TestTokenizer::optVocabMergesWithConfig() {
    // vocab.json + merges.txt + tokenizer_config.json ("add_bos_token": true,
    // bos_token "</s>" as OPT has it), found next to a model directory.
    ModelConfig cfg;
    cfg.vocabSize = 1000;
    auto tok = loadTokenizerFor(tokFixture(QStringLiteral("opt")), QString(), cfg);
    QCOMPARE(QString::fromStdString(tok->kind()), QStringLiteral("gpt2-vocab-merges"));
    QVERIFY(tok->addBos);
    QCOMPARE(tok->bosId, 2);
    checkCases(*tok, readCases(tokFixture(QStringLiteral("opt/expected.json"))), false);
}

void TestTokenizer::llama2cSynthetic() {
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/expected_synthetic.json")));
    auto tok = loadLlama2cTokenizer(tokFixture(QStringLiteral("llama2c/synthetic.bin")), exp.value(QStringLiteral("vocab_size")).toInt());
    QCOMPARE(QString::fromStdString(tok->kind()), QStringLiteral("llama2c"));
    checkCases(*tok, readCases(tokFixture(QStringLiteral("llama2c/expected_synthetic.json"))), true);
}

void TestTokenizer::llama2cTok512Golden() {
    QS_REQUIRE_SHARED(shared);
    auto tok = loadLlama2cTokenizer(shared + QStringLiteral("/models/stories260K/tok512.bin"), 512);
    QCOMPARE(tok->vocabSize(), 512);
    QCOMPARE(tok->bosId, 1);
    QCOMPARE(tok->eosId, 2);
    QVERIFY(tok->addBos);
    checkCases(*tok, readCases(tokFixture(QStringLiteral("llama2c/expected_tok512.json"))), true);
}

void TestTokenizer::llama2cRealData_data() {
    QTest::addColumn<QString>("key");
    QTest::newRow("tinystories") << "tinystories";
    QTest::newRow("wikitext2_test") << "wikitext2_test";
}

void TestTokenizer::llama2cRealData() {
    QFETCH(QString, key);
    QS_REQUIRE_SHARED(shared);
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/real_tok512.json"))).value(key).toObject();
    const std::string text = key == QLatin1String("tinystories") ? loadTinyStories(shared) : loadWikiText(shared);
    QCOMPARE(qint64(text.size()), qint64(exp.value(QStringLiteral("bytes")).toDouble()));
    auto tok = loadLlama2cTokenizer(shared + QStringLiteral("/models/stories260K/tok512.bin"), 512);
    QElapsedTimer timer;
    timer.start();
    const std::vector<int> ids = tok->encodeForModel(text);
    const double sec = std::max(1e-9, timer.nsecsElapsed() * 1e-9);
    const double chars = exp.value(QStringLiteral("chars")).toDouble();
    qInfo("%s: %zu tokens in %.3f s (%.0f chars/s)", qPrintable(key), ids.size(), sec, chars / sec);
    QCOMPARE(qint64(ids.size()), qint64(exp.value(QStringLiteral("tokens")).toDouble()));
    const std::vector<int> first = toIds(exp.value(QStringLiteral("first_ids")));
    QS_COMPARE_IDS(std::vector<int>(ids.begin(), ids.begin() + qsizetype(std::min(ids.size(), first.size()))), first,
                   QStringLiteral("first ids"));
    QCOMPARE(QString::number(checksum(ids)), QString::number(qint64(exp.value(QStringLiteral("checksum")).toDouble()), 10));
    // The decoded text is the input again (every piece after BOS, dummy prefix dropped).
    QVERIFY(tok->decode(ids) == text);
}

// ---------------------------------------------------------------------------

void TestTokenizer::byteLevelRoundTrip() {
    // Byte-level BPE is lossless: decode(encode(s)) == s for any valid UTF-8.
    auto gpt2 = loadGpt2Tokenizer(tokFixture(QStringLiteral("gpt2/vocab.json")), tokFixture(QStringLiteral("gpt2/merges.txt")));
    auto l3 = loadHfTokenizer(tokFixture(QStringLiteral("llama3/tokenizer.json")));
    for (const Case& c : readCases(tokFixture(QStringLiteral("gpt2/expected_vocab_merges.json")))) {
        if (c.text.find("<|") != std::string::npos) continue;  // special tokens are skipped by decode
        QVERIFY2(gpt2->decode(gpt2->encode(c.text)) == c.text, qPrintable(showText(c.text)));
        QVERIFY2(l3->decode(l3->encodeForModel(c.text)) == c.text, qPrintable(showText(c.text)));
    }
    // decodeToken of a byte-level token gives its bytes
    const std::vector<int> ids = gpt2->encode(" hello");
    std::string joined;
    for (int id : ids) joined += gpt2->decodeToken(id);
    QCOMPARE(QString::fromStdString(joined), QStringLiteral(" hello"));
}

void TestTokenizer::invalidUtf8Input() {
    const std::string bad = "ab\xff\xfe" "cd\xc3";  // stray bytes and a truncated sequence
    // what Python's bytes.decode("utf-8", "replace") makes of it
    const std::string replaced = "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd\xEF\xBF\xBD";
    for (const char* dir : {"gpt2", "qwen2", "llama2", "mistral", "sp-misc"}) {
        auto tok = loadHfTokenizer(tokFixture(QLatin1String(dir) + QStringLiteral("/tokenizer.json")));
        QCOMPARE(tok->encode(bad), tok->encode(replaced));
    }
    // llama2.c works on bytes: invalid bytes take the byte fallback and decode back.
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/expected_synthetic.json")));
    auto tok = loadLlama2cTokenizer(tokFixture(QStringLiteral("llama2c/synthetic.bin")), exp.value(QStringLiteral("vocab_size")).toInt());
    const std::vector<int> ids = tok->encodeForModel(bad);
    QVERIFY(std::find(ids.begin(), ids.end(), 0xff + 3) != ids.end());
    QVERIFY(tok->decode(ids) == bad);
}

void TestTokenizer::tokenizerConfigOverrides() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString tj = tmp.filePath(QStringLiteral("tokenizer.json"));
    writeFile(tj, qs::test::readAll(tokFixture(QStringLiteral("llama2/tokenizer.json"))));
    auto base = loadHfTokenizer(tj);  // no tokenizer_config.json: the template's <s>
    QVERIFY(base->addBos);
    QCOMPARE(base->bosId, 1);
    const std::vector<int> body = base->encode("Hello there");
    QCOMPARE(base->encodeForModel("Hello there").front(), 1);

    writeFile(tmp.filePath(QStringLiteral("tokenizer_config.json")),
              R"({"add_bos_token": false, "add_eos_token": true, "eos_token": {"content": "</s>"}})");
    auto tok = loadHfTokenizer(tj);
    QVERIFY(!tok->addBos);
    std::vector<int> want = body;
    want.push_back(2);
    QCOMPARE(tok->encodeForModel("Hello there"), want);

    writeFile(tmp.filePath(QStringLiteral("tokenizer_config.json")), R"({"add_bos_token": true, "bos_token": "<nope>"})");
    QS_EXPECT_ERROR(loadHfTokenizer(tj), QStringLiteral("tokenizer_config.json"), QStringLiteral("bos_token"),
                    QStringLiteral("<nope>"));
    writeFile(tmp.filePath(QStringLiteral("tokenizer_config.json")), R"({"add_bos_token": "yes"})");
    QS_EXPECT_ERROR(loadHfTokenizer(tj), QStringLiteral("tokenizer_config.json"), QStringLiteral("add_bos_token"),
                    QStringLiteral("the string \"yes\""), QStringLiteral("true or false"));
    writeFile(tmp.filePath(QStringLiteral("tokenizer_config.json")), "{ not json");
    QS_EXPECT_ERROR(loadHfTokenizer(tj), QStringLiteral("tokenizer_config.json"), QStringLiteral("not valid JSON"));
}

void TestTokenizer::decodeOutOfRange() {
    auto hf = loadHfTokenizer(tokFixture(QStringLiteral("gpt2/tokenizer.json")));
    QS_EXPECT_ERROR(hf->decode({1, hf->vocabSize()}), QStringLiteral("token id %1").arg(hf->vocabSize()));
    QS_EXPECT_ERROR(hf->decodeToken(-1), QStringLiteral("token id -1"));
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/expected_synthetic.json")));
    auto lc = loadLlama2cTokenizer(tokFixture(QStringLiteral("llama2c/synthetic.bin")), exp.value(QStringLiteral("vocab_size")).toInt());
    QS_EXPECT_ERROR(lc->decode({1, 100000}), QStringLiteral("token id 100000"));
}

void TestTokenizer::concurrentEncode() {
    // The per-word cache is shared: concurrent encodes must agree with a serial one.
    auto tok = loadHfTokenizer(tokFixture(QStringLiteral("qwen2/tokenizer.json")));
    std::string text;
    for (const Case& c : readCases(tokFixture(QStringLiteral("qwen2/expected.json")))) text += c.text + "\n";
    auto fresh = loadHfTokenizer(tokFixture(QStringLiteral("qwen2/tokenizer.json")));
    const std::vector<int> want = fresh->encode(text);
    std::vector<std::vector<int>> got(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t)
        threads.emplace_back([&, t] {
            for (int k = 0; k < 5; ++k) got[t] = tok->encode(text);
        });
    for (auto& th : threads) th.join();
    for (const auto& g : got) QCOMPARE(g, want);
}

void TestTokenizer::largeInputsAreFast() {
    // ~1.3 MB of text in the three shapes of BPE input: many short words
    // (byte-level), one 1.3 MB "word" (Llama-2: no pre-tokenizer), llama2.c.
    std::string text;
    for (const Case& c : readCases(tokFixture(QStringLiteral("gpt2/expected.json")))) text += c.text + "\n\n";
    std::string big;
    while (big.size() < 1300000) big += text;
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/expected_synthetic.json")));
    struct Run {
        const char* name;
        std::unique_ptr<Tokenizer> tok;
    } runs[] = {
        {"gpt2 byte-level", loadHfTokenizer(tokFixture(QStringLiteral("gpt2/tokenizer.json")))},
        {"llama2 sentencepiece", loadHfTokenizer(tokFixture(QStringLiteral("llama2/tokenizer.json")))},
        {"llama2.c synthetic", loadLlama2cTokenizer(tokFixture(QStringLiteral("llama2c/synthetic.bin")),
                                                    exp.value(QStringLiteral("vocab_size")).toInt())},
    };
    for (Run& r : runs) {
        QElapsedTimer timer;
        timer.start();
        const std::vector<int> ids = r.tok->encode(big);
        const double sec = std::max(1e-9, timer.nsecsElapsed() * 1e-9);
        qInfo("%s: %zu bytes -> %zu tokens in %.3f s (%.0f bytes/s)", r.name, big.size(), ids.size(), sec, big.size() / sec);
        QVERIFY(!ids.empty());
        // O(n log n): far below the minutes a quadratic merge loop would take.
        QVERIFY2(sec < 20.0, r.name);
    }
}

// ---------------------------------------------------------------------------

void TestTokenizer::discovery() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    QDir d(tmp.path());
    ModelConfig cfg;
    cfg.vocabSize = 1000;

    // tokenizer.json next to a model file (the file itself need not be read)
    QVERIFY(d.mkpath(QStringLiteral("hf")));
    writeFile(d.filePath(QStringLiteral("hf/tokenizer.json")), qs::test::readAll(tokFixture(QStringLiteral("llama2/tokenizer.json"))));
    writeFile(d.filePath(QStringLiteral("hf/tokenizer.bin")), qs::test::readAll(tokFixture(QStringLiteral("llama2c/synthetic.bin"))));
    auto t1 = loadTokenizerFor(d.filePath(QStringLiteral("hf/model.safetensors")), QString(), cfg);
    QCOMPARE(QString::fromStdString(t1->kind()), QStringLiteral("hf-bpe-sentencepiece"));  // tokenizer.json first
    auto t2 = loadTokenizerFor(d.filePath(QStringLiteral("hf")), QString(), cfg);
    QCOMPARE(QString::fromStdString(t2->kind()), QStringLiteral("hf-bpe-sentencepiece"));

    // llama2.c: tok<vocab>.bin next to the checkpoint
    const QJsonObject exp = readJson(tokFixture(QStringLiteral("llama2c/expected_synthetic.json")));
    const int synV = exp.value(QStringLiteral("vocab_size")).toInt();
    ModelConfig lc;
    lc.vocabSize = synV;
    QVERIFY(d.mkpath(QStringLiteral("l2c")));
    writeFile(d.filePath(QStringLiteral("l2c/tok%1.bin").arg(synV)), qs::test::readAll(tokFixture(QStringLiteral("llama2c/synthetic.bin"))));
    auto t3 = loadTokenizerFor(d.filePath(QStringLiteral("l2c/model.bin")), QString(), lc);
    QCOMPARE(QString::fromStdString(t3->kind()), QStringLiteral("llama2c"));
    QCOMPARE(t3->vocabSize(), synV);

    // explicit paths: a .bin, a tokenizer.json, a vocab.json, a directory
    auto t4 = loadTokenizerFor(QString(), tokFixture(QStringLiteral("llama2c/synthetic.bin")), lc);
    QCOMPARE(QString::fromStdString(t4->kind()), QStringLiteral("llama2c"));
    auto t5 = loadTokenizerFor(d.filePath(QStringLiteral("l2c")), tokFixture(QStringLiteral("qwen2/tokenizer.json")), cfg);
    QCOMPARE(QString::fromStdString(t5->kind()), QStringLiteral("hf-bpe-bytelevel"));
    auto t6 = loadTokenizerFor(QString(), tokFixture(QStringLiteral("gpt2/vocab.json")), cfg);
    QCOMPARE(QString::fromStdString(t6->kind()), QStringLiteral("gpt2-vocab-merges"));
    auto t7 = loadTokenizerFor(QString(), tokFixture(QStringLiteral("mistral")), cfg);
    QCOMPARE(QString::fromStdString(t7->kind()), QStringLiteral("hf-bpe-sentencepiece"));

    // the real stories260K: tok512.bin next to stories260K.bin
    const QString shared = qs::test::sharedDir();
    if (!shared.isEmpty()) {
        ModelConfig s;
        s.vocabSize = 512;
        auto t8 = loadTokenizerFor(shared + QStringLiteral("/models/stories260K/stories260K.bin"), QString(), s);
        QCOMPARE(t8->vocabSize(), 512);
    }
}

void TestTokenizer::discoveryErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    ModelConfig cfg;
    cfg.vocabSize = 777;
    const QString model = tmp.filePath(QStringLiteral("model.safetensors"));
    QS_EXPECT_ERROR(loadTokenizerFor(model, QString(), cfg), model, QStringLiteral("tokenizer.json"),
                    QStringLiteral("vocab.json"), QStringLiteral("tokenizer.bin"), QStringLiteral("tok777.bin"));
    QS_EXPECT_ERROR(loadTokenizerFor(tmp.path(), QString(), cfg), QStringLiteral("tok777.bin"));
    QS_EXPECT_ERROR(loadTokenizerFor(model, tmp.filePath(QStringLiteral("missing.json")), cfg),
                    QStringLiteral("missing.json"), QStringLiteral("does not exist"));
    QS_EXPECT_ERROR(loadTokenizerFor(model, tmp.path(), cfg), tmp.path(), QStringLiteral("no tokenizer"));
    const QString txt = tmp.filePath(QStringLiteral("tokenizer.txt"));
    writeFile(txt, "hello");
    QS_EXPECT_ERROR(loadTokenizerFor(model, txt, cfg), txt, QStringLiteral("unknown tokenizer file type"));
    const QString vocab = tmp.filePath(QStringLiteral("vocab.json"));
    writeFile(vocab, R"({"a": 0})");
    QS_EXPECT_ERROR(loadTokenizerFor(model, vocab, cfg), QStringLiteral("merges.txt"), QStringLiteral("does not exist"));
    QS_EXPECT_ERROR(loadTokenizerFor(QString(), QString(), cfg), QStringLiteral("no tokenizer"));

    // a tokenizer with more ids than the model's embedding rows
    ModelConfig small;
    small.vocabSize = 100;
    QS_EXPECT_ERROR(loadTokenizerFor(QString(), tokFixture(QStringLiteral("gpt2/tokenizer.json")), small),
                    QStringLiteral("tokenizer.json"), QStringLiteral("vocab_size is 100"));
    // llama2.c: the file must hold exactly the model's vocab_size entries
    QS_EXPECT_ERROR(loadTokenizerFor(QString(), tokFixture(QStringLiteral("llama2c/synthetic.bin")), small),
                    QStringLiteral("synthetic.bin"), QStringLiteral("vocab_size is 100"));
}

// ---------------------------------------------------------------------------

void TestTokenizer::llama2cErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const auto vocab = minimalLlama2cVocab();
    const int V = int(vocab.size());
    const int32_t maxLen = 6;  // "<0x00>"
    const QString path = tmp.filePath(QStringLiteral("tok.bin"));

    // the valid file first
    writeFile(path, llama2cBytes(maxLen, vocab));
    auto ok = loadLlama2cTokenizer(path, V);
    QCOMPARE(ok->encode("hi hi"), (std::vector<int>{V - 1, V - 1}));  // " hi" twice
    QCOMPARE(ok->decode(ok->encodeForModel("hi hi")), std::string("hi hi"));
    QCOMPARE(ok->encode(""), std::vector<int>{});
    QCOMPARE(ok->encodeForModel(""), std::vector<int>{1});

    writeFile(path, QByteArray("\x03\x00", 2));
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("truncated"), QStringLiteral("2 bytes"));

    writeFile(path, llama2cBytes(-4, vocab));
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("max_token_length is -4"));

    QByteArray neg = llama2cBytes(maxLen, vocab);
    const int32_t minus5 = -5;
    std::memcpy(neg.data() + 4 + 4, &minus5, 4);  // length of entry 0
    writeFile(path, neg);
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("entry 0"), QStringLiteral("piece length -5"));

    QByteArray huge = llama2cBytes(maxLen, vocab);
    const int32_t big = 1 << 30;
    std::memcpy(huge.data() + 4 + 4, &big, 4);
    writeFile(path, huge);
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("piece length 1073741824"), QStringLiteral("0..6"));

    QByteArray cut = llama2cBytes(maxLen, vocab);
    cut.chop(2);  // the last piece loses bytes
    writeFile(path, cut);
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("truncated"), QStringLiteral("entry %1").arg(V - 1));

    writeFile(path, llama2cBytes(maxLen, vocab));
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V + 10), path, QStringLiteral("holds %1 entries").arg(V),
                    QStringLiteral("vocab_size is %1").arg(V + 10));
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V - 2), path, QStringLiteral("holds %1 entries").arg(V),
                    QStringLiteral("vocab_size is %1").arg(V - 2));

    QByteArray trailing = llama2cBytes(maxLen, vocab);
    trailing.append("xyz");
    writeFile(path, trailing);
    QS_EXPECT_ERROR(loadLlama2cTokenizer(path, V), path, QStringLiteral("3 unexpected trailing bytes"));

    QS_EXPECT_ERROR(loadLlama2cTokenizer(tmp.filePath(QStringLiteral("nope.bin")), V), QStringLiteral("nope.bin"),
                    QStringLiteral("cannot open"));
    QS_EXPECT_ERROR(parseLlama2cTokenizer(QByteArray(), 10, QStringLiteral("(label)")), QStringLiteral("(label)"),
                    QStringLiteral("truncated"));
}

void TestTokenizer::hfJsonErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString path = tmp.filePath(QStringLiteral("tokenizer.json"));
    auto load = [&](const QByteArray& bytes) {
        writeFile(path, bytes);
        return loadHfTokenizer(path);
    };
    const QJsonObject base = minimalHfJson();
    {
        auto tok = load(jsonBytes(base));  // valid: "ab" merges, unknown chars -> <unk>
        QCOMPARE(tok->encode("abxa"), (std::vector<int>{2, 3, 0}));
    }
    QS_EXPECT_ERROR(load("{ \"model\": "), path, QStringLiteral("not valid JSON"));
    QS_EXPECT_ERROR(load("[1, 2]"), path, QStringLiteral("array"), QStringLiteral("expected an object"));
    QS_EXPECT_ERROR(load("{}"), path, QStringLiteral("model: found nothing (the field is missing), expected an object"));

    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("type"), QStringLiteral("Unigram")))), path,
                    QStringLiteral("model.type"), QStringLiteral("\"Unigram\""), QStringLiteral("\"BPE\""));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("type"), QStringLiteral("WordPiece")))), path,
                    QStringLiteral("model.type"), QStringLiteral("WordPiece"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("type"), 3))), path, QStringLiteral("model.type"),
                    QStringLiteral("the number 3"), QStringLiteral("a string"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("vocab"), QJsonValue::Undefined))), path,
                    QStringLiteral("model.vocab"), QStringLiteral("missing"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("vocab"), QJsonArray{1, 2}))), path,
                    QStringLiteral("model.vocab"), QStringLiteral("an array of 2 elements"), QStringLiteral("an object"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("vocab"), QJsonObject{{"a", "zero"}}))), path,
                    QStringLiteral("model.vocab[\"a\"]"), QStringLiteral("the string \"zero\""), QStringLiteral("an integer"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("vocab"), QJsonObject{{"a", -1}, {"b", 1}}))), path,
                    QStringLiteral("model.vocab[\"a\"]"), QStringLiteral("-1"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("vocab"), QJsonObject{{"a", 1.5}}))), path,
                    QStringLiteral("model.vocab[\"a\"]"), QStringLiteral("1.5"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonValue::Undefined))), path,
                    QStringLiteral("model.merges"), QStringLiteral("an array"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonArray{"a b", 7}))), path,
                    QStringLiteral("model.merges[1]"), QStringLiteral("the number 7"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonArray{"a b c"}))), path,
                    QStringLiteral("model.merges[0]"), QStringLiteral("\"a b c\""), QStringLiteral("two tokens"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonArray{QJsonArray{"a", "z"}}))), path,
                    QStringLiteral("model.merges[0]"), QStringLiteral("\"z\""), QStringLiteral("vocabulary"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonArray{"b a"}))), path,
                    QStringLiteral("model.merges[0]"), QStringLiteral("\"ba\""));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("merges"), QJsonArray{QJsonArray{"a"}}))), path,
                    QStringLiteral("model.merges[0]"), QStringLiteral("pair"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("unk_token"), QStringLiteral("<missing>")))), path,
                    QStringLiteral("model.unk_token"), QStringLiteral("<missing>"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("dropout"), 0.1))), path,
                    QStringLiteral("model.dropout"), QStringLiteral("0.1"));
    QS_EXPECT_ERROR(load(jsonBytes(withModel(base, QStringLiteral("byte_fallback"), QStringLiteral("yes")))), path,
                    QStringLiteral("model.byte_fallback"), QStringLiteral("true or false"));

    auto with = [&](const QString& key, const QJsonValue& v) {
        QJsonObject o = base;
        o.insert(key, v);
        return jsonBytes(o);
    };
    QS_EXPECT_ERROR(load(with(QStringLiteral("normalizer"), QJsonObject{{"type", "BertNormalizer"}})), path,
                    QStringLiteral("normalizer.type"), QStringLiteral("BertNormalizer"), QStringLiteral("supported normalizer"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("normalizer"),
                              QJsonObject{{"type", "Sequence"}, {"normalizers", QJsonArray{QJsonObject{{"type", "Precompiled"}}}}})),
                    path, QStringLiteral("normalizer.normalizers[0].type"), QStringLiteral("Precompiled"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("normalizer"), QJsonObject{{"type", "Replace"}, {"content", "x"}})), path,
                    QStringLiteral("normalizer.pattern"), QStringLiteral("an object"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"), QJsonObject{{"type", "Whitespace"}})), path,
                    QStringLiteral("pre_tokenizer.type"), QStringLiteral("Whitespace"), QStringLiteral("supported pre-tokenizer"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"),
                              QJsonObject{{"type", "Sequence"},
                                          {"pretokenizers", QJsonArray{QJsonObject{{"type", "Split"},
                                                                                   {"pattern", QJsonObject{{"Regex", "(ab"}}},
                                                                                   {"behavior", "Isolated"}}}}})),
                    path, QStringLiteral("pre_tokenizer.pretokenizers[0].pattern.Regex"), QStringLiteral("(ab"),
                    QStringLiteral("valid regular expression"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"), QJsonObject{{"type", "Split"},
                                                                            {"pattern", QJsonObject{{"String", " "}}},
                                                                            {"behavior", "Sideways"}})),
                    path, QStringLiteral("pre_tokenizer.behavior"), QStringLiteral("Sideways"), QStringLiteral("Isolated"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"), QJsonObject{{"type", "Metaspace"}, {"replacement", "ab"}})),
                    path, QStringLiteral("pre_tokenizer.replacement"), QStringLiteral("a single character"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"), QJsonObject{{"type", "Metaspace"}, {"replacement", "_"},
                                                                            {"prepend_scheme", "sometimes"}})),
                    path, QStringLiteral("pre_tokenizer.prepend_scheme"), QStringLiteral("sometimes"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("pre_tokenizer"), QStringLiteral("ByteLevel"))), path,
                    QStringLiteral("pre_tokenizer"), QStringLiteral("an object"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("decoder"), QJsonObject{{"type", "WordPiece"}})), path,
                    QStringLiteral("decoder.type"), QStringLiteral("WordPiece"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("post_processor"), QJsonObject{{"type", "Magic"}})), path,
                    QStringLiteral("post_processor.type"), QStringLiteral("Magic"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("post_processor"),
                              QJsonObject{{"type", "TemplateProcessing"},
                                          {"single", QJsonArray{QJsonObject{{"SpecialToken", QJsonObject{{"id", "<s>"}, {"type_id", 0}}}},
                                                                QJsonObject{{"Sequence", QJsonObject{{"id", "A"}, {"type_id", 0}}}}}},
                                          {"special_tokens", QJsonObject{}}})),
                    path, QStringLiteral("post_processor.special_tokens[\"<s>\"]"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("added_tokens"), QJsonObject{})), path, QStringLiteral("added_tokens"),
                    QStringLiteral("an array"));
    QS_EXPECT_ERROR(load(with(QStringLiteral("added_tokens"), QJsonArray{QJsonObject{{"id", 9}}})), path,
                    QStringLiteral("added_tokens[0].content"), QStringLiteral("a string"));

    // the in-memory entry point names its label
    QS_EXPECT_ERROR(parseHfTokenizer("nope", QByteArray(), QStringLiteral("(memory tokenizer)")),
                    QStringLiteral("(memory tokenizer)"), QStringLiteral("not valid JSON"));
    QS_EXPECT_ERROR(loadHfTokenizer(tmp.filePath(QStringLiteral("absent.json"))), QStringLiteral("absent.json"),
                    QStringLiteral("cannot open"));
}

void TestTokenizer::gpt2FileErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString vocab = tmp.filePath(QStringLiteral("vocab.json"));
    const QString merges = tmp.filePath(QStringLiteral("merges.txt"));
    writeFile(vocab, R"({"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3})");
    writeFile(merges, "#version: 0.2\na b\n");
    {
        auto tok = loadGpt2Tokenizer(vocab, merges);
        QCOMPARE(tok->encode("ab<|endoftext|>a"), (std::vector<int>{2, 3, 0}));
        QCOMPARE(tok->eosId, 3);
        QVERIFY(!tok->addBos);
    }
    writeFile(merges, "#version: 0.2\na b\nab\n");
    QS_EXPECT_ERROR(loadGpt2Tokenizer(vocab, merges), merges, QStringLiteral("line 3"), QStringLiteral("\"ab\""),
                    QStringLiteral("two tokens separated by one space"));
    writeFile(merges, "a q\n");
    QS_EXPECT_ERROR(loadGpt2Tokenizer(vocab, merges), merges, QStringLiteral("line 1"), QStringLiteral("\"q\""));
    writeFile(merges, "a b\n");
    writeFile(vocab, R"(["a", "b"])");
    QS_EXPECT_ERROR(loadGpt2Tokenizer(vocab, merges), vocab, QStringLiteral("array"));
    writeFile(vocab, R"({"a": 0, "b": true})");
    QS_EXPECT_ERROR(loadGpt2Tokenizer(vocab, merges), vocab, QStringLiteral("vocabulary[\"b\"]"), QStringLiteral("true"));
    QS_EXPECT_ERROR(loadGpt2Tokenizer(tmp.filePath(QStringLiteral("none.json")), merges), QStringLiteral("none.json"),
                    QStringLiteral("cannot open"));
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
