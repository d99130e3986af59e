// llama2.c tokenizer.bin: the SentencePiece-style BPE of Karpathy's llama2.c
// (run.c build_tokenizer() / encode() / decode()), reproduced id for id.
//
// File layout (little-endian, no padding):
//   int32 max_token_length
//   vocab_size x { float32 score; int32 len; len bytes piece }
// Pieces use a plain space (not "▁"); ids 0/1/2 are <unk>/BOS/EOS and the raw
// byte b is the piece "<0xNN>" with id b + 3.
//
// Encoding (run.c encode(), bos/eos handled by Tokenizer::encodeForModel):
//  1. dummy prefix: when the text is non-empty the first token is the id of the
//     piece " ";
//  2. the text is cut into UTF-8 codepoints the way run.c does it (a byte plus at
//     most 3 following continuation bytes); each is looked up as a piece, and when
//     absent every byte b of it becomes the byte-fallback id b + 3;
//  3. repeatedly, the adjacent pair whose concatenated piece exists with the highest
//     score is merged (strictly greater wins, so ties go to the leftmost pair; a
//     pair must beat run.c's initial best score of -1e10 to be merged at all).
// run.c rescans the whole sequence after every merge (O(n^2)); here a priority
// queue ordered by (score desc, position asc) over a doubly linked list of symbols
// gives the same sequence of merges in O(n log n): queue entries remember the ids
// of the pair they were made for and are dropped when the pair no longer exists.
#include <cmath>
#include <cstring>
#include <queue>
#include <string_view>
#include <unordered_map>

#include <QFile>

#include "model/tokenizer.h"
#include "util/error.h"

namespace qs {

namespace {

/// Hash accepting std::string and std::string_view keys, so that lookups of
/// substrings and concatenation buffers allocate nothing.
struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int, PieceHash, std::equal_to<>>;

class Llama2cTokenizer final : public Tokenizer {
public:
    std::vector<std::string> pieces;
    std::vector<float> scores;
    PieceMap lookup;          // piece -> lowest id holding it
    int dummyPrefixId = -1;   // id of " " (or byte fallback of 0x20 when " " is absent)

    std::vector<int> encode(const std::string& text) const override;
    std::string decodeToken(int id) const override;
    int vocabSize() const override { return int(pieces.size()); }
    std::string kind() const override { return "llama2c"; }

protected:
    std::string decodeSequence(const std::vector<int>& ids) const override;

private:
    int find(std::string_view s) const {
        auto it = lookup.find(s);
        return it == lookup.end() ? -1 : it->second;
    }
    void checkId(int id) const {
        if (id < 0 || id >= vocabSize())
            throw Error(QStringLiteral("llama2.c tokenizer: token id %1 is outside the vocabulary [0, %2)")
                            .arg(id)
                            .arg(vocabSize()));
    }
    /// The byte a "<0xNN>" piece stands for, or -1.
    static int bytePiece(const std::string& p) {
        if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
        auto hex = [](char c) {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        const int hi = hex(p[3]), lo = hex(p[4]);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
};

std::vector<int> Llama2cTokenizer::encode(const std::string& text) const {
    std::vector<int> tokens;
    if (text.empty()) return tokens;
    const int V = vocabSize();
    tokens.reserve(text.size() + 1);
    tokens.push_back(dummyPrefixId);

    // Step 2: codepoints (run.c groups a byte with up to 3 following continuation
    // bytes, whatever the first byte is), piece lookup or byte fallback.
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        while (i + len < n && len < 4 && (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80) ++len;
        const int id = find(std::string_view(text).substr(i, len));
        if (id >= 0) {
            tokens.push_back(id);
        } else {
            for (size_t k = 0; k < len; ++k) {
                const int b = static_cast<unsigned char>(text[i + k]) + 3;
                // A vocabulary without the 256 byte pieces cannot represent the byte;
                // run.c would emit an out-of-range id, we emit <unk> (id 0).
                tokens.push_back(b < V ? b : 0);
            }
        }
        i += len;
    }

    // Step 3: best-score merges with a priority queue over a linked list.
    const int count = int(tokens.size());
    if (count < 2) return tokens;
    struct Sym {
        int id;
        int prev;
        int next;
    };
    std::vector<Sym> sym(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) sym[size_t(i)] = {tokens[size_t(i)], i - 1, i + 1 < count ? i + 1 : -1};

    struct Cand {
        float score;
        int pos;       // index of the left symbol (list order == index order)
        int leftId;    // ids at push time, to detect stale entries
        int rightId;
        int rightPos;
        int merged;
    };
    struct Worse {
        bool operator()(const Cand& a, const Cand& b) const {
            if (a.score != b.score) return a.score < b.score;  // higher score first
            return a.pos > b.pos;                                // then leftmost
        }
    };
    std::priority_queue<Cand, std::vector<Cand>, Worse> queue;
    std::string buf;
    // run.c: best_score starts at -1e10f and a pair needs a strictly greater score.
    // NaN scores never compare greater, so they never merge either.
    const float floor = -1e10f;
    auto consider = [&](int left) {
        if (left < 0) return;
        const int right = sym[size_t(left)].next;
        if (right < 0) return;
        const std::string& a = pieces[size_t(sym[size_t(left)].id)];
        const std::string& b = pieces[size_t(sym[size_t(right)].id)];
        buf.assign(a);
        buf.append(b);
        const int merged = find(buf);
        if (merged < 0) return;
        const float s = scores[size_t(merged)];
        if (!(s > floor)) return;
        queue.push({s, left, sym[size_t(left)].id, sym[size_t(right)].id, right, merged});
    };
    for (int i = 0; i + 1 < count; ++i) consider(i);

    std::vector<char> alive(size_t(count), 1);
    while (!queue.empty()) {
        const Cand c = queue.top();
        queue.pop();
        if (!alive[size_t(c.pos)] || sym[size_t(c.pos)].next != c.rightPos || sym[size_t(c.pos)].id != c.leftId ||
            sym[size_t(c.rightPos)].id != c.rightId)
            continue;  // stale: one side was merged away or changed since the push
        Sym& l = sym[size_t(c.pos)];
        const Sym r = sym[size_t(c.rightPos)];
        l.id = c.merged;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = c.pos;
        alive[size_t(c.rightPos)] = 0;
        consider(l.prev);
        consider(c.pos);
    }
    tokens.clear();
    for (int i = 0; i >= 0; i = sym[size_t(i)].next) tokens.push_back(sym[size_t(i)].id);
    return tokens;
}

std::string Llama2cTokenizer::decodeToken(int id) const {
    checkId(id);
    const std::string& p = pieces[size_t(id)];
    const int b = bytePiece(p);
    return b >= 0 ? std::string(1, char(b)) : p;
}

std::string Llama2cTokenizer::decodeSequence(const std::vector<int>& ids) const {
    // run.c decode(prev, token): a piece right after BOS loses its leading space
    // (the dummy prefix); "<0xNN>" is the raw byte. BOS/EOS are control tokens that
    // run.c never prints, they contribute nothing here.
    std::string out;
    int prev = -1;
    for (int id : ids) {
        checkId(id);
        if (id != bosId && id != eosId) {
            const std::string& p = pieces[size_t(id)];
            const int b = bytePiece(p);
            if (b >= 0)
                out.push_back(char(b));
            else if (prev == bosId && !p.empty() && p[0] == ' ')
                out.append(p, 1, std::string::npos);
            else
                out.append(p);
        }
        prev = id;
    }
    return out;
}

}  // namespace

std::unique_ptr<Tokenizer> parseLlama2cTokenizer(const QByteArray& bytes, int vocabSize, const QString& label) {
    const qsizetype size = bytes.size();
    const char* data = bytes.constData();
    auto fail = [&](const QString& what) -> void {
        throw Error(QStringLiteral("%1: llama2.c tokenizer: %2").arg(label, what));
    };
    if (size < 4) fail(QStringLiteral("truncated file: %1 bytes, expected at least 4 for max_token_length").arg(size));
    int32_t maxLen;
    std::memcpy(&maxLen, data, 4);
    if (maxLen <= 0 || maxLen > (1 << 16))
        fail(QStringLiteral("max_token_length is %1, expected 1..65536").arg(maxLen));

    // First pass: count the well-formed entries, so that a count mismatch can be
    // reported with both numbers.
    auto tok = std::make_unique<Llama2cTokenizer>();
    qsizetype off = 4;
    int index = 0;
    while (off < size && (vocabSize <= 0 || index < vocabSize)) {
        if (size - off < 8)
            fail(QStringLiteral("truncated file: entry %1 at byte %2 needs 8 bytes for score and length, %3 left")
                     .arg(index)
                     .arg(off)
                     .arg(size - off));
        float score;
        int32_t len;
        std::memcpy(&score, data + off, 4);
        std::memcpy(&len, data + off + 4, 4);
        if (len < 0 || len > maxLen)
            fail(QStringLiteral("entry %1 at byte %2 has piece length %3, expected 0..%4 (max_token_length)")
                     .arg(index)
                     .arg(off + 4)
                     .arg(len)
                     .arg(maxLen));
        if (size - off - 8 < len)
            fail(QStringLiteral("truncated file: entry %1 at byte %2 needs %3 piece bytes, %4 left")
                     .arg(index)
                     .arg(off + 8)
                     .arg(len)
                     .arg(size - off - 8));
        tok->scores.push_back(score);
        tok->pieces.emplace_back(data + off + 8, size_t(len));
        off += 8 + len;
        ++index;
    }
    if (vocabSize > 0 && index < vocabSize)
        fail(QStringLiteral("vocabulary count mismatch: the file holds %1 entries, the model's vocab_size is %2")
                 .arg(index)
                 .arg(vocabSize));
    if (off < size) {
        // Count what follows when it parses as further entries, for a useful message.
        int extra = 0;
        qsizetype o = off;
        while (o + 8 <= size) {
            int32_t len;
            std::memcpy(&len, data + o + 4, 4);
            if (len < 0 || len > maxLen || size - o - 8 < len) break;
            o += 8 + len;
            ++extra;
        }
        if (o == size)
            fail(QStringLiteral("vocabulary count mismatch: the file holds %1 entries, the model's vocab_size is %2")
                     .arg(index + extra)
                     .arg(vocabSize));
        fail(QStringLiteral("%1 unexpected trailing bytes after the %2 entries").arg(size - off).arg(index));
    }
    if (index < 3) fail(QStringLiteral("the file holds %1 entries, expected at least 3 (<unk>, BOS, EOS)").arg(index));

    // Lookup: lowest id wins for duplicate pieces (run.c's bsearch over the sorted
    // vocabulary is unspecified there; real tokenizers have no duplicates).
    tok->lookup.reserve(tok->pieces.size());
    for (int i = 0; i < index; ++i) tok->lookup.emplace(tok->pieces[size_t(i)], i);
    auto sp = tok->lookup.find(std::string_view(" "));
    tok->dummyPrefixId = sp != tok->lookup.end() ? sp->second : (0x20 + 3 < index ? 0x20 + 3 : 0);
    tok->bosId = 1;
    tok->eosId = 2;
    tok->addBos = true;
    return tok;
}

std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const QString& path, int vocabSize) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot open llama2.c tokenizer: %2").arg(path, f.errorString()));
    if (f.size() > (qint64(1) << 30))
        throw Error(QStringLiteral("%1: llama2.c tokenizer of %2 bytes, expected at most 1 GiB").arg(path).arg(f.size()));
    return parseLlama2cTokenizer(f.readAll(), vocabSize, path);
}

}  // namespace qs
