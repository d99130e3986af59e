#pragma once
// GPTQ-packed safetensors: the checkpoint layout AutoGPTQ / GPTQModel write and
// vLLM's and transformers' GPTQ loaders read (quant_method "gptq",
// checkpoint_format "gptq", the "v1" layout), written losslessly from a run, and
// read back into a Model.
//
// Per quantized linear `name` (W [out, in], b = bits in {2, 3, 4, 8}, G = group
// size, groups = ceil(in / G), one group when G = -1 / per channel):
//   name.qweight  int32 [in * b / 32, out]: the codes q[i, o] (0 .. 2^b - 1) packed
//                 along the INPUT dimension, little end first: for b = 2, 4, 8
//                 word k of column o holds inputs k*(32/b) .. k*(32/b) + 32/b - 1,
//                 input k*(32/b) + j at bits [j*b, j*b + b). For b = 3, 32 inputs
//                 fill 3 words (96 bits) as AutoGPTQ's pack(): word 0 holds inputs
//                 0..9 at bits 3j and the low 2 bits of input 10 at bits 30-31;
//                 word 1 holds the high bit of input 10 at bit 0, inputs 11..20 at
//                 bits 3j + 1 and the low bit of input 21 at bit 31; word 2 holds the
//                 high 2 bits of input 21 at bits 0-1 and inputs 22..31 at bits 3j + 2.
//   name.qzeros   int32 [groups, out * b / 32]: the zero points MINUS ONE (the
//                 "v1" convention every GPTQ kernel of vLLM and transformers adds
//                 the 1 back for; GPTQModel calls zeros stored as-is "gptq_v2"),
//                 packed the same way along the OUTPUT dimension. A symmetric
//                 b-bit grid has zero 2^(b-1) (stored 2^(b-1) - 1, e.g. 0x77777777).
//                 A zero point of 0 (an asymmetric group without negative weights)
//                 cannot be stored in v1 and is an error.
//   name.scales   float16 [groups, out].
//   name.g_idx    int32 [in]: the group of each input column (i / G, or with
//                 act-order / desc_act the group of the column's position in act order).
//   name.bias     the bias when the layer has one.
// Dequantization: W[o, i] = fp16(scales[g, o] * (q[i, o] - (qzeros[g, o] + 1))) with
// g = g_idx[i] — the product rounded once to fp16, as those loaders compute it in
// half precision. QuantScope's Int formats with fp16 scales ("-f16", e.g.
// int4-sym-g128-f16) evaluate exactly these values, so their layers are written
// losslessly: the codes are found from the run's recorded grid (scale, zero per
// group) and every weight is checked. Other tensors (embeddings, norms, lm_head)
// are written as in the checkpoint (F16/BF16 when stored so and unchanged, else
// F32 — e.g. SmoothQuant-folded norms or a fake-quantized lm_head, exactly).
// config.json gets "quantization_config" {"quant_method": "gptq", "bits",
// "group_size", "desc_act", "sym", "static_groups", "damp_percent",
// "true_sequential", "checkpoint_format": "gptq"} and quantize_config.json the same.
//
// Lossless rule: every linear must be quantized, in one Int format with fp16
// scales, bits in {2, 3, 4, 8} (GPTQ checkpoints have one configuration); an Int
// layer with float32 scales is an error naming it unless allowRequantize (then RTN
// onto the same grid with fp16 scales, the added relative error reported); any
// other format is an error. in and out must allow the packing (in * b and
// out * b multiples of 32; for 3 bits, multiples of 32 themselves).
// Only LLaMA-family models (config.json written by QuantScope) export.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include "jobs/job.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "quant/formats.h"
#include "quant/pipeline.h"

namespace qs {

struct GptqPackedOptions {
    bool allowRequantize = false;
    QJsonObject recipe;    // stored as quantscope_run.json's "recipe" when not empty
    JobContext ctx;
};

struct GptqPackedResult {
    QString dir;
    int bits = 0, groupSize = 0;
    bool sym = false, descAct = false;
    struct Layer {
        std::string name, format;
        bool requantized = false;
        double relError = 0;
    };
    std::vector<Layer> layers;
    QJsonObject toJson() const;
};

/// Writes the GPTQ-packed checkpoint into `dir` (config.json, quantize_config.json,
/// model.safetensors, copies of `tokenizerFiles`, `rawFiles`); a temporary
/// directory is renamed at the end, so an error leaves nothing at `dir`.
GptqPackedResult exportGptqPacked(const Model& model, const std::vector<LayerResult>& layers, const QString& dir,
                                  const QStringList& tokenizerFiles = {},
                                  const std::map<QString, QByteArray>& rawFiles = {},
                                  const GptqPackedOptions& opt = {});

/// Reading: when config.json (or quantize_config.json) says quant_method "gptq",
/// every `X.qweight` group of tensors is validated (dtypes I32/I32/F16/I32, shapes
/// that agree with each other and with the bits and group size, g_idx present and
/// in range, bits in {2, 3, 4, 8}, checkpoint_format "gptq" or "gptq_v2") and
/// dequantized as above into a float32 `X.weight` entry of `tensors`; the returned
/// buffers must outlive those entries (loadHfModel attaches them to the Model).
/// Throws qs::Error naming the file, the tensor or field and what was expected.
/// `description` (when given and something was dequantized): "GPTQ-packed, 4 bits,
/// group 128, 42 linears" (Model::quantization).
std::map<std::string, std::shared_ptr<const std::vector<float>>> dequantizeGptqTensors(
    const QJsonObject& configJson, const QString& dir, std::map<std::string, TensorRef>& tensors, const QString& label,
    QString* description = nullptr);

/// Whether `n` codes of `bits` bits pack into whole int32 words as GPTQ checkpoints
/// store them (3 bits: n a multiple of 32; else n * bits a multiple of 32).
bool gptqPackable(int64_t n, int bits);

/// A safetensors file from raw little-endian tensor bytes of any dtype (I32, F16,
/// F32, ...); used by the writer and by tests that build malformed checkpoints.
struct RawTensor {
    std::string name, dtype;
    std::vector<int64_t> shape;
    QByteArray bytes;
};
void writeRawSafetensors(const QString& path, const std::vector<RawTensor>& tensors);

}  // namespace qs
