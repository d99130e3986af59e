#pragma once
// The built-in demo model: a small LLaMA-architecture model generated
// deterministically in code (no download), with a few planted outlier channels,
// its llama2.c-format tokenizer, and an evaluation text sampled from the model
// itself (seeded). It is synthetic: its perplexity says nothing about real text.
#include <memory>
#include <string>

#include <QByteArray>
#include <QString>

#include "model/model.h"
#include "model/tokenizer.h"

namespace qs {

struct DemoOptions {
    uint64_t seed = 20241124;
    int sampleWindows = 24;     // evaluation text length in windows of `sampleSeqlen` tokens
    int sampleSeqlen = 512;
};

struct Demo {
    std::shared_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    QByteArray tokenizerBytes;   // llama2.c tokenizer.bin image
    std::string evalText;        // sampled from the model, decoded to text
    std::vector<int> sampledIds; // the sampled token ids (encodeForModel(evalText) == BOS + these)
    double samplerLogProb = 0;   // sum of log p(token) under the full softmax while sampling
    std::vector<int> outlierChannels;  // hidden channels with planted activation outliers
};

/// Builds the demo (a few seconds: sampling the text runs the model).
Demo makeDemo(const DemoOptions& opt = {});

/// Writes the demo as a HF directory (config.json, model.safetensors F32,
/// tokenizer.bin, eval.txt) so other tools and the loaders can open it.
void writeDemo(const Demo& demo, const QString& dir);

}  // namespace qs
