// Tokenizer base class and tokenizer discovery for a model.
#include "model/tokenizer.h"

#include <QDir>
#include <QFileInfo>
#include <QStringList>

#include "export/gguf.h"
#include "model/config.h"
#include "util/error.h"

namespace qs {

std::string Tokenizer::decodeSequence(const std::vector<int>& ids) const {
    std::string out;
    for (int id : ids) out += decodeToken(id);
    return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const { return decodeSequence(ids); }

std::vector<int> Tokenizer::encodeForModel(const std::string& text) const {
    std::vector<int> body = encode(text);
    std::vector<int> ids;
    ids.reserve(body.size() + 1 + suffixIds.size());
    if (addBos && bosId >= 0) ids.push_back(bosId);
    ids.insert(ids.end(), body.begin(), body.end());
    ids.insert(ids.end(), suffixIds.begin(), suffixIds.end());
    return ids;
}

namespace {

/// merges.txt belonging to a vocab.json: "<prefix>-vocab.json" pairs with
/// "<prefix>-merges.txt" (the HF save() naming), anything else with merges.txt.
QString mergesBeside(const QFileInfo& vocab) {
    const QString name = vocab.fileName();
    const QDir dir = vocab.absoluteDir();
    if (name.endsWith(QLatin1String("-vocab.json"))) {
        const QString prefixed = dir.filePath(name.left(name.size() - 11) + QStringLiteral("-merges.txt"));
        if (QFileInfo::exists(prefixed)) return prefixed;
    }
    return dir.filePath(QStringLiteral("merges.txt"));
}

/// Records which files a tokenizer came from (those that exist).
std::unique_ptr<Tokenizer> withFiles(std::unique_ptr<Tokenizer> t, const QStringList& files) {
    for (const QString& f : files)
        if (!f.isEmpty() && QFileInfo(f).isFile()) t->sourceFiles << QFileInfo(f).absoluteFilePath();
    return t;
}

/// Loads a tokenizer file whose kind is known from its name: *.bin is llama2.c,
/// *vocab.json is GPT-2 (merges and tokenizer_config.json beside it), any other
/// *.json a Hugging Face tokenizer.json.
std::unique_ptr<Tokenizer> loadFile(const QFileInfo& fi, const ModelConfig& config) {
    const QString path = fi.absoluteFilePath();
    const QString name = fi.fileName();
    if (name.endsWith(QLatin1String(".bin"), Qt::CaseInsensitive))
        return withFiles(loadLlama2cTokenizer(path, config.vocabSize), {path});
    if (name.endsWith(QLatin1String("vocab.json"), Qt::CaseInsensitive)) {
        const QString merges = mergesBeside(fi);
        if (!QFileInfo(merges).isFile())
            throw Error(QStringLiteral("%1: a GPT-2 vocab.json needs its merges file beside it; %2 does not exist")
                            .arg(path, merges));
        const QString cfg = fi.absoluteDir().filePath(QStringLiteral("tokenizer_config.json"));
        return withFiles(loadGpt2Tokenizer(path, merges, QFileInfo(cfg).isFile() ? cfg : QString()), {path, merges, cfg});
    }
    if (name.endsWith(QLatin1String(".json"), Qt::CaseInsensitive))
        return withFiles(loadHfTokenizer(path), {path, fi.absoluteDir().filePath(QStringLiteral("tokenizer_config.json"))});
    if (name.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) return loadGgufTokenizer(path);  // its embedded tokenizer
    throw Error(QStringLiteral("%1: unknown tokenizer file type; expected a Hugging Face tokenizer.json, a GPT-2 "
                               "vocab.json (with merges.txt beside it) or a llama2.c tokenizer .bin")
                    .arg(path));
}

/// The tokenizer files looked for in a directory, in order of preference;
/// nullptr when none is there. `searched` collects them for the error message.
std::unique_ptr<Tokenizer> loadFromDir(const QDir& dir, const ModelConfig& config, QStringList& searched) {
    const QString tj = dir.filePath(QStringLiteral("tokenizer.json"));
    searched << tj;
    if (QFileInfo(tj).isFile())
        return withFiles(loadHfTokenizer(tj), {tj, dir.filePath(QStringLiteral("tokenizer_config.json"))});

    const QString vj = dir.filePath(QStringLiteral("vocab.json"));
    const QString mt = dir.filePath(QStringLiteral("merges.txt"));
    searched << vj + QStringLiteral(" + merges.txt");
    if (QFileInfo(vj).isFile() && QFileInfo(mt).isFile()) {
        const QString cfg = dir.filePath(QStringLiteral("tokenizer_config.json"));
        return withFiles(loadGpt2Tokenizer(vj, mt, QFileInfo(cfg).isFile() ? cfg : QString()), {vj, mt, cfg});
    }

    const QString tb = dir.filePath(QStringLiteral("tokenizer.bin"));
    searched << tb;
    if (QFileInfo(tb).isFile()) return withFiles(loadLlama2cTokenizer(tb, config.vocabSize), {tb});

    if (config.vocabSize > 0) {
        const QString tv = dir.filePath(QStringLiteral("tok%1.bin").arg(config.vocabSize));
        searched << tv;
        if (QFileInfo(tv).isFile()) return withFiles(loadLlama2cTokenizer(tv, config.vocabSize), {tv});
    } else {
        searched << dir.filePath(QStringLiteral("tok<vocab_size>.bin (vocab_size unknown)"));
    }
    return nullptr;
}

/// Every id that ordinary text can produce must index the model's embedding.
void checkFitsModel(const Tokenizer& tok, const QString& where, const ModelConfig& config) {
    if (config.vocabSize <= 0) return;
    if (tok.vocabSize() > config.vocabSize)
        throw Error(QStringLiteral("%1: the %2 tokenizer has %3 token ids, but the model's vocab_size is %4: "
                                   "this tokenizer does not belong to the model")
                        .arg(where, QString::fromStdString(tok.kind()))
                        .arg(tok.vocabSize())
                        .arg(config.vocabSize));
}

}  // namespace

std::unique_ptr<Tokenizer> loadTokenizerFor(const QString& modelPath, const QString& explicitPath,
                                            const ModelConfig& config) {
    QStringList searched;
    if (!explicitPath.isEmpty()) {
        const QFileInfo fi(explicitPath);
        if (!fi.exists()) throw Error(QStringLiteral("%1: tokenizer path does not exist").arg(explicitPath));
        std::unique_ptr<Tokenizer> tok;
        if (fi.isDir()) {
            tok = loadFromDir(QDir(fi.absoluteFilePath()), config, searched);
            if (!tok)
                throw Error(QStringLiteral("%1: no tokenizer in this directory; looked for %2")
                                .arg(explicitPath, searched.join(QStringLiteral(", "))));
        } else {
            tok = loadFile(fi, config);
        }
        checkFitsModel(*tok, explicitPath, config);
        return tok;
    }
    if (modelPath.isEmpty())
        throw Error(QStringLiteral("no tokenizer: neither a tokenizer path nor a model path was given"));
    const QFileInfo mi(modelPath);
    if (mi.isFile() && modelPath.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) {
        std::unique_ptr<Tokenizer> tok = loadGgufTokenizer(modelPath);  // a GGUF carries its tokenizer
        checkFitsModel(*tok, modelPath, config);
        return tok;
    }
    const QDir dir = mi.isDir() ? QDir(mi.absoluteFilePath()) : mi.absoluteDir();
    std::unique_ptr<Tokenizer> tok = loadFromDir(dir, config, searched);
    if (!tok)
        throw Error(QStringLiteral("%1: no tokenizer found next to the model; looked for %2. Give the tokenizer "
                                   "path explicitly (a tokenizer.json, a vocab.json with merges.txt, or a llama2.c "
                                   "tokenizer .bin)")
                        .arg(modelPath, searched.join(QStringLiteral(", "))));
    checkFitsModel(*tok, dir.absolutePath(), config);
    return tok;
}

}  // namespace qs
