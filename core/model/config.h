#pragma once
// Architecture-independent model configuration, parsed from HF config.json or a
// llama2.c header. Every later stage reads only this struct and the Model's list
// of blocks, never the original config file.
#include <string>
#include <vector>

#include <QJsonObject>
#include <QString>

namespace qs {

enum class Arch { Llama, Opt, Gpt2 };
enum class NormType { RMSNorm, LayerNorm };
enum class Activation { SiLU, ReLU, GeluNew, GeluExact };

struct ModelConfig {
    Arch arch = Arch::Llama;
    std::string modelType;          // as in config.json: llama, mistral, qwen2, opt, gpt2, llama2c
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;
    int vocabSize = 0;
    int maxPositions = 0;
    double normEps = 1e-5;
    double ropeTheta = 10000.0;
    NormType norm = NormType::RMSNorm;
    Activation act = Activation::SiLU;
    bool gatedMlp = true;           // gate/up/down (LLaMA) vs fc1/fc2
    bool qkvBias = false;           // Qwen2, OPT, GPT-2
    bool oBias = false;             // OPT, GPT-2
    bool mlpBias = false;           // OPT, GPT-2
    bool tiedEmbeddings = false;
    bool learnedPositions = false;  // OPT, GPT-2
    int positionOffset = 0;         // OPT: 2
    int wordEmbedProjDim = 0;       // OPT project_in/out when != hiddenSize
    bool finalNorm = true;          // OPT's do_layer_norm_before=false is not supported
    int bosTokenId = -1;
    int eosTokenId = -1;

    /// Parses HF config.json. `file` names the file in errors. Throws qs::Error for a
    /// missing/ill-typed field or an unsupported architecture.
    static ModelConfig fromHfJson(const QJsonObject& o, const QString& file);
    QJsonObject toJson() const;     // a summary for --json output and the experiment log
    /// HF config.json for this configuration (LLaMA family only: demo and
    /// synthetic checkpoints); `torchDtype` is "float32", "float16" or "bfloat16".
    QJsonObject toHfJson(const QString& torchDtype = QStringLiteral("float32")) const;
    /// Consistency checks (heads divide hidden size, ...), throws qs::Error naming `file`.
    void validate(const QString& file) const;
};

const char* archName(Arch a);

}  // namespace qs
