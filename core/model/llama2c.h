#pragma once
#include <memory>

#include <QString>

#include "model/model.h"

namespace qs {

/// llama2.c checkpoint, legacy v0 layout: 7 int32 (dim, hidden_dim, n_layers,
/// n_heads, n_kv_heads, vocab_size (negative = unshared classifier), seq_len),
/// then fp32 weights. Memory-mapped; q/k rows are permuted from llama2.c's
/// interleaved RoPE to the internal rotate-half layout. Names follow HF LLaMA.
std::shared_ptr<Model> loadLlama2cModel(const QString& path);

}  // namespace qs
