#pragma once
// The forward pass on Eigen (fp32 accumulate): embeddings, decoder blocks with
// causal attention, final norm and lm_head, for a batch of equal-length windows.
//
// Layout: hidden states are row-major [batch * seqlen, hidden]; row b*seqlen + t
// is position t of window b. Linears compute x Wᵀ + b with W [out, in].
// Threads: Eigen's GEMMs and the per-(window, head) attention loop use OpenMP
// with qs::setThreads(n) threads.
//
// Weights are converted from their file dtype per block while the block runs,
// unless the model fits the float cache budget (then they are cached once).
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "compute/threads.h"
#include "model/model.h"

namespace qs {

/// Called with the input of every linear while a block runs (for calibration).
/// `x` is [batch * seqlen, in].
using LinearInputHook = std::function<void(const Linear& layer, const MatrixRM& x)>;

/// Causal softmax of attention scores in place: s holds query rows t0 .. t0+rows-1
/// against keys 0 .. cols-1; each row is scaled, soft-maxed over its visible keys
/// (0..t) and zero beyond.
void causalSoftmaxRows(MatrixRM& s, int t0, float scale);
/// RoPE cos/sin tables [seqlen, headDim/2] (rotate-half layout).
void ropeTables(const ModelConfig& c, int seqlen, std::vector<float>& cosT, std::vector<float>& sinT);

/// Keys/values of past positions for incremental decoding (sampling).
struct KvCache {
    int batch = 0, capacity = 0, length = 0;
    std::vector<MatrixRM> k, v;  // per block: [batch * capacity, kvHeads * headDim]
};

class Forward {
public:
    explicit Forward(const Model& model, size_t floatCacheBudgetBytes = defaultCacheBudget());
    ~Forward();

    const Model& model() const { return model_; }

    /// [batch*seqlen, hidden] embeddings of `tokens` (length batch*seqlen).
    MatrixRM embed(const int* tokens, int batch, int seqlen) const;
    /// Runs decoder block `i` in place on `h`: blockAttention then blockMlp.
    void block(int i, MatrixRM& h, int batch, int seqlen, const LinearInputHook& hook = {}) const;
    /// The attention half of block `i`: h += o_proj(attention(norm(h))).
    void blockAttention(int i, MatrixRM& h, int batch, int seqlen, const LinearInputHook& hook = {}) const;
    /// The MLP half of block `i`: h += mlp(norm(h)) (row-wise: needs no window layout).
    void blockMlp(int i, MatrixRM& h, const LinearInputHook& hook = {}) const;
    /// The queries and keys of block i (post-RoPE for LLaMA-family models, biases
    /// included) for its normed attention input x [batch*seqlen, hidden]:
    /// q [rows, heads*headDim], k [rows, kvHeads*headDim] (calibration statistics, e.g. BoA).
    void queriesKeys(int i, const MatrixRM& x, int seqlen, MatrixRM& q, MatrixRM& k) const;
    /// Final norm (+ OPT project_out) -> [rows, embedDim]; lm_head is applied by logits().
    MatrixRM finalHidden(const MatrixRM& h) const;
    /// Logits of rows [r0, r0+n) of finalHidden output: [n, vocab].
    MatrixRM logits(const MatrixRM& finalH) const;

    /// Convenience: tokens -> logits [batch*seqlen, vocab].
    MatrixRM run(const std::vector<int>& tokens, int batch, int seqlen) const;

    /// Incremental decoding: a cache for `batch` sequences of up to `capacity` tokens.
    KvCache makeCache(int batch, int capacity) const;
    /// Feeds one token per sequence at position cache.length; returns logits [batch, vocab].
    MatrixRM step(const int* tokens, KvCache& cache) const;

    /// Bytes of float weights that may be cached (default: a quarter of RAM, max 8 GiB).
    static size_t defaultCacheBudget();
    /// Drops cached float weights (e.g. after a Linear's override changed).
    void clearCache();

private:
    struct BlockWeights;
    void queriesKeys(const Block& blk, const BlockWeights& bw, const MatrixRM& x, int seqlen, MatrixRM& q, MatrixRM& k) const;
    /// Row `token` of the embedding table (the override when set) into out[embedDim].
    void embedRow(int token, float* out) const;
    std::shared_ptr<const BlockWeights> weights(int i) const;
    void attention(const Block& blk, const BlockWeights& bw, MatrixRM& h, int batch, int seqlen,
                   const LinearInputHook& hook) const;
    void mlp(const Block& blk, const BlockWeights& bw, const MatrixRM& h, MatrixRM& y,
             const LinearInputHook& hook) const;
    const Model& model_;
    bool cacheAll_ = false;
    mutable std::mutex mu_;
    mutable std::vector<std::shared_ptr<const BlockWeights>> cache_;
    mutable std::shared_ptr<const MatrixRM> lmHeadCache_;
};

}  // namespace qs
