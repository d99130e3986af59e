#pragma once
#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include "model/model.h"

namespace qs {

/// Writes `model` as a Hugging Face directory: config.json, model.safetensors
/// (float32; linears with an `override` — e.g. fake-quantized weights — are
/// written with it, in the checkpoint's own layout: GPT-2 Conv1D transposed and
/// c_attn re-fused), copies of `tokenizerFiles`, and `extra` JSON files
/// (file name -> object, e.g. the recipe of a run) and `rawFiles` (file name ->
/// bytes, e.g. an in-memory tokenizer). llama2.c checkpoints are
/// written in HF LLaMA layout. Writes into a temporary directory first and
/// renames it, so a failure never leaves a half-written model at `dir`.
void saveHfModel(const Model& model, const QString& dir, const QStringList& tokenizerFiles = {},
                 const std::map<QString, QJsonObject>& extra = {},
                 const std::map<QString, QByteArray>& rawFiles = {});

}  // namespace qs
