#pragma once
#include <functional>
#include <map>

#include <QByteArray>
#include <QDir>
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

// ---- shared by the checkpoint writers (saveHfModel, exportGptqPacked)

/// The config.json to write for `model`: its own one when it is a Hugging Face
/// safetensors checkpoint, else one generated from its config (LLaMA layout).
QJsonObject checkpointConfigJson(const Model& model);
/// An indented JSON file, written atomically (QSaveFile). Throws qs::Error.
void writeJsonFile(const QString& path, const QJsonObject& o);

/// Whether a checkpoint directory can be written at `dir`: it does not exist or is empty.
bool checkpointDirFree(const QString& dir);

struct CheckpointDirOptions {
    QString outputName = QStringLiteral("output directory");  // in "choose a new <outputName>"
    QString noun = QStringLiteral("model");                  // in "cannot move the finished <noun> into place"
    bool skipMissingTokenizerFiles = false;                   // else a missing one is an error
};
/// Writes a checkpoint directory so that a failure never leaves a half-written
/// one: `dir` must not exist or be empty; `fill` writes the model files into a
/// temporary sibling directory, then copies of `tokenizerFiles` (a llama2.c .bin
/// as tokenizer.bin), the `extra` JSON files and `rawFiles` are added and the
/// directory is renamed into place. Throws qs::Error (the temporary directory removed).
void writeCheckpointDir(const QString& dir, const std::function<void(const QDir& tmp)>& fill, const QStringList& tokenizerFiles,
                        const std::map<QString, QJsonObject>& extra, const std::map<QString, QByteArray>& rawFiles,
                        const CheckpointDirOptions& opt = {});

}  // namespace qs
