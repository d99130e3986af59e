#pragma once
#include <memory>

#include <QString>

#include "model/model.h"

namespace qs {

/// Opens a checkpoint: a HF directory (config.json + model.safetensors or
/// model.safetensors.index.json shards), a .safetensors file (config.json beside
/// it), or a llama2.c .bin. Tensors stay memory-mapped. Throws qs::Error.
std::shared_ptr<Model> loadModel(const QString& path);

/// HF directory / safetensors file only.
std::shared_ptr<Model> loadHfModel(const QString& path);

/// Builds the Model for `config` from a name -> tensor map (used by the HF
/// loader and by tests). `label` names the checkpoint in errors.
std::shared_ptr<Model> buildHfModel(const ModelConfig& config, const std::map<std::string, TensorRef>& tensors,
                                    const QString& label);

}  // namespace qs
