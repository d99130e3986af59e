// quantscope-cli: headless QuantScope. One JSON object on stdout with --json,
// progress on stderr. Exit codes: 0 success, 2 user error (message on stderr),
// 3 cancelled/interrupted, 1 internal error.
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <set>
#include <optional>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include "calib/calibration.h"
#include "compute/backend.h"
#include "compute/threads.h"
#include "opencl/opencl_backend.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "export/gguf.h"
#include "export/gptq_packed.h"
#include "export/verified_export.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "model/save.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"
#include "model/tokenizer.h"
#include "util/error.h"
#include "store/results.h"
#include "store/store.h"
#include "alloc/allocate.h"
#include "alloc/sensitivity.h"

using namespace qs;

namespace {

const char* kUsage =
    "usage: quantscope-cli <command> [options]\n"
    "\n"
    "commands:\n"
    "  eval      perplexity of a model on a text (GPTQ protocol)\n"
    "            --model PATH|demo [--tokenizer PATH] [--data PATH] [--seqlen N]\n"
    "            [--max-windows N] [--batch N] [--reference PATH] [--threads N] [--device cpu|opencl|auto] [--json]\n"
    "  info      the model's configuration and quantizable linears  --model PATH|demo [--json]\n"
    "  tokenize  token ids of a text  --model PATH|demo [--tokenizer PATH] (--data PATH | --text STR) [--json]\n"
    "  quantize  quantize a model (SmoothQuant, AWQ, RTN, GPTQ; integer or MX formats), then evaluate it\n"
    "            --model PATH|demo [--tokenizer PATH] --calib PATH [--nsamples 128] [--seqlen N]\n"
    "            [--seed 0] (--recipe FILE | --method M [--wbits 4] [--group G] [--sym] [--act-order]\n"
    "            [--static-groups] [--damp 0.01] [--wformat int|mxint8|mxint4|mxfp8_e4m3|mxfp8_e5m2|\n"
    "            mxfp6_e3m2|mxfp6_e2m3|mxfp4|fp16|gguf_q8_0|gguf_q4_0|gguf_q4_1] [--aformat none|int8|mxint8|mxfp8_e4m3|...])\n"
    "            [--eval PATH]... [--eval-seqlen N] [--max-windows N]\n"
    "            [--smoothquant-alpha 0.5] [--awq-grid 20] [--awq-no-clip] [--awq-tokens 8192]\n"
    "            [--lm-head-format F] [--embed-format F]  (lm_head / embeddings stay float unless given)\n"
    "            [--compare-fp] [--save DIR] [--export-gguf FILE [--allow-requantize] [--requantize-to F]]\n"
    "            [--device cpu|opencl|auto] [--json] [--db PATH | --no-db] [--experiment NAME]\n"
    "            M: steps joined by '+' in the order smoothquant, awq, then rtn|gptq|boa|mgptq|none (default rtn),\n"
    "            e.g. rtn, gptq, boa, mgptq, awq, awq+gptq, smoothquant+gptq, smoothquant+awq+gptq, smoothquant+none\n"
    "            mgptq (MG-PTQ: per group of input columns a width chosen by a graph network, then GPTQ):\n"
    "            --mgptq-bits B (average bits/weight incl. scales; each layer gets the largest achievable value <= B)\n"
    "            [--mgptq-choices 2,3,4] [--mgptq-seed 0] [--mgptq-loss gptq|rtn], group size and symmetry from --group G [--sym] or a\n"
    "            grouped --wformat such as int2-g64 (its width is not used)\n"
    "  export    quantize as a recipe says, then write what a serving stack loads, checked against the run\n"
    "            --model PATH|demo [--tokenizer PATH] (--recipe FILE | --run ID [--db PATH]) --format gguf|gptq\n"
    "            --out FILE|DIR [--calib PATH] [--nsamples N] [--seqlen N] [--seed S] [--allow-requantize]\n"
    "            [--requantize-to gguf_q8_0|gguf_q4_0|gguf_q4_1] [--eval PATH]... [--eval-seqlen N] [--max-windows N] [--json]\n"
    "            (--run: the recipe and calibration set of a logged run; nothing is logged by export)\n"
    "  demo      evaluate the built-in synthetic demo model, or write it to disk with --out DIR\n"
    "  sensitivity  per-layer Hessian spectrum, outlier channels and the error of each candidate format\n"
    "            --model PATH|demo [--tokenizer PATH] --calib PATH [--nsamples 128] [--seqlen N] [--seed 0]\n"
    "            [--candidates int2-g32,...,int8-g128 | 2,3,4,8 --group G] [--method gptq|rtn] [--damp 0.01]\n"
    "            [--act-order] [--block-error-tokens 4096] [--eval PATH [--eval-seqlen N] [--max-windows N]]\n"
    "            [--no-channel-vectors] [--out FILE] [--json] [--db PATH | --no-db]\n"
    "  allocate  per-layer formats under an average-bits budget (multiple-choice knapsack) -> a recipe\n"
    "            --report FILE --budget BITS [--choices 2,3,4,8 | FORMATS] [--cost block|predicted|ppl]\n"
    "            [--method knapsack|mgptq] [--resolution 20000] [--pareto] --out RECIPE [--json]\n"
    "            --method mgptq: a recipe of MG-PTQ layers  --group G[,G2,...] [--sym] [--choices 2,3,4] [--mgptq-seed 0] [--mgptq-loss L]\n"
    "            [--mgptq-targets knapsack|uniform]: per layer a group size and target by the knapsack over the levels\n"
    "            MG-PTQ reaches on it (costs interpolated from the report's int<b>-g<G>; default), or the budget on every layer\n"
    "  runs      list the runs of the experiment log  [--db PATH] [--model SUBSTR] [--status S] [--json]\n"
    "            or one run with its recipe and results  --show ID [--db PATH] [--json]\n"
    "\n"
    "--model accepts a Hugging Face directory (config.json + model.safetensors or a\n"
    "sharded index), a .safetensors file, a llama2.c .bin, a llama-architecture .gguf, or 'demo'.\n"
    "Weight formats: int<B>[-sym][-g<G>], mxint8, mxint4, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4,\n"
    "fp16, and llama.cpp's gguf_q8_0, gguf_q4_0, gguf_q4_1 (blocks of 32, exactly llama.cpp's grid: rows that are not\n"
    "a multiple of 32 stay fp16). GGUF export (--export-gguf, export --format gguf) stores gguf_*, mxfp4 and fp16\n"
    "layers bit for bit; any other quantized format is an error unless --allow-requantize (RTN onto Q8_0, Q4_0 or\n"
    "Q4_1, or --requantize-to; the added error is reported per tensor). The written file is loaded back and every\n"
    "tensor compared with the evaluated weights; with --eval its perplexity is reported next to the run's.\n"
    "GPTQ-packed export (export --format gptq --out DIR: qweight/qzeros/scales/g_idx as vLLM and transformers load\n"
    "them) needs every linear in one integer format with fp16 scales and 2, 3, 4 or 8 bits, e.g. int4-sym-g128-f16\n"
    "(--allow-requantize rounds float32 scales to fp16); --model reads such checkpoints back.\n"
    "--data accepts a .jsonl file of {\"text\": ...} rows (joined with \"\\n\\n\") or a UTF-8 text file.\n"
    "--threads N sets the compute threads (default: all cores).\n"
    "--device (eval, quantize): where the compute operations (Hessians, fake quantization, GPTQ's block update,\n"
    "the forward GEMMs) run: cpu, opencl (every operation on the OpenCL device where it can) or auto (default:\n"
    "per operation whichever bench_opencl measured faster on such a device; the CPU path on PoCL). The device is\n"
    "QUANTSCOPE_OPENCL_DEVICE=platform:device (default the first GPU), =off for the CPU path. Without an OpenCL\n"
    "platform, or when a kernel fails to build, it says so once on stderr and runs on the CPU path; --json reports\n"
    "per operation where its calls ran (\"device\").\n"
    "--recipe FILE: a JSON recipe (\"quantscope_recipe\": 1) with defaults and per-layer overrides;\n"
    "its calibration settings are defaults that --nsamples/--seqlen/--seed override.\n"
    "Experiment log: every quantize run is logged in SQLite when it starts and when it ends, in --db PATH,\n"
    "else $QUANTSCOPE_DB, else <app data>/quantscope.sqlite (--no-db: not logged). A run whose process was\n"
    "killed is marked 'interrupted' the next time the log is opened.\n";

struct Loaded {
    std::shared_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::string demoText;  // only for the demo model
    QByteArray demoTokenizer;  // the demo's in-memory llama2.c tokenizer.bin
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
        l.demoTokenizer = d.tokenizerBytes;
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

/// --device cpu|opencl|auto (default auto): the compute backend core calls
/// through, installed process-wide; the OpenCL backend is created here (app/
/// links quantscope_opencl), core sees only the interface.
struct ComputeDevice {
    QString requested;
    std::string message;
    std::shared_ptr<ComputeBackend> backend;
    /// --json's "device": requested, backend, device, routing, message and per
    /// operation where its calls ran ("ops").
    QJsonObject json() const {
        QJsonObject o = backend->statsJson();
        o.insert(QStringLiteral("requested"), requested);
        o.insert(QStringLiteral("message"), QString::fromStdString(message));
        return o;
    }
    /// The experiment log's runs.device: threads, --device and where each operation ran.
    QString logLine() const {
        return QStringLiteral("CPU, %1 threads; --device %2: %3")
            .arg(qs::threads())
            .arg(requested, QString::fromStdString(backend->describe()));
    }
};

ComputeDevice installComputeDevice(const QCommandLineParser& p) {
    ComputeDevice d;
    d.requested = p.isSet(QStringLiteral("device")) ? p.value(QStringLiteral("device")).trimmed().toLower()
                                                     : QStringLiteral("auto");
    if (d.requested != QLatin1String("cpu") && d.requested != QLatin1String("opencl") && d.requested != QLatin1String("auto"))
        throw Error(QStringLiteral("--device: expected cpu, opencl or auto, found '%1'").arg(p.value(QStringLiteral("device"))));
    const ocl::BackendChoice c = ocl::backendForDevice(d.requested.toStdString());
    d.message = c.message;
    d.backend = c.backend;
    // Said once per run: which device, or why the CPU path.
    std::fprintf(stderr, "%s\n", c.message.c_str());
    setComputeBackend(d.backend);
    return d;
}

int cmdEval(QCommandLineParser& p) {
    const bool json = p.isSet(QStringLiteral("json"));
    // validate the numeric options before the (possibly long) model load
    EvalOptions opt;
    opt.seqlen = intOption(p, "seqlen", 0, 2);
    opt.maxWindows = intOption(p, "max-windows", 0, 1);
    opt.batch = intOption(p, "batch", 0, 1);
    const ComputeDevice device = installComputeDevice(p);
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
        o.insert(QStringLiteral("device"), device.json());
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
    if (!m.quantization.isEmpty()) o.insert(QStringLiteral("quantization"), m.quantization);  // a quantized checkpoint, dequantized
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
        if (!m.quantization.isEmpty()) std::printf("quantized checkpoint (dequantized on loading): %s\n", m.quantization.toStdString().c_str());
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

/// --mgptq-loss gptq|rtn (default gptq).
MgptqLoss mgptqLossOption(const QCommandLineParser& p) {
    const QString v = p.value(QStringLiteral("mgptq-loss")).toLower();
    if (v.isEmpty() || v == QLatin1String("gptq")) return MgptqLoss::Gptq;
    if (v == QLatin1String("rtn")) return MgptqLoss::Rtn;
    throw Error(QStringLiteral("--mgptq-loss: expected gptq or rtn, found '%1'").arg(v));
}

/// "2,3,4": distinct bit widths in 2..8, returned ascending.
std::vector<int> bitWidthList(const QString& list, const char* option) {
    std::vector<int> out;
    for (const QString& item : list.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int b = item.trimmed().toInt(&ok);
        if (!ok || b < 2 || b > 8)
            throw Error(QStringLiteral("--%1: expected bit widths in 2..8 separated by commas (e.g. 2,3,4), found '%2'").arg(QLatin1String(option), item));
        if (std::find(out.begin(), out.end(), b) != out.end())
            throw Error(QStringLiteral("--%1: %2 appears twice").arg(QLatin1String(option)).arg(b));
        out.push_back(b);
    }
    if (out.empty()) throw Error(QStringLiteral("--%1: expected at least one bit width (e.g. 2,3,4)").arg(QLatin1String(option)));
    std::sort(out.begin(), out.end());
    return out;
}

double doubleOption(const QCommandLineParser& p, const char* name, double def, double lo, double hi) {
    if (!p.isSet(QLatin1String(name))) return def;
    bool ok = false;
    const double v = p.value(QLatin1String(name)).toDouble(&ok);
    if (!ok || v < lo || v > hi)
        throw Error(QStringLiteral("--%1: expected a number in [%2, %3], found '%4'").arg(QLatin1String(name)).arg(lo).arg(hi).arg(p.value(QLatin1String(name))));
    return v;
}

/// The weight format from --wformat / --wbits / --group / --sym.
QuantFormat weightFormatFromOptions(const QCommandLineParser& p) {
    const QString wf = p.isSet(QStringLiteral("wformat")) ? p.value(QStringLiteral("wformat")).toLower() : QStringLiteral("int");
    if (wf == QLatin1String("int")) {
        const int bits = intOption(p, "wbits", 4, 2);
        if (bits > 8) throw Error(QStringLiteral("--wbits: expected 2..8, found %1").arg(bits));
        const int group = intOption(p, "group", 0, 0);
        std::string name = "int" + std::to_string(bits);
        if (p.isSet(QStringLiteral("sym"))) name += "-sym";
        if (group > 0) name += "-g" + std::to_string(group);
        const auto f = QuantFormat::parse(name);
        if (!f) throw Error(QStringLiteral("invalid integer format '%1'").arg(QString::fromStdString(name)));
        return *f;
    }
    if (p.isSet(QStringLiteral("wbits")) || p.isSet(QStringLiteral("group")) || p.isSet(QStringLiteral("sym")))
        throw Error(QStringLiteral("--wbits/--group/--sym apply to --wformat int only; '%1' fixes its own bits and groups").arg(wf));
    const auto f = QuantFormat::parse(wf.toStdString());  // also full names such as int3-g64 or int4-sym
    if (!f || f->kind == FormatKind::None)
        throw Error(QStringLiteral("--wformat: unknown format '%1'; expected int (with --wbits/--group/--sym), a full integer "
                                   "format such as int3-g64, or mxint8, mxint4, mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, "
                                   "fp16, gguf_q8_0, gguf_q4_0, gguf_q4_1").arg(wf));
    return *f;
}

// --- experiment log (core/store) ---------------------------------------------

/// --db PATH, else $QUANTSCOPE_DB, else <app data>/quantscope.sqlite; empty with --no-db.
QString runLogPath(const QCommandLineParser& p) {
    if (p.isSet(QStringLiteral("db")) && p.isSet(QStringLiteral("no-db")))
        throw Error(QStringLiteral("--db and --no-db exclude each other"));
    if (p.isSet(QStringLiteral("no-db"))) return {};
    if (p.isSet(QStringLiteral("db"))) {
        const QString d = p.value(QStringLiteral("db"));
        if (d.isEmpty()) throw Error(QStringLiteral("--db: expected the path of an SQLite file"));
        return d;
    }
    return ExperimentStore::defaultPath();
}

QString absoluteIfExists(const QString& path) {
    const QFileInfo fi(path);
    return fi.exists() ? fi.absoluteFilePath() : path;
}

QString fileSha256(const QString& path) {
    QFile f(path);
    QCryptographicHash h(QCryptographicHash::Sha256);
    if (!f.open(QIODevice::ReadOnly) || !h.addData(&f))
        throw Error(QStringLiteral("%1: cannot read the calibration file to hash it: %2").arg(path, f.errorString()));
    return QString::fromLatin1(h.result().toHex());
}

/// The experiment-log record of one quantize run: opened before the work (a bad
/// --db fails fast), the run logged as "running" once the model is loaded, and
/// ended with its results (finish) or its error (fail).
class RunLog {
public:
    explicit RunLog(const QCommandLineParser& p, bool enabled = true) {
        const QString path = enabled ? runLogPath(p) : QString();
        if (!path.isEmpty()) store_ = std::make_unique<ExperimentStore>(path);
        experiment_ = p.value(QStringLiteral("experiment")).trimmed();
    }

    void begin(const Model& m, const std::string& hash, const QString& calibPath, const CalibOptions& calib, const Recipe& recipe,
               const QString& device) {
        if (!store_) return;
        RunStart s;
        const QString modelPath = m.format == QLatin1String("demo") ? m.path : absoluteIfExists(m.path);
        s.modelId = store_->addModel(modelPath, QString::fromStdString(hash), m.format, m.config.toJson(),
                                     m.numParams());
        if (!calibPath.isEmpty())
            s.calibrationId = store_->addCalibrationSet(absoluteIfExists(calibPath), calib.nsamples, calib.seqlen, calib.seed,
                                                        fileSha256(calibPath));
        s.recipeId = store_->addRecipe(recipe.toJson());  // the recipe as applied (calibration settings included)
        s.device = device;  // the compute device and its per-operation routing; finish() records where calls ran
        QJsonArray argv;
        for (const QString& a : QCoreApplication::arguments()) argv.append(a);
        s.params = QJsonObject{{"command", "quantize"}, {"argv", argv}, {"cwd", QDir::currentPath()}, {"threads", qs::threads()}};
        if (!experiment_.isEmpty()) s.params.insert(QStringLiteral("experiment"), experiment_);  // the curve it joins in the GUI
        runId_ = store_->beginRun(s);
        std::fprintf(stderr, "experiment log: run %lld in %s\n", (long long)runId_, store_->path().toStdString().c_str());
    }

    /// Logs the run's results (timings and avg_bits from its JSON output, the
    /// per-dataset and per-layer rows as the GUI's runs log them: store/results)
    /// and adds "run_id" and "db" to the output.
    void finish(QJsonObject& out, const QString& device, const std::vector<LayerResult>& layers,
                const std::vector<std::pair<QString, EvalResult>>& evals, const QJsonObject& params = {}) {
        if (!store_ || runId_ == 0) return;
        RunOutcome o;
        o.status = QStringLiteral("finished");
        o.device = device;
        o.params = params;
        o.timings = out.value(QStringLiteral("timings")).toObject();
        o.avgBits = out.value(QStringLiteral("avg_bits")).toDouble();
        for (const auto& [path, r] : evals) o.datasets.push_back(datasetResultRow(absoluteIfExists(path), r));
        for (const LayerResult& l : layers) o.layers.push_back(layerResultRow(l));
        store_->finishRun(runId_, o);
        ended_ = true;
        out.insert(QStringLiteral("run_id"), qint64(runId_));
        out.insert(QStringLiteral("db"), store_->path());
    }

    /// Ends a started run as "failed" or "cancelled" with the message; a log
    /// error here only warns (the run's own error is what the user needs).
    void fail(const QString& status, const QString& message) noexcept {
        if (!store_ || runId_ == 0 || ended_) return;
        try {
            RunOutcome o;
            o.status = status;
            o.error = message;
            store_->finishRun(runId_, o);
            ended_ = true;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "warning: could not log the end of run %lld: %s\n", (long long)runId_, e.what());
        }
    }

    /// The run's id in the log (0: not logged).
    int64_t runId() const { return runId_; }

private:
    std::unique_ptr<ExperimentStore> store_;
    QString experiment_;
    int64_t runId_ = 0;
    bool ended_ = false;
};

/// `export`: what to write after the quantization.
struct ExportRequest {
    QString format;  // "gguf"
    QString out;
};

/// --run ID: the logged run whose recipe and calibration set are reused.
RunRecord loggedRun(const QCommandLineParser& p) {
    bool ok = false;
    const qint64 id = p.value(QStringLiteral("run")).toLongLong(&ok);
    if (!ok || id <= 0) throw Error(QStringLiteral("--run: expected a run id (see quantscope-cli runs), found '%1'").arg(p.value(QStringLiteral("run"))));
    const QString path = runLogPath(p);
    if (path.isEmpty()) throw Error(QStringLiteral("--run reads the experiment log; it cannot be combined with --no-db"));
    ExperimentStore store(path);
    std::optional<RunRecord> r = store.run(id);
    if (!r) throw Error(QStringLiteral("%1: there is no run %2").arg(store.path()).arg(id));
    if (r->recipe.isEmpty()) throw Error(QStringLiteral("%1: run %2 has no recorded recipe").arg(store.path()).arg(id));
    if (r->status != QLatin1String("finished"))
        std::fprintf(stderr, "warning: run %lld is '%s', not finished; its recipe is used all the same\n", (long long)id,
                     r->status.toStdString().c_str());
    return *r;
}

QJsonObject exportQuantized(const ExportRequest& ex, const QCommandLineParser& p, const Loaded& l, const QuantizeResult& qr,
                            const Recipe& recipe, const QStringList& evalPaths, const std::vector<std::string>& evalTexts,
                            const EvalOptions& eo, const QJsonArray& runEvals);

int cmdQuantize(QCommandLineParser& p, RunLog& runLog, const ExportRequest* exportReq = nullptr) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const bool json = p.isSet(QStringLiteral("json"));
    // Either a recipe file (or a logged run's recipe) or the uniform flags; both
    // become one Recipe, checked before the model is loaded so that a bad recipe fails fast.
    std::optional<RunRecord> fromRun;
    if (p.isSet(QStringLiteral("run"))) {
        if (p.isSet(QStringLiteral("recipe"))) throw Error(QStringLiteral("--run and --recipe exclude each other"));
        fromRun = loggedRun(p);
    }
    const bool useRecipe = p.isSet(QStringLiteral("recipe")) || fromRun;
    const QString recipePath = fromRun ? QStringLiteral("run %1").arg(fromRun->id) : p.value(QStringLiteral("recipe"));
    Recipe recipe;
    if (useRecipe) {
        QStringList both;
        for (const char* k : {"method", "wbits", "group", "sym", "act-order", "static-groups", "damp", "wformat", "aformat",
                              "smoothquant-alpha", "awq-grid", "awq-no-clip", "awq-tokens", "lm-head-format", "embed-format",
                              "mgptq-bits", "mgptq-choices", "mgptq-seed", "mgptq-loss"})
            if (p.isSet(QLatin1String(k))) both << QStringLiteral("--") + QLatin1String(k);
        if (!both.isEmpty())
            throw Error(QStringLiteral("--recipe cannot be combined with %1: the recipe says per layer what to do (edit the recipe instead)")
                            .arg(both.join(QStringLiteral(", "))));
        recipe = fromRun ? Recipe::parse(QJsonDocument(fromRun->recipe).toJson(), recipePath) : Recipe::load(recipePath);
    } else {
        const QString methodName = p.value(QStringLiteral("method"));
        LayerPlan plan;
        if (methodName.isEmpty())
            throw Error(QStringLiteral("--method is required (or --recipe FILE): %1").arg(QLatin1String(kMethodHelp)));
        if (const std::string err = parseMethodInto(methodName.toStdString(), plan); !err.empty())
            throw Error(QStringLiteral("--method: ") + QString::fromStdString(err));
        if (!plan.smoothQuant && p.isSet(QStringLiteral("smoothquant-alpha")))
            throw Error(QStringLiteral("--smoothquant-alpha applies to methods with smoothquant (e.g. --method smoothquant+gptq)"));
        plan.smooth.alpha = doubleOption(p, "smoothquant-alpha", 0.5, 0.0, 1.0);
        if (!plan.awq && (p.isSet(QStringLiteral("awq-grid")) || p.isSet(QStringLiteral("awq-no-clip")) || p.isSet(QStringLiteral("awq-tokens"))))
            throw Error(QStringLiteral("--awq-grid, --awq-no-clip and --awq-tokens apply to methods with awq (e.g. --method awq+gptq)"));
        plan.awqOpt.grid = intOption(p, "awq-grid", 20, 1);
        plan.awqOpt.clip = !p.isSet(QStringLiteral("awq-no-clip"));
        plan.awqOpt.tokens = intOption(p, "awq-tokens", 8192, 1);
        plan.weight = weightFormatFromOptions(p);
        plan.gptq.percDamp = doubleOption(p, "damp", 0.01, 0.0, 1.0);
        plan.gptq.actOrder = p.isSet(QStringLiteral("act-order"));
        plan.gptq.staticGroups = p.isSet(QStringLiteral("static-groups"));
        if (!usesGptq(plan.method) && (plan.gptq.actOrder || plan.gptq.staticGroups || p.isSet(QStringLiteral("damp"))))
            throw Error(QStringLiteral("--act-order, --static-groups and --damp apply to methods that round with gptq, boa or mgptq only"));
        if (plan.method == QuantMethod::Mgptq) {
            if (!p.isSet(QStringLiteral("mgptq-bits")))
                throw Error(QStringLiteral("--method mgptq needs --mgptq-bits B (the average bits per weight, scales and zero points included)"));
            plan.mgptq.targetBits = doubleOption(p, "mgptq-bits", 0, 1e-9, 32.0);
            if (p.isSet(QStringLiteral("mgptq-choices"))) plan.mgptq.choices = bitWidthList(p.value(QStringLiteral("mgptq-choices")), "mgptq-choices");
            plan.mgptq.seed = uint64_t(intOption(p, "mgptq-seed", 0, 0));
            plan.mgptq.loss = mgptqLossOption(p);
            if (plan.weight.kind != FormatKind::Int || plan.weight.groupSize <= 0)
                throw Error(QStringLiteral("--method mgptq allocates bits per group of input columns: give --group G (e.g. --group 64) or a "
                                           "grouped --wformat such as int3-g64 (its group size and symmetry are used, its width is not)"));
            if (plan.gptq.actOrder && !plan.gptq.staticGroups)
                throw Error(QStringLiteral("--method mgptq with --act-order needs --static-groups"));
            plan.weight.bits = plan.mgptq.choices.front();  // the width is MG-PTQ's per group: recorded as the lowest choice
        } else if (p.isSet(QStringLiteral("mgptq-bits")) || p.isSet(QStringLiteral("mgptq-choices")) || p.isSet(QStringLiteral("mgptq-seed")) ||
                   p.isSet(QStringLiteral("mgptq-loss"))) {
            throw Error(QStringLiteral("--mgptq-bits, --mgptq-choices, --mgptq-seed and --mgptq-loss apply to --method mgptq"));
        }
        if (p.isSet(QStringLiteral("aformat"))) {
            const QString af = p.value(QStringLiteral("aformat")).toLower();
            const auto f = QuantFormat::parse(af.toStdString());
            if (!f || (f->kind == FormatKind::Int && f->groupSize > 0))
                throw Error(QStringLiteral("--aformat: unknown activation format '%1'; expected none, int8 (per token), mxint8, "
                                           "mxfp8_e4m3, mxfp8_e5m2 or another MX format").arg(af));
            plan.activation = *f;
        }
        recipe = Recipe::fromUniform(plan, CalibOptions{});
        // lm_head / embeddings: float unless asked; lm_head rounds like the blocks (rtn or gptq)
        OuterPlans outer;
        auto outerFormat = [&](const char* key) {
            const QString v = p.value(QLatin1String(key));
            const auto f = QuantFormat::parse(v.toLower().toStdString());
            if (!f || f->kind == FormatKind::None)
                throw Error(QStringLiteral("--%1: unknown weight format '%2'; expected e.g. int8, int4-g128, mxint8 or mxfp4")
                                .arg(QLatin1String(key), v));
            return *f;
        };
        if (p.isSet(QStringLiteral("lm-head-format"))) {
            LayerPlan h = plan;
            h.method = usesGptq(plan.method) ? QuantMethod::Gptq : QuantMethod::Rtn;
            h.weight = outerFormat("lm-head-format");
            h.activation = plan.activation;
            outer.lmHead = h;
        }
        if (p.isSet(QStringLiteral("embed-format"))) {
            LayerPlan e;
            e.method = QuantMethod::Rtn;
            e.weight = outerFormat("embed-format");
            outer.embedTokens = e;
        }
        recipe.setOuterPlans(outer);
    }
    const ComputeDevice device = installComputeDevice(p);
    Loaded l = loadWithTokenizer(p.value(QStringLiteral("model")), p.value(QStringLiteral("tokenizer")), true);
    if (fromRun && !fromRun->modelHash.isEmpty() && fromRun->modelHash.toStdString() != l.model->contentHash())
        std::fprintf(stderr, "warning: %s was run on %s (content hash %s), not on this model\n", recipePath.toStdString().c_str(),
                     fromRun->modelPath.toStdString().c_str(), fromRun->modelHash.left(12).toStdString().c_str());
    if (useRecipe) {
        for (const QString& w : recipe.unmatchedPatterns(*l.model))
            std::fprintf(stderr, "warning: %s: %s of %s\n", recipePath.toStdString().c_str(), w.toStdString().c_str(),
                         l.model->path.toStdString().c_str());
    }
    const LayerPlan plan = recipe.defaults();

    // The recipe's calibration settings are defaults; explicit flags win. The
    // output records the values actually used.
    const CalibOptions recipeCalib = useRecipe
        ? recipe.calibration(CalibOptions{128, defaultSeqlen(l.model->config), 0})
        : CalibOptions{128, defaultSeqlen(l.model->config), 0};
    CalibOptions calib;
    calib.nsamples = intOption(p, "nsamples", recipeCalib.nsamples, 1);
    calib.seqlen = intOption(p, "seqlen", recipeCalib.seqlen, 2);
    calib.seed = p.isSet(QStringLiteral("seed")) ? uint64_t(intOption(p, "seed", 0, 0)) : recipeCalib.seed;
    recipe.setCalibration(calib);
    std::vector<int> calibTokens;
    QString calibPath = p.value(QStringLiteral("calib"));
    if (calibPath.isEmpty() && fromRun && fromRun->calibration && recipe.needsCalibration(*l.model)) {
        calibPath = fromRun->calibration->path;  // the run's calibration text, checked by its hash
        if (!QFileInfo::exists(calibPath))
            throw Error(QStringLiteral("%1 was calibrated on %2, which no longer exists; give --calib").arg(recipePath, calibPath));
        if (!fromRun->calibration->contentHash.isEmpty() && fileSha256(calibPath) != fromRun->calibration->contentHash)
            std::fprintf(stderr, "warning: %s changed since %s used it (SHA-256 differs)\n", calibPath.toStdString().c_str(),
                         recipePath.toStdString().c_str());
    }
    if (!calibPath.isEmpty()) {
        const std::vector<int> all = l.tokenizer->encodeForModel(loadText(calibPath));
        calibTokens = sampleCalibration(all, calib);
    } else if (recipe.needsCalibration(*l.model)) {
        throw Error(useRecipe
                        ? QStringLiteral("--calib is required: the recipe plans GPTQ, AWQ or SmoothQuant for some layers (a .jsonl or text file)")
                        : QStringLiteral("--calib is required for --method %1 (a .jsonl or text file)").arg(QString::fromStdString(planMethodName(recipe.defaults()))));
    }
    const QStringList evalPaths = p.values(QStringLiteral("eval"));
    std::vector<std::string> evalTexts;  // read before the long run so a bad path fails fast
    for (const QString& e : evalPaths) evalTexts.push_back(loadText(e));

    std::optional<ExportRequest> ex;
    if (exportReq) ex = *exportReq;
    else if (p.isSet(QStringLiteral("export-gguf"))) ex = ExportRequest{QStringLiteral("gguf"), p.value(QStringLiteral("export-gguf"))};
    else if (p.isSet(QStringLiteral("allow-requantize")) || p.isSet(QStringLiteral("requantize-to")))
        throw Error(QStringLiteral("--allow-requantize and --requantize-to apply to --export-gguf / export"));
    // an export the recipe cannot give losslessly is refused now, not after the quantization
    if (ex) requireExportablePlan(ex->format, plannedLayers(*l.model, recipe), p.isSet(QStringLiteral("allow-requantize")));
    const std::string hash = l.model->contentHash();
    runLog.begin(*l.model, hash, calibPath, calib, recipe, device.logLine());
    const QuantizeResult qr = quantizeModel(*l.model, calibTokens, calib, recipe.planFn(), stderrProgress(), recipe.outerPlans());

    EvalOptions eo;
    eo.seqlen = intOption(p, "eval-seqlen", calib.seqlen, 2);
    eo.maxWindows = intOption(p, "max-windows", 0, 1);
    const bool compare = p.isSet(QStringLiteral("compare-fp"));
    QJsonArray evals;
    std::vector<std::pair<QString, EvalResult>> evalResults;  // for the experiment log
    const auto te = Clock::now();
    for (size_t i = 0; i < evalTexts.size(); ++i) {
        const std::vector<int> ids = l.tokenizer->encodeForModel(evalTexts[i]);
        const EvalResult r = evaluatePerplexity(*qr.model, ids, eo, stderrProgress(), compare ? l.model.get() : nullptr);
        evalResults.emplace_back(evalPaths[int(i)], r);
        QJsonObject o{{"data", evalPaths[int(i)]}, {"ppl", r.ppl}, {"tokens", r.tokens}, {"windows", r.windows}, {"seqlen", r.seqlen}};
        if (r.klMean) {
            o.insert(QStringLiteral("fp_ppl"), *r.referencePpl);
            o.insert(QStringLiteral("kl_mean"), *r.klMean);
            o.insert(QStringLiteral("top1_agreement"), *r.top1Agreement);
        }
        evals.append(o);
        if (!json) {
            std::printf("%s: ppl %.4f (%d windows of %d)", evalPaths[int(i)].toStdString().c_str(), r.ppl, r.windows, r.seqlen);
            if (r.klMean) std::printf(", fp ppl %.4f, KL %.5f, top-1 %.2f%%", *r.referencePpl, *r.klMean, 100 * *r.top1Agreement);
            std::printf("\n");
        }
    }
    const double evalSeconds = std::chrono::duration<double>(Clock::now() - te).count();

    QJsonArray layers;
    for (const LayerResult& r : qr.layers) layers.append(r.toJson());
    QJsonObject settings{{"method", QString::fromStdString(planMethodName(plan))},
                         {"wformat", QString::fromStdString(plan.weight.name())},
                         {"aformat", QString::fromStdString(plan.activation.kind == FormatKind::None ? std::string("none") : plan.activation.name())},
                         {"act_order", plan.gptq.actOrder},
                         {"static_groups", plan.gptq.staticGroups},
                         {"damp", plan.gptq.percDamp},
                         {"block_size", plan.gptq.blockSize}};
    QJsonObject calibJson = calib.toJson();
    calibJson.insert(QStringLiteral("data"), calibPath.isEmpty() ? QJsonValue() : QJsonValue(calibPath));
    QJsonObject out{{"model", l.model->path},
                    {"model_hash", QString::fromStdString(hash)},
                    {"quantization", settings},
                    {"recipe", recipe.toJson()},
                    {"calibration", calibJson},
                    {"avg_bits", qr.avgBits},
                    {"quantized_params", qint64(qr.quantizedParams)},
                    {"layers", layers},
                    {"eval", evals},
                    {"timings", QJsonObject{{"calibration_seconds", qr.calibrationSeconds},
                                            {"transform_seconds", qr.transformSeconds},
                                            {"quantize_seconds", qr.quantizeSeconds},
                                            {"eval_seconds", evalSeconds},
                                            {"total_seconds", std::chrono::duration<double>(Clock::now() - t0).count()}}},
                    {"threads", qs::threads()},
                    {"version", QStringLiteral(QUANTSCOPE_VERSION)}};
    if (p.isSet(QStringLiteral("save"))) {
        const QString dir = p.value(QStringLiteral("save"));
        QJsonObject run = out;
        run.remove(QStringLiteral("layers"));
        std::map<QString, QByteArray> raw;
        if (l.tokenizer->sourceFiles.isEmpty() && !l.demoTokenizer.isEmpty()) raw[QStringLiteral("tokenizer.bin")] = l.demoTokenizer;
        saveHfModel(*qr.model, dir, l.tokenizer->sourceFiles, {{QStringLiteral("quantscope_run.json"), run}}, raw);
        out.insert(QStringLiteral("saved"), dir);
    }
    // A failed export does not lose the run: it is logged as finished with its
    // results and the export's error, then the error ends the command.
    std::exception_ptr exportFailure;
    QString exportError;
    if (ex) {
        try {
            out.insert(QStringLiteral("export"), exportQuantized(*ex, p, l, qr, recipe, evalPaths, evalTexts, eo, evals));
        } catch (const qs::Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            exportFailure = std::current_exception();
            exportError = QString::fromUtf8(e.what());
        }
    }
    out.insert(QStringLiteral("device"), device.json());
    QJsonObject logParams;
    if (ex)
        logParams = RunExport::result(ex->format, QFileInfo(ex->out).absoluteFilePath(),
                                      out.value(QStringLiteral("export")).toObject().value(QStringLiteral("summary")).toString(),
                                      exportError)
                        .asParams();
    runLog.finish(out, device.logLine(), qr.layers, evalResults, logParams);
    if (exportFailure) {
        if (runLog.runId())
            std::fprintf(stderr, "note: run %lld is logged as finished with its results; only the export failed\n",
                         (long long)runLog.runId());
        std::rethrow_exception(exportFailure);
    }
    if (json) {
        printJson(out);
    } else if (useRecipe) {
        std::printf("recipe %s: %lld weights at %.3f average bits (incl. scales), calibration %.1f s, quantization %.1f s\n",
                    recipePath.toStdString().c_str(), (long long)qr.quantizedParams, qr.avgBits, qr.calibrationSeconds,
                    qr.quantizeSeconds);
    } else {
        const std::string fmtName = plan.method == QuantMethod::Mgptq
            ? "groups of " + std::to_string(plan.weight.groupSize) + (plan.weight.symmetric ? " sym" : "") + ", target " +
                  QString::number(plan.mgptq.targetBits).toStdString() + " bits"
            : plan.weight.name();
        std::printf("%s %s: %lld weights at %.3f average bits (incl. scales), calibration %.1f s, quantization %.1f s\n",
                    planMethodName(plan).c_str(), fmtName.c_str(), (long long)qr.quantizedParams, qr.avgBits,
                    qr.calibrationSeconds, qr.quantizeSeconds);
    }
    return 0;
}

/// Perplexity of a written model on the eval texts next to the run's.
QJsonArray evalReadBack(const Model& back, const Tokenizer& tok, const Tokenizer& runTok, const QStringList& evalPaths,
                        const std::vector<std::string>& evalTexts, const EvalOptions& eo, const QJsonArray& runEvals) {
    QJsonArray evals;
    for (size_t i = 0; i < evalTexts.size(); ++i) {
        const std::vector<int> ids = tok.encodeForModel(evalTexts[i]);
        const bool sameIds = ids == runTok.encodeForModel(evalTexts[i]);
        const EvalResult e = evaluatePerplexity(back, ids, eo, stderrProgress());
        const double runPpl = runEvals.at(qsizetype(i)).toObject().value(QStringLiteral("ppl")).toDouble();
        evals.append(QJsonObject{{QStringLiteral("data"), evalPaths[qsizetype(i)]},
                                 {QStringLiteral("ppl"), e.ppl},
                                 {QStringLiteral("run_ppl"), runPpl},
                                 {QStringLiteral("ppl_equal"), e.ppl == runPpl},
                                 {QStringLiteral("same_token_ids"), sameIds},
                                 {QStringLiteral("windows"), e.windows}});
    }
    return evals;
}

/// Writes the quantized model (GGUF or GPTQ-packed), loads it back and checks it
/// against the evaluated weights, tensor by tensor (core's exportVerified); with
/// eval texts, its perplexity next to the run's. Returns the "export" JSON (and
/// prints a summary without --json).
QJsonObject exportQuantized(const ExportRequest& ex, const QCommandLineParser& p, const Loaded& l, const QuantizeResult& qr,
                            const Recipe& recipe, const QStringList& evalPaths, const std::vector<std::string>& evalTexts,
                            const EvalOptions& eo, const QJsonArray& runEvals) {
    const bool json = p.isSet(QStringLiteral("json"));
    if (ex.out.isEmpty()) throw Error(QStringLiteral("the output path is empty"));
    if (ex.format != QLatin1String("gguf") && ex.format != QLatin1String("gptq"))
        throw Error(QStringLiteral("--format: expected gguf or gptq, found '%1'").arg(ex.format));
    VerifiedExportRequest req;
    req.format = ex.format;
    req.out = ex.out;
    req.allowRequantize = p.isSet(QStringLiteral("allow-requantize"));
    if (p.isSet(QStringLiteral("requantize-to"))) {
        if (ex.format == QLatin1String("gptq")) throw Error(QStringLiteral("--requantize-to applies to GGUF export"));
        if (!req.allowRequantize) throw Error(QStringLiteral("--requantize-to needs --allow-requantize"));
        const auto f = QuantFormat::parse(p.value(QStringLiteral("requantize-to")).toLower().toStdString());
        if (!f || !f->isGguf())
            throw Error(QStringLiteral("--requantize-to: expected gguf_q8_0, gguf_q4_0 or gguf_q4_1, found '%1'").arg(p.value(QStringLiteral("requantize-to"))));
        req.requantizeTo = *f;
    }
    req.recipe = recipe.toJson();
    req.inMemoryTokenizer = l.demoTokenizer;
    std::fprintf(stderr, "writing %s ...\n", ex.out.toStdString().c_str());
    const VerifiedExport v = exportVerified(*qr.model, qr.layers, *l.tokenizer, req, stderrProgress());
    QJsonObject res = v.json;
    res.insert(QStringLiteral("summary"), v.summary);
    // perplexity of the file itself; a GGUF with its own embedded tokenizer
    QJsonArray evals;
    if (!evalTexts.empty()) {
        std::unique_ptr<Tokenizer> ggufTok;
        if (ex.format == QLatin1String("gguf")) ggufTok = loadGgufTokenizer(ex.out);
        evals = evalReadBack(*v.readBack, ggufTok ? *ggufTok : *l.tokenizer, *l.tokenizer, evalPaths, evalTexts, eo, runEvals);
        res.insert(QStringLiteral("eval"), evals);
    }
    if (!json) {
        std::printf("%s\n", v.summary.toStdString().c_str());
        for (const std::string& d : v.details) std::printf("  %s\n", d.c_str());
        const char* what = ex.format == QLatin1String("gguf") ? "file" : "checkpoint";
        for (const QJsonValue& x : evals) {
            const QJsonObject e = x.toObject();
            std::printf("  %s: ppl of the %s %.6f, of the run %.6f (%s)\n", e.value(QStringLiteral("data")).toString().toStdString().c_str(),
                        what, e.value(QStringLiteral("ppl")).toDouble(), e.value(QStringLiteral("run_ppl")).toDouble(),
                        e.value(QStringLiteral("ppl_equal")).toBool() ? "equal" : "DIFFERENT");
        }
    }
    return res;
}

/// export: the recipe's (or a logged run's) quantization, then the file; not logged.
int cmdExport(QCommandLineParser& p) {
    const QString format = p.value(QStringLiteral("format")).toLower();
    if (format.isEmpty()) throw Error(QStringLiteral("--format is required: gguf or gptq"));
    if (format != QLatin1String("gguf") && format != QLatin1String("gptq"))
        throw Error(QStringLiteral("--format: expected gguf or gptq, found '%1'").arg(format));
    if (!p.isSet(QStringLiteral("out")))
        throw Error(QStringLiteral("--out is required (the .gguf file, or the directory of the GPTQ-packed checkpoint)"));
    if (!p.isSet(QStringLiteral("recipe")) && !p.isSet(QStringLiteral("run")))
        throw Error(QStringLiteral("export needs --recipe FILE or --run ID (the quantization to export)"));
    for (const char* k : {"save", "export-gguf", "compare-fp", "method"})
        if (p.isSet(QLatin1String(k))) throw Error(QStringLiteral("export does not take --%1").arg(QLatin1String(k)));
    RunLog log(p, false);
    const ExportRequest ex{format, p.value(QStringLiteral("out"))};
    return cmdQuantize(p, log, &ex);
}

/// quantize with its experiment-log record: an error or a cancel ends the run as
/// failed/cancelled with the message before the CLI exits.
int cmdQuantizeLogged(QCommandLineParser& p) {
    RunLog log(p);
    try {
        return cmdQuantize(p, log);
    } catch (const qs::Cancelled&) {
        log.fail(QStringLiteral("cancelled"), QStringLiteral("cancelled"));
        throw;
    } catch (const std::bad_alloc&) {
        log.fail(QStringLiteral("failed"), QStringLiteral("out of memory"));
        throw;
    } catch (const std::exception& e) {
        log.fail(QStringLiteral("failed"), QString::fromUtf8(e.what()));
        throw;
    }
}

int cmdRuns(QCommandLineParser& p) {
    if (p.isSet(QStringLiteral("no-db"))) throw Error(QStringLiteral("runs: --no-db leaves no experiment log to list"));
    ExperimentStore store(runLogPath(p));
    const bool json = p.isSet(QStringLiteral("json"));
    auto evalText = [](const RunRecord& r) {
        QStringList parts;
        for (const DatasetResultRow& d : r.datasets)
            parts << QStringLiteral("%1 ppl %2").arg(QFileInfo(d.dataPath).fileName()).arg(d.ppl, 0, 'f', 4);
        return parts.join(QStringLiteral(", "));
    };
    if (p.isSet(QStringLiteral("show"))) {
        bool ok = false;
        const qint64 id = p.value(QStringLiteral("show")).toLongLong(&ok);
        if (!ok || id <= 0) throw Error(QStringLiteral("--show: expected a run id, found '%1'").arg(p.value(QStringLiteral("show"))));
        const std::optional<RunRecord> r = store.run(id);
        if (!r) throw Error(QStringLiteral("%1: there is no run %2").arg(store.path()).arg(id));
        QJsonObject o = r->toJson();
        o.insert(QStringLiteral("db"), store.path());
        if (json) {
            printJson(o);
            return 0;
        }
        std::printf("run %lld: %s (%s)\n  model: %s (%s)\n  started %s, ended %s on %s (pid %lld), %s, QuantScope %s\n",
                    (long long)r->id, r->status.toStdString().c_str(), r->kind.toStdString().c_str(),
                    r->modelPath.toStdString().c_str(), r->modelHash.left(12).toStdString().c_str(),
                    r->startedAt.toStdString().c_str(), r->endedAt.isEmpty() ? "-" : r->endedAt.toStdString().c_str(),
                    r->host.toStdString().c_str(), (long long)r->pid, r->device.toStdString().c_str(),
                    r->appVersion.toStdString().c_str());
        if (!r->error.isEmpty()) std::printf("  error: %s\n", r->error.toStdString().c_str());
        if (const auto ex = RunExport::of(*r)) {
            if (ex->written)
                std::printf("  export: %s\n", ex->summary.toStdString().c_str());
            else
                std::printf("  export to %s failed: %s\n", ex->path.toStdString().c_str(), ex->error.toStdString().c_str());
        }
        if (r->avgBits) std::printf("  average bits %.3f, %zu layers\n", *r->avgBits, r->layers.size());
        for (const DatasetResultRow& d : r->datasets)
            std::printf("  %s: ppl %.4f (%d windows of %d)\n", d.dataPath.toStdString().c_str(), d.ppl, d.windows, d.seqlen);
        std::printf("  recipe (%s):\n%s", r->recipeSummary.toStdString().c_str(),
                    QJsonDocument(r->recipe).toJson(QJsonDocument::Indented).toStdString().c_str());
        return 0;
    }
    RunFilter f;
    f.modelPathContains = p.value(QStringLiteral("model"));
    f.status = p.value(QStringLiteral("status"));
    if (!f.status.isEmpty() && !QStringList{"running", "finished", "failed", "cancelled", "interrupted"}.contains(f.status))
        throw Error(QStringLiteral("--status: expected running, finished, failed, cancelled or interrupted, found '%1'").arg(f.status));
    const std::vector<RunRecord> runs = store.listRuns(f);
    if (json) {
        QJsonArray a;
        for (const RunRecord& r : runs) a.append(r.toJson());
        printJson(QJsonObject{{"db", store.path()}, {"runs", a}});
        return 0;
    }
    std::printf("%zu run%s in %s\n", runs.size(), runs.size() == 1 ? "" : "s", store.path().toStdString().c_str());
    for (const RunRecord& r : runs) {
        std::printf("%5lld  %-11s  %s  %s  %s", (long long)r.id, r.status.toStdString().c_str(),
                    r.startedAt.left(19).replace(QLatin1Char('T'), QLatin1Char(' ')).toStdString().c_str(),
                    r.modelPath.toStdString().c_str(), r.recipeSummary.toStdString().c_str());
        if (r.avgBits) std::printf("  %.3f bits", *r.avgBits);
        if (!r.datasets.empty()) std::printf("  %s", evalText(r).toStdString().c_str());
        if (!r.error.isEmpty()) std::printf("  [%s]", r.error.toStdString().c_str());
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

/// "2,3,4,8" (integer bits; --group G, default 128, applies) or format names.
std::vector<QuantFormat> formatList(const QString& list, int group, const char* option) {
    std::vector<QuantFormat> out;
    for (const QString& item : list.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString t = item.trimmed().toLower();
        bool isNum = false;
        const int bits = t.toInt(&isNum);
        std::optional<QuantFormat> f;
        if (isNum) {
            f = QuantFormat::parse(group > 0 ? QStringLiteral("int%1-g%2").arg(bits).arg(group).toStdString()
                                             : QStringLiteral("int%1").arg(bits).toStdString());
        } else {
            f = QuantFormat::parse(t.toStdString());
        }
        if (!f || f->kind == FormatKind::None)
            throw Error(QStringLiteral("--%1: '%2' is neither a bit width in 2..8 nor a weight format (e.g. int3-g128, mxfp4)")
                            .arg(QLatin1String(option), item));
        if (std::find(out.begin(), out.end(), *f) == out.end()) out.push_back(*f);
    }
    if (out.empty()) throw Error(QStringLiteral("--%1: expected a comma-separated list").arg(QLatin1String(option)));
    return out;
}

int cmdSensitivity(QCommandLineParser& p) {
    const bool json = p.isSet(QStringLiteral("json"));
    const QString logPath = runLogPath(p);  // a bad --db fails before the long run
    std::unique_ptr<ExperimentStore> store;
    if (!logPath.isEmpty()) store = std::make_unique<ExperimentStore>(logPath);
    SensitivityOptions opt;
    const int group = intOption(p, "group", 128, 0);
    if (p.isSet(QStringLiteral("candidates"))) opt.candidates = formatList(p.value(QStringLiteral("candidates")), group, "candidates");
    else if (p.isSet(QStringLiteral("group"))) throw Error(QStringLiteral("--group applies to a --candidates list of bit widths"));
    else opt.candidates = SensitivityOptions::defaultCandidates();
    const QString method = p.value(QStringLiteral("method")).toLower();
    if (method.isEmpty() || method == QLatin1String("gptq")) opt.method = QuantMethod::Gptq;
    else if (method == QLatin1String("rtn")) opt.method = QuantMethod::Rtn;
    else throw Error(QStringLiteral("--method: the predicted error is made with gptq or rtn, not '%1'").arg(method));
    opt.gptq.percDamp = doubleOption(p, "damp", 0.01, 0.0, 1.0);
    opt.gptq.actOrder = p.isSet(QStringLiteral("act-order"));
    opt.blockErrorTokens = intOption(p, "block-error-tokens", opt.blockErrorTokens, 0);
    opt.channelVectors = !p.isSet(QStringLiteral("no-channel-vectors"));
    const QString calibPath = p.value(QStringLiteral("calib"));
    if (calibPath.isEmpty()) throw Error(QStringLiteral("--calib is required (a .jsonl or text file): the analysis needs activations"));
    const QStringList evalPaths = p.values(QStringLiteral("eval"));
    if (evalPaths.size() > 1) throw Error(QStringLiteral("sensitivity takes at most one --eval text (perplexity deltas per layer)"));

    Loaded l = loadWithTokenizer(p.value(QStringLiteral("model")), p.value(QStringLiteral("tokenizer")), true);
    CalibOptions calib{intOption(p, "nsamples", 128, 1), intOption(p, "seqlen", defaultSeqlen(l.model->config), 2),
                       p.isSet(QStringLiteral("seed")) ? uint64_t(intOption(p, "seed", 0, 0)) : 0};
    const std::vector<int> calibTokens = sampleCalibration(l.tokenizer->encodeForModel(loadText(calibPath)), calib);
    std::optional<PplProbe> probe;
    if (!evalPaths.isEmpty()) {
        probe.emplace();
        probe->tokens = l.tokenizer->encodeForModel(loadText(evalPaths.front()));
        probe->eval.seqlen = intOption(p, "eval-seqlen", calib.seqlen, 2);
        probe->eval.maxWindows = intOption(p, "max-windows", 0, 1);
        probe->label = evalPaths.front().toStdString();
    }
    const SensitivityReport rep = analyzeSensitivity(*l.model, calibTokens, calib, opt, stderrProgress(), probe ? &*probe : nullptr);
    if (p.isSet(QStringLiteral("out"))) rep.save(p.value(QStringLiteral("out")));
    QJsonObject out = rep.toJson();
    if (store) {
        const QString modelPath = l.model->format == QLatin1String("demo") ? l.model->path : absoluteIfExists(l.model->path);
        const int64_t modelId = store->addModel(modelPath, QString::fromStdString(rep.modelHash), l.model->format,
                                                l.model->config.toJson(), l.model->numParams());
        const int64_t calibId = store->addCalibrationSet(absoluteIfExists(calibPath), calib.nsamples, calib.seqlen, calib.seed,
                                                         fileSha256(calibPath));
        const int64_t id = store->addSensitivityReport(modelId, calibId, QStringLiteral("sensitivity"), out);
        std::fprintf(stderr, "experiment log: sensitivity report %lld in %s\n", (long long)id, store->path().toStdString().c_str());
        out.insert(QStringLiteral("report_id"), qint64(id));
        out.insert(QStringLiteral("db"), store->path());
    }
    if (json) {
        printJson(out);
        return 0;
    }
    std::printf("%-40s %10s %10s %8s %8s", "layer", "trace(H)", "cond(H+λI)", "act.out", "w.out");
    for (const QuantFormat& f : opt.candidates) std::printf(" %12s", f.name().c_str());
    std::printf("\n");
    for (const LayerSensitivity& ls : rep.layers) {
        std::printf("%-40s %10.3g %10.3g %8.1f %8.1f", ls.name.c_str(), ls.traceH, ls.conditionDamped, ls.activations.outlierScore,
                    ls.weights.outlierScore);
        for (const CandidateCost& c : ls.candidates) std::printf(" %12.3g", c.relPredictedError);
        std::printf("\n");
    }
    std::printf("(candidate columns: predicted output error tr(dW H dW^T) / tr(W H W^T) with %s; outlier scores: max/median "
                "of the per-channel max |x| and |w|)\n",
                quantMethodName(opt.method));
    if (!rep.topOutliers.empty()) {
        std::printf("largest activation channels:");
        for (size_t i = 0; i < std::min<size_t>(5, rep.topOutliers.size()); ++i)
            std::printf(" %s[%d]=%.3g", rep.topOutliers[i].layer.c_str(), rep.topOutliers[i].channel, rep.topOutliers[i].absMax);
        std::printf("\n");
    }
    return 0;
}

/// allocate --method mgptq: a recipe whose layers use MG-PTQ. Per-layer targets from
/// the knapsack over the levels MG-PTQ reaches exactly on each layer (costs
/// interpolated from the report's uniform int<b>-g<G>), or the budget on every layer.
int cmdAllocateMgptq(const QCommandLineParser& p, const QString& reportPath, double budget, const QString& outPath) {
    for (const char* k : {"pareto"})
        if (p.isSet(QLatin1String(k))) throw Error(QStringLiteral("--%1 applies to allocate --method knapsack").arg(QLatin1String(k)));
    if (!p.isSet(QStringLiteral("group")))
        throw Error(QStringLiteral("allocate --method mgptq needs --group G (or a list G1,G2,...: the knapsack picks one per layer): "
                                   "MG-PTQ allocates bits per group of G input columns (the report must hold int<b>-g<G> for every "
                                   "width of --choices)"));
    std::vector<int> groups;
    for (const QString& g : p.value(QStringLiteral("group")).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = g.trimmed().toInt(&ok);
        if (!ok || v < 1) throw Error(QStringLiteral("--group: expected group sizes >= 1 separated by commas, found '%1'").arg(g));
        if (std::find(groups.begin(), groups.end(), v) == groups.end()) groups.push_back(v);
    }
    if (groups.empty()) throw Error(QStringLiteral("--group: expected a group size"));
    const std::vector<int> choices = p.isSet(QStringLiteral("choices")) ? bitWidthList(p.value(QStringLiteral("choices")), "choices")
                                                                       : std::vector<int>{2, 3, 4};
    const QString targets = p.isSet(QStringLiteral("mgptq-targets")) ? p.value(QStringLiteral("mgptq-targets")).toLower() : QStringLiteral("knapsack");
    if (targets != QLatin1String("knapsack") && targets != QLatin1String("uniform"))
        throw Error(QStringLiteral("--mgptq-targets: expected knapsack or uniform, found '%1'").arg(targets));
    std::vector<QuantFormat> bases;
    for (int g : groups) {
        QuantFormat base;
        base.kind = FormatKind::Int;
        base.bits = choices.front();
        base.symmetric = p.isSet(QStringLiteral("sym"));
        base.groupSize = g;
        bases.push_back(base);
    }
    const QuantFormat& base = bases.front();
    MgptqOptions m;
    m.choices = choices;
    m.targetBits = budget;
    m.seed = uint64_t(intOption(p, "mgptq-seed", 0, 0));
    m.loss = mgptqLossOption(p);
    const SensitivityReport rep = SensitivityReport::load(reportPath);
    std::vector<AllocItem> items;
    std::optional<Allocation> a;
    AllocCost cost = AllocCost::Block;
    QString desc;
    if (targets == QLatin1String("knapsack")) {
        bool haveBlock = !rep.layers.empty();
        for (const LayerSensitivity& ls : rep.layers)
            for (const CandidateCost& c : ls.candidates) haveBlock = haveBlock && std::isfinite(c.blockError);
        cost = parseAllocCost(p.isSet(QStringLiteral("cost")) ? p.value(QStringLiteral("cost")) : QLatin1String(haveBlock ? "block" : "predicted"));
        items = mgptqLevelItems(rep, bases, choices, cost);
        a = allocateKnapsack(items, budget, intOption(p, "resolution", 20000, 1));
        desc = QStringLiteral("MG-PTQ at %1 bits/weight, per-layer targets by knapsack (%2 cost) from %3")
                   .arg(budget).arg(QLatin1String(allocCostName(cost)), QFileInfo(reportPath).fileName());
    } else {
        if (p.isSet(QStringLiteral("cost")) || p.isSet(QStringLiteral("resolution")))
            throw Error(QStringLiteral("--cost and --resolution apply to --mgptq-targets knapsack"));
        if (bases.size() > 1) throw Error(QStringLiteral("--mgptq-targets uniform takes one --group"));
        desc = QStringLiteral("MG-PTQ at %1 bits/weight on every layer (report %2)").arg(budget).arg(QFileInfo(reportPath).fileName());
    }
    const Recipe recipe = mgptqRecipe(rep, items, a ? &*a : nullptr, base, m, desc);
    QSaveFile f(outPath);
    const QByteArray bytes = recipe.toJsonBytes();
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
        throw Error(QStringLiteral("%1: cannot write the recipe: %2").arg(outPath, f.errorString()));
    // the planned bits: each layer's largest achievable level <= its target
    QJsonArray layers;
    double bits = 0, params = 0;
    for (const LayerSensitivity& l : rep.layers) {
        const LayerPlan plan = recipe.planFor(l.name);
        const std::vector<double> lv = mgptqAchievableBits(l.inFeatures, plan.weight, plan.mgptq.choices);
        double v = lv.front();
        for (double x : lv)
            if (x <= plan.mgptq.targetBits * (1 + 1e-12)) v = x;
        bits += v * double(l.params());
        params += double(l.params());
        QJsonObject o{{QStringLiteral("name"), QString::fromStdString(l.name)},
                      {QStringLiteral("mgptq_bits"), plan.mgptq.targetBits},
                      {QStringLiteral("bits_per_weight"), v}};
        if (a) {
            const size_t i = size_t(&l - rep.layers.data());
            o.insert(QStringLiteral("interpolated_error"), items[i].choices[size_t(a->choice[i])].error);
        }
        layers.append(o);
    }
    QJsonObject out{{QStringLiteral("budget"), budget},
                    {QStringLiteral("method"), QStringLiteral("mgptq")},
                    {QStringLiteral("targets"), targets},
                    {QStringLiteral("groups"), p.value(QStringLiteral("group"))},
                    {QStringLiteral("avg_bits"), bits / params},
                    {QStringLiteral("recipe"), outPath},
                    {QStringLiteral("layers"), layers}};
    if (a) {
        out.insert(QStringLiteral("cost"), QLatin1String(allocCostName(cost)));
        out.insert(QStringLiteral("total_error"), a->error);
    }
    if (p.isSet(QStringLiteral("json"))) {
        printJson(out);
        return 0;
    }
    std::printf("MG-PTQ recipe for %zu layers at %.4f bits/weight (budget %.4f, targets: %s, groups of %s, widths", rep.layers.size(),
                bits / params, budget, targets.toStdString().c_str(), p.value(QStringLiteral("group")).toStdString().c_str());
    for (int c : choices) std::printf(" %d", c);
    std::printf("): %s\n", outPath.toStdString().c_str());
    return 0;
}

int cmdAllocate(QCommandLineParser& p) {
    const QString reportPath = p.value(QStringLiteral("report"));
    if (reportPath.isEmpty()) throw Error(QStringLiteral("--report FILE is required (written by quantscope-cli sensitivity --out FILE)"));
    if (!p.isSet(QStringLiteral("budget"))) throw Error(QStringLiteral("--budget BITS is required (average bits per weight, scales included)"));
    const double budget = doubleOption(p, "budget", 0, 1e-9, 64.0);
    const QString method = p.value(QStringLiteral("method")).toLower();
    if (!method.isEmpty() && method != QLatin1String("knapsack") && method != QLatin1String("mgptq"))
        throw Error(QStringLiteral("--method: unknown allocator '%1'; available: knapsack, mgptq").arg(method));
    const QString outPath = p.value(QStringLiteral("out"));
    if (outPath.isEmpty()) throw Error(QStringLiteral("--out RECIPE is required (the recipe to write)"));
    if (method == QLatin1String("mgptq")) return cmdAllocateMgptq(p, reportPath, budget, outPath);
    for (const char* k : {"group", "sym", "mgptq-seed", "mgptq-targets", "mgptq-loss"})
        if (p.isSet(QLatin1String(k)))
            throw Error(QStringLiteral("--%1 applies to allocate --method mgptq").arg(QLatin1String(k)));
    const SensitivityReport rep = SensitivityReport::load(reportPath);
    // --choices: bit widths select every integer candidate of the report with that
    // width (any group size); format names select exactly that candidate
    std::vector<QuantFormat> allowed;
    for (const QString& item : p.value(QStringLiteral("choices")).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool isNum = false;
        const int bits = item.trimmed().toInt(&isNum);
        if (!isNum) {
            for (const QuantFormat& f : formatList(item, 0, "choices"))
                if (std::find(allowed.begin(), allowed.end(), f) == allowed.end()) allowed.push_back(f);
            continue;
        }
        size_t before = allowed.size();
        for (const QuantFormat& f : rep.options.candidates)
            if (f.kind == FormatKind::Int && f.bits == bits && std::find(allowed.begin(), allowed.end(), f) == allowed.end())
                allowed.push_back(f);
        if (allowed.size() == before)
            throw Error(QStringLiteral("--choices: the report has no %1-bit integer candidate; rerun sensitivity with --candidates").arg(bits));
    }
    // default cost: the measured block-output error when the report has it (it
    // predicts the allocation's perplexity far better than tr(ΔW H ΔWᵀ), see README)
    bool haveBlock = !rep.layers.empty();
    for (const LayerSensitivity& ls : rep.layers)
        for (const CandidateCost& c : ls.candidates) haveBlock = haveBlock && std::isfinite(c.blockError);
    const AllocCost cost = parseAllocCost(p.isSet(QStringLiteral("cost")) ? p.value(QStringLiteral("cost"))
                                                                          : QLatin1String(haveBlock ? "block" : "predicted"));
    const int resolution = intOption(p, "resolution", 20000, 1);
    const std::vector<AllocItem> items = allocItemsFromReport(rep, allowed, cost);
    const Allocation a = allocateKnapsack(items, budget, resolution);
    const QString desc = QStringLiteral("knapsack allocation at %1 bits/weight (%2 cost) from %3")
                             .arg(budget).arg(QLatin1String(allocCostName(cost)), QFileInfo(reportPath).fileName());
    const Recipe recipe = allocationRecipe(rep, items, a, desc);
    QSaveFile f(outPath);
    const QByteArray bytes = recipe.toJsonBytes();
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
        throw Error(QStringLiteral("%1: cannot write the recipe: %2").arg(outPath, f.errorString()));
    QJsonArray layers;
    std::map<std::string, int> counts;
    for (size_t i = 0; i < items.size(); ++i) {
        const AllocChoice& c = items[i].choices[size_t(a.choice[i])];
        counts[c.format.name()]++;
        layers.append(QJsonObject{{QStringLiteral("name"), QString::fromStdString(items[i].name)},
                                  {QStringLiteral("format"), QString::fromStdString(c.format.name())},
                                  {QStringLiteral("bits_per_weight"), c.bitsPerWeight},
                                  {QStringLiteral("error"), c.error}});
    }
    QJsonObject out{{QStringLiteral("budget"), budget},
                    {QStringLiteral("avg_bits"), a.avgBits},
                    {QStringLiteral("total_error"), a.error},
                    {QStringLiteral("cost"), QLatin1String(allocCostName(cost))},
                    {QStringLiteral("unit_bits"), qint64(a.unitBits)},
                    {QStringLiteral("recipe"), outPath},
                    {QStringLiteral("layers"), layers}};
    if (p.isSet(QStringLiteral("pareto"))) {
        QJsonArray front;
        for (const Allocation& pt : paretoFrontier(items, std::min(resolution, 4000)))
            front.append(QJsonObject{{QStringLiteral("avg_bits"), pt.avgBits}, {QStringLiteral("total_error"), pt.error}});
        out.insert(QStringLiteral("pareto"), front);
    }
    if (p.isSet(QStringLiteral("json"))) {
        printJson(out);
        return 0;
    }
    std::printf("allocated %zu layers at %.4f bits/weight (budget %.4f), total %s error %.6g; recipe: %s\n", items.size(), a.avgBits,
                budget, allocCostName(cost), a.error, outPath.toStdString().c_str());
    for (const auto& [fmt, n] : counts) std::printf("  %-14s %d layers\n", fmt.c_str(), n);
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
        {QStringLiteral("device"), QStringLiteral("compute device: cpu, opencl or auto (default)"), QStringLiteral("D")},
        {QStringLiteral("out"), QStringLiteral("output directory"), QStringLiteral("DIR")},
        {QStringLiteral("calib"), QStringLiteral("calibration text or .jsonl"), QStringLiteral("PATH")},
        {QStringLiteral("nsamples"), QStringLiteral("calibration windows"), QStringLiteral("N")},
        {QStringLiteral("seed"), QStringLiteral("calibration sampling seed"), QStringLiteral("S")},
        {QStringLiteral("method"), QStringLiteral("rtn, gptq, awq, smoothquant+gptq, ... (steps joined by '+')"), QStringLiteral("M")},
        {QStringLiteral("smoothquant-alpha"), QStringLiteral("SmoothQuant migration strength in [0, 1] (default 0.5)"), QStringLiteral("A")},
        {QStringLiteral("awq-grid"), QStringLiteral("AWQ scale grid points (default 20)"), QStringLiteral("N")},
        {QStringLiteral("awq-no-clip"), QStringLiteral("AWQ without the clipping search")},
        {QStringLiteral("awq-tokens"), QStringLiteral("calibration tokens the AWQ searches use (default 8192)"), QStringLiteral("N")},
        {QStringLiteral("wbits"), QStringLiteral("integer weight bits"), QStringLiteral("B")},
        {QStringLiteral("group"), QStringLiteral("integer group size (columns)"), QStringLiteral("G")},
        {QStringLiteral("sym"), QStringLiteral("symmetric integer grid")},
        {QStringLiteral("act-order"), QStringLiteral("GPTQ act-order")},
        {QStringLiteral("static-groups"), QStringLiteral("GPTQ static groups")},
        {QStringLiteral("damp"), QStringLiteral("GPTQ dampening (fraction of mean diag H)"), QStringLiteral("F")},
        {QStringLiteral("wformat"), QStringLiteral("weight format"), QStringLiteral("F")},
        {QStringLiteral("aformat"), QStringLiteral("activation format (dynamic, inputs of every linear)"), QStringLiteral("F")},
        {QStringLiteral("candidates"), QStringLiteral("sensitivity: candidate formats or bit widths"), QStringLiteral("LIST")},
        {QStringLiteral("block-error-tokens"), QStringLiteral("sensitivity: tokens for the measured block-output error (0 = off)"), QStringLiteral("N")},
        {QStringLiteral("no-channel-vectors"), QStringLiteral("sensitivity: omit the per-channel vectors from the report")},
        {QStringLiteral("report"), QStringLiteral("allocate: the sensitivity report"), QStringLiteral("FILE")},
        {QStringLiteral("budget"), QStringLiteral("allocate: average bits per weight"), QStringLiteral("BITS")},
        {QStringLiteral("choices"), QStringLiteral("allocate: allowed bit widths or formats"), QStringLiteral("LIST")},
        {QStringLiteral("mgptq-bits"), QStringLiteral("MG-PTQ: average bits per weight of each layer (scales included)"), QStringLiteral("B")},
        {QStringLiteral("mgptq-choices"), QStringLiteral("MG-PTQ: candidate widths per column group (default 2,3,4)"), QStringLiteral("LIST")},
        {QStringLiteral("mgptq-seed"), QStringLiteral("MG-PTQ: seed of the graph network (default 0)"), QStringLiteral("S")},
        {QStringLiteral("mgptq-loss"), QStringLiteral("MG-PTQ: loss model, gptq (default) or rtn"), QStringLiteral("L")},
        {QStringLiteral("mgptq-targets"), QStringLiteral("allocate --method mgptq: knapsack or uniform per-layer targets"), QStringLiteral("T")},
        {QStringLiteral("cost"), QStringLiteral("allocate: predicted, block or ppl"), QStringLiteral("C")},
        {QStringLiteral("resolution"), QStringLiteral("allocate: budget units of the knapsack"), QStringLiteral("N")},
        {QStringLiteral("pareto"), QStringLiteral("allocate: include the error-vs-bits Pareto frontier")},
        {QStringLiteral("lm-head-format"), QStringLiteral("also quantize lm_head to this weight format (rounding of --method)"), QStringLiteral("F")},
        {QStringLiteral("embed-format"), QStringLiteral("also quantize the embedding table (RTN) to this weight format"), QStringLiteral("F")},
        {QStringLiteral("recipe"), QStringLiteral("JSON quantization recipe (per-layer plan)"), QStringLiteral("FILE")},
        {QStringLiteral("eval"), QStringLiteral("evaluation text (repeatable)"), QStringLiteral("PATH")},
        {QStringLiteral("eval-seqlen"), QStringLiteral("evaluation window length"), QStringLiteral("N")},
        {QStringLiteral("compare-fp"), QStringLiteral("also evaluate the unquantized model: fp ppl and KL")},
        {QStringLiteral("save"), QStringLiteral("write the fake-quantized model as a HF directory"), QStringLiteral("DIR")},
        {QStringLiteral("export-gguf"), QStringLiteral("quantize: also write the quantized model as GGUF"), QStringLiteral("FILE")},
        {QStringLiteral("format"), QStringLiteral("export: gguf or gptq"), QStringLiteral("F")},
        {QStringLiteral("run"), QStringLiteral("export/quantize: the recipe and calibration set of a logged run"), QStringLiteral("ID")},
        {QStringLiteral("allow-requantize"), QStringLiteral("export: re-quantize layers without an exact GGUF type (RTN)")},
        {QStringLiteral("requantize-to"), QStringLiteral("export: the GGUF format re-quantized layers go to"), QStringLiteral("F")},
        {QStringLiteral("json"), QStringLiteral("print one JSON object on stdout")},
        {QStringLiteral("db"), QStringLiteral("experiment log (SQLite) to record the run in / to list"), QStringLiteral("PATH")},
        {QStringLiteral("no-db"), QStringLiteral("do not log the run")},
        {QStringLiteral("experiment"), QStringLiteral("quantize: the experiment (curve) the logged run belongs to in the GUI's perplexity chart"),
         QStringLiteral("NAME")},
        {QStringLiteral("show"), QStringLiteral("runs: show one run with its recipe and results"), QStringLiteral("ID")},
        {QStringLiteral("status"), QStringLiteral("runs: only runs with this status"), QStringLiteral("S")},
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
        if (cmd == QLatin1String("quantize")) return cmdQuantizeLogged(p);
        if (cmd == QLatin1String("export")) return cmdExport(p);
        if (cmd == QLatin1String("runs")) return cmdRuns(p);
        if (cmd == QLatin1String("sensitivity")) return cmdSensitivity(p);
        if (cmd == QLatin1String("allocate")) return cmdAllocate(p);
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
