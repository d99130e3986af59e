#include "model/save.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>

#include "util/error.h"

namespace qs {

void writeJsonFile(const QString& path, const QJsonObject& o) {
    QSaveFile f(path);
    const QByteArray data = QJsonDocument(o).toJson(QJsonDocument::Indented);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
        throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
}

QJsonObject checkpointConfigJson(const Model& model) {
    const QFileInfo src(model.path);
    const QString srcCfg = (src.isDir() ? QDir(model.path) : src.absoluteDir()).filePath(QStringLiteral("config.json"));
    if (model.format == QLatin1String("safetensors") && QFileInfo::exists(srcCfg)) {
        QFile f(srcCfg);
        if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("%1: cannot read").arg(srcCfg));
        return QJsonDocument::fromJson(f.readAll()).object();
    }
    return model.config.toHfJson();
}

bool checkpointDirFree(const QString& dir) {
    const QFileInfo t(dir);
    return !t.exists() || (t.isDir() && QDir(dir).isEmpty());
}

void writeCheckpointDir(const QString& dirPath, const std::function<void(const QDir& tmp)>& fill, const QStringList& tokenizerFiles,
                        const std::map<QString, QJsonObject>& extra, const std::map<QString, QByteArray>& rawFiles,
                        const CheckpointDirOptions& opt) {
    const QFileInfo target(dirPath);
    if (!checkpointDirFree(dirPath))
        throw Error(QStringLiteral("%1: already exists and is not an empty directory; choose a new %2").arg(dirPath, opt.outputName));
    const QString tmp = target.absoluteFilePath() + QStringLiteral(".partial");
    QDir(tmp).removeRecursively();
    if (!QDir().mkpath(tmp)) throw Error(QStringLiteral("%1: cannot create directory").arg(tmp));
    try {
        const QDir t(tmp);
        fill(t);
        for (const QString& f : tokenizerFiles) {
            if (opt.skipMissingTokenizerFiles && !QFileInfo(f).isFile()) continue;
            const QString dst = t.filePath(f.endsWith(QLatin1String(".bin")) ? QStringLiteral("tokenizer.bin") : QFileInfo(f).fileName());
            if (!QFile::copy(f, dst)) throw Error(QStringLiteral("%1: cannot copy the tokenizer to %2").arg(f, dst));
        }
        for (const auto& [name, obj] : extra) writeJsonFile(t.filePath(name), obj);
        for (const auto& [name, bytes] : rawFiles) {
            QSaveFile f(t.filePath(name));
            if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
                throw Error(QStringLiteral("%1: cannot write %2").arg(tmp, name));
        }
        if (target.exists()) QDir(dirPath).removeRecursively();
        if (!QDir().rename(tmp, target.absoluteFilePath()))
            throw Error(QStringLiteral("%1: cannot move the finished %2 into place").arg(dirPath, opt.noun));
    } catch (...) {
        QDir(tmp).removeRecursively();
        throw;
    }
}

namespace {

/// Writes logical matrix `m` of `w` into `storage` (the tensor's float data in
/// its stored layout): the inverse of WeightSource::rowsBlock.
void scatter(const WeightSource& w, const MatrixRM& m, std::vector<float>& storage, bool ignorePerm) {
    const int64_t SC = w.ref.shape.back();
    for (int64_t r = 0; r < m.rows(); ++r) {
        const int64_t src = w.rowOffset + ((w.rowPerm.empty() || ignorePerm) ? r : w.rowPerm[size_t(r)]);
        for (int64_t c = 0; c < m.cols(); ++c) {
            const size_t idx = w.transpose ? size_t(c * SC + src) : size_t(src * SC + c);
            storage[idx] = m(r, c);
        }
    }
}

/// The same for a 1-D parameter (a bias or norm weight, possibly a slice of a fused tensor).
void scatterVector(const WeightSource& w, const VectorF& v, std::vector<float>& storage) {
    for (Eigen::Index r = 0; r < v.size(); ++r) storage[size_t(w.rowOffset + r)] = v[r];
}

}  // namespace

void saveHfModel(const Model& model, const QString& dirPath, const QStringList& tokenizerFiles,
                 const std::map<QString, QJsonObject>& extra, const std::map<QString, QByteArray>& rawFiles) {
    CheckpointDirOptions opt;
    opt.outputName = QStringLiteral("--save directory");
    writeCheckpointDir(dirPath, [&](const QDir& tmp) {
        // config.json: the original one for HF checkpoints, else generated (LLaMA)
        QJsonObject cfg = checkpointConfigJson(model);
        cfg.insert(QStringLiteral("torch_dtype"), QStringLiteral("float32"));
        // Tied embeddings whose two uses now differ (only one of them quantized, or
        // both in different ways) are saved untied, with lm_head as its own tensor.
        const bool tied = model.lmHead.ref.data == model.embedTokens.ref.data;
        const bool untie = tied && model.embedOverride != model.lmHeadOverride;
        if (untie) cfg.insert(QStringLiteral("tie_word_embeddings"), false);
        writeJsonFile(tmp.filePath(QStringLiteral("config.json")), cfg);
        // tensors: float32 copies of every stored tensor, overrides scattered in
        const bool ignorePerm = model.format == QLatin1String("llama2c");  // HF layout = logical layout
        std::vector<std::vector<float>> data;
        std::vector<TensorToWrite> out;
        model.forEachTensor([&](const WeightSource& w) {
            std::vector<float> buf(size_t(w.ref.numel()));
            w.ref.toFloat(buf.data());
            for (const Block& b : model.blocks)
                for (const Linear& l : b.linears)
                    if (l.weight.ref.data == w.ref.data) {
                        if (l.override)
                            scatter(l.weight, *l.override, buf, ignorePerm);
                        else if (ignorePerm && !l.weight.rowPerm.empty())
                            scatter(l.weight, l.weight.matrix(), buf, true);
                    }
            if (model.embedOverride && w.ref.data == model.embedTokens.ref.data) scatter(model.embedTokens, *model.embedOverride, buf, false);
            if (model.lmHeadOverride && !tied && w.ref.data == model.lmHead.ref.data) scatter(model.lmHead, *model.lmHeadOverride, buf, false);
            // bias and norm overrides (SmoothQuant/AWQ scales folded into them)
            auto vectorOverride = [&](const std::optional<WeightSource>& src, const std::shared_ptr<const VectorF>& v) {
                if (v && src && src->ref.data == w.ref.data) scatterVector(*src, *v, buf);
            };
            for (const Block& b : model.blocks) {
                for (const Linear& l : b.linears) vectorOverride(l.bias, l.biasOverride);
                for (const Norm* n : {&b.attnNorm, &b.mlpNorm}) {
                    vectorOverride(n->weight, n->weightOverride);
                    vectorOverride(n->bias, n->biasOverride);
                }
            }
            data.push_back(std::move(buf));
            out.push_back({w.ref.name, w.ref.shape, DType::F32, nullptr, {}});
        });
        if (untie) {
            const MatrixRM head = model.lmHeadOverride ? *model.lmHeadOverride : model.lmHead.matrix();
            data.emplace_back(head.data(), head.data() + head.size());
            out.push_back({"lm_head.weight", {head.rows(), head.cols()}, DType::F32, nullptr, {}});
        }
        for (size_t i = 0; i < out.size(); ++i) out[i].values = data[i].data();
        writeSafetensors(tmp.filePath(QStringLiteral("model.safetensors")), out,
                         {{"format", "pt"}, {"producer", "QuantScope " QUANTSCOPE_VERSION}});
    }, tokenizerFiles, extra, rawFiles, opt);
}

}  // namespace qs
