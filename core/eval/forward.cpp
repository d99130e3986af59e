#include "eval/forward.h"

#include <algorithm>
#include <cmath>

#include <QtGlobal>
#include <omp.h>
#ifdef Q_OS_LINUX
#include <unistd.h>
#endif

#include "compute/backend.h"
#include "quant/formats.h"
#include "util/error.h"

namespace qs {

// ---------------------------------------------------------------------------
// Weights of one block, materialized as float32. A linear with an override
// shares the override's matrix instead of converting its file weight.
struct Forward::BlockWeights {
    std::vector<std::shared_ptr<const MatrixRM>> w;     // per block.linears[i]
    std::vector<VectorF> b;                              // empty vector = no bias
    std::vector<const void*> overrideKeys;               // Block::overrideKeys() when converted
    VectorF attnNormW, attnNormB, mlpNormW, mlpNormB;
};

size_t Forward::defaultCacheBudget() {
    size_t ram = size_t(8) << 30;
#ifdef Q_OS_LINUX
    const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && psz > 0) ram = size_t(pages) * size_t(psz);
#endif
    return std::min(ram / 4, size_t(8) << 30);
}

Forward::Forward(const Model& model, size_t budget) : model_(model) {
    const ModelConfig& c = model.config;
    const size_t lmBytes = size_t(c.vocabSize) * size_t(model.lmHead.logicalCols()) * 4;
    const size_t linBytes = size_t(model.numLinearParams()) * 4;
    cacheAll_ = linBytes + lmBytes <= budget;
    cache_.resize(model.blocks.size());
    threads();  // make sure the thread count is initialised
}

Forward::~Forward() = default;

void Forward::clearCache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : cache_) c.reset();
    lmHeadCache_.reset();
}

std::shared_ptr<const Forward::BlockWeights> Forward::weights(int i) const {
    const Block& blk = model_.blocks[size_t(i)];
    if (cacheAll_) {
        std::lock_guard<std::mutex> lock(mu_);
        auto& c = cache_[size_t(i)];
        bool stale = !c;
        if (c && c->overrideKeys != blk.overrideKeys()) stale = true;
        if (!stale) return c;
    }
    auto bw = std::make_shared<BlockWeights>();
    for (const Linear& l : blk.linears) {
        if (l.override) {
            Q_ASSERT(l.override->rows() == l.outFeatures && l.override->cols() == l.inFeatures);
            bw->w.push_back(l.override);
        } else {
            bw->w.push_back(std::make_shared<const MatrixRM>(l.weight.matrix()));
            if (!cacheAll_) l.weight.releasePages();  // keep only one block resident
        }
        bw->b.push_back(l.biasVector());
    }
    bw->attnNormW = blk.attnNorm.weightVector();
    bw->attnNormB = blk.attnNorm.biasVector();
    bw->mlpNormW = blk.mlpNorm.weightVector();
    bw->mlpNormB = blk.mlpNorm.biasVector();
    bw->overrideKeys = blk.overrideKeys();
    if (cacheAll_) {
        std::lock_guard<std::mutex> lock(mu_);
        cache_[size_t(i)] = bw;
    }
    return bw;
}

// ---------------------------------------------------------------------------
namespace {

/// y = x Wᵀ (+ b). x [N, in], W [out, in], y [N, out].
void linear(const MatrixRM& x, const MatrixRM& W, const VectorF& b, MatrixRM& y);

/// The same for a model linear: its input is fake-quantized first when the
/// linear carries an activation format (dynamic, per call).
void linearOf(const Linear& l, const MatrixRM& x, const MatrixRM& W, const VectorF& b, MatrixRM& y) {
    if (!l.actQuant) return linear(x, W, b, y);
    MatrixRM xq = x;
    fakeQuantizeActivations(xq, *l.actQuant);
    linear(xq, W, b, y);
}

void linear(const MatrixRM& x, const MatrixRM& W, const VectorF& b, MatrixRM& y) {
    // y = x Wᵀ through the compute backend (the CPU path: Eigen's GEMM, as always)
    computeBackend()->matmulTransposed(x, W, y);
    if (b.size()) y.rowwise() += b.transpose();
}

void normRows(const ModelConfig& c, const MatrixRM& x, const VectorF& w, const VectorF& b, MatrixRM& y) {
    y.resize(x.rows(), x.cols());
    const Eigen::Index n = x.rows(), d = x.cols();
    const float eps = float(c.normEps);
#pragma omp parallel for schedule(static) if (n * d > 65536)
    for (Eigen::Index r = 0; r < n; ++r) {
        auto xr = x.row(r);
        auto yr = y.row(r);
        if (c.norm == NormType::RMSNorm) {
            const float ms = xr.squaredNorm() / float(d);
            const float inv = 1.0f / std::sqrt(ms + eps);
            yr = (xr * inv).cwiseProduct(w.transpose());
        } else {
            const float mean = xr.sum() / float(d);
            const float var = (xr.array() - mean).square().sum() / float(d);
            const float inv = 1.0f / std::sqrt(var + eps);
            yr = ((xr.array() - mean) * inv).matrix().cwiseProduct(w.transpose());
            if (b.size()) yr += b.transpose();
        }
    }
}

inline float activate(Activation a, float x) {
    switch (a) {
    case Activation::SiLU: return x / (1.0f + std::exp(-x));
    case Activation::ReLU: return x > 0 ? x : 0.0f;
    case Activation::GeluNew: {
        const float k = 0.7978845608028654f;  // sqrt(2/pi)
        return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
    case Activation::GeluExact: return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));
    }
    return x;
}

/// Rotate-half RoPE on the heads of x [N, heads*hd] in place; row r is position r % seqlen.
void applyRope(MatrixRM& x, int heads, int hd, int seqlen, const std::vector<float>& cosT,
               const std::vector<float>& sinT) {
    const int half = hd / 2;
    const Eigen::Index n = x.rows();
#pragma omp parallel for schedule(static) if (n * heads * hd > 65536)
    for (Eigen::Index r = 0; r < n; ++r) {
        const int t = int(r % seqlen);
        const float* cs = &cosT[size_t(t) * half];
        const float* sn = &sinT[size_t(t) * half];
        float* row = x.row(r).data();
        for (int h = 0; h < heads; ++h) {
            float* p = row + size_t(h) * hd;
            for (int i = 0; i < half; ++i) {
                const float a = p[i], b = p[i + half];
                p[i] = a * cs[i] - b * sn[i];
                p[i + half] = b * cs[i] + a * sn[i];
            }
        }
    }
}

}  // namespace

void Forward::embedRow(int token, float* out) const {
    if (model_.embedOverride) {
        const MatrixRM& E = *model_.embedOverride;
        std::copy_n(E.row(token).data(), E.cols(), out);
        return;
    }
    const WeightSource& E = model_.embedTokens;
    const int64_t ed = E.logicalCols();
    E.ref.toFloat(out, size_t(token) * size_t(ed), size_t(ed));
}

void causalSoftmaxRows(MatrixRM& s, int t0, float scale) {
    const int64_t nk = s.cols();
    for (int64_t r = 0; r < s.rows(); ++r) {
        // keys 0..last are visible; vectorised (Eigen) exp
        const int64_t last = t0 + r;
        auto vis = s.row(r).head(last + 1).array();
        vis *= scale;
        vis = (vis - vis.maxCoeff()).exp();
        vis *= 1.0f / vis.sum();
        if (last + 1 < nk) s.row(r).tail(nk - last - 1).setZero();
    }
}

void ropeTables(const ModelConfig& c, int seqlen, std::vector<float>& cosT, std::vector<float>& sinT) {
    const int hd = c.headDim, half = hd / 2;
    cosT.assign(size_t(seqlen) * half, 0.0f);
    sinT.assign(size_t(seqlen) * half, 0.0f);
    for (int t = 0; t < seqlen; ++t)
        for (int j = 0; j < half; ++j) {
            const double invFreq = 1.0 / std::pow(c.ropeTheta, double(2 * j) / double(hd));
            const double ang = double(t) * invFreq;
            cosT[size_t(t) * half + j] = float(std::cos(ang));
            sinT[size_t(t) * half + j] = float(std::sin(ang));
        }
}

void Forward::queriesKeys(const Block& blk, const BlockWeights& bw, const MatrixRM& x, int seqlen, MatrixRM& q, MatrixRM& k) const {
    const ModelConfig& c = model_.config;
    for (size_t j = 0; j < blk.linears.size(); ++j) {
        if (blk.linears[j].kind == LinearKind::Q) linearOf(blk.linears[j], x, *bw.w[j], bw.b[j], q);
        if (blk.linears[j].kind == LinearKind::K) linearOf(blk.linears[j], x, *bw.w[j], bw.b[j], k);
    }
    if (c.arch == Arch::Llama) {
        std::vector<float> cosT, sinT;
        ropeTables(c, seqlen, cosT, sinT);
        applyRope(q, c.numHeads, c.headDim, seqlen, cosT, sinT);
        applyRope(k, c.numKvHeads, c.headDim, seqlen, cosT, sinT);
    }
}

void Forward::queriesKeys(int i, const MatrixRM& x, int seqlen, MatrixRM& q, MatrixRM& k) const {
    const auto bw = weights(i);
    queriesKeys(model_.blocks[size_t(i)], *bw, x, seqlen, q, k);
}

MatrixRM Forward::embed(const int* tokens, int batch, int seqlen) const {
    const ModelConfig& c = model_.config;
    const WeightSource& E = model_.embedTokens;
    const int64_t ed = E.logicalCols();
    const int64_t n = int64_t(batch) * seqlen;
    for (int64_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= c.vocabSize)
            throw Error(QStringLiteral("token id %1 at position %2 is outside the model's vocabulary (0..%3)")
                            .arg(tokens[i]).arg(i).arg(c.vocabSize - 1));
    if (c.learnedPositions && seqlen > c.maxPositions)
        throw Error(QStringLiteral("sequence length %1 exceeds the model's %2 learned positions").arg(seqlen).arg(c.maxPositions));
    MatrixRM x(n, ed);
#pragma omp parallel for schedule(static) if (n * ed > 65536)
    for (int64_t i = 0; i < n; ++i) embedRow(tokens[i], x.row(i).data());
    if (model_.projectIn) {
        const MatrixRM Wp = model_.projectIn->matrix();
        MatrixRM y;
        linear(x, Wp, VectorF(), y);
        x.swap(y);
    }
    if (model_.embedPositions) {
        const MatrixRM P = model_.embedPositions->rowsBlock(c.positionOffset, seqlen);
        for (int b = 0; b < batch; ++b) x.middleRows(int64_t(b) * seqlen, seqlen) += P;
    }
    return x;
}

void Forward::block(int i, MatrixRM& h, int batch, int seqlen, const LinearInputHook& hook) const {
    const auto bw = weights(i);  // once: without the float cache this converts the block's weights
    const Block& blk = model_.blocks[size_t(i)];
    attention(blk, *bw, h, batch, seqlen, hook);
    MatrixRM y;
    mlp(blk, *bw, h, y, hook);
    h += y;
}

void Forward::blockMlp(int i, MatrixRM& h, const LinearInputHook& hook) const {
    const auto bw = weights(i);
    MatrixRM y;
    mlp(model_.blocks[size_t(i)], *bw, h, y, hook);
    h += y;
}

void Forward::blockAttention(int i, MatrixRM& h, int batch, int seqlen, const LinearInputHook& hook) const {
    attention(model_.blocks[size_t(i)], *weights(i), h, batch, seqlen, hook);
}

void Forward::attention(const Block& blk, const BlockWeights& bwr, MatrixRM& h, int batch, int seqlen,
                        const LinearInputHook& hook) const {
    const ModelConfig& c = model_.config;
    const BlockWeights* bw = &bwr;
    const int nH = c.numHeads, nKV = c.numKvHeads, hd = c.headDim;
    const int group = nH / nKV;
    auto idx = [&](LinearKind k) {
        for (size_t j = 0; j < blk.linears.size(); ++j)
            if (blk.linears[j].kind == k) return j;
        Q_UNREACHABLE();
    };
    const size_t iq = idx(LinearKind::Q), ik = idx(LinearKind::K), iv = idx(LinearKind::V), io = idx(LinearKind::O);

    // --- attention ---
    MatrixRM x;
    normRows(c, h, bw->attnNormW, bw->attnNormB, x);
    if (hook) {
        hook(blk.linears[iq], x);
        hook(blk.linears[ik], x);
        hook(blk.linears[iv], x);
    }
    MatrixRM q, k, v;
    queriesKeys(blk, *bw, x, seqlen, q, k);
    linearOf(blk.linears[iv], x, *bw->w[iv], bw->b[iv], v);
    MatrixRM att(x.rows(), int64_t(nH) * hd);
    const float scale = 1.0f / std::sqrt(float(hd));
    const int tile = 256;
    using Stride = Eigen::OuterStride<>;
    using ConstMap = Eigen::Map<const MatrixRM, 0, Stride>;
    using Map = Eigen::Map<MatrixRM, 0, Stride>;
#pragma omp parallel
    {
        MatrixRM s;
#pragma omp for schedule(dynamic, 1) collapse(2)
        for (int b = 0; b < batch; ++b) {
            for (int hh = 0; hh < nH; ++hh) {
                const int g = hh / group;
                const int64_t r0 = int64_t(b) * seqlen;
                ConstMap Q(q.data() + r0 * q.cols() + int64_t(hh) * hd, seqlen, hd, Stride(q.cols()));
                ConstMap K(k.data() + r0 * k.cols() + int64_t(g) * hd, seqlen, hd, Stride(k.cols()));
                ConstMap Vv(v.data() + r0 * v.cols() + int64_t(g) * hd, seqlen, hd, Stride(v.cols()));
                Map O(att.data() + r0 * att.cols() + int64_t(hh) * hd, seqlen, hd, Stride(att.cols()));
                // causal attention in query tiles: rows [t0, t1) see keys [0, t1)
                for (int t0 = 0; t0 < seqlen; t0 += tile) {
                    const int t1 = std::min(seqlen, t0 + tile);
                    const int nq = t1 - t0, nk = t1;
                    s.resize(nq, nk);
                    s.noalias() = Q.middleRows(t0, nq) * K.topRows(nk).transpose();
                    causalSoftmaxRows(s, t0, scale);
                    O.middleRows(t0, nq).noalias() = s * Vv.topRows(nk);
                }
            }
        }
    }
    if (hook) hook(blk.linears[io], att);
    MatrixRM y;
    linearOf(blk.linears[io], att, *bw->w[io], bw->b[io], y);
    h += y;
}

void Forward::mlp(const Block& blk, const BlockWeights& bw, const MatrixRM& h, MatrixRM& y,
                  const LinearInputHook& hook) const {
    const ModelConfig& c = model_.config;
    auto idx = [&](LinearKind k) {
        for (size_t j = 0; j < blk.linears.size(); ++j)
            if (blk.linears[j].kind == k) return j;
        Q_UNREACHABLE();
    };
    MatrixRM x;
    normRows(c, h, bw.mlpNormW, bw.mlpNormB, x);
    if (c.gatedMlp) {
        const size_t ig = idx(LinearKind::Gate), iu = idx(LinearKind::Up), id = idx(LinearKind::Down);
        if (hook) {
            hook(blk.linears[ig], x);
            hook(blk.linears[iu], x);
        }
        MatrixRM g, u;
        linearOf(blk.linears[ig], x, *bw.w[ig], bw.b[ig], g);
        linearOf(blk.linears[iu], x, *bw.w[iu], bw.b[iu], u);
        const Activation a = c.act;
        const int64_t total = g.size();
        float* gp = g.data();
        const float* up = u.data();
        if (a == Activation::SiLU) {
            // vectorised SiLU(g) * u, in row chunks so threads share the work
            const int64_t chunk = 1 << 14;
#pragma omp parallel for schedule(static) if (total > 65536)
            for (int64_t e0 = 0; e0 < total; e0 += chunk) {
                const int64_t n = std::min(chunk, total - e0);
                Eigen::Map<Eigen::ArrayXf> gv(gp + e0, n);
                Eigen::Map<const Eigen::ArrayXf> uv(up + e0, n);
                gv = gv / (1.0f + (-gv).exp()) * uv;
            }
        } else {
#pragma omp parallel for schedule(static) if (total > 65536)
            for (int64_t e = 0; e < total; ++e) gp[e] = activate(a, gp[e]) * up[e];
        }
        if (hook) hook(blk.linears[id], g);
        linearOf(blk.linears[id], g, *bw.w[id], bw.b[id], y);
    } else {
        const size_t i1 = idx(LinearKind::Fc1), i2 = idx(LinearKind::Fc2);
        if (hook) hook(blk.linears[i1], x);
        MatrixRM f;
        linearOf(blk.linears[i1], x, *bw.w[i1], bw.b[i1], f);
        const Activation a = c.act;
        const int64_t total = f.size();
        float* fp = f.data();
#pragma omp parallel for schedule(static) if (total > 65536)
        for (int64_t e = 0; e < total; ++e) fp[e] = activate(a, fp[e]);
        if (hook) hook(blk.linears[i2], f);
        linearOf(blk.linears[i2], f, *bw.w[i2], bw.b[i2], y);
    }
}

KvCache Forward::makeCache(int batch, int capacity) const {
    const ModelConfig& c = model_.config;
    if (c.learnedPositions && capacity > c.maxPositions)
        throw Error(QStringLiteral("generation length %1 exceeds the model's %2 learned positions").arg(capacity).arg(c.maxPositions));
    KvCache kv;
    kv.batch = batch;
    kv.capacity = capacity;
    const int64_t kvd = int64_t(c.numKvHeads) * c.headDim;
    kv.k.assign(model_.blocks.size(), MatrixRM::Zero(int64_t(batch) * capacity, kvd));
    kv.v.assign(model_.blocks.size(), MatrixRM::Zero(int64_t(batch) * capacity, kvd));
    return kv;
}

MatrixRM Forward::step(const int* tokens, KvCache& kv) const {
    const ModelConfig& c = model_.config;
    const int B = kv.batch, pos = kv.length;
    if (pos >= kv.capacity) throw Error(QStringLiteral("KV cache is full (%1 positions)").arg(kv.capacity));
    const int nH = c.numHeads, nKV = c.numKvHeads, hd = c.headDim, group = nH / nKV;
    // embeddings at position `pos`
    const WeightSource& E = model_.embedTokens;
    const int64_t ed = E.logicalCols();
    MatrixRM h(B, ed);
    for (int b = 0; b < B; ++b) {
        if (tokens[b] < 0 || tokens[b] >= c.vocabSize)
            throw Error(QStringLiteral("token id %1 is outside the vocabulary").arg(tokens[b]));
        embedRow(tokens[b], h.row(b).data());
    }
    if (model_.projectIn) {
        MatrixRM y;
        linear(h, model_.projectIn->matrix(), VectorF(), y);
        h.swap(y);
    }
    if (model_.embedPositions) h.rowwise() += model_.embedPositions->rowsBlock(c.positionOffset + pos, 1).row(0);
    std::vector<float> cosT, sinT;
    if (c.arch == Arch::Llama) {
        const int half = hd / 2;
        cosT.resize(size_t(half));
        sinT.resize(size_t(half));
        for (int j = 0; j < half; ++j) {
            const double ang = double(pos) / std::pow(c.ropeTheta, double(2 * j) / double(hd));
            cosT[size_t(j)] = float(std::cos(ang));
            sinT[size_t(j)] = float(std::sin(ang));
        }
    }
    const float scale = 1.0f / std::sqrt(float(hd));
    for (int i = 0; i < int(model_.blocks.size()); ++i) {
        const Block& blk = model_.blocks[size_t(i)];
        const auto bw = weights(i);
        auto idx = [&](LinearKind k) {
            for (size_t j = 0; j < blk.linears.size(); ++j)
                if (blk.linears[j].kind == k) return j;
            Q_UNREACHABLE();
        };
        const size_t iq = idx(LinearKind::Q), ik = idx(LinearKind::K), iv = idx(LinearKind::V), io = idx(LinearKind::O);
        MatrixRM x, q, k, v;
        normRows(c, h, bw->attnNormW, bw->attnNormB, x);
        linearOf(blk.linears[iq], x, *bw->w[iq], bw->b[iq], q);
        linearOf(blk.linears[ik], x, *bw->w[ik], bw->b[ik], k);
        linearOf(blk.linears[iv], x, *bw->w[iv], bw->b[iv], v);
        if (c.arch == Arch::Llama) {
            // every row is at position `pos`: a one-row table with seqlen 1
            applyRope(q, nH, hd, 1, cosT, sinT);
            applyRope(k, nKV, hd, 1, cosT, sinT);
        }
        MatrixRM& K = kv.k[size_t(i)];
        MatrixRM& V = kv.v[size_t(i)];
        for (int b = 0; b < B; ++b) {
            K.row(int64_t(b) * kv.capacity + pos) = k.row(b);
            V.row(int64_t(b) * kv.capacity + pos) = v.row(b);
        }
        MatrixRM att(B, int64_t(nH) * hd);
#pragma omp parallel for collapse(2) schedule(static) if (int64_t(B) * nH * (pos + 1) * hd > (1 << 16))
        for (int b = 0; b < B; ++b)
            for (int hh = 0; hh < nH; ++hh) {
                const int g = hh / group;
                const int64_t base = int64_t(b) * kv.capacity;
                Eigen::VectorXf s(pos + 1);
                for (int t = 0; t <= pos; ++t)
                    s[t] = scale * K.row(base + t).segment(int64_t(g) * hd, hd).dot(q.row(b).segment(int64_t(hh) * hd, hd));
                const float mx = s.maxCoeff();
                s = (s.array() - mx).exp();
                s /= s.sum();
                Eigen::VectorXf o = Eigen::VectorXf::Zero(hd);
                for (int t = 0; t <= pos; ++t) o += s[t] * V.row(base + t).segment(int64_t(g) * hd, hd).transpose();
                att.row(b).segment(int64_t(hh) * hd, hd) = o.transpose();
            }
        MatrixRM y;
        linearOf(blk.linears[io], att, *bw->w[io], bw->b[io], y);
        h += y;
        mlp(blk, *bw, h, y, {});
        h += y;
    }
    kv.length = pos + 1;
    return logits(finalHidden(h));
}

MatrixRM Forward::finalHidden(const MatrixRM& h) const {
    MatrixRM y;
    const VectorF w = model_.finalNorm.weight.vector();
    const VectorF b = model_.finalNorm.bias ? model_.finalNorm.bias->vector() : VectorF();
    normRows(model_.config, h, w, b, y);
    if (model_.projectOut) {
        MatrixRM z;
        linear(y, model_.projectOut->matrix(), VectorF(), z);
        return z;
    }
    return y;
}

MatrixRM Forward::logits(const MatrixRM& finalH) const {
    const MatrixRM* in = &finalH;
    MatrixRM xq;
    if (model_.lmHeadActQuant) {
        xq = finalH;
        fakeQuantizeActivations(xq, *model_.lmHeadActQuant);
        in = &xq;
    }
    const MatrixRM& fh = *in;
    const WeightSource& W = model_.lmHead;
    const int64_t V = W.logicalRows();
    MatrixRM out(fh.rows(), V);
    const std::shared_ptr<ComputeBackend> backend = computeBackend();
    if (model_.lmHeadOverride) {
        backend->matmulTransposed(fh, *model_.lmHeadOverride, out);
        return out;
    }
    if (cacheAll_) {
        std::shared_ptr<const MatrixRM> lm;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!lmHeadCache_) lmHeadCache_ = std::make_shared<const MatrixRM>(W.matrix());
            lm = lmHeadCache_;
        }
        backend->matmulTransposed(fh, *lm, out);
        return out;
    }
    const int64_t chunk = 8192;
    if (V <= chunk) {
        backend->matmulTransposed(fh, W.rowsBlock(0, V), out);
    } else {
        MatrixRM part;
        for (int64_t r0 = 0; r0 < V; r0 += chunk) {
            const int64_t n = std::min(chunk, V - r0);
            backend->matmulTransposed(fh, W.rowsBlock(r0, n), part);
            out.middleCols(r0, n) = part;
        }
    }
    W.releasePages();
    return out;
}

MatrixRM Forward::run(const std::vector<int>& tokens, int batch, int seqlen) const {
    Q_ASSERT(tokens.size() == size_t(batch) * size_t(seqlen));
    MatrixRM h = embed(tokens.data(), batch, seqlen);
    for (int i = 0; i < int(model_.blocks.size()); ++i) block(i, h, batch, seqlen);
    return logits(finalHidden(h));
}

}  // namespace qs
