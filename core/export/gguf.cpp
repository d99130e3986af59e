// GGUF writer and reader (see gguf.h for the layout and the conventions).
// Compiled with -ffp-contract=off (core/CMakeLists.txt): the block values are
// recomputed here exactly as ggml computes them.
#include "export/gguf.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include "model/dtype.h"
#include "util/error.h"

namespace qs {

using gguf::GgmlType;

namespace {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" little-endian
constexpr int kBlk = gguf::kBlock;

// llama.cpp's token types (llama_token_type / gguf-py TokenType)
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

QString qs8(const std::string& s) { return QString::fromStdString(s); }

QByteArray readFileBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("%1: cannot open: %2").arg(path, f.errorString()));
    return f.readAll();
}

// ------------------------------------------------------------------ header writing

class Writer {
public:
    QByteArray buf;
    void u8(uint8_t v) { buf.append(char(v)); }
    void u32(uint32_t v) { raw(&v, 4); }
    void i32(int32_t v) { raw(&v, 4); }
    void u64(uint64_t v) { raw(&v, 8); }
    void f32(float v) { raw(&v, 4); }
    void str(const std::string& s) {
        u64(s.size());
        buf.append(s.data(), qsizetype(s.size()));
    }
    void raw(const void* p, size_t n) { buf.append(static_cast<const char*>(p), qsizetype(n)); }
};

using VT = GgufValue::Type;

class KvList {
public:
    Writer w;
    uint64_t count = 0;
    void key(const std::string& k, VT t) {
        w.str(k);
        w.u32(uint32_t(t));
        ++count;
    }
    void str(const std::string& k, const std::string& v) { key(k, VT::String), w.str(v); }
    void u32(const std::string& k, uint32_t v) { key(k, VT::U32), w.u32(v); }
    void i32(const std::string& k, int32_t v) { key(k, VT::I32), w.i32(v); }
    void f32(const std::string& k, float v) { key(k, VT::F32), w.f32(v); }
    void boolean(const std::string& k, bool v) { key(k, VT::Bool), w.u8(v ? 1 : 0); }
    void strArray(const std::string& k, const std::vector<std::string>& v) {
        key(k, VT::Array);
        w.u32(uint32_t(VT::String));
        w.u64(v.size());
        for (const auto& s : v) w.str(s);
    }
    void f32Array(const std::string& k, const std::vector<float>& v) {
        key(k, VT::Array);
        w.u32(uint32_t(VT::F32));
        w.u64(v.size());
        for (float x : v) w.f32(x);
    }
    void i32Array(const std::string& k, const std::vector<int32_t>& v) {
        key(k, VT::Array);
        w.u32(uint32_t(VT::I32));
        w.u64(v.size());
        for (int32_t x : v) w.i32(x);
    }
};

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// ------------------------------------------------------------------ vocabularies

struct Vocab {
    std::string model;                  // "llama" | "gpt2"
    std::string pre;                    // gpt2: the pre-tokenizer name
    std::vector<std::string> tokens;
    std::vector<float> scores;          // llama
    std::vector<int32_t> types;
    std::vector<std::string> merges;    // gpt2
    int bos = -1, eos = -1, unk = -1;
    bool addBos = false, addEos = false;
    QByteArray hfJson;                  // stored whole (tokenizer.huggingface.json)
    QByteArray hfConfig;                // its tokenizer_config.json (quantscope.tokenizer_config)
};

/// llama.cpp's llama_escape_whitespaces: ' ' -> U+2581.
std::string escapeSpaces(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        if (c == ' ') o += "\xE2\x96\x81";
        else o += c;
    }
    return o;
}
std::string unescapeSpaces(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
            o += ' ';
            i += 2;
        } else {
            o += s[i];
        }
    }
    return o;
}

bool isBytePiece(const std::string& p) {
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return false;
    return std::isxdigit(static_cast<unsigned char>(p[3])) && std::isxdigit(static_cast<unsigned char>(p[4]));
}

/// The pieces and scores of a llama2.c tokenizer.bin (every entry of the file).
void parseLlama2cBin(const QByteArray& b, const QString& label, std::vector<std::string>& pieces, std::vector<float>& scores) {
    const auto* p = reinterpret_cast<const uint8_t*>(b.constData());
    const size_t n = size_t(b.size());
    if (n < 4) throw Error(QStringLiteral("%1: truncated llama2.c tokenizer (no header)").arg(label));
    size_t off = 4;
    while (off < n) {
        if (off + 8 > n) throw Error(QStringLiteral("%1: truncated llama2.c tokenizer at entry %2").arg(label).arg(pieces.size()));
        float score;
        int32_t len;
        std::memcpy(&score, p + off, 4);
        std::memcpy(&len, p + off + 4, 4);
        off += 8;
        if (len < 0 || off + size_t(len) > n)
            throw Error(QStringLiteral("%1: entry %2 has length %3, past the end of the file").arg(label).arg(pieces.size()).arg(len));
        pieces.emplace_back(reinterpret_cast<const char*>(p + off), size_t(len));
        scores.push_back(score);
        off += size_t(len);
    }
}

void padVocab(Vocab& v, int vocabSize) {
    while (int(v.tokens.size()) < vocabSize) {
        v.tokens.push_back("[PAD" + std::to_string(v.tokens.size()) + "]");
        v.types.push_back(kUnused);
        if (!v.scores.empty() || v.model == "llama") v.scores.push_back(0.0f);
    }
}

Vocab vocabFromLlama2c(const QByteArray& bytes, const QString& label, const Tokenizer& tok, int vocabSize) {
    Vocab v;
    v.model = "llama";
    std::vector<std::string> pieces;
    parseLlama2cBin(bytes, label, pieces, v.scores);
    if (vocabSize > 0 && int(pieces.size()) > vocabSize) {
        pieces.resize(size_t(vocabSize));  // the tokenizer reads the model's vocabulary size of entries
        v.scores.resize(size_t(vocabSize));
    }
    v.bos = tok.bosId >= 0 ? tok.bosId : 1;
    v.eos = tok.eosId >= 0 ? tok.eosId : 2;
    v.unk = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
        std::string t = pieces[i];
        int32_t type = kNormal;
        // as llama.cpp's convert-llama2c-to-ggml
        if (int(i) == v.unk) t = "<unk>", type = kUnknown;
        else if (int(i) == v.bos) t = "<s>", type = kControl;
        else if (int(i) == v.eos) t = "</s>", type = kControl;
        else if (t.empty()) type = kControl;
        else if (isBytePiece(t)) type = kByte;
        v.tokens.push_back(escapeSpaces(t));
        v.types.push_back(type);
    }
    v.addBos = tok.addBos;
    padVocab(v, vocabSize);
    return v;
}

QJsonObject parseJsonObject(const QByteArray& b, const QString& label) {
    QJsonParseError e;
    const QJsonDocument d = QJsonDocument::fromJson(b, &e);
    if (e.error != QJsonParseError::NoError || !d.isObject())
        throw Error(QStringLiteral("%1: not a JSON object (%2)").arg(label, e.errorString()));
    return d.object();
}

std::string mergeString(const QJsonValue& m) {
    if (m.isString()) return m.toString().toStdString();
    const QJsonArray a = m.toArray();
    return a.at(0).toString().toStdString() + " " + a.at(1).toString().toStdString();
}

/// The llama.cpp pre-tokenizer name of a byte-level tokenizer.json's pre_tokenizer.
std::string preTokenizerName(const QJsonObject& root, std::vector<std::string>& warnings) {
    const QJsonObject pt = root.value(QStringLiteral("pre_tokenizer")).toObject();
    const QString type = pt.value(QStringLiteral("type")).toString();
    auto isByteLevel = [](const QJsonObject& o) {
        return o.value(QStringLiteral("type")).toString() == QLatin1String("ByteLevel") &&
               o.value(QStringLiteral("use_regex")).toBool(true);
    };
    if (isByteLevel(pt)) return "gpt-2";
    if (type == QLatin1String("Sequence")) {
        const QJsonArray seq = pt.value(QStringLiteral("pretokenizers")).toArray();
        if (seq.size() == 2 && seq[0].toObject().value(QStringLiteral("type")).toString() == QLatin1String("Digits") &&
            seq[0].toObject().value(QStringLiteral("individual_digits")).toBool() && isByteLevel(seq[1].toObject()))
            return "smollm";
    }
    warnings.push_back("tokenizer: the pre-tokenizer of tokenizer.json is not GPT-2's or SmolLM's; tokenizer.ggml.pre = "
                       "\"default\" (llama.cpp may split text differently; tokenizer.huggingface.json holds the exact one)");
    return "default";
}

Vocab vocabFromHf(const QByteArray& json, const QString& label, const Tokenizer& tok, int vocabSize,
                  std::vector<std::string>& warnings) {
    const QJsonObject root = parseJsonObject(json, label);
    const QJsonObject model = root.value(QStringLiteral("model")).toObject();
    Vocab v;
    v.hfJson = json;
    const bool byteLevel = tok.kind() == "hf-bpe-bytelevel";
    const bool spm = tok.kind() == "hf-bpe-sentencepiece";
    if (!byteLevel && !spm)
        throw Error(QStringLiteral("%1: a %2 tokenizer has no GGUF vocabulary type; expected a byte-level BPE (gpt2) or a "
                                   "SentencePiece-style BPE (llama) tokenizer.json")
                        .arg(label, qs8(tok.kind())));
    v.model = byteLevel ? "gpt2" : "llama";
    std::map<int, std::string> byId;
    const QJsonObject vocab = model.value(QStringLiteral("vocab")).toObject();
    for (auto it = vocab.begin(); it != vocab.end(); ++it) byId[it.value().toInt()] = it.key().toStdString();
    std::map<int, int32_t> typeOf;
    for (const QJsonValue& a : root.value(QStringLiteral("added_tokens")).toArray()) {
        const QJsonObject o = a.toObject();
        const int id = o.value(QStringLiteral("id")).toInt();
        byId[id] = o.value(QStringLiteral("content")).toString().toStdString();
        typeOf[id] = o.value(QStringLiteral("special")).toBool() ? kControl : kUserDefined;
    }
    const int n = std::max(vocabSize, byId.empty() ? 0 : byId.rbegin()->first + 1);
    std::map<std::string, int> firstMerge;
    const QJsonArray merges = model.value(QStringLiteral("merges")).toArray();
    int rank = 0;
    for (const QJsonValue& m : merges) {
        const std::string s = mergeString(m);
        if (s.rfind("#version", 0) == 0) continue;
        if (byteLevel) v.merges.push_back(s);
        const size_t sp = s.find(' ');
        firstMerge.emplace(s.substr(0, sp) + s.substr(sp + 1), rank);
        ++rank;
    }
    const QString unkTok = model.value(QStringLiteral("unk_token")).toString();
    for (int id = 0; id < n; ++id) {
        auto it = byId.find(id);
        if (it == byId.end()) {
            v.tokens.push_back("[PAD" + std::to_string(id) + "]");
            v.types.push_back(kUnused);
            if (spm) v.scores.push_back(0.0f);
            continue;
        }
        v.tokens.push_back(it->second);
        int32_t type = kNormal;
        if (auto t = typeOf.find(id); t != typeOf.end()) type = t->second;
        else if (spm && isBytePiece(it->second)) type = kByte;
        if (!unkTok.isEmpty() && it->second == unkTok.toStdString()) type = kUnknown, v.unk = id;
        v.types.push_back(type);
        if (spm) {
            const auto fm = firstMerge.find(it->second);
            v.scores.push_back(fm == firstMerge.end() ? 0.0f : -float(fm->second));
        }
    }
    if (byteLevel) v.pre = preTokenizerName(root, warnings);
    else
        warnings.push_back("tokenizer: a SentencePiece-style tokenizer.json is stored as model \"llama\" with scores from the "
                           "merge ranks; llama.cpp's tokenization may differ in rare merge orders");
    v.bos = tok.bosId;
    v.eos = tok.eosId;
    v.addBos = tok.addBos;
    v.addEos = !tok.suffixIds.empty() && tok.suffixIds.back() == tok.eosId;
    return v;
}

Vocab vocabFromGpt2Files(const QByteArray& vocabJson, const QByteArray& mergesTxt, const QString& label, const Tokenizer& tok,
                         int vocabSize) {
    const QJsonObject vocab = parseJsonObject(vocabJson, label);
    Vocab v;
    v.model = "gpt2";
    v.pre = "gpt-2";
    std::map<int, std::string> byId;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) byId[it.value().toInt()] = it.key().toStdString();
    const int n = std::max(vocabSize, byId.empty() ? 0 : byId.rbegin()->first + 1);
    for (int id = 0; id < n; ++id) {
        auto it = byId.find(id);
        v.tokens.push_back(it == byId.end() ? "[PAD" + std::to_string(id) + "]" : it->second);
        v.types.push_back(it == byId.end() ? kUnused : (id == tok.bosId || id == tok.eosId ? kControl : kNormal));
    }
    for (const QByteArray& line : mergesTxt.split('\n')) {
        const QByteArray l = line.endsWith('\r') ? line.chopped(1) : line;
        if (l.isEmpty() || l.startsWith("#version")) continue;
        v.merges.push_back(l.toStdString());
    }
    v.bos = tok.bosId;
    v.eos = tok.eosId;
    v.addBos = tok.addBos;
    return v;
}

void writeVocab(KvList& kv, const Vocab& v) {
    kv.str("tokenizer.ggml.model", v.model);
    if (!v.pre.empty()) kv.str("tokenizer.ggml.pre", v.pre);
    kv.strArray("tokenizer.ggml.tokens", v.tokens);
    if (!v.scores.empty()) kv.f32Array("tokenizer.ggml.scores", v.scores);
    kv.i32Array("tokenizer.ggml.token_type", v.types);
    if (!v.merges.empty()) kv.strArray("tokenizer.ggml.merges", v.merges);
    if (v.bos >= 0) kv.u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos));
    if (v.eos >= 0) kv.u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos));
    if (v.unk >= 0) kv.u32("tokenizer.ggml.unknown_token_id", uint32_t(v.unk));
    kv.boolean("tokenizer.ggml.add_bos_token", v.addBos);
    kv.boolean("tokenizer.ggml.add_eos_token", v.addEos);
    if (!v.hfJson.isEmpty()) kv.str("tokenizer.huggingface.json", v.hfJson.toStdString());
    if (!v.hfConfig.isEmpty()) kv.str("quantscope.tokenizer_config", v.hfConfig.toStdString());
}

// ------------------------------------------------------------------ tensor encoding

/// Interleaved-RoPE (llama.cpp) row order of a q/k projection: GGUF row i takes
/// Model (rotate-half) row perm[i].
std::vector<int> toInterleaved(int heads, int hd) {
    std::vector<int> perm(size_t(heads) * size_t(hd));
    for (int h = 0; h < heads; ++h)
        for (int j = 0; j < hd / 2; ++j)
            for (int s = 0; s < 2; ++s) perm[size_t(h * hd + 2 * j + s)] = h * hd + s * (hd / 2) + j;
    return perm;
}
/// The inverse: Model row r takes GGUF row perm[r] (llama2c.cpp's ropePermutation).
std::vector<int> toRotateHalf(int heads, int hd) {
    const std::vector<int> f = toInterleaved(heads, hd);
    std::vector<int> inv(f.size());
    for (size_t i = 0; i < f.size(); ++i) inv[size_t(f[i])] = int(i);
    return inv;
}

bool sameBits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

/// One tensor of the file: where its values come from and how it is stored.
struct TensorJob {
    std::string name, source;
    std::vector<int64_t> ne;   // GGUF order
    GgmlType type = GgmlType::F32;
    QuantFormat evaluated{FormatKind::None, 32, false, 0};
    bool requant = false;
    std::function<MatrixRM()> values;          // [rows, cols] in Model row order (1-D: 1 x n)
    std::shared_ptr<const QuantGrid> grid;
    std::vector<int> rowMap;                   // GGUF row i <- Model row rowMap[i] (empty: identity)
    int64_t rows() const { return ne.size() == 2 ? ne[1] : 1; }
    int64_t cols() const { return ne[0]; }
    size_t nbytes() const { return gguf::bytesFor(type, rows() * cols()); }
};

QString where(const TensorJob& t) {
    return QStringLiteral("tensor '%1' (%2, %3)").arg(qs8(t.name), qs8(t.source), qs8(t.evaluated.name()));
}

/// Block parameters of row r, block b from the grid (nullptr when it has none for it).
const RowParams* gridParams(const TensorJob& t, int64_t b) {
    if (!t.grid || t.grid->groups.empty() || t.grid->cols != t.cols() || int64_t(t.grid->gIdx.size()) != t.cols()) return nullptr;
    const int g = t.grid->gIdx[size_t(b * kBlk)];
    for (int j = 1; j < kBlk; ++j)
        if (t.grid->gIdx[size_t(b * kBlk + j)] != g) return nullptr;  // not a block of the tensor
    if (g < 0 || size_t(g) >= t.grid->groups.size() || t.grid->groups[size_t(g)].scale.size() != t.grid->rows) return nullptr;
    return &t.grid->groups[size_t(g)];
}

constexpr int kNoCode = std::numeric_limits<int>::min();

/// The code reproducing v on a Q-type block with stored (d16, m16); kNoCode if none.
int findCode(GgmlType type, float v, float d16, float m16) {
    auto value = [&](int q) {
        switch (type) {
        case GgmlType::Q8_0: return gguf::q8_0Value(q, d16);
        case GgmlType::Q4_0: return gguf::q4_0Value(q, d16);
        default: return gguf::q4_1Value(q, d16, m16);
        }
    };
    const int lo = type == GgmlType::Q8_0 ? -128 : 0, hi = type == GgmlType::Q8_0 ? 127 : 15;
    if (d16 != 0 && std::isfinite(d16)) {
        float guess = type == GgmlType::Q4_1 ? (v - m16) / d16 : v / d16;
        if (type == GgmlType::Q4_0) guess += 8;
        if (std::isfinite(guess)) {
            const int q = int(std::clamp(std::nearbyint(guess), float(lo), float(hi)));
            for (int c : {q, q - 1, q + 1})
                if (c >= lo && c <= hi && sameBits(value(c), v)) return c;
        }
    }
    for (int c = lo; c <= hi; ++c)
        if (sameBits(value(c), v)) return c;
    return kNoCode;
}

/// Encodes one row of a Q8_0/Q4_0/Q4_1 tensor exactly from its parameters.
void encodeExactRow(const TensorJob& t, int64_t i, int64_t r, const float* x, uint8_t* out) {
    const size_t bb = gguf::blockBytes(t.type);
    int codes[kBlk];
    for (int64_t b = 0; b < t.cols() / kBlk; ++b) {
        const float* xb = x + b * kBlk;
        float d16, m16 = 0;
        if (const RowParams* p = gridParams(t, b)) {
            d16 = p->scale[r];
            if (t.type == GgmlType::Q4_1) m16 = p->zero.size() ? p->zero[r] : 0.0f;
        } else {  // no recorded grid: ggml's reference parameters of these very weights
            const gguf::BlockParams bp = t.type == GgmlType::Q8_0   ? gguf::q8_0Params(xb, kBlk)
                                         : t.type == GgmlType::Q4_0 ? gguf::q4_0Params(xb, kBlk)
                                                                    : gguf::q4_1Params(xb, kBlk);
            d16 = bp.d16;
            m16 = bp.m16;
        }
        if (!std::isfinite(d16) || !sameBits(halfToFloat(floatToHalf(d16)), d16) || !sameBits(halfToFloat(floatToHalf(m16)), m16))
            throw Error(QStringLiteral("%1: row %2, block %3 has a scale %4 / min %5 that fp16 cannot store; the layer was "
                                       "not rounded onto the %6 grid")
                            .arg(where(t)).arg(i).arg(b).arg(double(d16)).arg(double(m16)).arg(QLatin1String(gguf::typeName(t.type))));
        for (int j = 0; j < kBlk; ++j) {
            codes[j] = findCode(t.type, xb[j], d16, m16);
            if (codes[j] == kNoCode)
                throw Error(QStringLiteral("%1: the weight %2 at row %3, column %4 is not on the %5 grid of its block "
                                           "(d = %6%7); the layer was not quantized in this format")
                                .arg(where(t)).arg(double(xb[j]), 0, 'g', 9).arg(i).arg(b * kBlk + j)
                                .arg(QLatin1String(gguf::typeName(t.type))).arg(double(d16), 0, 'g', 9)
                                .arg(t.type == GgmlType::Q4_1 ? QStringLiteral(", m = %1").arg(double(m16), 0, 'g', 9) : QString()));
        }
        uint8_t* blk = out + size_t(b) * bb;
        if (t.type == GgmlType::Q8_0) gguf::encodeQ8_0(floatToHalf(d16), codes, blk);
        else if (t.type == GgmlType::Q4_0) gguf::encodeQ4_0(floatToHalf(d16), codes, blk);
        else gguf::encodeQ4_1(floatToHalf(d16), floatToHalf(m16), codes, blk);
    }
}

/// Encodes one row of an MXFP4 tensor from QuantScope's mxfp4 weights (same
/// exponent and element codes; ggml decodes -0 as +0).
void encodeMxfp4Row(const TensorJob& t, int64_t i, int64_t r, const float* x, uint8_t* out) {
    const Quantizer q(t.evaluated);
    int codes[kBlk];
    float dec[kBlk];
    for (int64_t b = 0; b < t.cols() / kBlk; ++b) {
        const float* xb = x + b * kBlk;
        float scale;
        if (const RowParams* p = gridParams(t, b)) scale = p->scale[r];
        else scale = q.findParams(Eigen::Map<const MatrixRM>(xb, 1, kBlk)).scale[0];
        if (!(scale > 0) || !std::isfinite(scale))
            throw Error(QStringLiteral("%1: row %2, block %3 has no finite MX scale").arg(where(t)).arg(i).arg(b));
        const int e = std::ilogb(scale) + 127;
        if (e < 0 || e > 254 || std::ldexp(1.0f, e - 127) != scale)
            throw Error(QStringLiteral("%1: row %2, block %3: scale %4 is not a power of two of E8M0").arg(where(t)).arg(i).arg(b).arg(double(scale)));
        for (int j = 0; j < kBlk; ++j) codes[j] = encodeMxElement(FormatKind::MxFp4E2M1, xb[j] / scale);
        uint8_t* blk = out + size_t(b) * gguf::blockBytes(GgmlType::MXFP4);
        gguf::encodeMxfp4(uint8_t(e), codes, blk);
        gguf::decodeBlock(GgmlType::MXFP4, blk, dec);
        for (int j = 0; j < kBlk; ++j)
            if (!(dec[j] == xb[j]))
                throw Error(QStringLiteral("%1: the weight %2 at row %3, column %4 is not on the MXFP4 grid of its block (scale 2^%5)")
                                .arg(where(t)).arg(double(xb[j]), 0, 'g', 9).arg(i).arg(b * kBlk + j).arg(e - 127));
    }
}

/// The bytes of one tensor; fills rep.relError for re-quantized ones.
QByteArray encodeTensor(const TensorJob& t, GgufTensorReport& rep) {
    const MatrixRM M = t.values();
    const int64_t rows = t.rows(), cols = t.cols();
    Q_ASSERT(M.rows() == rows && M.cols() == cols);
    QByteArray out(qsizetype(t.nbytes()), '\0');
    auto* dst = reinterpret_cast<uint8_t*>(out.data());
    const size_t rb = gguf::bytesFor(t.type, cols);
    double err2 = 0, ref2 = 0;
    std::vector<float> dec(static_cast<size_t>(cols));
    for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = t.rowMap.empty() ? i : t.rowMap[size_t(i)];
        const float* x = M.row(r).data();
        uint8_t* o = dst + size_t(i) * rb;
        switch (t.type) {
        case GgmlType::F32: std::memcpy(o, x, size_t(cols) * 4); break;
        case GgmlType::F16:
        case GgmlType::BF16: {
            const DType dt = t.type == GgmlType::F16 ? DType::F16 : DType::BF16;
            convertFromFloat(dt, x, o, size_t(cols));
            if (!t.requant) {
                convertToFloat(dt, o, dec.data(), size_t(cols));
                for (int64_t c = 0; c < cols; ++c)
                    if (!sameBits(dec[size_t(c)], x[c]))
                        throw Error(QStringLiteral("%1: the weight %2 at row %3, column %4 is not exactly a %5 value")
                                        .arg(where(t)).arg(double(x[c]), 0, 'g', 9).arg(i).arg(c).arg(QLatin1String(gguf::typeName(t.type))));
            }
            break;
        }
        case GgmlType::MXFP4: encodeMxfp4Row(t, i, r, x, o); break;
        default:
            if (t.requant) gguf::quantizeRowRef(t.type, x, cols, o);
            else encodeExactRow(t, i, r, x, o);
            break;
        }
        if (t.requant) {
            gguf::decodeRow(t.type, o, dec.data(), cols);
            for (int64_t c = 0; c < cols; ++c) {
                const double d = double(dec[size_t(c)]) - double(x[c]);
                err2 += d * d;
                ref2 += double(x[c]) * double(x[c]);
            }
        }
    }
    if (t.requant) rep.relError = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
    return out;
}

/// llama_ftype of the type covering most linear weights.
std::pair<uint32_t, std::string> fileTypeOf(GgmlType t) {
    switch (t) {
    case GgmlType::F32: return {0, "ALL_F32"};
    case GgmlType::F16: return {1, "MOSTLY_F16"};
    case GgmlType::Q4_0: return {2, "MOSTLY_Q4_0"};
    case GgmlType::Q4_1: return {3, "MOSTLY_Q4_1"};
    case GgmlType::Q8_0: return {7, "MOSTLY_Q8_0"};
    case GgmlType::BF16: return {32, "MOSTLY_BF16"};
    case GgmlType::MXFP4: return {38, "MOSTLY_MXFP4_MOE"};
    }
    return {0, "ALL_F32"};
}

GgmlType ggmlOfGgufFormat(FormatKind k) {
    return k == FormatKind::GgufQ8_0 ? GgmlType::Q8_0 : k == FormatKind::GgufQ4_0 ? GgmlType::Q4_0 : GgmlType::Q4_1;
}

/// The default re-quantization target of a format without an exact GGUF type.
GgmlType requantTarget(const QuantFormat& f) {
    int bits = f.bits;
    bool sym = f.symmetric;
    if (f.isMx()) sym = true;
    if (bits > 4) return GgmlType::Q8_0;
    return sym ? GgmlType::Q4_0 : GgmlType::Q4_1;
}

/// Unquantized 2-D tensors keep their checkpoint's 16-bit type when they have no override.
GgmlType floatTypeOf(const WeightSource& w, bool overridden) {
    if (!overridden && !w.owned && w.ref.dtype) {
        if (*w.ref.dtype == DType::F16) return GgmlType::F16;
        if (*w.ref.dtype == DType::BF16) return GgmlType::BF16;
    }
    return GgmlType::F32;
}

}  // namespace

// ------------------------------------------------------------------ public: writer

std::optional<GgmlType> exactGgufType(const QuantFormat& f, int64_t cols) {
    if (f.kind == FormatKind::None) return GgmlType::F32;
    if (f.kind == FormatKind::Fp16) return GgmlType::F16;
    if (f.isGguf()) {
        if (cols % kBlk != 0) return GgmlType::F16;  // evaluated in fp16 (effectiveWeightFormat)
        return ggmlOfGgufFormat(f.kind);
    }
    if (f.kind == FormatKind::MxFp4E2M1 && cols % kBlk == 0) return GgmlType::MXFP4;
    return std::nullopt;
}

TokenizerSource tokenizerSourceFromFiles(const QStringList& files) {
    TokenizerSource s;
    QStringList existing;
    for (const QString& f : files)
        if (!f.isEmpty() && QFileInfo(f).isFile()) existing << f;
    if (existing.isEmpty()) throw Error(QStringLiteral("the tokenizer's files are unknown; cannot embed the tokenizer"));
    const QString first = existing.first();
    s.label = first;
    if (first.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) return ggufTokenizerSource(first);
    if (first.endsWith(QLatin1String(".bin"), Qt::CaseInsensitive)) {
        s.kind = TokenizerSource::Kind::Llama2c;
        s.data = readFileBytes(first);
        return s;
    }
    if (first.endsWith(QLatin1String("vocab.json"), Qt::CaseInsensitive)) {
        s.kind = TokenizerSource::Kind::Gpt2VocabMerges;
        s.data = readFileBytes(first);
        for (const QString& f : existing)
            if (f.endsWith(QLatin1String(".txt"))) s.data2 = readFileBytes(f);
        if (s.data2.isEmpty()) throw Error(QStringLiteral("%1: its merges.txt is missing").arg(first));
        return s;
    }
    if (first.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) {
        s.kind = TokenizerSource::Kind::HfJson;
        s.data = readFileBytes(first);
        for (const QString& f : existing.mid(1))
            if (f.endsWith(QLatin1String("tokenizer_config.json"))) s.config = readFileBytes(f);
        return s;
    }
    throw Error(QStringLiteral("%1: unknown tokenizer file type for GGUF export").arg(first));
}

QJsonObject GgufTensorReport::toJson() const {
    QJsonArray dims;
    for (int64_t d : ne) dims.append(qint64(d));
    QJsonObject o{{QStringLiteral("name"), qs8(name)},     {QStringLiteral("source"), qs8(source)},
                  {QStringLiteral("type"), qs8(type)},     {QStringLiteral("format"), qs8(format)},
                  {QStringLiteral("ne"), dims},            {QStringLiteral("offset"), qint64(offset)},
                  {QStringLiteral("bytes"), qint64(bytes)}, {QStringLiteral("requantized"), requantized}};
    if (requantized) o.insert(QStringLiteral("rel_error"), relError);
    return o;
}

QJsonObject GgufExportResult::toJson() const {
    QJsonArray ts, ws;
    for (const auto& t : tensors) ts.append(t.toJson());
    for (const auto& w : warnings) ws.append(qs8(w));
    return QJsonObject{{QStringLiteral("path"), path},
                       {QStringLiteral("format"), QStringLiteral("gguf")},
                       {QStringLiteral("bytes"), qint64(fileBytes)},
                       {QStringLiteral("file_type"), qs8(fileType)},
                       {QStringLiteral("tensors"), ts},
                       {QStringLiteral("warnings"), ws}};
}

GgufExportResult exportGguf(const Model& model, const std::vector<LayerResult>& layers, const Tokenizer& tokenizer,
                            const TokenizerSource& tokSource, const QString& path, const GgufExportOptions& opt) {
    const ModelConfig& c = model.config;
    if (c.arch != Arch::Llama || c.norm != NormType::RMSNorm || c.act != Activation::SiLU || !c.gatedMlp || c.learnedPositions)
        throw Error(QStringLiteral("GGUF export supports LLaMA-family models (llama, mistral, qwen2, SmolLM, llama2.c); %1 is "
                                   "a '%2' (%3) model")
                        .arg(model.path, qs8(c.modelType), QLatin1String(archName(c.arch))));
    if (c.headDim % 2 != 0) throw Error(QStringLiteral("GGUF export: head size %1 is odd (RoPE needs pairs)").arg(c.headDim));
    if (opt.alignment == 0 || opt.alignment % 8 != 0)
        throw Error(QStringLiteral("GGUF export: alignment %1 is not a positive multiple of 8").arg(opt.alignment));
    if (opt.requantizeTo && !opt.requantizeTo->isGguf())
        throw Error(QStringLiteral("--requantize-to: expected gguf_q8_0, gguf_q4_0 or gguf_q4_1, got '%1'").arg(qs8(opt.requantizeTo->name())));

    GgufExportResult res;
    res.path = path;
    std::map<std::string, const LayerResult*> byName;
    for (const LayerResult& r : layers) byName[r.name] = &r;

    std::vector<TensorJob> jobs;
    QStringList inexact;
    // A 2-D weight: its format (from the run) decides the GGUF type.
    auto addMatrix = [&](const std::string& name, const std::string& source, int64_t rows, int64_t cols, const WeightSource* stored,
                         bool overridden, std::function<MatrixRM()> values, std::vector<int> rowMap) {
        TensorJob t;
        t.name = name;
        t.source = source;
        t.ne = {cols, rows};
        t.values = std::move(values);
        t.rowMap = std::move(rowMap);
        auto it = byName.find(source);
        if (it != byName.end()) {
            t.evaluated = it->second->format;
            t.grid = it->second->grid;
        }
        if (t.evaluated.kind == FormatKind::None) {
            t.type = stored ? floatTypeOf(*stored, overridden) : GgmlType::F32;
        } else if (auto e = exactGgufType(t.evaluated, cols)) {
            t.type = *e;
        } else if (!opt.allowRequantize) {
            inexact << QStringLiteral("%1 (%2)").arg(qs8(source), qs8(t.evaluated.name()));
        } else {
            t.requant = true;
            t.type = cols % kBlk != 0 ? GgmlType::F16
                                      : (opt.requantizeTo ? ggmlOfGgufFormat(opt.requantizeTo->kind) : requantTarget(t.evaluated));
        }
        jobs.push_back(std::move(t));
    };
    auto addVector = [&](const std::string& name, const std::string& source, std::function<VectorF()> values, std::vector<int> rowMap) {
        TensorJob t;
        t.name = name;
        t.source = source;
        const VectorF probe = values();
        t.ne = {int64_t(probe.size())};
        t.type = GgmlType::F32;
        std::vector<int> perm = std::move(rowMap);
        t.values = [values, perm]() {
            const VectorF v = values();
            MatrixRM m(1, v.size());
            for (Eigen::Index i = 0; i < v.size(); ++i) m(0, i) = v[perm.empty() ? i : perm[size_t(i)]];
            return m;
        };
        jobs.push_back(std::move(t));
    };

    const int64_t V = c.vocabSize, H = c.hiddenSize;
    // token embeddings
    const Model* mp = &model;
    addMatrix("token_embd.weight", kEmbedTokensName, model.embedTokens.logicalRows(), model.embedTokens.logicalCols(),
              &model.embedTokens, bool(model.embedOverride),
              [mp]() { return mp->embedOverride ? *mp->embedOverride : mp->embedTokens.matrix(); }, {});
    const std::vector<int> qMap = toInterleaved(c.numHeads, c.headDim), kMap = toInterleaved(c.numKvHeads, c.headDim);
    for (const Block& b : model.blocks) {
        const std::string p = "blk." + std::to_string(b.index) + ".";
        const Block* bp = &b;
        addVector(p + "attn_norm.weight", b.prefix + ".input_layernorm", [bp]() { return bp->attnNorm.weightVector(); }, {});
        for (const Linear& l : b.linears) {
            const char* gname = nullptr;
            std::vector<int> map;
            switch (l.kind) {
            case LinearKind::Q: gname = "attn_q", map = qMap; break;
            case LinearKind::K: gname = "attn_k", map = kMap; break;
            case LinearKind::V: gname = "attn_v"; break;
            case LinearKind::O: gname = "attn_output"; break;
            case LinearKind::Gate: gname = "ffn_gate"; break;
            case LinearKind::Up: gname = "ffn_up"; break;
            case LinearKind::Down: gname = "ffn_down"; break;
            default: throw Error(QStringLiteral("GGUF export: unexpected linear %1").arg(qs8(l.name)));
            }
            const Linear* lp = &l;
            addMatrix(p + gname + ".weight", l.name, l.outFeatures, l.inFeatures, &l.weight, bool(l.override),
                      [lp]() { return lp->weightMatrix(); }, map);
            if (l.bias || l.biasOverride)
                addVector(p + gname + ".bias", l.name + ".bias", [lp]() { return lp->biasVector(); }, map);
            if (l.kind == LinearKind::O)
                addVector(p + "ffn_norm.weight", b.prefix + ".post_attention_layernorm", [bp]() { return bp->mlpNorm.weightVector(); }, {});
        }
    }
    addVector("output_norm.weight", "model.norm", [mp]() { return mp->finalNorm.weightVector(); }, {});
    // lm_head: omitted when it is the embedding table itself (llama.cpp then uses token_embd)
    const bool tiedStorage = model.lmHead.ref.data == model.embedTokens.ref.data;
    const bool sameTensor = tiedStorage && model.lmHeadOverride == model.embedOverride;
    if (!sameTensor)
        addMatrix("output.weight", kLmHeadName, model.lmHead.logicalRows(), model.lmHead.logicalCols(), &model.lmHead,
                  bool(model.lmHeadOverride),
                  [mp]() { return mp->lmHeadOverride ? *mp->lmHeadOverride : mp->lmHead.matrix(); }, {});
    if (!inexact.isEmpty())
        throw Error(QStringLiteral("GGUF export: no GGUF type stores these layers exactly as they were evaluated: %1. Quantize them "
                                   "in gguf_q8_0, gguf_q4_0, gguf_q4_1, mxfp4 or fp16, or pass --allow-requantize to re-quantize "
                                   "them with RTN (the added error is reported per tensor)")
                        .arg(inexact.join(QStringLiteral(", "))));

    // tokenizer
    Vocab vocab;
    switch (tokSource.kind) {
    case TokenizerSource::Kind::Llama2c: vocab = vocabFromLlama2c(tokSource.data, tokSource.label, tokenizer, int(V)); break;
    case TokenizerSource::Kind::HfJson:
        vocab = vocabFromHf(tokSource.data, tokSource.label, tokenizer, int(V), res.warnings);
        vocab.hfConfig = tokSource.config;
        break;
    case TokenizerSource::Kind::Gpt2VocabMerges:
        vocab = vocabFromGpt2Files(tokSource.data, tokSource.data2, tokSource.label, tokenizer, int(V));
        break;
    case TokenizerSource::Kind::None: throw Error(QStringLiteral("GGUF export needs the model's tokenizer"));
    }
    if (int64_t(vocab.tokens.size()) != V)
        throw Error(QStringLiteral("GGUF export: the tokenizer (%1) has %2 tokens but the model's vocabulary is %3")
                        .arg(tokSource.label).arg(vocab.tokens.size()).arg(V));

    // file type: the type covering most of the blocks' linear weights
    std::map<GgmlType, int64_t> perType;
    for (const TensorJob& t : jobs)
        if (t.name.rfind("blk.", 0) == 0 && t.ne.size() == 2) perType[t.type] += t.rows() * t.cols();
    GgmlType major = GgmlType::F32;
    int64_t best = -1;
    for (auto [ty, n] : perType)
        if (n > best) best = n, major = ty;
    const auto [ftype, ftypeName] = fileTypeOf(major);
    res.fileType = ftypeName;

    // metadata
    KvList kv;
    kv.str("general.architecture", "llama");
    kv.u32("general.quantization_version", 2);
    kv.u32("general.alignment", opt.alignment);
    const QString name = !opt.name.isEmpty() ? opt.name : QFileInfo(model.path).completeBaseName();
    kv.str("general.name", (name.isEmpty() ? QStringLiteral("model") : name).toStdString());
    kv.u32("general.file_type", ftype);
    kv.u32("llama.vocab_size", uint32_t(V));
    kv.u32("llama.context_length", uint32_t(c.maxPositions));
    kv.u32("llama.embedding_length", uint32_t(H));
    kv.u32("llama.block_count", uint32_t(c.numLayers));
    kv.u32("llama.feed_forward_length", uint32_t(c.intermediateSize));
    kv.u32("llama.rope.dimension_count", uint32_t(c.headDim));
    kv.u32("llama.attention.head_count", uint32_t(c.numHeads));
    kv.u32("llama.attention.head_count_kv", uint32_t(c.numKvHeads));
    if (int64_t(c.headDim) * c.numHeads != H) {
        kv.u32("llama.attention.key_length", uint32_t(c.headDim));
        kv.u32("llama.attention.value_length", uint32_t(c.headDim));
    }
    kv.f32("llama.attention.layer_norm_rms_epsilon", float(c.normEps));
    kv.f32("llama.rope.freq_base", float(c.ropeTheta));
    kv.str("quantscope.version", QUANTSCOPE_VERSION);
    if (!opt.recipe.isEmpty()) kv.str("quantscope.recipe", QJsonDocument(opt.recipe).toJson(QJsonDocument::Compact).toStdString());
    writeVocab(kv, vocab);

    // tensor infos with offsets
    Writer hdr;
    hdr.u32(kMagic);
    hdr.u32(3);
    hdr.u64(jobs.size());
    hdr.u64(kv.count);
    hdr.raw(kv.w.buf.constData(), size_t(kv.w.buf.size()));
    uint64_t off = 0;
    for (const TensorJob& t : jobs) {
        hdr.str(t.name);
        hdr.u32(uint32_t(t.ne.size()));
        for (int64_t d : t.ne) hdr.u64(uint64_t(d));
        hdr.u32(uint32_t(t.type));
        hdr.u64(off);
        GgufTensorReport rep;
        rep.name = t.name;
        rep.source = t.source;
        rep.type = gguf::typeName(t.type);
        rep.format = t.evaluated.name();
        rep.ne = t.ne;
        rep.offset = off;
        rep.bytes = t.nbytes();
        rep.requantized = t.requant;
        res.tensors.push_back(rep);
        off = alignUp(off + t.nbytes(), opt.alignment);
    }
    const uint64_t dataStart = alignUp(uint64_t(hdr.buf.size()), opt.alignment);

    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    auto put = [&](const char* p, qint64 n) {
        if (f.write(p, n) != n) throw Error(QStringLiteral("%1: write failed: %2").arg(path, f.errorString()));
    };
    const QByteArray zeros(qsizetype(opt.alignment), '\0');
    put(hdr.buf.constData(), hdr.buf.size());
    put(zeros.constData(), qint64(dataStart - uint64_t(hdr.buf.size())));
    uint64_t pos = 0;
    for (size_t k = 0; k < jobs.size(); ++k) {
        opt.ctx.check();
        const QByteArray bytes = encodeTensor(jobs[k], res.tensors[k]);
        Q_ASSERT(pos == res.tensors[k].offset);
        put(bytes.constData(), bytes.size());
        pos += uint64_t(bytes.size());
        const uint64_t padded = alignUp(pos, opt.alignment);
        put(zeros.constData(), qint64(padded - pos));
        pos = padded;
        opt.ctx.report(double(k + 1) / double(jobs.size()), "GGUF: " + jobs[k].name);
    }
    if (!f.commit()) throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    res.fileBytes = dataStart + pos;
    return res;
}

// ------------------------------------------------------------------ public: reader

bool GgufValue::isInteger() const {
    switch (type) {
    case Type::U8: case Type::I8: case Type::U16: case Type::I16: case Type::U32: case Type::I32: case Type::U64:
    case Type::I64: return true;
    default: return false;
    }
}

const char* ggufValueTypeName(GgufValue::Type t) {
    switch (t) {
    case VT::U8: return "uint8";
    case VT::I8: return "int8";
    case VT::U16: return "uint16";
    case VT::I16: return "int16";
    case VT::U32: return "uint32";
    case VT::I32: return "int32";
    case VT::F32: return "float32";
    case VT::Bool: return "bool";
    case VT::String: return "string";
    case VT::Array: return "array";
    case VT::U64: return "uint64";
    case VT::I64: return "int64";
    case VT::F64: return "float64";
    }
    return "?";
}

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

const GgufValue* GgufFile::find(const std::string& key) const {
    for (const auto& [k, v] : kv)
        if (k == key) return &v;
    return nullptr;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

namespace {

class Reader {
public:
    Reader(const uint8_t* d, size_t n, const QString& label) : d_(d), n_(n), label_(label) {}
    size_t pos = 0;
    [[noreturn]] void fail(const QString& what) const {
        throw Error(QStringLiteral("%1: %2 (at byte %3)").arg(label_, what).arg(pos));
    }
    void need(size_t k, const char* what) {
        if (k > n_ - pos) fail(QStringLiteral("truncated: %1 needs %2 bytes, %3 left").arg(QLatin1String(what)).arg(k).arg(n_ - pos));
    }
    template <class T>
    T get(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, d_ + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
    std::string str(const char* what) {
        const uint64_t len = get<uint64_t>(what);
        need(len, what);
        std::string s(reinterpret_cast<const char*>(d_ + pos), size_t(len));
        pos += size_t(len);
        return s;
    }
    GgufValue value(VT t, const std::string& key, int depth) {
        GgufValue v;
        v.type = t;
        switch (t) {
        case VT::U8: v.u = get<uint8_t>("uint8"); break;
        case VT::I8: v.i = get<int8_t>("int8"); break;
        case VT::U16: v.u = get<uint16_t>("uint16"); break;
        case VT::I16: v.i = get<int16_t>("int16"); break;
        case VT::U32: v.u = get<uint32_t>("uint32"); break;
        case VT::I32: v.i = get<int32_t>("int32"); break;
        case VT::F32: v.f = get<float>("float32"); break;
        case VT::Bool: {
            const uint8_t b = get<uint8_t>("bool");
            if (b > 1) fail(QStringLiteral("key '%1': bool value %2, expected 0 or 1").arg(qs8(key)).arg(b));
            v.u = b;
            break;
        }
        case VT::String: v.s = str("string"); break;
        case VT::U64: v.u = get<uint64_t>("uint64"); break;
        case VT::I64: v.i = get<int64_t>("int64"); break;
        case VT::F64: v.f = get<double>("float64"); break;
        case VT::Array: {
            if (depth > 0) fail(QStringLiteral("key '%1': nested arrays are not supported").arg(qs8(key)));
            const uint32_t et = get<uint32_t>("array type");
            if (et > 12) fail(QStringLiteral("key '%1': unknown array element type %2").arg(qs8(key)).arg(et));
            v.elemType = VT(et);
            const uint64_t count = get<uint64_t>("array length");
            if (count > n_ - pos) fail(QStringLiteral("key '%1': array of %2 elements cannot fit in the file").arg(qs8(key)).arg(count));
            v.arr.reserve(size_t(count));
            for (uint64_t k = 0; k < count; ++k) v.arr.push_back(value(VT(et), key, depth + 1));
            break;
        }
        default: fail(QStringLiteral("key '%1': unknown value type %2").arg(qs8(key)).arg(uint32_t(t)));
        }
        return v;
    }

private:
    const uint8_t* d_;
    size_t n_;
    QString label_;
};

}  // namespace

GgufFile parseGguf(const uint8_t* data, size_t size, const QString& label) {
    GgufFile g;
    g.label = label;
    Reader r(data, size, label);
    if (size < 4 || r.get<uint32_t>("magic") != kMagic) {
        r.pos = 0;
        r.fail(QStringLiteral("not a GGUF file (expected the magic \"GGUF\")"));
    }
    g.version = r.get<uint32_t>("version");
    if (g.version != 2 && g.version != 3) r.fail(QStringLiteral("GGUF version %1; expected 2 or 3").arg(g.version));
    const uint64_t nTensors = r.get<uint64_t>("tensor_count");
    const uint64_t nKv = r.get<uint64_t>("metadata_kv_count");
    if (nTensors > size / 8 || nKv > size / 8)
        r.fail(QStringLiteral("%1 tensors and %2 metadata entries cannot fit in %3 bytes").arg(nTensors).arg(nKv).arg(size));
    std::set<std::string> keys;
    for (uint64_t k = 0; k < nKv; ++k) {
        std::string key = r.str("key");
        if (!keys.insert(key).second) r.fail(QStringLiteral("duplicate key '%1'").arg(qs8(key)));
        const uint32_t t = r.get<uint32_t>("value type");
        if (t > 12) r.fail(QStringLiteral("key '%1': unknown value type %2").arg(qs8(key)).arg(t));
        GgufValue v = r.value(VT(t), key, 0);
        g.kv.emplace_back(std::move(key), std::move(v));
    }
    if (const GgufValue* a = g.find("general.alignment")) {
        if (a->type != VT::U32 || a->u == 0 || (a->u & (a->u - 1)) != 0)
            r.fail(QStringLiteral("general.alignment must be a uint32 power of two"));
        g.alignment = uint32_t(a->u);
    }
    std::set<std::string> names;
    for (uint64_t k = 0; k < nTensors; ++k) {
        GgufTensorInfo t;
        t.name = r.str("tensor name");
        if (!names.insert(t.name).second) r.fail(QStringLiteral("duplicate tensor '%1'").arg(qs8(t.name)));
        const uint32_t nd = r.get<uint32_t>("n_dims");
        if (nd == 0 || nd > 4) r.fail(QStringLiteral("tensor '%1' has %2 dimensions; expected 1..4").arg(qs8(t.name)).arg(nd));
        int64_t numel = 1;
        for (uint32_t d = 0; d < nd; ++d) {
            const uint64_t e = r.get<uint64_t>("ne");
            if (e == 0 || e > (uint64_t(1) << 40) || numel > (int64_t(1) << 48) / int64_t(e))
                r.fail(QStringLiteral("tensor '%1': dimension %2 = %3 is out of range").arg(qs8(t.name)).arg(d).arg(e));
            t.ne.push_back(int64_t(e));
            numel *= int64_t(e);
        }
        const uint32_t ty = r.get<uint32_t>("tensor type");
        if (!gguf::knownType(ty))
            r.fail(QStringLiteral("tensor '%1' has ggml type %2; QuantScope reads F32, F16, BF16, Q8_0, Q4_0, Q4_1 and MXFP4")
                       .arg(qs8(t.name)).arg(ty));
        t.type = GgmlType(ty);
        if (t.ne[0] % gguf::blockElems(t.type) != 0)
            r.fail(QStringLiteral("tensor '%1': row length %2 is not a multiple of the %3 block size %4")
                       .arg(qs8(t.name)).arg(t.ne[0]).arg(QLatin1String(gguf::typeName(t.type))).arg(gguf::blockElems(t.type)));
        t.nbytes = gguf::bytesFor(t.type, numel);
        t.offset = r.get<uint64_t>("tensor offset");
        if (t.offset % g.alignment != 0)
            r.fail(QStringLiteral("tensor '%1': offset %2 is not a multiple of the alignment %3").arg(qs8(t.name)).arg(t.offset).arg(g.alignment));
        g.tensors.push_back(std::move(t));
    }
    g.dataStart = alignUp(r.pos, g.alignment);
    if (g.dataStart > size && !g.tensors.empty()) r.fail(QStringLiteral("the tensor data section is missing"));
    const uint64_t dataSize = size > g.dataStart ? size - g.dataStart : 0;
    std::vector<std::pair<uint64_t, const GgufTensorInfo*>> spans;
    for (GgufTensorInfo& t : g.tensors) {
        if (t.offset > dataSize || t.nbytes > dataSize - t.offset)
            throw Error(QStringLiteral("%1: tensor '%2' (%3 bytes at data offset %4) extends past the end of the file (%5 data bytes)")
                            .arg(label, qs8(t.name)).arg(t.nbytes).arg(t.offset).arg(dataSize));
        t.data = data + g.dataStart + t.offset;
        spans.emplace_back(t.offset, &t);
    }
    std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t k = 1; k < spans.size(); ++k) {
        const GgufTensorInfo* p = spans[k - 1].second;
        if (p->nbytes > 0 && p->offset + p->nbytes > spans[k].first)
            throw Error(QStringLiteral("%1: tensors '%2' and '%3' overlap").arg(label, qs8(p->name), qs8(spans[k].second->name)));
    }
    return g;
}

GgufFile openGguf(const QString& path) {
    auto mf = MappedFile::open(path);
    GgufFile g = parseGguf(mf->data(), mf->size(), path);
    g.keepAlive = mf;
    return g;
}

namespace {

int64_t intKey(const GgufFile& g, const std::string& key, std::optional<int64_t> def = std::nullopt) {
    const GgufValue* v = g.find(key);
    if (!v) {
        if (def) return *def;
        throw Error(QStringLiteral("%1: metadata '%2' is missing").arg(g.label, qs8(key)));
    }
    if (!v->isInteger())
        throw Error(QStringLiteral("%1: metadata '%2' is a %3; expected an integer").arg(g.label, qs8(key), QLatin1String(ggufValueTypeName(v->type))));
    const int64_t x = (v->type == VT::I8 || v->type == VT::I16 || v->type == VT::I32 || v->type == VT::I64) ? v->i : int64_t(v->u);
    if (x < 0 || x > (int64_t(1) << 31))
        throw Error(QStringLiteral("%1: metadata '%2' = %3 is out of range").arg(g.label, qs8(key)).arg(x));
    return x;
}

double floatKey(const GgufFile& g, const std::string& key, double def) {
    const GgufValue* v = g.find(key);
    if (!v) return def;
    if (!v->isFloat()) throw Error(QStringLiteral("%1: metadata '%2' is a %3; expected a float").arg(g.label, qs8(key), QLatin1String(ggufValueTypeName(v->type))));
    return v->f;
}

std::string strKey(const GgufFile& g, const std::string& key) {
    const GgufValue* v = g.find(key);
    if (!v) throw Error(QStringLiteral("%1: metadata '%2' is missing").arg(g.label, qs8(key)));
    if (v->type != VT::String) throw Error(QStringLiteral("%1: metadata '%2' is a %3; expected a string").arg(g.label, qs8(key), QLatin1String(ggufValueTypeName(v->type))));
    return v->s;
}

QString shapeStr(const std::vector<int64_t>& s) {
    QStringList p;
    for (int64_t d : s) p << QString::number(d);
    return QStringLiteral("[%1]").arg(p.join(QStringLiteral(", ")));
}

/// A tensor as a WeightSource of logical shape `shape` ([rows, cols] or [n]).
WeightSource gguffSource(const GgufFile& g, const std::string& name, const std::vector<int64_t>& shape,
                         const std::vector<int>* rowPerm = nullptr) {
    const GgufTensorInfo* t = g.tensor(name);
    if (!t) throw Error(QStringLiteral("%1: tensor '%2' is missing; expected shape %3").arg(g.label, qs8(name), shapeStr(shape)));
    const std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    if (t->ne != ne)
        throw Error(QStringLiteral("%1: tensor '%2' has ne %3; the metadata implies %4")
                        .arg(g.label, qs8(name), shapeStr(t->ne), shapeStr(ne)));
    WeightSource w;
    if (t->type == GgmlType::F32 || t->type == GgmlType::F16 || t->type == GgmlType::BF16) {
        const DType dt = t->type == GgmlType::F32 ? DType::F32 : t->type == GgmlType::F16 ? DType::F16 : DType::BF16;
        w.ref.name = name;
        w.ref.dtypeName = dtypeName(dt);
        w.ref.dtype = dt;
        w.ref.shape = shape;
        w.ref.data = t->data;
        w.ref.nbytes = t->nbytes;
        w.ref.file = g.label;
        w.ref.keepAlive = g.keepAlive;
    } else {
        std::vector<float> vals(size_t(t->numel()));
        const int64_t cols = t->ne[0], rows = t->numel() / cols;
        const size_t rb = gguf::bytesFor(t->type, cols);
        for (int64_t r = 0; r < rows; ++r) gguf::decodeRow(t->type, t->data + size_t(r) * rb, vals.data() + r * cols, cols);
        w = WeightSource::fromOwned(std::move(vals), shape, name);
        w.ref.dtypeName = gguf::typeName(t->type);  // what the file stores (the values are float32 in memory)
        w.ref.file = g.label;
    }
    if (rowPerm) w.rowPerm = *rowPerm;
    return w;
}

/// A 1-D tensor, row-permuted into memory (q/k biases).
WeightSource permutedVector(const GgufFile& g, const std::string& name, int64_t n, const std::vector<int>& perm) {
    const WeightSource w = gguffSource(g, name, {n});
    const VectorF v = w.vector();
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = v[perm[size_t(i)]];
    return WeightSource::fromOwned(std::move(out), {n}, name);
}

}  // namespace

std::shared_ptr<Model> loadGgufModel(const QString& path) {
    GgufFile g = openGguf(path);
    const std::string arch = strKey(g, "general.architecture");
    if (arch != "llama")
        throw Error(QStringLiteral("%1: GGUF architecture '%2'; QuantScope reads 'llama' GGUF files").arg(path, qs8(arch)));
    ModelConfig c;
    c.arch = Arch::Llama;
    c.modelType = "llama";
    c.hiddenSize = int(intKey(g, "llama.embedding_length"));
    c.intermediateSize = int(intKey(g, "llama.feed_forward_length"));
    c.numLayers = int(intKey(g, "llama.block_count"));
    c.numHeads = int(intKey(g, "llama.attention.head_count"));
    c.numKvHeads = int(intKey(g, "llama.attention.head_count_kv", c.numHeads));
    if (c.numHeads <= 0 || c.hiddenSize % std::max(c.numHeads, 1) != 0)
        throw Error(QStringLiteral("%1: llama.attention.head_count %2 does not divide embedding_length %3").arg(path).arg(c.numHeads).arg(c.hiddenSize));
    c.headDim = int(intKey(g, "llama.attention.key_length", c.hiddenSize / c.numHeads));
    if (intKey(g, "llama.attention.value_length", c.headDim) != c.headDim)
        throw Error(QStringLiteral("%1: key_length and value_length differ; not supported").arg(path));
    if (intKey(g, "llama.rope.dimension_count", c.headDim) != c.headDim)
        throw Error(QStringLiteral("%1: partial RoPE (rope.dimension_count != head size) is not supported").arg(path));
    const GgufTensorInfo* emb = g.tensor("token_embd.weight");
    if (!emb || emb->ne.size() != 2) throw Error(QStringLiteral("%1: tensor 'token_embd.weight' is missing or not 2-D").arg(path));
    c.vocabSize = int(intKey(g, "llama.vocab_size", emb->ne[1]));
    c.maxPositions = int(intKey(g, "llama.context_length"));
    c.normEps = floatKey(g, "llama.attention.layer_norm_rms_epsilon", 1e-5);
    c.ropeTheta = floatKey(g, "llama.rope.freq_base", 10000.0);
    c.tiedEmbeddings = g.tensor("output.weight") == nullptr;
    c.bosTokenId = int(intKey(g, "tokenizer.ggml.bos_token_id", -1));
    c.eosTokenId = int(intKey(g, "tokenizer.ggml.eos_token_id", -1));
    c.qkvBias = g.tensor("blk.0.attn_q.bias") != nullptr;
    c.oBias = g.tensor("blk.0.attn_output.bias") != nullptr;
    c.validate(path);

    auto m = std::make_shared<Model>();
    m->config = c;
    m->path = QFileInfo(path).absoluteFilePath();
    m->format = QStringLiteral("gguf");
    const int64_t H = c.hiddenSize, V = c.vocabSize, I = c.intermediateSize;
    const int64_t qd = int64_t(c.numHeads) * c.headDim, kvd = int64_t(c.numKvHeads) * c.headDim;
    m->embedTokens = gguffSource(g, "token_embd.weight", {V, H});
    m->finalNorm.weight = gguffSource(g, "output_norm.weight", {H});
    m->lmHead = c.tiedEmbeddings ? m->embedTokens : gguffSource(g, "output.weight", {V, H});
    const std::vector<int> qPerm = toRotateHalf(c.numHeads, c.headDim), kPerm = toRotateHalf(c.numKvHeads, c.headDim);
    for (int i = 0; i < c.numLayers; ++i) {
        Block b;
        b.index = i;
        b.prefix = "model.layers." + std::to_string(i);
        const std::string p = "blk." + std::to_string(i) + ".";
        b.attnNorm.weight = gguffSource(g, p + "attn_norm.weight", {H});
        b.mlpNorm.weight = gguffSource(g, p + "ffn_norm.weight", {H});
        auto lin = [&](const char* gname, const char* hfName, LinearKind k, int64_t out, int64_t in, const std::vector<int>* perm) {
            Linear l;
            l.name = b.prefix + "." + hfName;
            l.kind = k;
            l.outFeatures = out;
            l.inFeatures = in;
            l.weight = gguffSource(g, p + gname + ".weight", {out, in}, perm);
            const std::string bn = p + gname + ".bias";
            if (g.tensor(bn)) l.bias = perm ? permutedVector(g, bn, out, *perm) : gguffSource(g, bn, {out});
            b.linears.push_back(std::move(l));
        };
        lin("attn_q", "self_attn.q_proj", LinearKind::Q, qd, H, &qPerm);
        lin("attn_k", "self_attn.k_proj", LinearKind::K, kvd, H, &kPerm);
        lin("attn_v", "self_attn.v_proj", LinearKind::V, kvd, H, nullptr);
        lin("attn_output", "self_attn.o_proj", LinearKind::O, H, qd, nullptr);
        lin("ffn_gate", "mlp.gate_proj", LinearKind::Gate, I, H, nullptr);
        lin("ffn_up", "mlp.up_proj", LinearKind::Up, I, H, nullptr);
        lin("ffn_down", "mlp.down_proj", LinearKind::Down, H, I, nullptr);
        m->blocks.push_back(std::move(b));
    }
    // a quantized file says so (its tensors were dequantized): the weights' types
    std::map<std::string, int> types;
    bool quantized = false;
    for (const GgufTensorInfo& t : g.tensors) {
        if (t.ne.size() != 2) continue;
        types[gguf::typeName(t.type)]++;
        quantized = quantized || (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16);
    }
    if (quantized) {
        QStringList parts;
        for (const auto& [name, n] : types) parts << QStringLiteral("%1 x%2").arg(qs8(name)).arg(n);
        m->quantization = QStringLiteral("GGUF: ") + parts.join(QStringLiteral(", "));
    }
    return m;
}

namespace {

const GgufValue& arrayKey(const GgufFile& g, const std::string& key, VT elem) {
    const GgufValue* v = g.find(key);
    if (!v) throw Error(QStringLiteral("%1: metadata '%2' is missing").arg(g.label, qs8(key)));
    if (v->type != VT::Array || v->elemType != elem)
        throw Error(QStringLiteral("%1: metadata '%2' is not an array of %3").arg(g.label, qs8(key), QLatin1String(ggufValueTypeName(elem))));
    return *v;
}

/// The llama2.c tokenizer.bin of a "llama" vocabulary in llama2.c's layout
/// (llama2.c's tokenizer.py: pieces with plain spaces, BOS/EOS as "\n<s>\n" and
/// "\n</s>\n", max_token_length = the longest piece in bytes).
QByteArray llama2cBytesFromGguf(const GgufFile& g) {
    const GgufValue& toks = arrayKey(g, "tokenizer.ggml.tokens", VT::String);
    const GgufValue& scores = arrayKey(g, "tokenizer.ggml.scores", VT::F32);
    if (scores.arr.size() != toks.arr.size())
        throw Error(QStringLiteral("%1: %2 tokens but %3 scores").arg(g.label).arg(toks.arr.size()).arg(scores.arr.size()));
    const int64_t bos = intKey(g, "tokenizer.ggml.bos_token_id", 1), eos = intKey(g, "tokenizer.ggml.eos_token_id", 2);
    if (bos != 1 || eos != 2 || toks.arr.size() < 259)
        throw Error(QStringLiteral("%1: this SentencePiece vocabulary is not in llama2.c's layout (BOS 1, EOS 2, byte tokens "
                                   "3..258); pass the model's tokenizer with --tokenizer")
                        .arg(g.label));
    char want[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(want, sizeof want, "<0x%02X>", b);
        if (toks.arr[size_t(b + 3)].s != want)
            throw Error(QStringLiteral("%1: token %2 is '%3', expected the byte token %4 (llama2.c layout); pass --tokenizer")
                            .arg(g.label).arg(b + 3).arg(qs8(toks.arr[size_t(b + 3)].s), QLatin1String(want)));
    }
    std::vector<std::string> pieces;
    for (size_t i = 0; i < toks.arr.size(); ++i) {
        std::string p = unescapeSpaces(toks.arr[i].s);
        if (i == 1) p = "\n<s>\n";
        if (i == 2) p = "\n</s>\n";
        pieces.push_back(p);
    }
    int32_t maxLen = 0;
    for (const auto& p : pieces) maxLen = std::max<int32_t>(maxLen, int32_t(p.size()));
    Writer w;
    w.i32(maxLen);
    for (size_t i = 0; i < pieces.size(); ++i) {
        w.f32(float(scores.arr[i].f));
        w.i32(int32_t(pieces[i].size()));
        w.raw(pieces[i].data(), pieces[i].size());
    }
    return w.buf;
}

/// A tokenizer.json (+ tokenizer_config.json) for a "gpt2" vocabulary.
std::pair<QByteArray, QByteArray> hfJsonFromGguf(const GgufFile& g) {
    const GgufValue& toks = arrayKey(g, "tokenizer.ggml.tokens", VT::String);
    const GgufValue& merges = arrayKey(g, "tokenizer.ggml.merges", VT::String);
    const GgufValue* types = g.find("tokenizer.ggml.token_type");
    std::string pre = "gpt-2";
    if (const GgufValue* p = g.find("tokenizer.ggml.pre"); p && p->type == VT::String) pre = p->s;
    QJsonObject byteLevel{{QStringLiteral("type"), QStringLiteral("ByteLevel")}, {QStringLiteral("add_prefix_space"), false},
                          {QStringLiteral("trim_offsets"), true}, {QStringLiteral("use_regex"), true}};
    QJsonObject preTok;
    if (pre == "gpt-2" || pre == "gpt2") preTok = byteLevel;
    else if (pre == "smollm")
        preTok = QJsonObject{{QStringLiteral("type"), QStringLiteral("Sequence")},
                             {QStringLiteral("pretokenizers"),
                              QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("Digits")}, {QStringLiteral("individual_digits"), true}},
                                         byteLevel}}};
    else
        throw Error(QStringLiteral("%1: tokenizer.ggml.pre '%2' is not one QuantScope can reproduce (gpt-2, smollm); pass the "
                                   "model's tokenizer.json with --tokenizer")
                        .arg(g.label, qs8(pre)));
    QJsonObject vocab;
    QJsonArray added;
    for (size_t i = 0; i < toks.arr.size(); ++i) {
        const int32_t type = types && i < types->arr.size() ? int32_t(types->arr[i].i) : kNormal;
        const QString t = qs8(toks.arr[i].s);
        if (type == kControl || type == kUserDefined)
            added.append(QJsonObject{{QStringLiteral("id"), qint64(i)}, {QStringLiteral("content"), t},
                                     {QStringLiteral("special"), type == kControl}});
        if (type != kUnused) vocab.insert(t, qint64(i));
    }
    QJsonArray mergeArr;
    for (const GgufValue& m : merges.arr) mergeArr.append(qs8(m.s));
    const QJsonObject root{
        {QStringLiteral("model"), QJsonObject{{QStringLiteral("type"), QStringLiteral("BPE")}, {QStringLiteral("vocab"), vocab},
                                              {QStringLiteral("merges"), mergeArr}}},
        {QStringLiteral("pre_tokenizer"), preTok},
        {QStringLiteral("decoder"), byteLevel},
        {QStringLiteral("added_tokens"), added}};
    QJsonObject cfg;
    if (const GgufValue* ab = g.find("tokenizer.ggml.add_bos_token"); ab && ab->type == VT::Bool) {
        cfg.insert(QStringLiteral("add_bos_token"), ab->u != 0);
        const int64_t bos = intKey(g, "tokenizer.ggml.bos_token_id", -1);
        if (bos >= 0 && size_t(bos) < toks.arr.size()) cfg.insert(QStringLiteral("bos_token"), qs8(toks.arr[size_t(bos)].s));
    }
    return {QJsonDocument(root).toJson(QJsonDocument::Compact), QJsonDocument(cfg).toJson(QJsonDocument::Compact)};
}

}  // namespace

TokenizerSource ggufTokenizerSource(const QString& path) {
    const GgufFile g = openGguf(path);
    TokenizerSource s;
    s.label = path + QStringLiteral(" (embedded tokenizer)");
    if (const GgufValue* hf = g.find("tokenizer.huggingface.json"); hf && hf->type == VT::String) {
        s.kind = TokenizerSource::Kind::HfJson;
        s.data = QByteArray::fromStdString(hf->s);
        if (const GgufValue* cfg = g.find("quantscope.tokenizer_config"); cfg && cfg->type == VT::String)
            s.config = QByteArray::fromStdString(cfg->s);
        return s;
    }
    const std::string model = strKey(g, "tokenizer.ggml.model");
    if (model == "llama") {
        s.kind = TokenizerSource::Kind::Llama2c;
        s.data = llama2cBytesFromGguf(g);
        return s;
    }
    if (model == "gpt2") {
        s.kind = TokenizerSource::Kind::HfJson;
        std::tie(s.data, s.config) = hfJsonFromGguf(g);
        return s;
    }
    throw Error(QStringLiteral("%1: tokenizer.ggml.model '%2' is not supported (llama, gpt2); pass --tokenizer").arg(path, qs8(model)));
}

std::unique_ptr<Tokenizer> loadGgufTokenizer(const QString& path) {
    const TokenizerSource s = ggufTokenizerSource(path);
    std::unique_ptr<Tokenizer> t = s.kind == TokenizerSource::Kind::Llama2c ? parseLlama2cTokenizer(s.data, -1, s.label)
                                                                             : parseHfTokenizer(s.data, s.config, s.label);
    t->sourceFiles = QStringList{QFileInfo(path).absoluteFilePath()};
    return t;
}

}  // namespace qs
