#include "synthetic.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "model/config.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/rng.h"

namespace qs::bench {

int64_t SyntheticShape::linearParams() const {
    const int64_t H = hidden, I = intermediate;
    const int64_t qd = int64_t(heads) * headDim(), kvd = int64_t(kvHeads) * headDim();
    const int64_t perBlock = qd * H + 2 * kvd * H + H * qd + 3 * I * H;
    return perBlock * layers;
}

int64_t SyntheticShape::totalParams() const {
    const int64_t H = hidden, V = vocab;
    int64_t n = linearParams() + V * H /*embed*/ + H /*final norm*/ + int64_t(layers) * 2 * H /*block norms*/;
    if (!tied) n += V * H;
    return n;
}

uint64_t SyntheticShape::dataBytes(DType dtype) const { return uint64_t(totalParams()) * dtypeSize(dtype); }

std::optional<SyntheticShape> syntheticShape(const std::string& name) {
    SyntheticShape s;
    s.name = name;
    if (name == "125m") {
        s.hidden = 768;
        s.layers = 12;
        s.heads = 12;
        s.kvHeads = 12;
        s.intermediate = 2048;
        s.vocab = 32000;
        s.maxPositions = 2048;
        s.tied = false;
        s.normEps = 1e-5;
        return s;
    }
    if (name == "7b") {  // LLaMA-2-7B
        s.hidden = 4096;
        s.layers = 32;
        s.heads = 32;
        s.kvHeads = 32;
        s.intermediate = 11008;
        s.vocab = 32000;
        s.maxPositions = 4096;
        s.tied = false;
        s.normEps = 1e-5;
        return s;
    }
    return std::nullopt;
}

std::string syntheticShapeNames() { return "125m, 7b"; }

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment

/// Element `i` of the stream that starts at `state0`: the value SplitMix64(state0)
/// would return on its (i+1)-th next() call.
inline float elementSym(uint64_t state0, uint64_t i) {
    SplitMix64 r(state0 + i * kGamma);
    return r.uniformSym();
}

struct Progress {
    uint64_t totalElems = 0;
    std::atomic<uint64_t> done{0};
    std::atomic<int> lastPct{-1};
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    bool enabled = true;
    DType dtype = DType::F32;

    void add(uint64_t n) {
        const uint64_t d = done.fetch_add(n) + n;
        if (!enabled || totalElems == 0) return;
        const int pct = int(100.0 * double(d) / double(totalElems));
        int prev = lastPct.load();
        if (pct / 2 != prev / 2 || prev < 0) {
            if (!lastPct.compare_exchange_strong(prev, pct)) return;
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double gb = double(d) * double(dtypeSize(dtype)) / 1e9;
            std::fprintf(stderr, "\r[synthetic] %3d%%  %.2f / %.2f GB  %.0f MB/s   ", pct, gb,
                         double(totalElems) * double(dtypeSize(dtype)) / 1e9, sec > 0 ? gb * 1e3 / sec : 0.0);
            std::fflush(stderr);
        }
    }
};

}  // namespace

SyntheticWriteStats writeSyntheticCheckpoint(const QString& dirPath, const SyntheticShape& s, DType dtype,
                                             uint64_t seed, bool progress, int fillThreads) {
    const auto t0 = std::chrono::steady_clock::now();
    QDir dir(dirPath);
    if (!dir.exists() && !QDir().mkpath(dirPath))
        throw Error(QStringLiteral("%1: cannot create the checkpoint directory").arg(dirPath));

    // --- config.json (HF LLaMA) ---
    ModelConfig c;
    c.hiddenSize = s.hidden;
    c.intermediateSize = s.intermediate;
    c.numLayers = s.layers;
    c.numHeads = s.heads;
    c.numKvHeads = s.kvHeads;
    c.headDim = s.hidden / s.heads;
    c.vocabSize = s.vocab;
    c.maxPositions = s.maxPositions;
    c.normEps = s.normEps;
    c.tiedEmbeddings = s.tied;
    c.bosTokenId = 1;
    c.eosTokenId = 2;
    const QJsonObject cfg = c.toHfJson(dtype == DType::F32   ? QStringLiteral("float32")
                                       : dtype == DType::F16 ? QStringLiteral("float16")
                                                             : QStringLiteral("bfloat16"));
    {
        const QString cp = dir.filePath(QStringLiteral("config.json"));
        QFile f(cp);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            throw Error(QStringLiteral("%1: cannot write: %2").arg(cp, f.errorString()));
        f.write(QJsonDocument(cfg).toJson(QJsonDocument::Indented));
    }

    // --- tensors ---
    auto prog = std::make_shared<Progress>();
    prog->enabled = progress;
    prog->dtype = dtype;
    prog->totalElems = uint64_t(s.totalParams());

    std::vector<TensorToWrite> tensors;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, bool isNorm) {
        TensorToWrite t;
        t.name = name;
        t.shape = shape;
        t.dtype = dtype;
        const uint64_t state0 = seed ^ fnv1a64(name);
        const float scale = isNorm ? 0.05f : 1.0f / std::sqrt(float(shape.back()));
        const float offset = isNorm ? 1.0f : 0.0f;
        const int nt = std::max(1, fillThreads);
        t.fill = [state0, scale, offset, prog, nt](float* dst, size_t first, size_t count) {
            const int64_t n = int64_t(count);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && n >= 65536)
            for (int64_t j = 0; j < n; ++j) dst[j] = offset + scale * elementSym(state0, uint64_t(first) + uint64_t(j));
            prog->add(count);
        };
        tensors.push_back(std::move(t));
    };
    const int64_t H = s.hidden, I = s.intermediate, V = s.vocab;
    const int64_t qd = int64_t(s.heads) * s.headDim(), kvd = int64_t(s.kvHeads) * s.headDim();
    add("model.embed_tokens.weight", {V, H}, false);
    for (int i = 0; i < s.layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        add(p + "input_layernorm.weight", {H}, true);
        add(p + "self_attn.q_proj.weight", {qd, H}, false);
        add(p + "self_attn.k_proj.weight", {kvd, H}, false);
        add(p + "self_attn.v_proj.weight", {kvd, H}, false);
        add(p + "self_attn.o_proj.weight", {H, qd}, false);
        add(p + "post_attention_layernorm.weight", {H}, true);
        add(p + "mlp.gate_proj.weight", {I, H}, false);
        add(p + "mlp.up_proj.weight", {I, H}, false);
        add(p + "mlp.down_proj.weight", {H, I}, false);
    }
    add("model.norm.weight", {H}, true);
    if (!s.tied) add("lm_head.weight", {V, H}, false);

    const QString st = dir.filePath(QStringLiteral("model.safetensors"));
    writeSafetensors(st, tensors,
                     {{"format", "pt"}, {"quantscope_synthetic", s.name}, {"seed", std::to_string(seed)}});
    if (progress) std::fprintf(stderr, "\n");

    SyntheticWriteStats stats;
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats.fileBytes = uint64_t(QFileInfo(st).size());
    stats.params = s.totalParams();
    if (progress)
        std::fprintf(stderr, "[synthetic] wrote %s (%.2f GB, %lld params) in %.1f s\n", qPrintable(st),
                     double(stats.fileBytes) / 1e9, (long long)stats.params, stats.seconds);
    return stats;
}

}  // namespace qs::bench
