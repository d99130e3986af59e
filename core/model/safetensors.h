#pragma once
// safetensors reading and writing.
// Layout: u64 little-endian header length N, N bytes of JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the data buffer; offsets are relative to the start of the buffer.
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <QString>

#include "model/dtype.h"
#include "model/mapped_file.h"

namespace qs {

/// One tensor inside a mapped checkpoint file (no copy of the data).
struct TensorRef {
    std::string name;
    std::string dtypeName;            // as stored ("F32", "I32", ...)
    std::optional<DType> dtype;       // set for float dtypes we can convert
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    QString file;                     // for error messages
    std::shared_ptr<MappedFile> keepAlive;

    int64_t numel() const;
    /// Converts the whole tensor to float32 (throws qs::Error for non-float dtypes).
    void toFloat(float* dst) const;
    /// Converts elements [first, first+count) in storage order.
    void toFloat(float* dst, size_t first, size_t count) const;
    QString describe() const;  // "file: tensor 'name'"
};

struct SafetensorsHeader {
    std::map<std::string, TensorRef> tensors;
    std::map<std::string, std::string> metadata;
    size_t dataStart = 0;
};

/// Parses and validates a safetensors file image. `label` names the file in errors.
/// Checks: header length within the file, valid JSON object, known dtype, integer
/// non-negative shape, offsets in range, begin <= end, size == numel * itemsize,
/// no two tensors overlapping. Throws qs::Error with file/tensor/found/expected.
SafetensorsHeader parseSafetensors(const uint8_t* data, size_t size, const QString& label);

/// Maps and parses a safetensors file; the returned refs keep the mapping alive.
SafetensorsHeader openSafetensors(const QString& path);

/// Element size in bytes of a safetensors dtype name, 0 when unknown.
size_t safetensorsItemSize(const std::string& dtypeName);

/// Writes a safetensors file. Tensors are given as float32 data and converted to
/// `dtype` (RNE). Writes to a temporary file and renames, so a failure never
/// leaves a half-written checkpoint.
struct TensorToWrite {
    std::string name;
    std::vector<int64_t> shape;
    DType dtype = DType::F32;
    const float* values = nullptr;  // numel floats, or:
    /// Produces elements [first, first+count) in storage order (for checkpoints
    /// too large to hold in memory as float, e.g. synthetic 7B shapes).
    std::function<void(float* dst, size_t first, size_t count)> fill;
};
void writeSafetensors(const QString& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace qs
