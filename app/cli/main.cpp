// quantscope-cli: headless QuantScope. One JSON object on stdout with --json,
// progress on stderr. Exit codes: 0 success, 2 user error (message on stderr),
// 3 cancelled/interrupted, 1 internal error.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "compute/threads.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "util/error.h"

using namespace qs;

namespace {

const char* kUsage =
    "usage: quantscope-cli <command> [options]\n"
    "\n"
    "commands:\n"
    "  eval      perplexity of a model on a text (GPTQ protocol)\n"
    "            --model PATH|demo [--tokenizer PATH] [--data PATH] [--seqlen N]\n"
    "            [--max-windows N] [--batch N] [--reference PATH] [--threads N] [--json]\n"
    "  info      the model's configuration and quantizable linears  --model PATH|demo [--json]\n"
    "  tokenize  token ids of a text  --model PATH|demo [--tokenizer PATH] (--data PATH | --text STR) [--json]\n"
    "  demo      evaluate the built-in synthetic demo model, or write it to disk with --out DIR\n"
    "\n"
    "--model accepts a Hugging Face directory (config.json + model.safetensors or a\n"
    "sharded index), a .safetensors file, a llama2.c .bin, or 'demo'.\n"
    "--data accepts a .jsonl file of {\"text\": ...} rows (joined with \"\\n\\n\") or a UTF-8 text file.\n"
    "--threads N sets the compute threads (default: all cores).\n";

struct Loaded {
    std::shared_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::string demoText;  // only for the demo model
};

Loaded loadWithTokenizer(const QString& modelArg, const QString& tokArg, bool needTokenizer) {
    Loaded l;
    if (modelArg.isEmpty()) throw Error(QStringLiteral("--model is required (a model directory, .safetensors, llama2.c .bin, or 'demo')"));
    if (modelArg == QLatin1String("demo")) {
        std::cerr << "building the built-in demo model (synthetic)...\n";
        Demo d = makeDemo();
        l.model = d.model;
        l.tokenizer = std::move(d.tokenizer);
        l.demoText = std::move(d.evalText);
        if (!tokArg.isEmpty()) l.tokenizer = loadTokenizerFor(QString(), tokArg, l.model->config);
        return l;
    }
    l.model = loadModel(modelArg);
    if (needTokenizer) l.tokenizer = loadTokenizerFor(modelArg, tokArg, l.model->config);
    if (l.tokenizer && l.tokenizer->vocabSize() > l.model->config.vocabSize)
        throw Error(QStringLiteral("the tokenizer has %1 tokens but the model's vocabulary is %2; wrong --tokenizer?")
                        .arg(l.tokenizer->vocabSize()).arg(l.model->config.vocabSize));
    return l;
}

int intOption(const QCommandLineParser& p, const char* name, int def, int minValue) {
    if (!p.isSet(QLatin1String(name))) return def;
    bool ok = false;
    const int v = p.value(QLatin1String(name)).toInt(&ok);
    if (!ok || v < minValue)
        throw Error(QStringLiteral("--%1: expected an integer >= %2, found '%3'").arg(QLatin1String(name)).arg(minValue).arg(p.value(QLatin1String(name))));
    return v;
}

void printJson(const QJsonObject& o) {
    std::cout << QJsonDocument(o).toJson(QJsonDocument::Indented).toStdString();
    std::cout.flush();
}

JobContext stderrProgress() {
    JobContext ctx;
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    ctx.progress = [last](double f, const std::string& msg) {
        const auto now = std::chrono::steady_clock::now();
        if (f < 1.0 && now - *last < std::chrono::milliseconds(500)) return;
        *last = now;
        std::fprintf(stderr, "[%5.1f%%] %s\n", 100.0 * f, msg.c_str());
    };
    return ctx;
}

int cmdEval(QCommandLineParser& p) {
    const bool json = p.isSet(QStringLiteral("json"));
    Loaded l = loadWithTokenizer(p.value(QStringLiteral("model")), p.value(QStringLiteral("tokenizer")), true);
    std::string text;
    QString dataLabel;
    if (p.isSet(QStringLiteral("data"))) {
        dataLabel = p.value(QStringLiteral("data"));
        text = loadText(dataLabel);
    } else if (!l.demoText.empty()) {
        dataLabel = QStringLiteral("demo (sampled from the demo model)");
        text = l.demoText;
    } else {
        throw Error(QStringLiteral("--data is required (a .jsonl or text file)"));
    }
    const auto tt = std::chrono::steady_clock::now();
    const std::vector<int> tokens = l.tokenizer->encodeForModel(text);
    const double tokSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tt).count();
    std::fprintf(stderr, "tokenized %zu bytes into %zu tokens in %.2f s\n", text.size(), tokens.size(), tokSeconds);
    EvalOptions opt;
    opt.seqlen = intOption(p, "seqlen", 0, 2);
    opt.maxWindows = intOption(p, "max-windows", 0, 1);
    opt.batch = intOption(p, "batch", 0, 1);
    std::shared_ptr<Model> ref;
    if (p.isSet(QStringLiteral("reference"))) {
        const QString r = p.value(QStringLiteral("reference"));
        ref = (r == QLatin1String("demo")) ? makeDemo().model : loadModel(r);
    }
    const EvalResult res = evaluatePerplexity(*l.model, tokens, opt, stderrProgress(), ref.get());
    if (json) {
        QJsonObject o = res.toJson();
        o.insert(QStringLiteral("model"), l.model->path);
        o.insert(QStringLiteral("format"), l.model->format);
        o.insert(QStringLiteral("data"), dataLabel);
        o.insert(QStringLiteral("tokenizer"), QString::fromStdString(l.tokenizer->kind()));
        o.insert(QStringLiteral("tokenize_seconds"), tokSeconds);
        o.insert(QStringLiteral("threads"), qs::threads());
        o.insert(QStringLiteral("params"), qint64(l.model->numParams()));
        printJson(o);
    } else {
        std::printf("perplexity %.4f over %d windows of %d tokens (%lld tokens in the text), %.1f tokens/s\n", res.ppl,
                    res.windows, res.seqlen, res.tokens, res.tokensPerSecond);
        if (res.klMean)
            std::printf("vs reference: ppl %.4f, mean KL %.6f nats, top-1 agreement %.2f%%\n", *res.referencePpl,
                        *res.klMean, 100.0 * *res.top1Agreement);
    }
    return 0;
}

int cmdInfo(QCommandLineParser& p) {
    Loaded l = loadWithTokenizer(p.value(QStringLiteral("model")), p.value(QStringLiteral("tokenizer")), false);
    const Model& m = *l.model;
    QJsonObject o;
    o.insert(QStringLiteral("model"), m.path);
    o.insert(QStringLiteral("format"), m.format);
    o.insert(QStringLiteral("config"), m.config.toJson());
    o.insert(QStringLiteral("params"), qint64(m.numParams()));
    o.insert(QStringLiteral("linear_params"), qint64(m.numLinearParams()));
    QJsonArray layers;
    for (const auto& b : m.blocks)
        for (const auto& lin : b.linears)
            layers.append(QJsonObject{{"block", b.index},
                                      {"name", QString::fromStdString(lin.name)},
                                      {"kind", QLatin1String(linearKindName(lin.kind))},
                                      {"out", qint64(lin.outFeatures)},
                                      {"in", qint64(lin.inFeatures)},
                                      {"dtype", QString::fromStdString(lin.weight.ref.dtypeName)}});
    o.insert(QStringLiteral("linears"), layers);
    if (p.isSet(QStringLiteral("json"))) {
        printJson(o);
    } else {
        std::printf("%s (%s, %s): %lld parameters, %d blocks\n", m.path.toStdString().c_str(), m.format.toStdString().c_str(),
                    m.config.modelType.c_str(), (long long)m.numParams(), int(m.blocks.size()));
        for (const auto& b : m.blocks)
            for (const auto& lin : b.linears)
                std::printf("  %-48s [%lld, %lld]\n", lin.name.c_str(), (long long)lin.outFeatures, (long long)lin.inFeatures);
    }
    return 0;
}

int cmdTokenize(QCommandLineParser& p) {
    Loaded l = loadWithTokenizer(p.value(QStringLiteral("model")), p.value(QStringLiteral("tokenizer")), true);
    std::string text;
    if (p.isSet(QStringLiteral("text")))
        text = p.value(QStringLiteral("text")).toStdString();
    else if (p.isSet(QStringLiteral("data")))
        text = loadText(p.value(QStringLiteral("data")));
    else
        throw Error(QStringLiteral("tokenize needs --text STR or --data PATH"));
    const std::vector<int> ids = l.tokenizer->encodeForModel(text);
    if (p.isSet(QStringLiteral("json"))) {
        QJsonArray a;
        for (int id : ids) a.append(id);
        printJson(QJsonObject{{"tokens", qint64(ids.size())}, {"ids", a}, {"tokenizer", QString::fromStdString(l.tokenizer->kind())}});
    } else {
        for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
        std::printf("\n");
    }
    return 0;
}

int cmdDemo(QCommandLineParser& p) {
    if (p.isSet(QStringLiteral("out"))) {
        Demo d = makeDemo();
        writeDemo(d, p.value(QStringLiteral("out")));
        std::printf("wrote the demo model (synthetic) to %s: config.json, model.safetensors, tokenizer.bin, eval.txt\n",
                    p.value(QStringLiteral("out")).toStdString().c_str());
        return 0;
    }
    std::printf("QuantScope demo: a synthetic LLaMA-architecture model generated in code (no download).\n"
                "Its evaluation text is sampled from the model itself, so its perplexity is low by construction.\n");
    Loaded l = loadWithTokenizer(QStringLiteral("demo"), QString(), true);
    const std::vector<int> tokens = l.tokenizer->encodeForModel(l.demoText);
    const EvalResult res = evaluatePerplexity(*l.model, tokens, EvalOptions{}, stderrProgress());
    std::printf("demo model: %lld parameters, %d blocks, vocabulary %d\n", (long long)l.model->numParams(),
                int(l.model->blocks.size()), l.model->config.vocabSize);
    std::printf("perplexity %.4f over %d windows of %d tokens, %.0f tokens/s on %d threads\n", res.ppl, res.windows,
                res.seqlen, res.tokensPerSecond, qs::threads());
    if (p.isSet(QStringLiteral("json"))) printJson(res.toJson());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("quantscope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QUANTSCOPE_VERSION));
    QStringList args = app.arguments();
    if (args.size() < 2 || args[1] == QLatin1String("-h") || args[1] == QLatin1String("--help") ||
        args[1] == QLatin1String("help")) {
        std::fputs(kUsage, args.size() < 2 ? stderr : stdout);
        return args.size() < 2 ? 2 : 0;
    }
    const QString cmd = args[1];
    args.removeAt(1);
    QCommandLineParser p;
    p.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    p.addOptions({
        {QStringLiteral("model"), QStringLiteral("model path or 'demo'"), QStringLiteral("PATH")},
        {QStringLiteral("tokenizer"), QStringLiteral("tokenizer path"), QStringLiteral("PATH")},
        {QStringLiteral("data"), QStringLiteral("text or .jsonl file"), QStringLiteral("PATH")},
        {QStringLiteral("text"), QStringLiteral("text to tokenize"), QStringLiteral("STR")},
        {QStringLiteral("seqlen"), QStringLiteral("window length"), QStringLiteral("N")},
        {QStringLiteral("max-windows"), QStringLiteral("evaluate at most N windows"), QStringLiteral("N")},
        {QStringLiteral("batch"), QStringLiteral("windows per forward batch"), QStringLiteral("N")},
        {QStringLiteral("reference"), QStringLiteral("reference model for KL divergence"), QStringLiteral("PATH")},
        {QStringLiteral("threads"), QStringLiteral("compute threads"), QStringLiteral("N")},
        {QStringLiteral("out"), QStringLiteral("output directory"), QStringLiteral("DIR")},
        {QStringLiteral("json"), QStringLiteral("print one JSON object on stdout")},
    });
    if (!p.parse(args)) {
        std::fprintf(stderr, "quantscope-cli %s: %s\n%s", cmd.toStdString().c_str(), p.errorText().toStdString().c_str(), kUsage);
        return 2;
    }
    if (!p.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "quantscope-cli %s: unexpected argument '%s'\n", cmd.toStdString().c_str(),
                     p.positionalArguments().first().toStdString().c_str());
        return 2;
    }
    try {
        qs::setThreads(intOption(p, "threads", 0, 1));
        if (cmd == QLatin1String("eval")) return cmdEval(p);
        if (cmd == QLatin1String("info")) return cmdInfo(p);
        if (cmd == QLatin1String("tokenize")) return cmdTokenize(p);
        if (cmd == QLatin1String("demo")) return cmdDemo(p);
        std::fprintf(stderr, "quantscope-cli: unknown command '%s'\n%s", cmd.toStdString().c_str(), kUsage);
        return 2;
    } catch (const qs::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const qs::Cancelled&) {
        std::fprintf(stderr, "cancelled\n");
        return 3;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "error: out of memory\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "internal error: %s\n", e.what());
        return 1;
    }
}
