#include "model/llama2c.h"

#include <cstring>

#include <QFileInfo>

#include "util/error.h"

namespace qs {

namespace {

/// Rows of an interleaved-RoPE projection reordered to rotate-half:
/// new row h*hs + half*(hs/2) + j  <-  old row h*hs + 2j + half.
std::vector<int> ropePermutation(int heads, int hs) {
    std::vector<int> perm(size_t(heads) * hs);
    for (int h = 0; h < heads; ++h)
        for (int half = 0; half < 2; ++half)
            for (int j = 0; j < hs / 2; ++j) perm[size_t(h * hs + half * (hs / 2) + j)] = h * hs + 2 * j + half;
    return perm;
}

}  // namespace

std::shared_ptr<Model> loadLlama2cModel(const QString& path) {
    auto mf = MappedFile::open(path);
    const size_t size = mf->size();
    if (size < 28)
        throw Error(QStringLiteral("%1: truncated llama2.c checkpoint: %2 bytes, expected at least 28 for the header").arg(path).arg(size));
    int32_t hdr[7];
    std::memcpy(hdr, mf->data(), 28);
    uint32_t magic;
    std::memcpy(&magic, mf->data(), 4);
    if (magic == 0x616b3432u)
        throw Error(QStringLiteral("%1: llama2.c export version %2 (magic 'ak42') is not supported; expected the legacy v0 layout (export.py --version 0)")
                        .arg(path).arg(hdr[1]));
    const int dim = hdr[0], hidden = hdr[1], layers = hdr[2], heads = hdr[3], kvHeads = hdr[4], seqLen = hdr[6];
    const bool shared = hdr[5] > 0;
    const int vocab = hdr[5] < 0 ? -hdr[5] : hdr[5];
    auto bad = [&](const char* field, int v, const char* expected) {
        throw Error(QStringLiteral("%1: header field '%2' = %3; expected %4").arg(path, QLatin1String(field)).arg(v).arg(QLatin1String(expected)));
    };
    if (dim <= 0 || dim > 65536) bad("dim", dim, "1..65536");
    if (hidden <= 0 || hidden > 1 << 20) bad("hidden_dim", hidden, "1..1048576");
    if (layers <= 0 || layers > 1024) bad("n_layers", layers, "1..1024");
    if (heads <= 0 || dim % heads) bad("n_heads", heads, "a positive divisor of dim");
    if (kvHeads <= 0 || heads % kvHeads) bad("n_kv_heads", kvHeads, "a positive divisor of n_heads");
    if (vocab <= 0 || vocab > 1 << 22) bad("vocab_size", hdr[5], "non-zero, |vocab| <= 4194304");
    if (seqLen <= 0 || seqLen > 1 << 20) bad("seq_len", seqLen, "1..1048576");
    const int hs = dim / heads;
    if (hs % 2) bad("n_heads", heads, "dim / n_heads to be even (RoPE)");
    const int64_t kvDim = int64_t(kvHeads) * hs;

    ModelConfig c;
    c.arch = Arch::Llama;
    c.modelType = "llama2c";
    c.hiddenSize = dim;
    c.intermediateSize = hidden;
    c.numLayers = layers;
    c.numHeads = heads;
    c.numKvHeads = kvHeads;
    c.headDim = hs;
    c.vocabSize = vocab;
    c.maxPositions = seqLen;
    c.normEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.tiedEmbeddings = shared;
    c.bosTokenId = 1;
    c.eosTokenId = 2;
    c.validate(path);

    // Byte layout (all fp32), then check the file is long enough before pointing into it.
    size_t off = 28;
    const size_t L = size_t(layers);
    struct Region { const char* name; size_t floats; size_t at = 0; };
    Region regions[] = {
        {"token_embedding_table", size_t(vocab) * dim}, {"rms_att_weight", L * dim},
        {"wq", L * dim * dim}, {"wk", L * kvDim * dim}, {"wv", L * kvDim * dim}, {"wo", L * dim * dim},
        {"rms_ffn_weight", L * dim}, {"w1", L * hidden * dim}, {"w2", L * dim * hidden}, {"w3", L * hidden * dim},
        {"rms_final_weight", size_t(dim)}, {"freq_cis_real", size_t(seqLen) * hs / 2},
        {"freq_cis_imag", size_t(seqLen) * hs / 2}, {"wcls", shared ? 0 : size_t(vocab) * dim}};
    for (auto& r : regions) {
        r.at = off;
        off += r.floats * 4;
    }
    if (off > size)
        throw Error(QStringLiteral("%1: truncated llama2.c checkpoint: the header (dim %2, hidden %3, layers %4, vocab %5%6) needs %7 bytes, the file has %8")
                        .arg(path).arg(dim).arg(hidden).arg(layers).arg(vocab)
                        .arg(shared ? QString() : QStringLiteral(", unshared classifier")).arg(off).arg(size));
    auto find = [&](const char* n) -> const Region& {
        for (const auto& r : regions)
            if (std::strcmp(r.name, n) == 0) return r;
        Q_UNREACHABLE();
    };
    // a view of `rows x cols` floats at byte offset `at`, named as the HF tensor
    auto view = [&](const std::string& name, size_t at, std::vector<int64_t> shape) {
        WeightSource w;
        w.ref.name = name;
        w.ref.dtypeName = "F32";
        w.ref.dtype = DType::F32;
        w.ref.shape = std::move(shape);
        w.ref.data = mf->data() + at;
        w.ref.nbytes = size_t(w.ref.numel()) * 4;
        w.ref.file = path;
        w.ref.keepAlive = mf;
        return w;
    };

    auto m = std::make_shared<Model>();
    m->config = c;
    m->path = QFileInfo(path).absoluteFilePath();
    m->format = QStringLiteral("llama2c");
    m->embedTokens = view("model.embed_tokens.weight", find("token_embedding_table").at, {vocab, dim});
    m->finalNorm.weight = view("model.norm.weight", find("rms_final_weight").at, {dim});
    m->lmHead = shared ? m->embedTokens : view("lm_head.weight", find("wcls").at, {vocab, dim});
    const std::vector<int> qPerm = ropePermutation(heads, hs), kPerm = ropePermutation(kvHeads, hs);
    for (int i = 0; i < layers; ++i) {
        Block b;
        b.index = i;
        b.prefix = "model.layers." + std::to_string(i);
        const std::string p = b.prefix + ".";
        b.attnNorm.weight = view(p + "input_layernorm.weight", find("rms_att_weight").at + size_t(i) * dim * 4, {dim});
        b.mlpNorm.weight = view(p + "post_attention_layernorm.weight", find("rms_ffn_weight").at + size_t(i) * dim * 4, {dim});
        auto lin = [&](const char* region, const char* hfName, LinearKind k, int64_t out, int64_t in,
                       const std::vector<int>* perm) {
            Linear l;
            l.name = p + hfName;
            l.kind = k;
            l.outFeatures = out;
            l.inFeatures = in;
            l.weight = view(l.name + ".weight", find(region).at + size_t(i) * size_t(out * in) * 4, {out, in});
            if (perm) l.weight.rowPerm = *perm;
            b.linears.push_back(std::move(l));
        };
        lin("wq", "self_attn.q_proj", LinearKind::Q, dim, dim, &qPerm);
        lin("wk", "self_attn.k_proj", LinearKind::K, kvDim, dim, &kPerm);
        lin("wv", "self_attn.v_proj", LinearKind::V, kvDim, dim, nullptr);
        lin("wo", "self_attn.o_proj", LinearKind::O, dim, dim, nullptr);
        lin("w1", "mlp.gate_proj", LinearKind::Gate, hidden, dim, nullptr);
        lin("w3", "mlp.up_proj", LinearKind::Up, hidden, dim, nullptr);
        lin("w2", "mlp.down_proj", LinearKind::Down, dim, hidden, nullptr);
        m->blocks.push_back(std::move(b));
    }
    return m;
}

}  // namespace qs
