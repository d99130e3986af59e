// Tests of core/recipe: parsing, override precedence, glob vs regex, validation
// (every error class with its JSON path, all problems at once), canonical round
// trip, plans on real layer-name layouts, unmatched patterns, and the CLI's
// --recipe end to end.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "model/demo.h"
#include "recipe/recipe.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

QString fixture(const char* name) { return QStringLiteral(QS_FIXTURES_DIR "/recipes/") + QLatin1String(name); }

/// The message of the qs::Error that parsing throws ("" when it parses).
QString parseError(const QByteArray& json, const QString& label = QStringLiteral("bad.json")) {
    try {
        Recipe::parse(json, label);
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return QString();
}

/// JSON written with single quotes (moc cannot read raw string literals).
QByteArray q(const char* s) { return QByteArray(s).replace('\'', '"'); }

QByteArray withV1(const QByteArray& body) { return "{\"quantscope_recipe\": 1, " + body + "}"; }

std::string fmt(const LayerPlan& p) { return p.weight.name(); }

/// LLaMA layout names (what model/hf_loader produces for LLaMA/Mistral/Qwen2).
std::vector<std::string> llamaNames(int blocks) {
    std::vector<std::string> n;
    for (int b = 0; b < blocks; ++b)
        for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                              "mlp.up_proj", "mlp.down_proj"})
            n.push_back("model.layers." + std::to_string(b) + "." + s);
    return n;
}

using Run = qs::test::CliRun;
inline Run cli(const QStringList& args) { return qs::test::runCli(args); }

}  // namespace

class TestRecipe : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString demo_, text_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        demo_ = tmp_.filePath(QStringLiteral("demo"));
        text_ = tmp_.filePath(QStringLiteral("demo/eval.txt"));
        const Run r = cli({"demo", "--out", demo_, "--threads", "1"});
        QVERIFY2(r.code == 0, r.err.constData());
    }

    void parsesTheExamples() {
        const Recipe r = Recipe::load(fixture("mixed_gptq.json"));
        QCOMPARE(r.defaults().method, QuantMethod::Gptq);
        QCOMPARE(fmt(r.defaults()), std::string("int4-g128"));
        QVERIFY(r.defaults().gptq.actOrder);
        QVERIFY(!r.defaults().gptq.staticGroups);
        QCOMPARE(r.defaults().gptq.percDamp, 0.01);
        QCOMPARE(r.defaults().gptq.blockSize, 128);
        QCOMPARE(int(r.overrides().size()), 3);
        QVERIFY(!r.overrides()[0].isRegex);
        QVERIFY(r.overrides()[1].isRegex);
        const CalibOptions c = r.calibration();
        QCOMPARE(c.nsamples, 128);
        QCOMPARE(c.seqlen, 2048);
        QCOMPARE(c.seed, uint64_t(7));
        QVERIFY(r.description().contains("GPTQ"));

        const Recipe rtn = Recipe::load(fixture("rtn_mixed.json"));
        QCOMPARE(rtn.defaults().method, QuantMethod::Rtn);
        QVERIFY(!rtn.calibNsamples() && !rtn.calibSeqlen() && !rtn.calibSeed());
        // absent calibration keys come from the caller's fallback
        const CalibOptions fc = rtn.calibration(CalibOptions{16, 256, 3});
        QCOMPARE(fc.nsamples, 16);
        QCOMPARE(fc.seqlen, 256);
        QCOMPARE(fc.seed, uint64_t(3));
    }

    void builtInDefaults() {
        const Recipe r = Recipe::parse("{\"quantscope_recipe\": 1}", "min.json");
        QCOMPARE(r.defaults().method, QuantMethod::Gptq);
        QCOMPARE(fmt(r.defaults()), std::string("int4"));
        QCOMPARE(r.defaults().gptq.percDamp, 0.01);
        QCOMPARE(r.defaults().gptq.blockSize, 128);
        QVERIFY(!r.defaults().gptq.actOrder);
        QCOMPARE(r.planFor("anything").method, QuantMethod::Gptq);
    }

    void activationFormats() {
        const Recipe r = Recipe::parse(withV1(q("'defaults': {'method': 'rtn', 'wformat': 'int4', 'aformat': 'int8'},\n"
                                                "'layers': [{'match': '*.down_proj', 'aformat': 'mxfp8_e4m3'},\n"
                                                "           {'match': '*.q_proj', 'aformat': 'none'}]")),
                                       "a.json");
        QCOMPARE(r.planFor("model.layers.0.mlp.up_proj").activation, *QuantFormat::parse("int8"));
        QCOMPARE(r.planFor("model.layers.0.mlp.down_proj").activation, *QuantFormat::parse("mxfp8_e4m3"));
        QCOMPARE(r.planFor("model.layers.0.self_attn.q_proj").activation.kind, FormatKind::None);
        const Recipe back = Recipe::parse(QJsonDocument(r.toJson()).toJson(), "back.json");
        QVERIFY(back == r);
        QCOMPARE(r.toJson().value("defaults").toObject().value("aformat").toString(), QStringLiteral("int8"));
    }

    void overridePrecedence() {
        const Recipe r = Recipe::load(fixture("mixed_gptq.json"));
        // defaults
        LayerPlan p = r.planFor("model.layers.3.self_attn.v_proj");
        QCOMPARE(p.method, QuantMethod::Gptq);
        QCOMPARE(fmt(p), std::string("int4-g128"));
        QVERIFY(p.gptq.actOrder);
        // one override, field by field: the format changes, the method stays
        p = r.planFor("model.layers.3.mlp.down_proj");
        QCOMPARE(p.method, QuantMethod::Gptq);
        QCOMPARE(fmt(p), std::string("int8"));
        QVERIFY(p.gptq.actOrder);
        // regex override
        p = r.planFor("model.layers.5.self_attn.k_proj");
        QCOMPARE(p.method, QuantMethod::Rtn);
        QCOMPARE(fmt(p), std::string("mxfp4"));
        // the later entry wins: block 0 is unquantized whatever came before
        for (const char* n : {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "model.layers.0.mlp.up_proj"})
            QCOMPARE(r.planFor(n).method, QuantMethod::None);
        // but block 10 is not block 0 (glob is anchored over the whole name)
        QCOMPARE(r.planFor("model.layers.10.mlp.up_proj").method, QuantMethod::Gptq);

        // later entries override earlier ones key by key; untouched keys survive
        const Recipe s = Recipe::parse(withV1(q("'defaults': {'method': 'gptq', 'wformat': 'int4'},\n"
        "            'layers': [{'match': '*.down_proj', 'wformat': 'int3-g64', 'damp': 0.1},\n"
        "                       {'match': 'model.layers.1.*', 'wformat': 'int8'},\n"
        "                       {'match': 'model.layers.1.mlp.down_proj', 'act_order': true}]")));
        p = s.planFor("model.layers.1.mlp.down_proj");
        QCOMPARE(fmt(p), std::string("int8"));
        QCOMPARE(p.gptq.percDamp, 0.1);
        QVERIFY(p.gptq.actOrder);
        p = s.planFor("model.layers.2.mlp.down_proj");
        QCOMPARE(fmt(p), std::string("int3-g64"));
        QVERIFY(!p.gptq.actOrder);
        // order matters: swapping the two format entries swaps the winner
        const Recipe t = Recipe::parse(withV1(q("'layers': [{'match': 'model.layers.1.*', 'wformat': 'int8'},\n"
        "                                                   {'match': '*.down_proj', 'wformat': 'int3-g64'}]")));
        QCOMPARE(fmt(t.planFor("model.layers.1.mlp.down_proj")), std::string("int3-g64"));
    }

    void globVersusRegex() {
        const Recipe r = Recipe::parse(withV1(q("'layers': [\n"
        "            {'match': 'model.layers.?.mlp.*', 'wformat': 'int8'},\n"
        "            {'match': 'fc1', 'wformat': 'int2'},\n"
        "            {'regex': 'fc1', 'wformat': 'int3'},\n"
        "            {'match': 'transformer.h.*.attn.c_attn.[qk]', 'wformat': 'int5'},\n"
        "            {'regex': '^transformer\\\\.h\\\\.\\\\d+\\\\.attn\\\\.c_attn\\\\.[qk]$', 'wformat': 'int6'}]")));
        // '?' is exactly one character; '*' runs over dots
        QCOMPARE(fmt(r.planFor("model.layers.3.mlp.down_proj")), std::string("int8"));
        QCOMPARE(fmt(r.planFor("model.layers.12.mlp.down_proj")), std::string("int4"));
        // a glob matches the whole name, a regex anywhere in it
        QCOMPARE(fmt(r.planFor("model.decoder.layers.0.fc1")), std::string("int3"));
        QCOMPARE(fmt(r.planFor("fc1")), std::string("int3"));
        // glob metacharacters other than * and ? are literal
        QCOMPARE(fmt(r.planFor("transformer.h.0.attn.c_attn.q")), std::string("int6"));
        QCOMPARE(fmt(r.planFor("transformer.h.0.attn.c_attn.v")), std::string("int4"));
        QVERIFY(r.overrides()[3].matches("transformer.h.7.attn.c_attn.[qk]"));
        QVERIFY(!r.overrides()[3].matches("transformer.h.7.attn.c_attn.q"));
        // a glob's dot is a dot, not "any character"
        const Recipe d = Recipe::parse(withV1(q("'layers': [{'match': 'model.layers.1.*', 'method': 'none'}]")));
        QVERIFY(!d.overrides()[0].matches("model-layers-1-x"));
        QVERIFY(d.overrides()[0].matches("model.layers.1.x"));
    }

    void validationErrorsNameTheirPath_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("expect");
        QTest::newRow("unknown format") << withV1(q("'layers': [{'match': 'a'}, {'match': 'b'}, {'match': 'c', 'wformat': 'int9'}]"))
                                        << "bad.json: layers[2].wformat: unknown format 'int9'; expected int<B>";
        QTest::newRow("fp32 is no quantized format") << withV1(q("'defaults': {'wformat': 'fp32'}"))
                                                     << "defaults.wformat: 'fp32' is not a quantized format; use \"method\": \"none\"";
        QTest::newRow("damp range") << withV1(q("'defaults': {'damp': -1}"))
                                    << "bad.json: defaults.damp: expected a number in [0, 1], found -1";
        QTest::newRow("damp type") << withV1(q("'defaults': {'damp': '0.01'}"))
                                   << "defaults.damp: expected a number in [0, 1], found \"0.01\"";
        QTest::newRow("version 2") << QByteArray(q("{'quantscope_recipe': 2, 'wfromat': 1}"))
                                   << "bad.json: quantscope_recipe: unsupported version 2 (this build reads 1)";
        QTest::newRow("version missing") << QByteArray(q("{'defaults': {}}")) << "quantscope_recipe: missing";
        QTest::newRow("version type") << QByteArray(q("{'quantscope_recipe': '1'}"))
                                      << "quantscope_recipe: expected the schema version 1, found \"1\"";
        QTest::newRow("unknown key") << withV1(q("'layers': [{'match': 'a', 'wfromat': 'int8'}]"))
                                     << "layers[0].wfromat: unknown key \"wfromat\" (did you mean \"wformat\"?); valid keys: match, regex, method, wformat";
        QTest::newRow("unknown top key") << withV1(q("'default': {}")) << "default: unknown key \"default\" (did you mean \"defaults\"?)";
        QTest::newRow("unknown calib key") << withV1(q("'calibration': {'samples': 3}")) << "calibration.samples: unknown key";
        QTest::newRow("bool type") << withV1(q("'defaults': {'act_order': 'yes'}"))
                                   << "defaults.act_order: expected true or false, found \"yes\"";
        QTest::newRow("int type") << withV1(q("'calibration': {'nsamples': 2.5}"))
                                  << "calibration.nsamples: expected an integer in [1, 16777216], found 2.5";
        QTest::newRow("seqlen range") << withV1(q("'calibration': {'seqlen': 1}")) << "calibration.seqlen: expected an integer in [2,";
        QTest::newRow("block size") << withV1(q("'defaults': {'block_size': 0}")) << "defaults.block_size: expected an integer in [1,";
        QTest::newRow("layers type") << withV1(q("'layers': {'match': 'a'}")) << "layers: expected an array of override objects, found an object";
        QTest::newRow("entry type") << withV1(q("'layers': ['a']")) << "layers[0]: expected an object with \"match\" or \"regex\", found \"a\"";
        QTest::newRow("defaults type") << withV1(q("'defaults': []")) << "defaults: expected an object, found an array";
        QTest::newRow("method") << withV1(q("'layers': [{'match': 'a', 'method': 'awk'}]"))
                                << "layers[0].method: unknown method step 'awk' in 'awk'; expected steps joined by '+' in the order smoothquant, awq";
        QTest::newRow("method order") << withV1(q("'defaults': {'method': 'gptq+awq'}"))
                                      << "defaults.method: method 'gptq+awq': 'awq' is repeated or out of order";
        QTest::newRow("two roundings") << withV1(q("'defaults': {'method': 'rtn+gptq'}"))
                                       << "defaults.method: method 'rtn+gptq': 'gptq' is repeated or out of order";
        QTest::newRow("rtn with act_order") << withV1(q("'layers': [{'match': 'a', 'method': 'rtn', 'act_order': true}]"))
                                            << "layers[0].act_order: applies to methods with gptq, boa or mgptq only, but layers[0].method is rtn";
        QTest::newRow("rtn defaults with damp") << withV1(q("'defaults': {'method': 'rtn', 'damp': 0.1}"))
                                                << "defaults.damp: applies to methods with gptq, boa or mgptq only, but defaults.method is rtn";
        QTest::newRow("none with static_groups") << withV1(q("'layers': [{'match': 'a', 'method': 'none', 'static_groups': true}]"))
                                                 << "layers[0].static_groups: applies to methods with gptq, boa or mgptq only";
        QTest::newRow("alpha without smoothquant") << withV1(q("'defaults': {'smoothquant_alpha': 0.8}"))
                                                   << "defaults.smoothquant_alpha: applies to methods with smoothquant only, but defaults.method is gptq";
        QTest::newRow("alpha range") << withV1(q("'defaults': {'method': 'smoothquant+gptq', 'smoothquant_alpha': 1.5}"))
                                     << "defaults.smoothquant_alpha: expected a number in [0, 1], found 1.5";
        QTest::newRow("awq option without awq") << withV1(q("'layers': [{'match': 'a', 'method': 'smoothquant+gptq', 'awq_grid': 10}]"))
                                                << "layers[0].awq_grid: applies to methods with awq only, but layers[0].method is smoothquant+gptq";
        QTest::newRow("awq grid") << withV1(q("'defaults': {'method': 'awq', 'awq_grid': 0}")) << "defaults.awq_grid: expected an integer in [1, 1000], found 0";
        QTest::newRow("awq shrink") << withV1(q("'defaults': {'method': 'awq', 'awq_max_shrink': 1}"))
                                    << "defaults.awq_max_shrink: expected a number in (0, 1), found 1";
        QTest::newRow("none with wformat") << withV1(q("'layers': [{'match': 'a', 'method': 'none', 'wformat': 'int8'}]"))
                                           << "layers[0].wformat: method none keeps the layer unquantized";
        QTest::newRow("aformat") << withV1(q("'defaults': {'aformat': 'int8-g32'}"))
                                 << "defaults.aformat: unknown activation format 'int8-g32'";
        QTest::newRow("bad regex") << withV1(q("'layers': [{'regex': 'self_attn\\\\.(q|k_proj$', 'wformat': 'int8'}]"))
                                   << "layers[0].regex: invalid regular expression 'self_attn\\.(q|k_proj$': missing closing parenthesis";
        QTest::newRow("both patterns") << withV1(q("'layers': [{'match': 'a', 'regex': 'a', 'wformat': 'int8'}]"))
                                       << "layers[0]: has both \"match\" and \"regex\"; expected exactly one";
        QTest::newRow("no pattern") << withV1(q("'layers': [{'wformat': 'int8'}]"))
                                    << "layers[0]: missing the layer pattern; expected exactly one of \"match\" (glob) or \"regex\"";
        QTest::newRow("empty pattern") << withV1(q("'layers': [{'match': '', 'wformat': 'int8'}]"))
                                       << "layers[0].match: expected a non-empty pattern string";
        QTest::newRow("sets nothing") << withV1(q("'layers': [{'match': 'a'}]")) << "layers[0]: sets nothing; expected at least one of method";
        QTest::newRow("invalid json") << QByteArray("{\"quantscope_recipe\": 1,\n  \"defaults\": {,}\n}")
                                      << "bad.json: invalid JSON at line 2, column";
        QTest::newRow("not an object") << QByteArray("[1]") << "bad.json: expected a JSON object at the top level";
        QTest::newRow("description type") << withV1(q("'description': 3")) << "description: expected a string, found 3";
        QTest::newRow("lm_head awq") << withV1(q("'lm_head': {'method': 'awq+gptq', 'wformat': 'int8'}"))
                                     << "lm_head.method: SmoothQuant and AWQ do not apply outside the decoder blocks; expected rtn, gptq or none";
        QTest::newRow("embed gptq") << withV1(q("'embed_tokens': {'method': 'gptq', 'wformat': 'int8'}"))
                                    << "embed_tokens.method: the embedding table is a lookup without an input Hessian; expected rtn or none";
        QTest::newRow("lm_head without wformat") << withV1(q("'lm_head': {'method': 'rtn'}"))
                                                 << "lm_head.wformat: missing; name the format lm_head is quantized to";
        QTest::newRow("lm_head rtn with damp") << withV1(q("'lm_head': {'method': 'rtn', 'wformat': 'int8', 'damp': 0.1}"))
                                               << "lm_head.damp: applies to gptq only, but lm_head.method is rtn";
        QTest::newRow("embed aformat") << withV1(q("'embed_tokens': {'wformat': 'int8', 'aformat': 'int8'}"))
                                       << "embed_tokens.aformat: the embedding table is a lookup; it has no input to quantize";
        QTest::newRow("embed unknown key") << withV1(q("'embed_tokens': {'wformat': 'int8', 'group': 32}"))
                                           << "embed_tokens.group: unknown key \"group\"; valid keys: method, wformat";
        QTest::newRow("lm_head type") << withV1(q("'lm_head': 'int8'")) << "lm_head: expected an object, found \"int8\"";
        QTest::newRow("lm_head bad format") << withV1(q("'lm_head': {'wformat': 'int1'}")) << "lm_head.wformat: unknown format 'int1'";
    }
    void validationErrorsNameTheirPath() {
        QFETCH(QByteArray, json);
        QFETCH(QString, expect);
        const QString err = parseError(json);
        QVERIFY2(!err.isEmpty(), "expected a validation error");
        QVERIFY2(err.contains(expect), qPrintable(QStringLiteral("expected '%1' in:\n%2").arg(expect, err)));
        for (const QString& line : err.split(QLatin1Char('\n')))
            QVERIFY2(line.startsWith(QStringLiteral("bad.json: ")), qPrintable(line));
    }

    void versionErrorComesAlone() {
        const QString err = parseError(q("{'quantscope_recipe': 2, 'wfromat': 1, 'layers': 3}"));
        QCOMPARE(err.count(QLatin1Char('\n')), 0);
    }

    void everyProblemReportedTogether() {
        QString err;
        try {
            Recipe::load(fixture("invalid.json"));
        } catch (const Error& e) {
            err = QString::fromStdString(e.what());
        }
        const QString label = fixture("invalid.json") + QStringLiteral(": ");
        const QStringList expected = {
            "defaults.damp: expected a number in [0, 1], found -1",
            "defaults.act_order: expected true or false, found \"yes\"",
            "calibration.nsamples: expected an integer in [1, 16777216], found 2.5",
            "layers[0].wfromat: unknown key \"wfromat\"",
            "layers[0]: sets nothing",
            "layers[1].regex: invalid regular expression",
            "layers[1].act_order: applies to methods with gptq, boa or mgptq only, but layers[1].method is rtn",
            "layers[2].wformat: unknown format 'int9'",
            "layers[3].method: unknown method step 'awk'",
            "layers[3].aformat: unknown activation format 'int9'",
        };
        const QStringList lines = err.split(QLatin1Char('\n'));
        QCOMPARE(lines.size(), expected.size());
        for (const QString& e : expected) {
            bool found = false;
            for (const QString& l : lines) found = found || (l.startsWith(label) && l.contains(e));
            QVERIFY2(found, qPrintable(QStringLiteral("missing '%1' in:\n%2").arg(e, err)));
        }
    }

    void roundTripIsCanonical() {
        for (const char* f : {"mixed_gptq.json", "rtn_mixed.json"}) {
            const Recipe a = Recipe::load(fixture(f));
            const QJsonObject ja = a.toJson();
            const Recipe b = Recipe::parse(QJsonDocument(ja).toJson(), QStringLiteral("roundtrip"));
            QVERIFY(a == b);
            QCOMPARE(b.toJson(), ja);
            QCOMPARE(b.toJsonBytes(), a.toJsonBytes());
            QCOMPARE(Recipe::parse(b.toJsonBytes()).toJsonBytes(), a.toJsonBytes());
            for (const std::string& n : llamaNames(3)) {
                const LayerPlan pa = a.planFor(n), pb = b.planFor(n);
                QCOMPARE(pa.method, pb.method);
                QVERIFY(pa.weight == pb.weight);
                QCOMPARE(pa.gptq.actOrder, pb.gptq.actOrder);
                QCOMPARE(pa.gptq.percDamp, pb.gptq.percDamp);
            }
        }
        // canonical spelling: aliases become canonical names; rtn drops GPTQ options
        const Recipe c = Recipe::parse(withV1(q("'defaults': {'method': 'rtn', 'wformat': 'INT4-g128-sym'},\n"
        "                                                 'layers': [{'match': '*', 'wformat': 'mxfp4_e2m1'}]")));
        const QJsonObject j = c.toJson();
        QCOMPARE(j["defaults"].toObject()["wformat"].toString(), QStringLiteral("int4-sym-g128"));
        QVERIFY(!j["defaults"].toObject().contains("act_order"));
        QCOMPARE(j["layers"].toArray()[0].toObject()["wformat"].toString(), QStringLiteral("mxfp4"));
        QCOMPARE(j["quantscope_recipe"].toInt(), 1);
        // a different recipe compares unequal
        QVERIFY(!(c == Recipe::load(fixture("rtn_mixed.json"))));
    }

    /// lm_head / embed_tokens sections: float unless named, layer patterns never reach them.
    void outerSections() {
        const Recipe none = Recipe::parse(withV1(q("'layers': [{'match': '*', 'wformat': 'int2'}]")));
        QVERIFY(!none.outerPlans().lmHead && !none.outerPlans().embedTokens);
        const Recipe r = Recipe::parse(withV1(q(
            "'defaults': {'method': 'rtn', 'wformat': 'int4'},\n"
            "'layers': [{'match': '*', 'wformat': 'int2'}],\n"
            "'lm_head': {'method': 'gptq', 'wformat': 'int8-g128', 'damp': 0.05, 'aformat': 'mxint8'},\n"
            "'embed_tokens': {'wformat': 'INT6'}")));
        const OuterPlans o = r.outerPlans();
        QVERIFY(o.lmHead && o.embedTokens);
        QCOMPARE(o.lmHead->method, QuantMethod::Gptq);
        QCOMPARE(o.lmHead->weight.name(), std::string("int8-g128"));
        QCOMPARE(o.lmHead->gptq.percDamp, 0.05);
        QCOMPARE(o.lmHead->activation.name(), std::string("mxint8"));
        QCOMPARE(o.embedTokens->method, QuantMethod::Rtn);
        QCOMPARE(o.embedTokens->weight.name(), std::string("int6"));
        QCOMPARE(r.planFor("lm_head").weight.name(), std::string("int2"));  // planFor is for block linears only
        // lm_head GPTQ needs calibration even when every linear is RTN
        QVERIFY(r.needsCalibration(*qs::makeDemo(DemoOptions{.sampleWindows = 1}).model));
        // the lm_head method defaults to the defaults' rounding, GPTQ options inherited
        const Recipe g = Recipe::parse(withV1(q("'defaults': {'method': 'smoothquant+gptq', 'damp': 0.2}, 'lm_head': {'wformat': 'int8'}")));
        QCOMPARE(g.outerPlans().lmHead->method, QuantMethod::Gptq);
        QVERIFY(!g.outerPlans().lmHead->smoothQuant);
        QCOMPARE(g.outerPlans().lmHead->gptq.percDamp, 0.2);
        // canonical round trip
        for (const Recipe* x : {&r, &g}) {
            const Recipe b = Recipe::parse(x->toJsonBytes(), QStringLiteral("roundtrip"));
            QCOMPARE(b.toJsonBytes(), x->toJsonBytes());
            QVERIFY(b == *x);
        }
        QCOMPARE(r.toJson()["embed_tokens"].toObject(), (QJsonObject{{"method", "rtn"}, {"wformat", "int6"}}));
        // setOuterPlans (the CLI flags) keeps the recipe canonical
        Recipe u = Recipe::fromUniform(defaultRecipePlan(), CalibOptions{});
        OuterPlans set;
        set.lmHead = defaultRecipePlan();
        set.lmHead->method = QuantMethod::Rtn;
        set.lmHead->gptq.percDamp = 0.3;  // does not apply to rtn: dropped
        u.setOuterPlans(set);
        QVERIFY(u.outerPlans().lmHead && !u.outerPlans().embedTokens);
        QCOMPARE(u.outerPlans().lmHead->gptq.percDamp, GptqOptions{}.percDamp);
        QCOMPARE(Recipe::parse(u.toJsonBytes()).toJsonBytes(), u.toJsonBytes());
    }

    /// Transform steps and their options: per-layer, canonical, round-tripping.
    void transformStepsAndOptions() {
        const Recipe r = Recipe::parse(withV1(q(
            "'defaults': {'method': 'SmoothQuant+AWQ+GPTQ', 'wformat': 'int3-g32', 'smoothquant_alpha': 0.8, 'awq_grid': 10,\n"
            "             'awq_clip': false, 'act_order': true},\n"
            "'layers': [{'match': '*.down_proj', 'method': 'awq', 'awq_max_shrink': 0.25, 'awq_tokens': 1024},\n"
            "           {'match': '*.o_proj', 'method': 'smoothquant+none', 'aformat': 'int8'},\n"
            "           {'match': '*.up_proj', 'awq_grid': 5}]")));
        const LayerPlan d = r.planFor("model.layers.0.self_attn.q_proj");
        QCOMPARE(d.method, QuantMethod::Gptq);
        QVERIFY(d.smoothQuant && d.awq);
        QCOMPARE(d.smooth.alpha, 0.8);
        QCOMPARE(d.awqOpt.grid, 10);
        QCOMPARE(d.awqOpt.clip, false);
        QCOMPARE(planMethodName(d), std::string("smoothquant+awq+gptq"));
        const LayerPlan down = r.planFor("model.layers.0.mlp.down_proj");
        QCOMPARE(down.method, QuantMethod::Rtn);
        QVERIFY(!down.smoothQuant && down.awq);
        QCOMPARE(down.awqOpt.maxShrink, 0.25);
        QCOMPARE(down.awqOpt.tokens, 1024);
        QCOMPARE(planMethodName(down), std::string("awq"));
        const LayerPlan o = r.planFor("model.layers.0.self_attn.o_proj");
        QCOMPARE(o.method, QuantMethod::None);
        QVERIFY(o.smoothQuant && !o.awq);
        QCOMPARE(planMethodName(o), std::string("smoothquant+none"));
        QCOMPARE(r.planFor("model.layers.0.mlp.up_proj").awqOpt.grid, 5);  // inherits the method, overrides one option
        const QJsonObject j = r.toJson();
        QCOMPARE(j["defaults"].toObject()["method"].toString(), QStringLiteral("smoothquant+awq+gptq"));
        QCOMPARE(j["defaults"].toObject()["awq_tokens"].toInt(), 8192);
        QCOMPARE(j["layers"].toArray()[1].toObject()["method"].toString(), QStringLiteral("smoothquant+none"));
        const Recipe back = Recipe::parse(r.toJsonBytes());
        QVERIFY(back == r);
        const LayerPlan b = back.planFor("model.layers.0.mlp.down_proj");
        QCOMPARE(b.awqOpt.maxShrink, 0.25);
        QVERIFY(b.awq && !b.smoothQuant);
        // calibration is needed as soon as a transform is planned, even with RTN rounding
        LayerPlan p;
        p.method = QuantMethod::Rtn;
        p.weight = *QuantFormat::parse("int4");
        p.awq = true;
        LayerPlan none = p;
        QCOMPARE(parseMethodInto("none", none), std::string());
        QVERIFY(!none.awq && none.method == QuantMethod::None);
        DemoOptions small;
        small.sampleWindows = 1;
        small.sampleSeqlen = 8;
        const Demo dm = makeDemo(small);
        QVERIFY(Recipe::fromUniform(p, CalibOptions{}).needsCalibration(*dm.model));
        p.awq = false;
        QVERIFY(!Recipe::fromUniform(p, CalibOptions{}).needsCalibration(*dm.model));
    }

    void fromUniformMatchesTheFlags() {
        LayerPlan p;
        p.method = QuantMethod::Gptq;
        p.weight = *QuantFormat::parse("int3-g64");
        p.gptq.actOrder = true;
        const Recipe r = Recipe::fromUniform(p, CalibOptions{4, 128, 9});
        const QJsonObject j = r.toJson();
        const QJsonObject d = j["defaults"].toObject();
        QCOMPARE(d["method"].toString(), QStringLiteral("gptq"));
        QCOMPARE(d["wformat"].toString(), QStringLiteral("int3-g64"));
        QCOMPARE(d["act_order"].toBool(), true);
        QCOMPARE(j["calibration"].toObject()["seqlen"].toInt(), 128);
        QCOMPARE(j["calibration"].toObject()["seed"].toInt(), 9);
        QVERIFY(!j.contains("layers"));
        // the same recipe written as a file reads back equal
        QVERIFY(Recipe::parse(QJsonDocument(j).toJson()) == r);
        const LayerPlan q = r.planFor("model.layers.0.mlp.up_proj");
        QCOMPARE(q.method, QuantMethod::Gptq);
        QVERIFY(q.weight == p.weight);
        // rtn: GPTQ options are reset so the recipe stays valid
        p.method = QuantMethod::Rtn;
        const Recipe rr = Recipe::fromUniform(p, CalibOptions{});
        QVERIFY(!rr.defaults().gptq.actOrder);
        QVERIFY(Recipe::parse(rr.toJsonBytes()) == rr);
    }

    void plansOnRealLayouts() {
        const Recipe r = Recipe::load(fixture("mixed_gptq.json"));
        int none = 0, rtn = 0, int8 = 0, dflt = 0;
        for (const std::string& n : llamaNames(32)) {
            const LayerPlan p = r.planFor(n);
            if (p.method == QuantMethod::None) ++none;
            else if (p.method == QuantMethod::Rtn) { ++rtn; QCOMPARE(fmt(p), std::string("mxfp4")); }
            else if (fmt(p) == "int8") { ++int8; QVERIFY(n.find("down_proj") != std::string::npos); }
            else { ++dflt; QCOMPARE(fmt(p), std::string("int4-g128")); }
        }
        QCOMPARE(none, 7);
        QCOMPARE(rtn, 31 * 2);
        QCOMPARE(int8, 31);
        QCOMPARE(dflt, 31 * 4);

        // OPT and GPT-2 layouts
        const Recipe o = Recipe::parse(withV1(q("'defaults': {'method': 'rtn', 'wformat': 'int4'},\n"
        "            'layers': [{'match': 'model.decoder.layers.*.fc?', 'wformat': 'int8'},\n"
        "                       {'regex': '\\\\.c_attn\\\\.[qkv]$', 'wformat': 'mxint4'},\n"
        "                       {'match': 'transformer.h.1.*', 'method': 'none'}]")));
        QCOMPARE(fmt(o.planFor("model.decoder.layers.11.fc1")), std::string("int8"));
        QCOMPARE(fmt(o.planFor("model.decoder.layers.11.fc2")), std::string("int8"));
        QCOMPARE(fmt(o.planFor("model.decoder.layers.11.self_attn.out_proj")), std::string("int4"));
        QCOMPARE(fmt(o.planFor("transformer.h.0.attn.c_attn.k")), std::string("mxint4"));
        QCOMPARE(fmt(o.planFor("transformer.h.0.attn.c_proj")), std::string("int4"));
        QCOMPARE(o.planFor("transformer.h.1.attn.c_attn.k").method, QuantMethod::None);

        // planFn agrees with planFor
        Linear l;
        l.name = "model.layers.4.mlp.down_proj";
        QCOMPARE(fmt(r.planFn()(l)), std::string("int8"));
    }

    void unmatchedPatterns() {
        const Recipe r = Recipe::parse(withV1(q("'layers': [\n"
        "            {'match': 'model.layers.*.mlp.down_proj', 'wformat': 'int8'},\n"
        "            {'match': 'model.layers.*.mlp.down', 'wformat': 'int8'},\n"
        "            {'regex': 'c_attn', 'wformat': 'int8'},\n"
        "            {'match': 'model.layers.31.*', 'method': 'none'}]")));
        const std::vector<QString> u = r.unmatchedPatterns(llamaNames(4));
        QCOMPARE(int(u.size()), 3);
        QCOMPARE(u[0], QStringLiteral("layers[1] (match 'model.layers.*.mlp.down') matches no layer"));
        QCOMPARE(u[1], QStringLiteral("layers[2] (regex 'c_attn') matches no layer"));
        QVERIFY(u[2].startsWith("layers[3]"));
        QVERIFY(r.unmatchedPatterns(llamaNames(32)).size() == 2);
    }

    void cliRtnRecipe() {
        const Run r = cli({"quantize", "--model", demo_, "--recipe", fixture("rtn_mixed.json"), "--nsamples", "2", "--seqlen", "64",
                           "--threads", "1", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        const QJsonArray layers = o["layers"].toArray();
        QCOMPARE(layers.size(), 5 * 7);  // block 0 is unquantized: no layer results
        for (const QJsonValue& v : layers) {
            const QJsonObject l = v.toObject();
            const QString n = l["name"].toString();
            const QString method = l["method"].toString(), format = l["format"].toString();
            QVERIFY2(!n.startsWith("model.layers.0."), qPrintable(n));
            if (n.endsWith("down_proj")) { QCOMPARE(method, QStringLiteral("rtn")); QCOMPARE(format, QStringLiteral("int8")); }
            else if (n.endsWith("o_proj")) { QCOMPARE(method, QStringLiteral("rtn")); QCOMPARE(format, QStringLiteral("mxfp6_e3m2")); }
            else { QCOMPARE(method, QStringLiteral("rtn")); QCOMPARE(format, QStringLiteral("int4-g32")); }
        }
        // the output records the exact recipe, with the calibration actually used
        Recipe expect = Recipe::load(fixture("rtn_mixed.json"));
        const QJsonObject cal = o["calibration"].toObject();
        QCOMPARE(cal["nsamples"].toInt(), 2);
        QCOMPARE(cal["seqlen"].toInt(), 64);
        expect.setCalibration(CalibOptions{2, 64, 0});
        QCOMPARE(o["recipe"].toObject(), expect.toJson());
        QVERIFY(Recipe::parse(QJsonDocument(o["recipe"].toObject()).toJson()) == expect);
        QVERIFY(o.contains("quantization"));
        QVERIFY2(!r.err.contains("warning"), r.err.constData());
    }

    void cliGptqRecipeWithCalibrationDefaults() {
        QTemporaryDir dir;
        const QString text = text_;
        // recipe: nsamples 128 (overridden), seqlen 2048 (overridden), seed 7 (kept); plus an unmatched pattern
        QJsonObject j = Recipe::load(fixture("mixed_gptq.json")).toJson();
        QJsonArray layers = j["layers"].toArray();
        layers.append(QJsonObject{{"match", "transformer.h.*"}, {"wformat", "int2"}});
        j["layers"] = layers;
        const QString path = dir.filePath("r.json");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QJsonDocument(j).toJson());
        f.close();
        const Run r = cli({"quantize", "--model", demo_, "--recipe", path, "--calib", text, "--nsamples", "2", "--seqlen", "64",
                           "--threads", "1", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains("warning: " + path.toUtf8() + ": layers[3] (match 'transformer.h.*') matches no layer"), r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["layers"].toArray().size(), 5 * 7);
        for (const QJsonValue& v : o["layers"].toArray()) {
            const QJsonObject l = v.toObject();
            const QString n = l["name"].toString();
            const QString method = l["method"].toString(), format = l["format"].toString();
            QVERIFY2(!n.startsWith("model.layers.0."), qPrintable(n));
            if (n.endsWith("q_proj") || n.endsWith("k_proj")) { QCOMPARE(method, QStringLiteral("rtn")); QCOMPARE(format, QStringLiteral("mxfp4")); }
            else if (n.endsWith("down_proj")) { QCOMPARE(method, QStringLiteral("gptq")); QCOMPARE(format, QStringLiteral("int8")); }
            else { QCOMPARE(method, QStringLiteral("gptq")); QCOMPARE(format, QStringLiteral("int4-g128")); }
        }
        const QJsonObject cal = o["recipe"].toObject()["calibration"].toObject();
        QCOMPARE(cal["nsamples"].toInt(), 2);
        QCOMPARE(cal["seqlen"].toInt(), 64);
        QCOMPARE(cal["seed"].toInt(), 7);
        QCOMPARE(o["calibration"].toObject()["seed"].toString(), QStringLiteral("7"));
    }

    void cliUniformFlagsRecordTheRecipe() {
        const Run r = cli({"quantize", "--model", demo_, "--method", "rtn", "--wformat", "mxint4", "--nsamples", "2", "--seqlen", "64",
                           "--threads", "1", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        LayerPlan p;
        p.method = QuantMethod::Rtn;
        p.weight = *QuantFormat::parse("mxint4");
        QCOMPARE(o["recipe"].toObject(), Recipe::fromUniform(p, CalibOptions{2, 64, 0}).toJson());
        QCOMPARE(o["quantization"].toObject()["wformat"].toString(), QStringLiteral("mxint4"));
    }

    void cliErrors() {
        struct Case { QStringList args; const char* expect; };
        const QList<Case> cases = {
            {{"quantize", "--model", demo_, "--recipe", fixture("rtn_mixed.json"), "--wbits", "4"}, "--recipe cannot be combined with --wbits"},
            {{"quantize", "--model", demo_, "--recipe", fixture("rtn_mixed.json"), "--method", "gptq", "--act-order"},
             "--recipe cannot be combined with --method, --act-order"},
            {{"quantize", "--model", demo_, "--recipe", fixture("invalid.json")}, "layers[2].wformat: unknown format 'int9'"},
            {{"quantize", "--model", demo_, "--recipe", fixture("nope.json")}, "cannot read recipe"},
            {{"quantize", "--model", demo_, "--recipe", fixture("rtn_mixed.json"), "--lm-head-format", "int8"},
             "--recipe cannot be combined with --lm-head-format"},
            {{"quantize", "--model", demo_, "--method", "rtn", "--lm-head-format", "int9"}, "--lm-head-format: unknown weight format 'int9'"},
            {{"quantize", "--model", demo_, "--recipe", fixture("mixed_gptq.json")}, "--calib is required"},
        };
        for (const Case& c : cases) {
            const Run r = cli(c.args + QStringList{"--threads", "1"});
            QVERIFY2(r.code == 2, qPrintable(c.args.join(' ') + QStringLiteral(" -> %1: ").arg(r.code) + r.err));
            QVERIFY2(r.err.contains(c.expect), qPrintable(c.args.join(' ') + QStringLiteral(": ") + r.err));
            QVERIFY(r.out.isEmpty());
        }
    }
};

QTEST_GUILESS_MAIN(TestRecipe)
#include "test_recipe.moc"
