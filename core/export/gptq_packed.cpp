// GPTQ-packed safetensors writing and reading (see gptq_packed.h).
#include "export/gptq_packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include "model/dtype.h"
#include "export/verified_export.h"
#include "model/save.h"
#include "util/error.h"

namespace qs {

namespace {

QString qs8(const std::string& s) { return QString::fromStdString(s); }

QString shapeStr(const std::vector<int64_t>& s) {
    QStringList p;
    for (int64_t d : s) p << QString::number(d);
    return QStringLiteral("[%1]").arg(p.join(QStringLiteral(", ")));
}

float fp16Value(float v) { return halfToFloat(floatToHalf(v)); }

/// The GPTQ value of code q: fp16(scale * (q - zero)).
inline float gptqValue(float scale, int q, int zero) { return fp16Value(scale * float(q - zero)); }

bool sameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

/// AutoGPTQ's pack() along one dimension: `vals` (n values of `bits` bits, n a
/// multiple of 32 for 3 bits and of 32/bits otherwise) into n*bits/32 words.
std::vector<uint32_t> packCodes(const std::vector<uint32_t>& vals, int bits) {
    const size_t n = vals.size();
    std::vector<uint32_t> w(n * size_t(bits) / 32, 0);
    if (bits != 3) {
        const size_t per = size_t(32 / bits);
        for (size_t i = 0; i < n; ++i) w[i / per] |= vals[i] << (size_t(bits) * (i % per));
        return w;
    }
    for (size_t g = 0, row = 0; g < n; g += 32, row += 3) {
        const uint32_t* v = vals.data() + g;
        for (int j = 0; j < 10; ++j) w[row] |= v[j] << (3 * j);
        w[row] |= v[10] << 30;
        w[row + 1] |= (v[10] >> 2) & 1;
        for (int j = 0; j < 10; ++j) w[row + 1] |= v[11 + j] << (3 * j + 1);
        w[row + 1] |= v[21] << 31;
        w[row + 2] |= (v[21] >> 1) & 3;
        for (int j = 0; j < 10; ++j) w[row + 2] |= v[22 + j] << (3 * j + 2);
    }
    return w;
}

/// The inverse: value i of a packed run of words.
inline uint32_t unpackCode(const uint32_t* w, size_t i, int bits) {
    if (bits != 3) {
        const size_t per = size_t(32 / bits);
        return (w[i / per] >> (size_t(bits) * (i % per))) & ((1u << bits) - 1);
    }
    const uint32_t* t = w + (i / 32) * 3;
    const size_t j = i % 32;
    if (j < 10) return (t[0] >> (3 * j)) & 7;
    if (j == 10) return ((t[0] >> 30) & 3) | ((t[1] & 1) << 2);
    if (j < 21) return (t[1] >> (3 * (j - 11) + 1)) & 7;
    if (j == 21) return ((t[1] >> 31) & 1) | ((t[2] & 3) << 1);
    return (t[2] >> (3 * (j - 22) + 2)) & 7;
}


QByteArray bytesOf(const void* p, size_t n) { return QByteArray(static_cast<const char*>(p), qsizetype(n)); }

/// A float tensor in its checkpoint dtype when unchanged and stored F16/BF16, else F32 (exact).
RawTensor floatTensor(const std::string& name, const std::vector<int64_t>& shape, const float* v, size_t n, const WeightSource* src,
                      bool overridden) {
    RawTensor t{name, "F32", shape, {}};
    DType dt = DType::F32;
    if (src && !overridden && !src->owned && src->ref.dtype && (*src->ref.dtype == DType::F16 || *src->ref.dtype == DType::BF16))
        dt = *src->ref.dtype;
    t.dtype = dtypeName(dt);
    t.bytes.resize(qsizetype(n * dtypeSize(dt)));
    convertFromFloat(dt, v, t.bytes.data(), n);
    return t;
}

}  // namespace

// ------------------------------------------------------------------ safetensors

void writeRawSafetensors(const QString& path, const std::vector<RawTensor>& tensors) {
    QJsonObject header;
    uint64_t off = 0;
    for (const RawTensor& t : tensors) {
        QJsonArray shape;
        for (int64_t d : t.shape) shape.append(qint64(d));
        header.insert(qs8(t.name), QJsonObject{{QStringLiteral("dtype"), qs8(t.dtype)},
                                               {QStringLiteral("shape"), shape},
                                               {QStringLiteral("data_offsets"), QJsonArray{qint64(off), qint64(off + uint64_t(t.bytes.size()))}}});
        off += uint64_t(t.bytes.size());
    }
    header.insert(QStringLiteral("__metadata__"), QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")},
                                                              {QStringLiteral("producer"), QStringLiteral("QuantScope " QUANTSCOPE_VERSION)}});
    QByteArray h = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while (h.size() % 8) h.append(' ');
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    const uint64_t n = uint64_t(h.size());
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xFF);
    bool ok = f.write(reinterpret_cast<const char*>(len), 8) == 8 && f.write(h) == h.size();
    for (const RawTensor& t : tensors) ok = ok && f.write(t.bytes) == t.bytes.size();
    if (!ok || !f.commit()) throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
}

// ------------------------------------------------------------------ writer

QJsonObject GptqPackedResult::toJson() const {
    QJsonArray ls;
    for (const Layer& l : layers) {
        QJsonObject o{{QStringLiteral("name"), qs8(l.name)}, {QStringLiteral("format"), qs8(l.format)},
                      {QStringLiteral("requantized"), l.requantized}};
        if (l.requantized) o.insert(QStringLiteral("rel_error"), l.relError);
        ls.append(o);
    }
    return QJsonObject{{QStringLiteral("path"), dir},
                       {QStringLiteral("format"), QStringLiteral("gptq")},
                       {QStringLiteral("bits"), bits},
                       {QStringLiteral("group_size"), groupSize},
                       {QStringLiteral("sym"), sym},
                       {QStringLiteral("desc_act"), descAct},
                       {QStringLiteral("layers"), ls}};
}

bool gptqPackable(int64_t n, int bits) { return bits == 3 ? n % 32 == 0 : (n * bits) % 32 == 0; }

GptqPackedResult exportGptqPacked(const Model& model, const std::vector<LayerResult>& layers, const QString& dirPath,
                                  const QStringList& tokenizerFiles, const std::map<QString, QByteArray>& rawFiles,
                                  const GptqPackedOptions& opt) {
    const ModelConfig& c = model.config;
    if (c.arch != Arch::Llama)
        throw Error(QStringLiteral("GPTQ-packed export supports LLaMA-family models; %1 is a '%2' model")
                        .arg(model.path, qs8(c.modelType)));
    std::map<std::string, const LayerResult*> byName;
    for (const LayerResult& r : layers) byName[r.name] = &r;

    // one Int format with fp16 scales for every linear (re-quantization onto it when allowed)
    std::vector<PlannedLayer> planned;
    for (const Linear* l : model.linears()) {
        auto it = byName.find(l->name);
        planned.push_back(it == byName.end() ? PlannedLayer{l->name, QuantMethod::None, QuantFormat{FormatKind::None, 0, false, 0},
                                                             l->inFeatures, l->outFeatures}
                                             : PlannedLayer{l->name, it->second->method, it->second->format, l->inFeatures, l->outFeatures});
    }
    requireExportablePlan(QStringLiteral("gptq"), planned, opt.allowRequantize);
    QuantFormat common = planned.front().format;
    common.fp16Scale = true;
    const QuantFormat F = common;
    const int bits = F.bits, maxq = (1 << bits) - 1;

    GptqPackedResult res;
    res.dir = dirPath;
    res.bits = bits;
    res.groupSize = F.groupSize > 0 ? F.groupSize : -1;
    res.sym = F.symmetric;

    std::vector<RawTensor> out;
    const Quantizer qz(F);
    for (const Block& b : model.blocks) {
        opt.ctx.check();
        for (const Linear& l : b.linears) {
            const LayerResult& lr = *byName.at(l.name);
            MatrixRM W = l.weightMatrix();
            std::shared_ptr<const QuantGrid> grid = lr.grid;
            GptqPackedResult::Layer rep{l.name, lr.format.name(), false, 0};
            if (!lr.format.fp16Scale) {
                // re-quantize onto fp16 scales: the run's codes and zero points kept, each
                // scale rounded to fp16 (RTN of the weights when the run recorded no grid)
                MatrixRM Q;
                if (grid && !grid->empty() && grid->rows == W.rows() && grid->cols == W.cols()) {
                    auto g16 = std::make_shared<QuantGrid>(*grid);
                    for (RowParams& p : g16->groups)
                        for (Eigen::Index r = 0; r < p.scale.size(); ++r) {
                            float s16 = fp16Value(p.scale[r]);
                            p.scale[r] = s16 == 0 ? std::ldexp(1.f, -24) : s16;
                        }
                    Q.resize(W.rows(), W.cols());
                    for (int64_t i = 0; i < W.cols(); ++i) {
                        const RowParams& p = grid->groups[size_t(grid->gIdx[size_t(i)])];
                        const RowParams& p16 = g16->groups[size_t(grid->gIdx[size_t(i)])];
                        for (int64_t o = 0; o < W.rows(); ++o) {
                            const float q = std::clamp(std::nearbyint(W(o, i) / p.scale[o]) + p.zero[o], 0.f, float(maxq));
                            Q(o, i) = gptqValue(p16.scale[o], int(q), int(p16.zero[o]));
                        }
                    }
                    grid = g16;
                } else {
                    Q = qz.fakeQuantize(W);
                    grid = std::make_shared<QuantGrid>(QuantGrid::rtn(W, qz));
                }
                const double ref = W.cast<double>().squaredNorm();
                rep.requantized = true;
                rep.relError = ref > 0 ? std::sqrt((Q - W).cast<double>().squaredNorm() / ref) : 0.0;
                W = Q;
            }
            if (!grid || grid->empty() || grid->rows != W.rows() || grid->cols != W.cols())
                grid = std::make_shared<QuantGrid>(QuantGrid::rtn(W, qz));  // re-derived (verified below)
            const int64_t out_ = W.rows(), in = W.cols(), groups = int64_t(grid->groups.size());
            for (size_t c = 1; c < grid->gIdx.size(); ++c)
                if (grid->gIdx[c] < grid->gIdx[c - 1]) res.descAct = true;
            // codes [in, out], zeros and scales [groups, out]
            std::vector<uint32_t> codes(size_t(in * out_));
            std::vector<uint32_t> zeros(size_t(groups * out_));
            std::vector<uint16_t> scales(size_t(groups * out_));
            for (int64_t g = 0; g < groups; ++g)
                for (int64_t o = 0; o < out_; ++o) {
                    const float s = grid->groups[size_t(g)].scale[o], z = grid->groups[size_t(g)].zero[o];
                    if (!sameBits(fp16Value(s), s) || z != std::nearbyint(z) || z < 0 || z > float(maxq))
                        throw Error(QStringLiteral("%1: group %2, row %3 has scale %4 / zero %5, not an fp16 scale and a %6-bit zero point")
                                        .arg(qs8(l.name)).arg(g).arg(o).arg(double(s)).arg(double(z)).arg(bits));
                    if (z == 0)
                        throw Error(QStringLiteral("%1: group %2, row %3 has zero point 0, which the GPTQ v1 layout (zero points stored "
                                                   "minus one) cannot hold; use a symmetric format (-sym)")
                                        .arg(qs8(l.name)).arg(g).arg(o));
                    scales[size_t(g * out_ + o)] = floatToHalf(s);
                    zeros[size_t(g * out_ + o)] = uint32_t(z) - 1;
                }
            for (int64_t i = 0; i < in; ++i) {
                const int g = grid->gIdx[size_t(i)];
                const RowParams& p = grid->groups[size_t(g)];
                for (int64_t o = 0; o < out_; ++o) {
                    const float v = W(o, i), s = p.scale[o];
                    const int z = int(p.zero[o]);
                    int q = int(std::clamp(std::nearbyint(v / s) + float(z), 0.f, float(maxq)));
                    if (!sameBits(gptqValue(s, q, z), v)) {
                        int found = -1;
                        for (int k = 0; k <= maxq && found < 0; ++k)
                            if (sameBits(gptqValue(s, k, z), v)) found = k;
                        if (found < 0)
                            throw Error(QStringLiteral("%1: the weight %2 at row %3, column %4 is not on its group's grid (scale %5, zero %6); "
                                                       "the layer was not quantized in %7")
                                            .arg(qs8(l.name)).arg(double(v), 0, 'g', 9).arg(o).arg(i).arg(double(s), 0, 'g', 9).arg(z)
                                            .arg(qs8(F.name())));
                        q = found;
                    }
                    codes[size_t(i * out_ + o)] = uint32_t(q);
                }
            }
            // qweight [in*bits/32, out]: pack each column o along the input dimension
            const int64_t qRows = in * bits / 32;
            std::vector<uint32_t> qweight(size_t(qRows * out_));
            std::vector<uint32_t> col(static_cast<size_t>(in));
            for (int64_t o = 0; o < out_; ++o) {
                for (int64_t i = 0; i < in; ++i) col[size_t(i)] = codes[size_t(i * out_ + o)];
                const std::vector<uint32_t> packed = packCodes(col, bits);
                for (int64_t r = 0; r < qRows; ++r) qweight[size_t(r * out_ + o)] = packed[size_t(r)];
            }
            // qzeros [groups, out*bits/32]: each group's zeros packed along the output dimension
            const int64_t zCols = out_ * bits / 32;
            std::vector<uint32_t> qzeros;
            qzeros.reserve(size_t(groups * zCols));
            for (int64_t g = 0; g < groups; ++g) {
                const std::vector<uint32_t> row(zeros.begin() + g * out_, zeros.begin() + (g + 1) * out_);
                const std::vector<uint32_t> packed = packCodes(row, bits);
                qzeros.insert(qzeros.end(), packed.begin(), packed.end());
            }
            std::vector<int32_t> gidx(grid->gIdx.begin(), grid->gIdx.end());
            out.push_back({l.name + ".qweight", "I32", {qRows, out_}, bytesOf(qweight.data(), qweight.size() * 4)});
            out.push_back({l.name + ".qzeros", "I32", {groups, zCols}, bytesOf(qzeros.data(), qzeros.size() * 4)});
            out.push_back({l.name + ".scales", "F16", {groups, out_}, bytesOf(scales.data(), scales.size() * 2)});
            out.push_back({l.name + ".g_idx", "I32", {in}, bytesOf(gidx.data(), gidx.size() * 4)});
            if (l.bias || l.biasOverride) {
                const VectorF bv = l.biasVector();
                out.push_back(floatTensor(l.name + ".bias", {bv.size()}, bv.data(), size_t(bv.size()), l.bias ? &*l.bias : nullptr,
                                          bool(l.biasOverride)));
            }
            res.layers.push_back(rep);
        }
        auto norm = [&](const Norm& n, const std::string& name) {
            const VectorF v = n.weightVector();
            out.push_back(floatTensor(name, {v.size()}, v.data(), size_t(v.size()), &n.weight, bool(n.weightOverride)));
        };
        norm(b.attnNorm, b.prefix + ".input_layernorm.weight");
        norm(b.mlpNorm, b.prefix + ".post_attention_layernorm.weight");
    }
    {
        const MatrixRM e = model.embedOverride ? *model.embedOverride : model.embedTokens.matrix();
        out.push_back(floatTensor("model.embed_tokens.weight", {e.rows(), e.cols()}, e.data(), size_t(e.size()), &model.embedTokens,
                                  bool(model.embedOverride)));
        const VectorF n = model.finalNorm.weightVector();
        out.push_back(floatTensor("model.norm.weight", {n.size()}, n.data(), size_t(n.size()), &model.finalNorm.weight,
                                  bool(model.finalNorm.weightOverride)));
    }
    const bool tiedStorage = model.lmHead.ref.data == model.embedTokens.ref.data;
    const bool tied = tiedStorage && model.lmHeadOverride == model.embedOverride;
    if (!tied) {
        const MatrixRM h = model.lmHeadOverride ? *model.lmHeadOverride : model.lmHead.matrix();
        out.push_back(floatTensor("lm_head.weight", {h.rows(), h.cols()}, h.data(), size_t(h.size()), &model.lmHead,
                                  bool(model.lmHeadOverride)));
    }

    // config.json (the checkpoint's own for HF models, else generated) + quantization_config
    QJsonObject cfg = checkpointConfigJson(model);
    cfg.insert(QStringLiteral("torch_dtype"), QStringLiteral("float16"));
    cfg.insert(QStringLiteral("tie_word_embeddings"), tied);
    const QJsonObject qcfg{{QStringLiteral("quant_method"), QStringLiteral("gptq")},
                           {QStringLiteral("bits"), bits},
                           {QStringLiteral("group_size"), res.groupSize},
                           {QStringLiteral("desc_act"), res.descAct},
                           {QStringLiteral("sym"), res.sym},
                           {QStringLiteral("static_groups"), false},
                           {QStringLiteral("true_sequential"), true},
                           {QStringLiteral("damp_percent"), 0.01},
                           {QStringLiteral("checkpoint_format"), QStringLiteral("gptq")},
                           {QStringLiteral("model_file_base_name"), QStringLiteral("model")}};
    cfg.insert(QStringLiteral("quantization_config"), qcfg);

    std::map<QString, QJsonObject> extra;
    if (!opt.recipe.isEmpty()) extra[QStringLiteral("quantscope_run.json")] = QJsonObject{{QStringLiteral("recipe"), opt.recipe}};
    CheckpointDirOptions dopt;
    dopt.noun = QStringLiteral("checkpoint");
    dopt.skipMissingTokenizerFiles = true;
    writeCheckpointDir(dirPath, [&](const QDir& tmp) {
        writeJsonFile(tmp.filePath(QStringLiteral("config.json")), cfg);
        writeJsonFile(tmp.filePath(QStringLiteral("quantize_config.json")), qcfg);
        writeRawSafetensors(tmp.filePath(QStringLiteral("model.safetensors")), out);
    }, tokenizerFiles, extra, rawFiles, dopt);
    return res;
}

// ------------------------------------------------------------------ reader

std::map<std::string, std::shared_ptr<const std::vector<float>>> dequantizeGptqTensors(
    const QJsonObject& configJson, const QString& dir, std::map<std::string, TensorRef>& tensors, const QString& label,
    QString* description) {
    std::map<std::string, std::shared_ptr<const std::vector<float>>> owned;
    bool anyPacked = false;
    for (const auto& [name, ref] : tensors)
        if (name.size() > 8 && name.compare(name.size() - 8, 8, ".qweight") == 0) anyPacked = true;
    QJsonObject q = configJson.value(QStringLiteral("quantization_config")).toObject();
    QString qlabel = QDir(dir).filePath(QStringLiteral("config.json")) + QStringLiteral(": quantization_config");
    if (q.isEmpty()) {
        const QString qc = QDir(dir).filePath(QStringLiteral("quantize_config.json"));
        if (QFileInfo::exists(qc)) {
            QFile f(qc);
            if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("%1: cannot open").arg(qc));
            q = QJsonDocument::fromJson(f.readAll()).object();
            if (!q.contains(QStringLiteral("quant_method"))) q.insert(QStringLiteral("quant_method"), QStringLiteral("gptq"));
            qlabel = qc;
        }
    }
    if (q.isEmpty()) {
        if (anyPacked)
            throw Error(QStringLiteral("%1: holds GPTQ-packed tensors (*.qweight) but config.json has no quantization_config "
                                       "and there is no quantize_config.json").arg(label));
        return owned;
    }
    const QString method = q.value(QStringLiteral("quant_method")).toString();
    if (method != QLatin1String("gptq"))
        throw Error(QStringLiteral("%1.quant_method is '%2'; QuantScope reads GPTQ-packed checkpoints (\"gptq\")").arg(qlabel, method));
    const QJsonValue bv = q.value(QStringLiteral("bits"));
    const int bits = bv.toInt(-1);
    if (!bv.isDouble() || (bits != 2 && bits != 3 && bits != 4 && bits != 8))
        throw Error(QStringLiteral("%1.bits is %2; expected 2, 3, 4 or 8")
                        .arg(qlabel, bv.isUndefined() ? QStringLiteral("missing")
                                     : bv.isDouble()  ? QString::number(bv.toDouble())
                                                      : QStringLiteral("not a number")));
    const QJsonValue gv = q.value(QStringLiteral("group_size"));
    const int groupSize = gv.toInt(0);
    if (!gv.isDouble() || (groupSize != -1 && groupSize <= 0))
        throw Error(QStringLiteral("%1.group_size must be a positive integer or -1").arg(qlabel));
    const QString fmt = q.value(QStringLiteral("checkpoint_format")).toString(QStringLiteral("gptq"));
    if (fmt != QLatin1String("gptq") && fmt != QLatin1String("gptq_v2"))
        throw Error(QStringLiteral("%1.checkpoint_format is '%2'; expected gptq (zero points stored minus one) or gptq_v2").arg(qlabel, fmt));
    const int zeroOffset = fmt == QLatin1String("gptq") ? 1 : 0;
    const uint32_t mask = (1u << bits) - 1;

    std::vector<std::string> bases;
    for (const auto& [name, ref] : tensors)
        if (name.size() > 8 && name.compare(name.size() - 8, 8, ".qweight") == 0) bases.push_back(name.substr(0, name.size() - 8));
    if (bases.empty()) throw Error(QStringLiteral("%1: quant_method gptq but no *.qweight tensor").arg(label));
    for (const std::string& base : bases) {
        auto need = [&](const char* suffix, const char* dtype) -> const TensorRef& {
            auto it = tensors.find(base + suffix);
            if (it == tensors.end())
                throw Error(QStringLiteral("%1: tensor '%2' is missing; a GPTQ-packed linear has qweight, qzeros, scales and g_idx")
                                .arg(label, qs8(base + suffix)));
            if (it->second.dtypeName != dtype)
                throw Error(QStringLiteral("%1: tensor '%2' has dtype %3; expected %4")
                                .arg(it->second.file, qs8(base + suffix), qs8(it->second.dtypeName), QLatin1String(dtype)));
            return it->second;
        };
        const TensorRef& qw = need(".qweight", "I32");
        const TensorRef& qz = need(".qzeros", "I32");
        const TensorRef& sc = need(".scales", "F16");
        const TensorRef& gi = need(".g_idx", "I32");
        auto shapeErr = [&](const TensorRef& t, const std::vector<int64_t>& expect, const QString& why) {
            if (t.shape != expect)
                throw Error(QStringLiteral("%1: tensor '%2' has shape %3; expected %4 (%5)")
                                .arg(t.file, qs8(t.name), shapeStr(t.shape), shapeStr(expect), why));
        };
        if (gi.shape.size() != 1 || sc.shape.size() != 2)
            throw Error(QStringLiteral("%1: '%2' must be 1-D and '%3' 2-D").arg(label, qs8(gi.name), qs8(sc.name)));
        const int64_t in = gi.shape[0], groups = sc.shape[0], out = sc.shape[1];
        const int64_t expectGroups = groupSize == -1 ? 1 : (in + groupSize - 1) / groupSize;
        if (!gptqPackable(in, bits) || !gptqPackable(out, bits))
            throw Error(QStringLiteral("%1: %2 [%3 x %4] cannot hold %5-bit packed codes").arg(label, qs8(base)).arg(out).arg(in).arg(bits));
        shapeErr(sc, {expectGroups, out}, QStringLiteral("[groups = ceil(in / group_size), out] for in %1 (g_idx) and group_size %2").arg(in).arg(groupSize));
        shapeErr(qw, {in * bits / 32, out}, QStringLiteral("[in * bits / 32, out] for in %1, out %2 and %3 bits").arg(in).arg(out).arg(bits));
        shapeErr(qz, {groups, out * bits / 32}, QStringLiteral("[groups, out * bits / 32] for %1 groups, out %2 and %3 bits").arg(groups).arg(out).arg(bits));
        std::vector<uint32_t> qwv(size_t(qw.numel())), qzv(size_t(qz.numel()));
        std::vector<int32_t> giv(static_cast<size_t>(in));
        std::memcpy(qwv.data(), qw.data, qwv.size() * 4);
        std::memcpy(qzv.data(), qz.data, qzv.size() * 4);
        std::memcpy(giv.data(), gi.data, giv.size() * 4);
        std::vector<float> scales(size_t(sc.numel()));
        convertToFloat(DType::F16, sc.data, scales.data(), scales.size());
        for (int64_t i = 0; i < in; ++i)
            if (giv[size_t(i)] < 0 || giv[size_t(i)] >= groups)
                throw Error(QStringLiteral("%1: '%2'[%3] = %4 is not a group index in [0, %5)").arg(label, qs8(gi.name)).arg(i).arg(giv[size_t(i)]).arg(groups));
        // unpack: codes along the input dimension per column, zeros along the output per group
        const int64_t qRows = in * bits / 32, zCols = out * bits / 32;
        std::vector<uint32_t> col(static_cast<size_t>(qRows));
        std::vector<int> zeros(size_t(groups * out));
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t o = 0; o < out; ++o)
                zeros[size_t(g * out + o)] = int(unpackCode(qzv.data() + g * zCols, size_t(o), bits) & mask) + zeroOffset;
        auto w = std::make_shared<std::vector<float>>(size_t(out * in));
        for (int64_t o = 0; o < out; ++o) {
            for (int64_t r = 0; r < qRows; ++r) col[size_t(r)] = qwv[size_t(r * out + o)];
            for (int64_t i = 0; i < in; ++i) {
                const int g = giv[size_t(i)];
                const int q = int(unpackCode(col.data(), size_t(i), bits));
                (*w)[size_t(o * in + i)] = gptqValue(scales[size_t(g * out + o)], q, zeros[size_t(g * out + o)]);
            }
        }
        TensorRef ref;
        ref.name = base + ".weight";
        ref.dtypeName = "F32";
        ref.dtype = DType::F32;
        ref.shape = {out, in};
        ref.data = reinterpret_cast<const uint8_t*>(w->data());
        ref.nbytes = w->size() * 4;
        ref.file = qw.file;
        if (tensors.count(ref.name))
            throw Error(QStringLiteral("%1: '%2' is both GPTQ-packed and stored as a weight").arg(label, qs8(ref.name)));
        tensors[ref.name] = ref;
        owned[ref.name] = w;
    }
    if (description)
        *description = QStringLiteral("GPTQ-packed, %1 bits, group %2, %3 linears").arg(bits).arg(groupSize).arg(owned.size());
    return owned;
}

}  // namespace qs
