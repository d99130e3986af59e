#pragma once
// GGUF (llama.cpp's file format, spec: docs/gguf.md in ggml/llama.cpp) writing
// and reading.
//
// File layout (version 3, little-endian):
//   u32 magic "GGUF" (0x46554747), u32 version 3, u64 tensor_count, u64 kv_count,
//   kv_count x {string key, u32 value_type, value}, tensor_count x {string name,
//   u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset}, zero padding to
//   general.alignment (32), then the tensor data; each tensor's offset (relative to
//   the data start) is a multiple of the alignment, tensors are zero-padded to it.
//   string = u64 length + UTF-8 bytes (no terminator); array = u32 element type,
//   u64 count, elements. ne[0] is the fastest dimension: a weight [out, in] is
//   stored row by row with ne = {in, out}.
//
// What the writer produces (a model llama.cpp loads as architecture "llama"):
//  * metadata: general.architecture = "llama", general.name, general.alignment,
//    general.file_type (llama_ftype of the type covering most linear weights),
//    general.quantization_version = 2, llama.{context_length, embedding_length,
//    block_count, feed_forward_length, rope.dimension_count, attention.head_count,
//    attention.head_count_kv, attention.layer_norm_rms_epsilon, rope.freq_base,
//    vocab_size} (+ attention.key_length/value_length when the head size is not
//    embedding_length / head_count), quantscope.* (version, recipe);
//  * the tokenizer: a llama2.c tokenizer.bin becomes tokenizer.ggml.model "llama"
//    with tokens (spaces as U+2581, ids 0/1/2 as <unk>/<s>/</s>), scores and
//    token_type (as llama.cpp's convert-llama2c-to-ggml: UNKNOWN, CONTROL, BYTE for
//    <0xNN>, NORMAL); a byte-level HF tokenizer.json (or vocab.json + merges.txt)
//    becomes "gpt2" with tokens, merges and token types (CONTROL for special added
//    tokens, USER_DEFINED for other added tokens, UNUSED padding up to the model's
//    vocabulary), tokenizer.ggml.pre from the pre-tokenizer ("gpt-2", "smollm",
//    else "default"), a SentencePiece-style tokenizer.json becomes "llama" with
//    scores -rank of the first merge that makes a token (0 for the others); plus
//    bos/eos/unknown ids and add_bos_token/add_eos_token. An HF tokenizer's
//    tokenizer.json is also stored whole as tokenizer.huggingface.json, which the
//    reader prefers (so QuantScope tokenizes a .gguf exactly as the source model);
//  * tensors with llama.cpp's names: token_embd.weight, output_norm.weight,
//    output.weight (omitted when lm_head is tied to the embeddings and both are the
//    same tensor: llama.cpp then uses token_embd), blk.N.{attn_norm, attn_q, attn_k,
//    attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}.weight and
//    blk.N.attn_{q,k,v,output}.bias when present. q/k rows (and biases) are written
//    in llama.cpp's interleaved-RoPE order (QuantScope's Model holds HF's
//    rotate-half order, see model/model.h): GGUF row h*hd + 2j + s = Model row
//    h*hd + s*hd/2 + j (per head h of hd rows, j < hd/2, s in {0,1}); this is
//    convert_hf_to_gguf.py's permute(), applied with the KV head count for k.
//
// Lossless rule: every tensor dequantizes (ggml's dequantize_row_*) to exactly the
// weights QuantScope evaluated. Layers in gguf_q8_0/q4_0/q4_1 are stored as Q8_0/
// Q4_0/Q4_1 from the grid the run recorded (LayerResult::grid: the fp16 d and m each
// block was rounded with; without a grid the parameters are re-derived by ggml's
// reference quantizer from the weights themselves), mxfp4 as MXFP4 (same E8M0
// exponent and E2M1 codes; a -0 weight is stored as +0), fp16 layers as F16;
// unquantized 2-D tensors as F16 when the checkpoint stored them in F16, BF16 when
// it stored BF16, else F32; 1-D tensors (norms, biases) as F32. Every quantized
// block is checked: a weight that its block's parameters do not reproduce is an
// error naming the tensor, row and column. A layer in a format without an exact
// GGUF type (int*, mxint*, mxfp8/6) is an error naming the layer and the format,
// unless allowRequantize: then it is re-quantized with ggml's reference RTN onto
// Q8_0 (formats of more than 4 bits), Q4_0 (4 bits and fewer, symmetric: int*-sym,
// mxint4) or Q4_1 (4 bits and fewer, asymmetric), or `requantizeTo`, and the added
// relative error ||W_gguf - W_evaluated||_F / ||W_evaluated||_F is reported per
// tensor.
//
// Only LLaMA-family models (llama, mistral, qwen2, SmolLM, llama2.c, the demo)
// export; other architectures are an error.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include "jobs/job.h"
#include "model/mapped_file.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "quant/formats.h"
#include "quant/gguf_quants.h"
#include "quant/pipeline.h"

namespace qs {

// ------------------------------------------------------------------ tokenizer source

/// The bytes of the tokenizer to embed: what the Tokenizer was read from.
struct TokenizerSource {
    enum class Kind { None, Llama2c, HfJson, Gpt2VocabMerges };
    Kind kind = Kind::None;
    QByteArray data;    // tokenizer.bin | tokenizer.json | vocab.json
    QByteArray data2;   // merges.txt (Gpt2VocabMerges)
    QByteArray config;  // tokenizer_config.json when present (HF)
    QString label;      // for messages
};
/// From a Tokenizer's sourceFiles (tokenizer.bin / tok*.bin, tokenizer.json +
/// tokenizer_config.json, vocab.json + merges.txt, or a .gguf: its embedded
/// tokenizer). Throws qs::Error when none can be read.
TokenizerSource tokenizerSourceFromFiles(const QStringList& files);

// ------------------------------------------------------------------ writer

struct GgufExportOptions {
    bool allowRequantize = false;
    /// Target of re-quantization (gguf_q8_0/q4_0/q4_1); unset = by the layer's bits (see above).
    std::optional<QuantFormat> requantizeTo;
    QString name;          // general.name (default: the model's file/directory name)
    QJsonObject recipe;    // stored as quantscope.recipe (JSON text) when not empty
    uint32_t alignment = 32;
    JobContext ctx;        // progress per tensor, cancel
};

struct GgufTensorReport {
    std::string name;       // GGUF tensor name
    std::string source;     // QuantScope's name of the tensor / layer
    std::string type;       // GGUF type written ("Q4_0", "F32", ...)
    std::string format;     // the format QuantScope evaluated ("gguf_q4_0", "fp32", ...)
    std::vector<int64_t> ne;
    uint64_t offset = 0, bytes = 0;
    bool requantized = false;
    double relError = 0;    // added by re-quantization (0 when exact)
    QJsonObject toJson() const;
};

struct GgufExportResult {
    QString path;
    uint64_t fileBytes = 0;
    std::string fileType;   // e.g. "MOSTLY_Q4_0"
    std::vector<GgufTensorReport> tensors;
    std::vector<std::string> warnings;
    QJsonObject toJson() const;
};

/// Writes `model` (with its fake-quantized overrides) as a GGUF file. `layers` are
/// the run's LayerResults (format and grid per quantized layer; empty for an
/// unquantized model). Writes a temporary file and renames it: an error leaves no
/// file at `path`. Throws qs::Error (unsupported architecture, a layer without an
/// exact GGUF type, a weight off its grid, unreadable tokenizer).
GgufExportResult exportGguf(const Model& model, const std::vector<LayerResult>& layers, const Tokenizer& tokenizer,
                            const TokenizerSource& tokSource, const QString& path, const GgufExportOptions& opt = {});

/// The GGUF type a layer evaluated in `f` (rows of `cols`) is stored in exactly,
/// or nullopt when there is none.
std::optional<gguf::GgmlType> exactGgufType(const QuantFormat& f, int64_t cols);

// ------------------------------------------------------------------ reader

struct GgufValue {
    enum class Type : uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
                                 Array = 9, U64 = 10, I64 = 11, F64 = 12 };
    Type type = Type::U32;
    Type elemType = Type::U32;  // arrays
    uint64_t u = 0;             // unsigned integers and bool
    int64_t i = 0;              // signed integers
    double f = 0;               // floats
    std::string s;              // strings
    std::vector<GgufValue> arr; // arrays
    bool isInteger() const;
    bool isFloat() const { return type == Type::F32 || type == Type::F64; }
};
const char* ggufValueTypeName(GgufValue::Type t);

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> ne;    // ne[0] fastest
    gguf::GgmlType type = gguf::GgmlType::F32;
    uint64_t offset = 0;        // relative to the data start
    size_t nbytes = 0;
    const uint8_t* data = nullptr;
    int64_t numel() const;
};

struct GgufFile {
    QString label;
    uint32_t version = 0;
    uint32_t alignment = 32;
    std::vector<std::pair<std::string, GgufValue>> kv;   // in file order
    std::vector<GgufTensorInfo> tensors;                 // in file order
    uint64_t dataStart = 0;
    std::shared_ptr<MappedFile> keepAlive;
    const GgufValue* find(const std::string& key) const;
    const GgufTensorInfo* tensor(const std::string& name) const;
};

/// Parses and validates a GGUF image (versions 2 and 3): magic, counts, every KV
/// and tensor info inside the file, known value and tensor types, dimensions,
/// alignment of every tensor offset, tensors inside the data and not overlapping.
/// Throws qs::Error naming `label`, the field and what was expected.
GgufFile parseGguf(const uint8_t* data, size_t size, const QString& label);
GgufFile openGguf(const QString& path);

/// Opens a llama-architecture GGUF as a Model: F32/F16/BF16 tensors stay mapped,
/// Q8_0/Q4_0/Q4_1/MXFP4 are dequantized (ggml's dequantize_row_*) into memory; q/k
/// rows and biases go back to rotate-half order. Model::format = "gguf".
std::shared_ptr<Model> loadGgufModel(const QString& path);
/// The tokenizer embedded in a GGUF: tokenizer.huggingface.json when present, else
/// tokenizer.ggml.model "llama" (a llama2.c-layout vocabulary: <unk>, <s>, </s>,
/// the 256 byte tokens, then pieces) or "gpt2" (byte-level BPE with the GPT-2
/// pre-tokenizer, or "smollm"'s). Throws qs::Error for other vocabularies.
std::unique_ptr<Tokenizer> loadGgufTokenizer(const QString& path);
/// The embedded tokenizer as a TokenizerSource (to export a loaded .gguf again).
TokenizerSource ggufTokenizerSource(const QString& path);

}  // namespace qs
