#include "model/config.h"

#include <cmath>

#include <QJsonArray>

#include "util/error.h"

namespace qs {

const char* archName(Arch a) {
    switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Opt: return "opt";
    case Arch::Gpt2: return "gpt2";
    }
    return "?";
}

namespace {

struct Reader {
    const QJsonObject& o;
    const QString& file;
    [[noreturn]] void fail(const QString& key, const QString& what) const {
        throw Error(QStringLiteral("%1: field '%2': %3").arg(file, key, what));
    }
    bool has(const char* k) const { return o.contains(QLatin1String(k)) && !o.value(QLatin1String(k)).isNull(); }
    int integer(const char* k) const {
        const QJsonValue v = o.value(QLatin1String(k));
        if (v.isUndefined() || v.isNull()) fail(QString::fromLatin1(k), QStringLiteral("missing; expected an integer"));
        const double d = v.toDouble(-1e300);
        if (!v.isDouble() || d != std::floor(d) || d < 0 || d > 2e9)
            fail(QString::fromLatin1(k), QStringLiteral("found %1; expected a non-negative integer").arg(v.toVariant().toString()));
        return int(d);
    }
    int integerOr(const char* k, int def) const { return has(k) ? integer(k) : def; }
    double number(const char* k, double def) const {
        if (!has(k)) return def;
        const QJsonValue v = o.value(QLatin1String(k));
        if (!v.isDouble()) fail(QString::fromLatin1(k), QStringLiteral("found %1; expected a number").arg(v.toVariant().toString()));
        return v.toDouble();
    }
    bool boolean(const char* k, bool def) const {
        if (!has(k)) return def;
        const QJsonValue v = o.value(QLatin1String(k));
        if (!v.isBool()) fail(QString::fromLatin1(k), QStringLiteral("found %1; expected true or false").arg(v.toVariant().toString()));
        return v.toBool();
    }
    std::string string(const char* k, const std::string& def) const {
        if (!has(k)) return def;
        const QJsonValue v = o.value(QLatin1String(k));
        if (!v.isString()) fail(QString::fromLatin1(k), QStringLiteral("expected a string"));
        return v.toString().toStdString();
    }
    int tokenId(const char* k) const {
        // bos/eos may be an int, a list (take the first) or null
        const QJsonValue v = o.value(QLatin1String(k));
        if (v.isDouble()) return int(v.toDouble());
        if (v.isArray() && !v.toArray().isEmpty() && v.toArray().first().isDouble()) return int(v.toArray().first().toDouble());
        return -1;
    }
};

Activation parseAct(const Reader& r, const char* key, const std::string& s) {
    if (s == "silu" || s == "swish") return Activation::SiLU;
    if (s == "relu") return Activation::ReLU;
    if (s == "gelu_new" || s == "gelu_pytorch_tanh" || s == "gelu_fast") return Activation::GeluNew;
    if (s == "gelu") return Activation::GeluExact;
    r.fail(QString::fromLatin1(key), QStringLiteral("unsupported activation '%1'; expected silu, relu, gelu, gelu_new")
                                         .arg(QString::fromStdString(s)));
}

}  // namespace

ModelConfig ModelConfig::fromHfJson(const QJsonObject& o, const QString& file) {
    Reader r{o, file};
    ModelConfig c;
    c.modelType = r.string("model_type", "");
    const std::string& mt = c.modelType;
    if (mt == "llama" || mt == "mistral" || mt == "qwen2") {
        c.arch = Arch::Llama;
        c.hiddenSize = r.integer("hidden_size");
        c.intermediateSize = r.integer("intermediate_size");
        c.numLayers = r.integer("num_hidden_layers");
        c.numHeads = r.integer("num_attention_heads");
        c.numKvHeads = r.integerOr("num_key_value_heads", c.numHeads);
        c.headDim = r.integerOr("head_dim", c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0);
        c.vocabSize = r.integer("vocab_size");
        c.maxPositions = r.integerOr("max_position_embeddings", 2048);
        c.normEps = r.number("rms_norm_eps", 1e-6);
        c.ropeTheta = r.number("rope_theta", 10000.0);
        if (r.has("rope_scaling"))
            r.fail(QStringLiteral("rope_scaling"), QStringLiteral("RoPE scaling is not supported yet; expected null"));
        // transformers >= 5 writes {"rope_parameters": {"rope_theta": ..., "rope_type": "default"}}
        if (r.has("rope_parameters")) {
            const QJsonValue rpv = o.value(QLatin1String("rope_parameters"));
            if (!rpv.isObject()) r.fail(QStringLiteral("rope_parameters"), QStringLiteral("expected an object"));
            const QJsonObject rp = rpv.toObject();
            const Reader rr{rp, file};
            const std::string type = rr.string("rope_type", "default");
            if (type != "default")
                r.fail(QStringLiteral("rope_parameters.rope_type"),
                       QStringLiteral("found '%1'; only \"default\" RoPE is supported").arg(QString::fromStdString(type)));
            c.ropeTheta = rr.number("rope_theta", c.ropeTheta);
        }
        c.norm = NormType::RMSNorm;
        c.act = parseAct(r, "hidden_act", r.string("hidden_act", "silu"));
        c.gatedMlp = true;
        c.qkvBias = (mt == "qwen2") ? true : r.boolean("attention_bias", false);
        c.oBias = (mt == "qwen2") ? false : r.boolean("attention_bias", false);
        c.mlpBias = r.boolean("mlp_bias", false);
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", mt == "llama" ? false : false);
    } else if (mt == "opt") {
        c.arch = Arch::Opt;
        c.hiddenSize = r.integer("hidden_size");
        c.intermediateSize = r.integer("ffn_dim");
        c.numLayers = r.integer("num_hidden_layers");
        c.numHeads = r.integer("num_attention_heads");
        c.numKvHeads = c.numHeads;
        c.headDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
        c.vocabSize = r.integer("vocab_size");
        c.maxPositions = r.integerOr("max_position_embeddings", 2048);
        c.normEps = 1e-5;
        c.norm = NormType::LayerNorm;
        c.act = parseAct(r, "activation_function", r.string("activation_function", "relu"));
        c.gatedMlp = false;
        c.qkvBias = c.oBias = c.mlpBias = r.boolean("enable_bias", true);
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", true);
        c.learnedPositions = true;
        c.positionOffset = 2;
        c.wordEmbedProjDim = r.integerOr("word_embed_proj_dim", c.hiddenSize);
        if (!r.boolean("do_layer_norm_before", true))
            r.fail(QStringLiteral("do_layer_norm_before"),
                   QStringLiteral("found false (post-LayerNorm, OPT-350M); only pre-LayerNorm OPT models are supported"));
        if (!r.boolean("layer_norm_elementwise_affine", true))
            r.fail(QStringLiteral("layer_norm_elementwise_affine"), QStringLiteral("found false; expected true"));
    } else if (mt == "gpt2") {
        c.arch = Arch::Gpt2;
        c.hiddenSize = r.integer("n_embd");
        c.numLayers = r.integer("n_layer");
        c.numHeads = r.integer("n_head");
        c.intermediateSize = r.integerOr("n_inner", 4 * c.hiddenSize);
        c.numKvHeads = c.numHeads;
        c.headDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
        c.vocabSize = r.integer("vocab_size");
        c.maxPositions = r.integerOr("n_positions", 1024);
        c.normEps = r.number("layer_norm_epsilon", 1e-5);
        c.norm = NormType::LayerNorm;
        c.act = parseAct(r, "activation_function", r.string("activation_function", "gelu_new"));
        c.gatedMlp = false;
        c.qkvBias = c.oBias = c.mlpBias = true;
        c.tiedEmbeddings = r.boolean("tie_word_embeddings", true);
        c.learnedPositions = true;
        c.positionOffset = 0;
        if (r.boolean("scale_attn_by_inverse_layer_idx", false) || r.boolean("reorder_and_upcast_attn", false))
            r.fail(QStringLiteral("scale_attn_by_inverse_layer_idx"), QStringLiteral("found true; expected false"));
        if (!r.boolean("scale_attn_weights", true))
            r.fail(QStringLiteral("scale_attn_weights"), QStringLiteral("found false; expected true"));
    } else {
        const QString found = mt.empty() ? QStringLiteral("(missing)") : QString::fromStdString(mt);
        throw Error(QStringLiteral("%1: field 'model_type': unsupported architecture '%2'; supported: llama, mistral, qwen2, opt, gpt2")
                        .arg(file, found));
    }
    c.bosTokenId = r.tokenId("bos_token_id");
    c.eosTokenId = r.tokenId("eos_token_id");
    c.validate(file);
    return c;
}

void ModelConfig::validate(const QString& file) const {
    auto fail = [&](const QString& what) { throw Error(QStringLiteral("%1: %2").arg(file, what)); };
    if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || vocabSize <= 0 || intermediateSize <= 0 || headDim <= 0)
        fail(QStringLiteral("hidden size, layers, heads, head_dim, vocab and intermediate size must all be positive (found %1, %2, %3, %4, %5, %6)")
                 .arg(hiddenSize).arg(numLayers).arg(numHeads).arg(headDim).arg(vocabSize).arg(intermediateSize));
    if (numKvHeads <= 0 || numHeads % numKvHeads != 0)
        fail(QStringLiteral("num_key_value_heads %1 must divide num_attention_heads %2").arg(numKvHeads).arg(numHeads));
    if (arch != Arch::Llama && hiddenSize % numHeads != 0)
        fail(QStringLiteral("hidden size %1 is not divisible by the number of heads %2").arg(hiddenSize).arg(numHeads));
    if (arch == Arch::Llama && headDim % 2 != 0) fail(QStringLiteral("head_dim %1 must be even for RoPE").arg(headDim));
}

QJsonObject ModelConfig::toJson() const {
    QJsonObject o;
    o.insert(QStringLiteral("arch"), QString::fromLatin1(archName(arch)));
    o.insert(QStringLiteral("model_type"), QString::fromStdString(modelType));
    o.insert(QStringLiteral("hidden_size"), hiddenSize);
    o.insert(QStringLiteral("intermediate_size"), intermediateSize);
    o.insert(QStringLiteral("num_layers"), numLayers);
    o.insert(QStringLiteral("num_heads"), numHeads);
    o.insert(QStringLiteral("num_kv_heads"), numKvHeads);
    o.insert(QStringLiteral("head_dim"), headDim);
    o.insert(QStringLiteral("vocab_size"), vocabSize);
    o.insert(QStringLiteral("max_positions"), maxPositions);
    o.insert(QStringLiteral("tied_embeddings"), tiedEmbeddings);
    return o;
}

QJsonObject ModelConfig::toHfJson(const QString& torchDtype) const {
    Q_ASSERT(arch == Arch::Llama);
    return QJsonObject{{QStringLiteral("architectures"), QJsonArray{QStringLiteral("LlamaForCausalLM")}},
                       {QStringLiteral("model_type"), QStringLiteral("llama")},
                       {QStringLiteral("hidden_size"), hiddenSize},
                       {QStringLiteral("intermediate_size"), intermediateSize},
                       {QStringLiteral("num_hidden_layers"), numLayers},
                       {QStringLiteral("num_attention_heads"), numHeads},
                       {QStringLiteral("num_key_value_heads"), numKvHeads},
                       {QStringLiteral("head_dim"), headDim},
                       {QStringLiteral("vocab_size"), vocabSize},
                       {QStringLiteral("max_position_embeddings"), maxPositions},
                       {QStringLiteral("rms_norm_eps"), normEps},
                       {QStringLiteral("rope_theta"), ropeTheta},
                       {QStringLiteral("tie_word_embeddings"), tiedEmbeddings},
                       {QStringLiteral("hidden_act"), QStringLiteral("silu")},
                       {QStringLiteral("bos_token_id"), bosTokenId},
                       {QStringLiteral("eos_token_id"), eosTokenId},
                       {QStringLiteral("torch_dtype"), torchDtype}};
}

}  // namespace qs
