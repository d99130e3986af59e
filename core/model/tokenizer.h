#pragma once
// Tokenizers, all producing the ids the model's own tokenizer produces:
//  * llama2.c `tokenizer.bin` (SentencePiece-style BPE by merge score, dummy
//    prefix, byte fallback <0xNN> = id NN+3),
//  * HF `tokenizer.json` BPE: byte-level (GPT-2/OPT/Qwen2/SmolLM, GPT-2
//    pre-tokenizer regex via QRegularExpression/PCRE2) and SentencePiece-style
//    (Llama-2/Mistral: "▁" metaspace, byte fallback, dummy prefix),
//  * GPT-2 `vocab.json` + `merges.txt`.
// Bad input is a qs::Error naming the file and field, never a crash.
#include <memory>
#include <string>
#include <vector>

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace qs {

struct ModelConfig;

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    /// Encodes UTF-8 text without special tokens (no BOS/EOS).
    virtual std::vector<int> encode(const std::string& text) const = 0;
    /// The text of one token (bytes, for byte-level vocabularies the decoded bytes).
    virtual std::string decodeToken(int id) const = 0;
    virtual int vocabSize() const = 0;
    /// Short description: "llama2c", "hf-bpe-bytelevel", "hf-bpe-sentencepiece", "gpt2-vocab-merges".
    virtual std::string kind() const = 0;

    /// The text of a sequence of ids, as the model's own tokenizer decodes it with
    /// special tokens skipped: BOS/EOS and special added tokens contribute nothing,
    /// byte tokens (<0xNN>, byte-level characters) become raw bytes (the result may
    /// hold invalid UTF-8 where the ids split a character), and the SentencePiece
    /// dummy-prefix space is dropped where the tokenizer drops it (llama2.c: on the
    /// piece right after BOS, as run.c; HF: per the tokenizer.json decoder).
    /// Throws qs::Error for an id outside [0, vocabSize()).
    std::string decode(const std::vector<int>& ids) const;
    /// encode() plus the special tokens the tokenizer's own configuration adds
    /// (BOS for llama2.c and Llama-style tokenizers; none for GPT-2 byte-level):
    /// [bosId if addBos] + encode(text) + suffixIds.
    std::vector<int> encodeForModel(const std::string& text) const;

    int bosId = -1;
    int eosId = -1;
    bool addBos = false;
    /// Ids appended after the text by encodeForModel (a post-processor template
    /// such as RobertaProcessing's "</s>", or tokenizer_config.json
    /// "add_eos_token": true). Empty for llama2.c, GPT-2, Llama, Mistral, Qwen2.
    std::vector<int> suffixIds;
    /// The files this tokenizer was read from (set by loadTokenizerFor), so a
    /// saved model directory can carry its tokenizer along.
    QStringList sourceFiles;

protected:
    /// decode()'s implementation; the default concatenates decodeToken() of every id.
    virtual std::string decodeSequence(const std::vector<int>& ids) const;
};

/// llama2.c tokenizer.bin: int32 max_token_length, then vocabSize x (float32
/// score, int32 len, bytes). BOS 1, EOS 2, adds BOS. The file must hold exactly
/// vocabSize entries; vocabSize <= 0 takes every entry the file holds.
std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const QString& path, int vocabSize);
std::unique_ptr<Tokenizer> parseLlama2cTokenizer(const QByteArray& bytes, int vocabSize, const QString& label);

/// HF tokenizer.json with model.type "BPE". `tokenizerConfig` is the optional
/// tokenizer_config.json next to it (add_bos_token), may be empty.
std::unique_ptr<Tokenizer> loadHfTokenizer(const QString& path);
std::unique_ptr<Tokenizer> parseHfTokenizer(const QByteArray& json, const QByteArray& tokenizerConfig,
                                            const QString& label);

/// GPT-2 vocab.json + merges.txt (byte-level BPE, no BOS).
std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const QString& vocabJson, const QString& mergesTxt);
/// The same plus a tokenizer_config.json path (may be empty): its bos/eos/unk/pad
/// tokens and added_tokens_decoder become special tokens matched in the text, and
/// "add_bos_token" / "add_eos_token" decide BOS/EOS (OPT: "</s>" as BOS).
std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const QString& vocabJson, const QString& mergesTxt,
                                             const QString& tokenizerConfig);

/// Finds the tokenizer for a model: `explicitPath` when given (a tokenizer.json,
/// a llama2.c .bin, a vocab.json, a .gguf (its embedded tokenizer), or a directory
/// holding one of them), else the tokenizer a .gguf model embeds, else next to
/// the model (tokenizer.json, vocab.json+merges.txt, tokenizer.bin,
/// tok<vocab>.bin). Throws qs::Error listing what was searched.
std::unique_ptr<Tokenizer> loadTokenizerFor(const QString& modelPath, const QString& explicitPath,
                                            const ModelConfig& config);

}  // namespace qs
