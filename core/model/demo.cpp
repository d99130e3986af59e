#include "model/demo.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include "eval/forward.h"
#include "model/hf_loader.h"
#include "util/error.h"
#include "util/rng.h"

namespace qs {

namespace {

constexpr int kVocab = 512;
constexpr int kFirstWord = 3 + 256 + 1 + 26;  // <unk>,<s>,</s>, 256 bytes, " ", a..z

/// Vocabulary: 0 <unk>, 1 BOS, 2 EOS, 3..258 <0xNN>, 259 " ", 260..285 a..z, then
/// word pieces " c", " cv", " cvc"...: every multi-character piece starts with a
/// space and its prefixes are pieces too, so BPE encoding of decoded word pieces
/// reproduces exactly the same ids (the sampled text round-trips).
std::vector<std::string> demoPieces(uint64_t seed) {
    std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        pieces.emplace_back(buf);
    }
    pieces.emplace_back(" ");
    for (char ch = 'a'; ch <= 'z'; ++ch) pieces.emplace_back(1, ch);
    const char* cons = "bdfgklmnprstvz";
    const char* vow = "aeiou";
    SplitMix64 rng(seed ^ 0x70696563ull);
    std::set<std::string> have(pieces.begin(), pieces.end());
    while (int(pieces.size()) < kVocab) {
        const int syll = 1 + int(rng.next() % 3);
        std::string w = " ";
        for (int s = 0; s < syll; ++s) {
            w += cons[rng.next() % 14];
            w += vow[rng.next() % 5];
        }
        for (size_t len = 2; len <= w.size() && int(pieces.size()) < kVocab; ++len) {
            const std::string p = w.substr(0, len);
            if (have.insert(p).second) pieces.push_back(p);
        }
    }
    return pieces;
}

QByteArray llama2cTokenizerBytes(const std::vector<std::string>& pieces) {
    QByteArray out;
    auto put32 = [&](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    auto putF = [&](float v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    int32_t maxLen = 0;
    for (const auto& p : pieces) maxLen = std::max<int32_t>(maxLen, int32_t(p.size()));
    put32(maxLen);
    for (size_t i = 0; i < pieces.size(); ++i) {
        // longer pieces score higher; only one merge is ever possible per word
        putF(i < size_t(kFirstWord) ? 0.0f : float(pieces[i].size()));
        put32(int32_t(pieces[i].size()));
        out.append(pieces[i].data(), qsizetype(pieces[i].size()));
    }
    return out;
}

}  // namespace

Demo makeDemo(const DemoOptions& opt) {
    Demo demo;
    const std::vector<std::string> pieces = demoPieces(opt.seed);
    demo.tokenizerBytes = llama2cTokenizerBytes(pieces);
    demo.tokenizer = parseLlama2cTokenizer(demo.tokenizerBytes, kVocab, QStringLiteral("(demo tokenizer)"));

    ModelConfig c;
    c.arch = Arch::Llama;
    c.modelType = "llama";
    c.hiddenSize = 256;
    c.intermediateSize = 688;
    c.numLayers = 6;
    c.numHeads = 8;
    c.numKvHeads = 4;
    c.headDim = 32;
    c.vocabSize = kVocab;
    c.maxPositions = 512;
    c.normEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.tiedEmbeddings = false;
    c.bosTokenId = 1;
    c.eosTokenId = 2;
    c.validate(QStringLiteral("(demo)"));
    const int64_t H = c.hiddenSize, I = c.intermediateSize, V = kVocab;
    const int64_t qd = int64_t(c.numHeads) * c.headDim, kvd = int64_t(c.numKvHeads) * c.headDim;

    // Planted structure:
    //  * channel 0 of the embeddings is a large constant ("massive activation"),
    //    which lm_head uses to push non-word tokens down;
    //  * a few hidden channels get large input-norm gains: activation outliers in
    //    the inputs of q/k/v and gate/up, the case SmoothQuant/AWQ exist for.
    demo.outlierChannels = {17, 101, 203};
    std::map<std::string, TensorRef> tensors;
    std::vector<std::shared_ptr<std::vector<float>>> storage;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, auto&& gen) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        auto v = std::make_shared<std::vector<float>>(size_t(n));
        SplitMix64 rng(fnv1a64(name) ^ opt.seed);
        const int64_t cols = shape.back();
        for (int64_t i = 0; i < n; ++i) (*v)[size_t(i)] = gen(rng.uniformSym(), i / cols, i % cols);
        WeightSource w = WeightSource::fromOwned(std::move(*v), shape, name);
        tensors[name] = w.ref;
        tensors[name].keepAlive.reset();
        storage.push_back(std::const_pointer_cast<std::vector<float>>(w.owned));
    };
    const float wordBias = 6.0f;
    // Scales chosen so that the model is confident on its own samples (ppl ~3.3
    // with a 512-token vocabulary) while 8-bit rounding is nearly lossless and
    // 4/3/2-bit rounding raises perplexity step by step, as in real LLMs.
    const float tQK = 1.0f, tGain = 6.0f, tLm = 0.55f, tEmb = 1.7f;
    add("model.embed_tokens.weight", {V, H}, [&](float u, int64_t, int64_t col) { return col == 0 ? 8.0f : u * tEmb; });
    for (int l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        auto gain = [&](float u, int64_t, int64_t col) {
            const bool outlier = std::find(demo.outlierChannels.begin(), demo.outlierChannels.end(), int(col)) !=
                                 demo.outlierChannels.end();
            return outlier ? tGain + 2.0f * u : 1.0f + 0.1f * u;
        };
        add(p + "input_layernorm.weight", {H}, gain);
        add(p + "post_attention_layernorm.weight", {H}, gain);
        auto mat = [&](float s) { return [s](float u, int64_t, int64_t) { return u * s; }; };
        const float sIn = std::sqrt(3.0f / float(H)), sI = std::sqrt(3.0f / float(I));
        add(p + "self_attn.q_proj.weight", {qd, H}, mat(tQK * sIn));
        add(p + "self_attn.k_proj.weight", {kvd, H}, mat(tQK * sIn));
        add(p + "self_attn.v_proj.weight", {kvd, H}, mat(sIn));
        add(p + "self_attn.o_proj.weight", {H, qd}, mat(0.6f * std::sqrt(3.0f / float(qd))));
        add(p + "mlp.gate_proj.weight", {I, H}, mat(sIn));
        add(p + "mlp.up_proj.weight", {I, H}, mat(sIn));
        add(p + "mlp.down_proj.weight", {H, I}, mat(0.8f * sI));
    }
    add("model.norm.weight", {H}, [](float u, int64_t, int64_t) { return 1.0f + 0.1f * u; });
    add("lm_head.weight", {V, H}, [&](float u, int64_t row, int64_t col) {
        if (col == 0) return row >= kFirstWord ? 0.0f : -wordBias;  // non-word tokens pushed down
        return u * tLm;
    });
    demo.model = buildHfModel(c, tensors, QStringLiteral("(demo model)"));
    // keep the generated data alive: re-point each WeightSource's owner
    auto own = [&](WeightSource& w) {
        for (auto& s : storage)
            if (reinterpret_cast<const uint8_t*>(s->data()) == w.ref.data) w.owned = s;
    };
    own(demo.model->embedTokens);
    own(demo.model->lmHead);
    own(demo.model->finalNorm.weight);
    for (auto& b : demo.model->blocks) {
        own(b.attnNorm.weight);
        own(b.mlpNorm.weight);
        for (auto& l : b.linears) own(l.weight);
    }
    demo.model->path = QStringLiteral("demo");
    demo.model->format = QStringLiteral("demo");

    // Sample the evaluation text from the model, one sequence per evaluation
    // window, so that the windows of the perplexity protocol see exactly the
    // contexts the tokens were sampled in: window 0 is BOS + T-1 sampled tokens;
    // window k >= 1 starts (without BOS) with a seeded random word and continues
    // with T-1 tokens sampled in that window's own context. Sampling is restricted
    // to word pieces so that decode -> encode reproduces the ids exactly.
    //
    // The sequences are sampled in fixed groups of kGroup, one group per OpenMP
    // thread (Eigen runs serially inside the parallel region): a single parallel
    // region instead of thousands of tiny ones keeps sampling fast even on a
    // loaded machine, and fixed groups + one RNG stream per sequence make the text
    // independent of the thread count.
    Forward fwd(*demo.model);
    const int B = opt.sampleWindows, T = opt.sampleSeqlen;
    constexpr int kGroup = 12;
    const int groups = (B + kGroup - 1) / kGroup;
    std::vector<std::vector<int>> seqs(static_cast<size_t>(B));
    std::vector<double> logProb(static_cast<size_t>(B), 0.0);
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < groups; ++g) {
        const int b0 = g * kGroup, nb = std::min(kGroup, B - b0);
        KvCache kv = fwd.makeCache(nb, T);
        std::vector<SplitMix64> rngs;
        std::vector<int> cur(static_cast<size_t>(nb));
        for (int k = 0; k < nb; ++k) {
            const int b = b0 + k;
            rngs.emplace_back(opt.seed ^ 0x73616d70ull ^ (uint64_t(b + 1) * 0x9E3779B97F4A7C15ull));
            cur[size_t(k)] = b == 0 ? c.bosTokenId : kFirstWord + int(rngs.back().next() % uint64_t(V - kFirstWord));
            if (b > 0) seqs[size_t(b)].push_back(cur[size_t(k)]);
        }
        for (int t = 0; t < T - 1; ++t) {
            const MatrixRM lg = fwd.step(cur.data(), kv);
            for (int k = 0; k < nb; ++k) {
                const auto row = lg.row(k);
                const float mx = row.segment(kFirstWord, V - kFirstWord).maxCoeff();
                double sum = 0;
                for (int j = kFirstWord; j < V; ++j) sum += std::exp(double(row[j] - mx));
                double r = rngs[size_t(k)].uniformDouble() * sum;
                int pick = V - 1;
                for (int j = kFirstWord; j < V; ++j) {
                    r -= std::exp(double(row[j] - mx));
                    if (r <= 0) {
                        pick = j;
                        break;
                    }
                }
                // log-probability of the pick under the model's full distribution
                const float amx = row.maxCoeff();
                double all = 0;
                for (int j = 0; j < V; ++j) all += std::exp(double(row[j] - amx));
                logProb[size_t(b0 + k)] += double(row[pick] - amx) - std::log(all);
                cur[size_t(k)] = pick;
                seqs[size_t(b0 + k)].push_back(pick);
            }
        }
    }
    for (double lp : logProb) demo.samplerLogProb += lp;
    std::string text;
    for (int b = 0; b < B; ++b) {
        for (int id : seqs[size_t(b)]) {
            text += pieces[size_t(id)];
            demo.sampledIds.push_back(id);
        }
    }
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);  // the tokenizer adds the dummy prefix
    demo.evalText = std::move(text);
    return demo;
}

void writeDemo(const Demo& demo, const QString& dirPath) {
    QDir dir;
    if (!dir.mkpath(dirPath)) throw Error(QStringLiteral("%1: cannot create directory").arg(dirPath));
    const Model& m = *demo.model;
    const ModelConfig& c = m.config;
    const QJsonObject cfg = c.toHfJson();
    auto writeFile = [&](const QString& name, const QByteArray& data) {
        QSaveFile f(QDir(dirPath).filePath(name));
        if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
            throw Error(QStringLiteral("%1: cannot write %2").arg(dirPath, name));
    };
    writeFile(QStringLiteral("config.json"), QJsonDocument(cfg).toJson());
    writeFile(QStringLiteral("tokenizer.bin"), demo.tokenizerBytes);
    writeFile(QStringLiteral("eval.txt"), QByteArray::fromStdString(demo.evalText));
    std::vector<TensorToWrite> ts;
    auto add = [&](const WeightSource& w) {
        ts.push_back({w.ref.name, w.ref.shape, DType::F32, reinterpret_cast<const float*>(w.ref.data), {}});
    };
    add(m.embedTokens);
    for (const auto& b : m.blocks) {
        add(b.attnNorm.weight);
        add(b.mlpNorm.weight);
        for (const auto& l : b.linears) add(l.weight);
    }
    add(m.finalNorm.weight);
    add(m.lmHead);
    writeSafetensors(QDir(dirPath).filePath(QStringLiteral("model.safetensors")), ts,
                     {{"format", "pt"}, {"quantscope", "demo model (synthetic)"}});
}

}  // namespace qs
