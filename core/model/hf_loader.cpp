#include "model/hf_loader.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include "export/gguf.h"
#include "export/gptq_packed.h"
#include "model/llama2c.h"
#include "util/error.h"

namespace qs {

namespace {

QString shapeStr(const std::vector<int64_t>& s) {
    QStringList parts;
    for (int64_t d : s) parts << QString::number(d);
    return QStringLiteral("[%1]").arg(parts.join(QStringLiteral(", ")));
}

QJsonObject readJsonObject(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("%1: cannot open: %2").arg(path, f.errorString()));
    QJsonParseError err;
    const QJsonDocument d = QJsonDocument::fromJson(f.readAll(), &err);
    if (err.error != QJsonParseError::NoError)
        throw Error(QStringLiteral("%1: not valid JSON at byte %2: %3").arg(path).arg(err.offset).arg(err.errorString()));
    if (!d.isObject()) throw Error(QStringLiteral("%1: expected a JSON object at the top level").arg(path));
    return d.object();
}

/// Looks tensors up by name and checks their shapes against what config.json implies.
class TensorTable {
public:
    TensorTable(const std::map<std::string, TensorRef>& t, const QString& label, const ModelConfig& c)
        : t_(t), label_(label), c_(c) {}

    bool has(const std::string& name) const { return t_.count(name) != 0; }

    WeightSource get(const std::string& name, const std::vector<int64_t>& expected) const {
        auto it = t_.find(name);
        if (it == t_.end())
            throw Error(QStringLiteral("%1: tensor '%2' is missing; expected shape %3 for a %4 model with this config.json")
                            .arg(label_, QString::fromStdString(name), shapeStr(expected),
                                 QString::fromStdString(c_.modelType)));
        const TensorRef& r = it->second;
        if (r.shape != expected)
            throw Error(QStringLiteral("%1: tensor '%2' has shape %3, but config.json implies %4")
                            .arg(r.file, QString::fromStdString(name), shapeStr(r.shape), shapeStr(expected)));
        if (!r.dtype)
            throw Error(QStringLiteral("%1: tensor '%2' has dtype %3; expected F32, F16 or BF16")
                            .arg(r.file, QString::fromStdString(name), QString::fromStdString(r.dtypeName)));
        WeightSource w;
        w.ref = r;
        return w;
    }
    std::optional<WeightSource> opt(const std::string& name, const std::vector<int64_t>& expected) const {
        if (!has(name)) return std::nullopt;
        return get(name, expected);
    }
    /// First prefix p (from candidates) such that p + probe exists.
    std::string detectPrefix(const std::vector<std::string>& candidates, const std::string& probe) const {
        for (const auto& p : candidates)
            if (has(p + probe)) return p;
        throw Error(QStringLiteral("%1: no tensor named '%2' (tried prefixes %3); is this a %4 checkpoint?")
                        .arg(label_, QString::fromStdString(probe),
                             QString::fromStdString([&] {
                                 std::string s;
                                 for (const auto& p : candidates) s += (s.empty() ? "'" : ", '") + p + "'";
                                 return s;
                             }()),
                             QString::fromStdString(c_.modelType)));
    }

private:
    const std::map<std::string, TensorRef>& t_;
    QString label_;
    const ModelConfig& c_;
};

Linear makeLinear(const std::string& name, LinearKind k, WeightSource w, std::optional<WeightSource> b) {
    Linear l;
    l.name = name;
    l.kind = k;
    l.outFeatures = w.logicalRows();
    l.inFeatures = w.logicalCols();
    l.weight = std::move(w);
    l.bias = std::move(b);
    return l;
}

void buildLlama(Model& m, const TensorTable& T) {
    const ModelConfig& c = m.config;
    const int64_t H = c.hiddenSize, V = c.vocabSize, I = c.intermediateSize;
    const int64_t qd = int64_t(c.numHeads) * c.headDim, kvd = int64_t(c.numKvHeads) * c.headDim;
    m.embedTokens = T.get("model.embed_tokens.weight", {V, H});
    m.finalNorm.weight = T.get("model.norm.weight", {H});
    if (c.tiedEmbeddings)
        m.lmHead = m.embedTokens;
    else
        m.lmHead = T.get("lm_head.weight", {V, H});
    for (int i = 0; i < c.numLayers; ++i) {
        Block b;
        b.index = i;
        b.prefix = "model.layers." + std::to_string(i);
        const std::string p = b.prefix + ".";
        b.attnNorm.weight = T.get(p + "input_layernorm.weight", {H});
        b.mlpNorm.weight = T.get(p + "post_attention_layernorm.weight", {H});
        auto lin = [&](const std::string& n, LinearKind k, int64_t out, int64_t in, bool bias) {
            const std::string base = p + n;
            std::optional<WeightSource> bs = bias ? std::optional<WeightSource>(T.get(base + ".bias", {out}))
                                                  : T.opt(base + ".bias", {out});
            b.linears.push_back(makeLinear(base, k, T.get(base + ".weight", {out, in}), bs));
        };
        lin("self_attn.q_proj", LinearKind::Q, qd, H, c.qkvBias);
        lin("self_attn.k_proj", LinearKind::K, kvd, H, c.qkvBias);
        lin("self_attn.v_proj", LinearKind::V, kvd, H, c.qkvBias);
        lin("self_attn.o_proj", LinearKind::O, H, qd, c.oBias);
        lin("mlp.gate_proj", LinearKind::Gate, I, H, c.mlpBias);
        lin("mlp.up_proj", LinearKind::Up, I, H, c.mlpBias);
        lin("mlp.down_proj", LinearKind::Down, H, I, c.mlpBias);
        m.blocks.push_back(std::move(b));
    }
}

void buildOpt(Model& m, const TensorTable& T) {
    const ModelConfig& c = m.config;
    const int64_t H = c.hiddenSize, V = c.vocabSize, F = c.intermediateSize, P = c.wordEmbedProjDim;
    const std::string d = T.detectPrefix({"model.decoder.", "decoder."}, "embed_tokens.weight");
    m.embedTokens = T.get(d + "embed_tokens.weight", {V, P});
    m.embedPositions = T.get(d + "embed_positions.weight", {int64_t(c.maxPositions) + c.positionOffset, H});
    if (P != H) {
        m.projectIn = T.get(d + "project_in.weight", {H, P});
        m.projectOut = T.get(d + "project_out.weight", {P, H});
    }
    m.finalNorm.weight = T.get(d + "final_layer_norm.weight", {H});
    m.finalNorm.bias = T.get(d + "final_layer_norm.bias", {H});
    m.lmHead = (c.tiedEmbeddings || !T.has("lm_head.weight")) ? m.embedTokens : T.get("lm_head.weight", {V, P});
    for (int i = 0; i < c.numLayers; ++i) {
        Block b;
        b.index = i;
        b.prefix = d + "layers." + std::to_string(i);
        if (b.prefix.rfind("decoder.", 0) == 0) b.prefix = "model." + b.prefix;  // canonical names
        const std::string p = d + "layers." + std::to_string(i) + ".";
        b.attnNorm.weight = T.get(p + "self_attn_layer_norm.weight", {H});
        b.attnNorm.bias = T.get(p + "self_attn_layer_norm.bias", {H});
        b.mlpNorm.weight = T.get(p + "final_layer_norm.weight", {H});
        b.mlpNorm.bias = T.get(p + "final_layer_norm.bias", {H});
        auto lin = [&](const std::string& n, LinearKind k, int64_t out, int64_t in) {
            const std::string base = p + n;
            std::optional<WeightSource> bs = c.qkvBias ? std::optional<WeightSource>(T.get(base + ".bias", {out}))
                                                       : T.opt(base + ".bias", {out});
            b.linears.push_back(makeLinear(b.prefix + "." + n, k, T.get(base + ".weight", {out, in}), bs));
        };
        lin("self_attn.q_proj", LinearKind::Q, H, H);
        lin("self_attn.k_proj", LinearKind::K, H, H);
        lin("self_attn.v_proj", LinearKind::V, H, H);
        lin("self_attn.out_proj", LinearKind::O, H, H);
        lin("fc1", LinearKind::Fc1, F, H);
        lin("fc2", LinearKind::Fc2, H, F);
        m.blocks.push_back(std::move(b));
    }
}

void buildGpt2(Model& m, const TensorTable& T) {
    const ModelConfig& c = m.config;
    const int64_t H = c.hiddenSize, V = c.vocabSize, F = c.intermediateSize;
    const std::string t = T.detectPrefix({"transformer.", ""}, "wte.weight");
    m.embedTokens = T.get(t + "wte.weight", {V, H});
    m.embedPositions = T.get(t + "wpe.weight", {c.maxPositions, H});
    m.finalNorm.weight = T.get(t + "ln_f.weight", {H});
    m.finalNorm.bias = T.get(t + "ln_f.bias", {H});
    m.lmHead = (c.tiedEmbeddings || !T.has("lm_head.weight")) ? m.embedTokens : T.get("lm_head.weight", {V, H});
    for (int i = 0; i < c.numLayers; ++i) {
        Block b;
        b.index = i;
        b.prefix = "transformer.h." + std::to_string(i);
        const std::string p = t + "h." + std::to_string(i) + ".";
        b.attnNorm.weight = T.get(p + "ln_1.weight", {H});
        b.attnNorm.bias = T.get(p + "ln_1.bias", {H});
        b.mlpNorm.weight = T.get(p + "ln_2.weight", {H});
        b.mlpNorm.bias = T.get(p + "ln_2.bias", {H});
        // Conv1D weights are stored [in, out]: logical [out, in] = transpose.
        const WeightSource attnW = T.get(p + "attn.c_attn.weight", {H, 3 * H});
        const WeightSource attnB = T.get(p + "attn.c_attn.bias", {3 * H});
        const LinearKind qkv[3] = {LinearKind::Q, LinearKind::K, LinearKind::V};
        const char* names[3] = {"q", "k", "v"};
        for (int j = 0; j < 3; ++j) {
            WeightSource w = attnW;
            w.transpose = true;
            w.rowOffset = j * H;
            w.rows = H;
            WeightSource bias = attnB;
            bias.rowOffset = j * H;
            bias.rows = H;
            b.linears.push_back(makeLinear(b.prefix + ".attn.c_attn." + names[j], qkv[j], w, bias));
        }
        auto conv = [&](const std::string& n, LinearKind k, int64_t in, int64_t out) {
            WeightSource w = T.get(p + n + ".weight", {in, out});
            w.transpose = true;
            b.linears.push_back(makeLinear(b.prefix + "." + n, k, w, T.get(p + n + ".bias", {out})));
        };
        conv("attn.c_proj", LinearKind::O, H, H);
        conv("mlp.c_fc", LinearKind::Fc1, H, F);
        conv("mlp.c_proj", LinearKind::Fc2, F, H);
        m.blocks.push_back(std::move(b));
    }
}

}  // namespace

std::shared_ptr<Model> buildHfModel(const ModelConfig& config, const std::map<std::string, TensorRef>& tensors,
                                    const QString& label) {
    auto m = std::make_shared<Model>();
    m->config = config;
    TensorTable T(tensors, label, m->config);
    switch (config.arch) {
    case Arch::Llama: buildLlama(*m, T); break;
    case Arch::Opt: buildOpt(*m, T); break;
    case Arch::Gpt2: buildGpt2(*m, T); break;
    }
    return m;
}

std::shared_ptr<Model> loadHfModel(const QString& pathIn) {
    const QFileInfo fi(pathIn);
    if (!fi.exists()) throw Error(QStringLiteral("%1: no such file or directory").arg(pathIn));
    const QDir dir = fi.isDir() ? QDir(fi.absoluteFilePath()) : fi.absoluteDir();
    const QString configPath = dir.filePath(QStringLiteral("config.json"));
    if (!QFileInfo::exists(configPath))
        throw Error(QStringLiteral("%1: config.json is missing; expected a Hugging Face model directory with config.json and model.safetensors")
                        .arg(dir.path()));
    const QJsonObject configJson = readJsonObject(configPath);
    const ModelConfig config = ModelConfig::fromHfJson(configJson, configPath);

    std::map<std::string, TensorRef> tensors;
    QString label;
    auto addFile = [&](const QString& file) {
        SafetensorsHeader h = openSafetensors(file);
        for (auto& [name, ref] : h.tensors) tensors[name] = std::move(ref);
    };
    const QString index = dir.filePath(QStringLiteral("model.safetensors.index.json"));
    if (!fi.isDir()) {
        if (!pathIn.endsWith(QLatin1String(".safetensors")))
            throw Error(QStringLiteral("%1: unrecognised checkpoint file; expected a .safetensors file, a llama2.c .bin or a model directory").arg(pathIn));
        label = fi.absoluteFilePath();
        addFile(label);
    } else if (QFileInfo::exists(dir.filePath(QStringLiteral("model.safetensors")))) {
        label = dir.filePath(QStringLiteral("model.safetensors"));
        addFile(label);
    } else if (QFileInfo::exists(index)) {
        label = index;
        const QJsonObject idx = readJsonObject(index);
        const QJsonValue wm = idx.value(QLatin1String("weight_map"));
        if (!wm.isObject()) throw Error(QStringLiteral("%1: field 'weight_map' is missing or not an object").arg(index));
        std::map<QString, std::vector<std::string>> byShard;
        const QJsonObject map = wm.toObject();
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (!it.value().isString())
                throw Error(QStringLiteral("%1: weight_map['%2'] is not a file name").arg(index, it.key()));
            const QString shard = it.value().toString();
            if (shard.contains(QLatin1Char('/')) || shard.contains(QLatin1String("..")))
                throw Error(QStringLiteral("%1: weight_map['%2'] = '%3' must be a file name in the same directory").arg(index, it.key(), shard));
            byShard[shard].push_back(it.key().toStdString());
        }
        for (const auto& [shard, names] : byShard) {
            const QString sp = dir.filePath(shard);
            if (!QFileInfo::exists(sp))
                throw Error(QStringLiteral("%1: shard '%2' (listed for tensor '%3') does not exist").arg(index, shard, QString::fromStdString(names.front())));
            SafetensorsHeader h = openSafetensors(sp);
            for (const auto& n : names) {
                auto it = h.tensors.find(n);
                if (it == h.tensors.end())
                    throw Error(QStringLiteral("%1: tensor '%2' is listed in %3 but not present in that shard").arg(sp, QString::fromStdString(n), index));
                tensors[n] = it->second;
            }
        }
    } else if (QFileInfo::exists(dir.filePath(QStringLiteral("pytorch_model.bin")))) {
        throw Error(QStringLiteral("%1: only pytorch_model.bin found; PyTorch pickle checkpoints are not supported, expected model.safetensors (convert with safetensors' convert script)").arg(dir.path()));
    } else {
        throw Error(QStringLiteral("%1: no model.safetensors or model.safetensors.index.json found").arg(dir.path()));
    }
    // GPTQ-packed linears (quantization_config): dequantized into float `.weight` entries
    QString quantization;
    const auto gptq = dequantizeGptqTensors(configJson, dir.path(), tensors, label, &quantization);
    auto m = buildHfModel(config, tensors, label);
    for (Block& b : m->blocks)
        for (Linear& l : b.linears)
            if (auto it = gptq.find(l.weight.ref.name); it != gptq.end()) l.weight.owned = it->second;  // keeps the data alive
    m->path = fi.absoluteFilePath();
    m->format = QStringLiteral("safetensors");
    m->quantization = quantization;
    return m;
}

std::shared_ptr<Model> loadModel(const QString& path) {
    const QFileInfo fi(path);
    if (!fi.exists()) throw Error(QStringLiteral("%1: no such file or directory").arg(path));
    if (fi.isFile() && path.endsWith(QLatin1String(".bin"))) return loadLlama2cModel(path);
    if (fi.isFile() && path.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) return loadGgufModel(path);
    return loadHfModel(path);
}

}  // namespace qs
