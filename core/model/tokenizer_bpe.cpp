// Hugging Face `tokenizer.json` BPE tokenizers and GPT-2 `vocab.json` + `merges.txt`,
// reproducing the ids of the Rust `tokenizers` library (Tokenizer::encode with
// add_special_tokens=false for encode(); the post-processor's special tokens are
// added by Tokenizer::encodeForModel).
//
// The pipeline, as in `tokenizers`:
//  1. added tokens with "normalized": false are matched literally in the raw text
//     (leftmost-longest, honouring single_word / lstrip / rstrip) and become their
//     ids directly;
//  2. every other piece is normalized (Sequence, Prepend, Append, Replace,
//     NFC/NFD/NFKC/NFKD, Lowercase, Strip), then added tokens with
//     "normalized": true are matched in the normalized text;
//  3. the pre-tokenizer cuts the pieces into words (Sequence, ByteLevel, Split,
//     Metaspace, Digits), ByteLevel maps every byte to its printable stand-in
//     character (the GPT-2 bytes_to_unicode table);
//  4. the BPE model turns each word into ids: characters (with byte_fallback
//     "<0xNN>" or unk_token / fuse_unk for characters not in the vocabulary), then
//     merges by rank: a heap ordered by (rank, position) over a linked list of
//     symbols, stale entries skipped, exactly as tokenizers' Word::merge_all.
//     ignore_merges returns a word that is a whole vocabulary entry directly.
//     Results per word are cached (words shorter than 256 bytes).
// Regular expressions (the GPT-2 pattern, Split patterns from the JSON) run on
// QRegularExpression (PCRE2) with Unicode properties; `\s`/`\S` are rewritten to
// the Unicode White_Space set that Oniguruma (used by tokenizers) matches, since
// PCRE2's `\s` also matches U+180E.
// Not reproduced: BPE-dropout (rejected when non-zero), truncation/padding
// settings (ignored: evaluation needs the whole text), offsets. Input that is not
// valid UTF-8 has each invalid sequence replaced by U+FFFD first (the Rust library
// only accepts valid UTF-8 strings).
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <queue>
#include <string_view>
#include <unordered_map>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QRegularExpression>
#include <QStringDecoder>

#include "model/tokenizer.h"
#include "util/error.h"

namespace qs {

namespace {

// ---------------------------------------------------------------------------
// Errors and JSON access. Every message names the file, the JSON field (as a
// path such as "pre_tokenizer.pretokenizers[1].pattern"), what was found and
// what was expected.
// ---------------------------------------------------------------------------

/// UTF-8 -> QString keeping a leading U+FEFF (QString::fromUtf8 drops it, which
/// would lose a character and shift every offset) and replacing each invalid
/// sequence, a truncated one at the end included, by U+FFFD.
QString toQString(std::string_view s) {
    QStringDecoder dec(QStringConverter::Utf8,
                       QStringConverter::Flag::ConvertInitialBom | QStringConverter::Flag::Stateless);
    return dec.decode(QByteArrayView(s.data(), qsizetype(s.size())));
}

QString describe(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Null: return QStringLiteral("null");
    case QJsonValue::Bool: return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double: return QStringLiteral("the number %1").arg(v.toDouble(), 0, 'g', 17);
    case QJsonValue::String: {
        QString s = v.toString();
        if (s.size() > 60) s = s.left(57) + QStringLiteral("...");
        return QStringLiteral("the string \"%1\"").arg(s);
    }
    case QJsonValue::Array: return QStringLiteral("an array of %1 elements").arg(v.toArray().size());
    case QJsonValue::Object: return QStringLiteral("an object");
    case QJsonValue::Undefined: return QStringLiteral("nothing (the field is missing)");
    }
    return QStringLiteral("an unknown value");
}

QString quoteUtf8(const std::string& s) {
    QString q = toQString(s);
    if (q.size() > 60) q = q.left(57) + QStringLiteral("...");
    return QStringLiteral("\"%1\"").arg(q);
}

struct Json {
    QString file;

    [[noreturn]] void fail(const QString& field, const QString& found, const QString& expected) const {
        throw Error(QStringLiteral("%1: %2: found %3, expected %4").arg(file, field, found, expected));
    }
    [[noreturn]] void failValue(const QString& field, const QJsonValue& v, const QString& expected) const {
        fail(field, describe(v), expected);
    }
    QJsonObject object(const QJsonValue& v, const QString& field) const {
        if (!v.isObject()) failValue(field, v, QStringLiteral("an object"));
        return v.toObject();
    }
    QJsonArray array(const QJsonValue& v, const QString& field) const {
        if (!v.isArray()) failValue(field, v, QStringLiteral("an array"));
        return v.toArray();
    }
    QString string(const QJsonValue& v, const QString& field) const {
        if (!v.isString()) failValue(field, v, QStringLiteral("a string"));
        return v.toString();
    }
    std::string utf8(const QJsonValue& v, const QString& field) const { return string(v, field).toStdString(); }
    bool boolean(const QJsonValue& v, const QString& field) const {
        if (!v.isBool()) failValue(field, v, QStringLiteral("true or false"));
        return v.toBool();
    }
    /// An integer in [lo, hi].
    long long integer(const QJsonValue& v, const QString& field, long long lo, long long hi) const {
        const QString expected = QStringLiteral("an integer in [%1, %2]").arg(lo).arg(hi);
        if (!v.isDouble()) failValue(field, v, expected);
        const double d = v.toDouble();
        if (!(d >= double(lo) && d <= double(hi)) || d != double(static_cast<long long>(d))) failValue(field, v, expected);
        return static_cast<long long>(d);
    }
    bool optBool(const QJsonObject& o, const QString& key, const QString& path, bool def) const {
        const QJsonValue v = o.value(key);
        if (v.isUndefined() || v.isNull()) return def;
        return boolean(v, path + QLatin1Char('.') + key);
    }
    /// A string or null/absent (-> empty, `present` false).
    std::string optString(const QJsonObject& o, const QString& key, const QString& path, bool* present = nullptr) const {
        const QJsonValue v = o.value(key);
        if (present) *present = !(v.isUndefined() || v.isNull());
        if (v.isUndefined() || v.isNull()) return {};
        return utf8(v, path + QLatin1Char('.') + key);
    }
    QString type(const QJsonObject& o, const QString& path) const {
        return string(o.value(QStringLiteral("type")), path + QStringLiteral(".type"));
    }
};

QJsonDocument parseJsonFile(const QByteArray& bytes, const QString& label) {
    QJsonParseError err{};
    QJsonDocument doc = QJsonDocument::fromJson(bytes, &err);
    if (err.error != QJsonParseError::NoError)
        throw Error(QStringLiteral("%1: not valid JSON: %2 at byte %3").arg(label, err.errorString()).arg(err.offset));
    if (!doc.isObject())
        throw Error(QStringLiteral("%1: found a JSON %2 at the top level, expected an object")
                        .arg(label, doc.isArray() ? QStringLiteral("array") : QStringLiteral("value")));
    return doc;
}

QByteArray readFile(const QString& path, const char* what) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot open %2: %3").arg(path, QLatin1String(what), f.errorString()));
    if (f.size() > (qint64(1) << 30))
        throw Error(QStringLiteral("%1: %2 of %3 bytes, expected at most 1 GiB").arg(path, QLatin1String(what)).arg(f.size()));
    return f.readAll();
}

// ---------------------------------------------------------------------------
// UTF-8 and Unicode helpers. Strings handed to the pipeline are valid UTF-8.
// ---------------------------------------------------------------------------

inline int utf8Len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

inline char32_t decodeAt(std::string_view s, size_t i, int& len) {
    const auto c = static_cast<unsigned char>(s[i]);
    len = utf8Len(c);
    if (len == 1) return c;
    char32_t cp = c & (0x3F >> (len - 1));
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + size_t(k)]) & 0x3F);
    return cp;
}

void appendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xC0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xE0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    }
}

bool isValidUtf8(std::string_view s) {
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        int len;
        char32_t minCp;
        if ((c & 0xE0) == 0xC0) len = 2, minCp = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, minCp = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, minCp = 0x10000;
        else return false;
        if (i + size_t(len) > n) return false;
        char32_t cp = c & (0x3F >> (len - 1));
        for (int k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + size_t(k)]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < minCp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += size_t(len);
    }
    return true;
}

/// Unicode White_Space (Rust char::is_whitespace, Oniguruma \s).
inline bool isWhiteSpace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Unicode regex \w, as the Rust regex crate defines it (tokenizers' single_word
/// test): Alphabetic (letters, letter numbers such as U+216B, the enclosed Latin
/// letters U+24B6.., ...), marks, decimal digits, connector punctuation and
/// Join_Control (U+200C, U+200D).
inline bool isWordChar(char32_t c) {
    if (c == U'_' || c == 0x200C || c == 0x200D) return true;
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
        (c >= 0x1F170 && c <= 0x1F189))
        return true;  // Other_Alphabetic symbols (circled / squared Latin letters)
    const QChar::Category cat = QChar::category(c);
    return QChar::isLetter(c) || cat == QChar::Number_DecimalDigit || cat == QChar::Number_Letter ||
           cat == QChar::Mark_NonSpacing || cat == QChar::Mark_SpacingCombining || cat == QChar::Mark_Enclosing ||
           cat == QChar::Punctuation_Connector;
}

/// The last / first character of a UTF-8 string (0 when empty).
char32_t lastChar(std::string_view s) {
    if (s.empty()) return 0;
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    int len;
    return decodeAt(s, i, len);
}

// ---------------------------------------------------------------------------
// GPT-2 byte-level table (bytes_to_unicode): printable Latin-1 bytes stand for
// themselves, the other 68 bytes map to U+0100.. in byte order.
// ---------------------------------------------------------------------------

struct ByteLevelTable {
    std::array<std::string, 256> enc;   // byte -> UTF-8 of its stand-in character
    std::array<int, 512> dec;           // stand-in code point -> byte, -1 otherwise
    ByteLevelTable() {
        dec.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
            appendUtf8(enc[size_t(b)], cp);
            dec[size_t(cp)] = b;
        }
    }
};

const ByteLevelTable& byteLevelTable() {
    static const ByteLevelTable t;
    return t;
}

/// Bytes of a byte-level token; tokens containing a character outside the table
/// keep their raw UTF-8 (tokenizers' ByteLevel decoder does the same).
std::string byteLevelDecode(std::string_view tok) {
    const ByteLevelTable& t = byteLevelTable();
    std::string out;
    out.reserve(tok.size());
    for (size_t i = 0; i < tok.size();) {
        int len;
        const char32_t cp = decodeAt(tok, i, len);
        if (cp >= t.dec.size() || t.dec[cp] < 0) return std::string(tok);
        out.push_back(char(t.dec[cp]));
        i += size_t(len);
    }
    return out;
}

/// The byte of a "<0xNN>" token (tokenizers' ByteFallback decoder), or -1.
int byteFallbackValue(std::string_view t) {
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to) {
    if (from.empty()) return std::string(s);
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    while (true) {
        const size_t hit = s.find(from, pos);
        if (hit == std::string_view::npos) break;
        out.append(s.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s.substr(pos));
    return out;
}

// ---------------------------------------------------------------------------
// Patterns and splitting (tokenizers' Pattern::find_matches and
// NormalizedString::split). Offsets are UTF-8 byte offsets.
// ---------------------------------------------------------------------------

struct Span {
    size_t start, end;
    bool match;
};

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

/// Oniguruma's \s is Unicode White_Space; PCRE2's (with UCP) adds U+180E. Rewrites
/// \s and \S (outside character classes) and \s inside classes to the exact set.
QString onigToPcre(const QString& p) {
    static const QString ws = QStringLiteral(
        "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}");
    QString out;
    out.reserve(p.size() + 64);
    bool inClass = false;
    for (qsizetype i = 0; i < p.size(); ++i) {
        const QChar c = p[i];
        if (c == QLatin1Char('\\') && i + 1 < p.size()) {
            const QChar n = p[i + 1];
            if (n == QLatin1Char('s')) out += inClass ? ws : QStringLiteral("[") + ws + QStringLiteral("]");
            else if (n == QLatin1Char('S') && !inClass) out += QStringLiteral("[^") + ws + QStringLiteral("]");
            else out += c, out += n;
            ++i;
            continue;
        }
        if (!inClass && c == QLatin1Char('[')) {
            inClass = true;
            out += c;
            if (i + 1 < p.size() && p[i + 1] == QLatin1Char('^')) out += p[++i];
            if (i + 1 < p.size() && p[i + 1] == QLatin1Char(']')) out += p[++i];  // literal ']' first in a class
            continue;
        }
        if (inClass && c == QLatin1Char('[') && i + 1 < p.size() && p[i + 1] == QLatin1Char(':')) {
            const qsizetype end = p.indexOf(QStringLiteral(":]"), i + 2);
            if (end > 0) {
                out += p.mid(i, end + 2 - i);
                i = end + 1;
                continue;
            }
        }
        if (inClass && c == QLatin1Char(']')) inClass = false;
        out += c;
    }
    return out;
}

struct Pattern {
    enum class Kind { Literal, Regex, Char, Numeric } kind = Kind::Literal;
    std::string literal;        // Literal
    QRegularExpression re;      // Regex
    char32_t ch = 0;            // Char: every occurrence is a match

    static Pattern regex(const QString& pattern, const Json& j, const QString& field) {
        Pattern p;
        p.kind = Kind::Regex;
        p.re = QRegularExpression(onigToPcre(pattern), QRegularExpression::UseUnicodePropertiesOption);
        if (!p.re.isValid())
            j.fail(field, QStringLiteral("the regular expression \"%1\"").arg(pattern),
                   QStringLiteral("a valid regular expression (%1 at offset %2)")
                       .arg(p.re.errorString())
                       .arg(p.re.patternErrorOffset()));
        p.re.optimize();
        return p;
    }

    /// The whole string as consecutive spans, flagged when matched (empty input:
    /// one empty unmatched span).
    std::vector<Span> find(const std::string& s) const {
        std::vector<Span> out;
        if (s.empty()) {
            out.push_back({0, 0, false});
            return out;
        }
        size_t prev = 0;
        auto hit = [&](size_t a, size_t b) {
            if (prev != a) out.push_back({prev, a, false});
            out.push_back({a, b, true});
            prev = b;
        };
        switch (kind) {
        case Kind::Literal:
            if (literal.empty()) break;
            for (size_t pos = s.find(literal); pos != std::string::npos; pos = s.find(literal, pos + literal.size()))
                hit(pos, pos + literal.size());
            break;
        case Kind::Char:
        case Kind::Numeric:
            for (size_t i = 0; i < s.size();) {
                int len;
                const char32_t cp = decodeAt(s, i, len);
                if (kind == Kind::Char ? cp == ch : QChar::isNumber(cp)) hit(i, i + size_t(len));
                i += size_t(len);
            }
            break;
        case Kind::Regex: {
            const QString q = toQString(s);
            // UTF-16 -> UTF-8 offsets, walking forward (match offsets never decrease).
            size_t p8 = 0;
            qsizetype p16 = 0;
            auto to8 = [&](qsizetype t16) {
                while (p16 < t16 && p8 < s.size()) {
                    const int len = utf8Len(static_cast<unsigned char>(s[p8]));
                    p8 += size_t(len);
                    p16 += len == 4 ? 2 : 1;
                }
                return p8;
            };
            QRegularExpressionMatchIterator it = re.globalMatch(q);
            while (it.hasNext()) {
                const QRegularExpressionMatch m = it.next();
                const size_t a = to8(m.capturedStart(0));
                const size_t b = to8(m.capturedEnd(0));
                hit(a, b);
            }
            break;
        }
        }
        if (prev != s.size()) out.push_back({prev, s.size(), false});
        return out;
    }
};

/// tokenizers' NormalizedString::split: groups the spans per behaviour and
/// returns the kept ones (empty ones dropped, as PreTokenizedString::split does).
std::vector<Span> applyBehavior(std::vector<Span> m, Behavior b) {
    std::vector<Span> acc;
    switch (b) {
    case Behavior::Isolated:
        acc = std::move(m);
        for (Span& s : acc) s.match = false;
        break;
    case Behavior::Removed:
        acc = std::move(m);
        break;
    case Behavior::Contiguous: {
        bool prevMatch = false;
        for (const Span& s : m) {
            if (s.match == prevMatch && !acc.empty()) acc.back().end = s.end;
            else acc.push_back({s.start, s.end, false});
            prevMatch = s.match;
        }
        break;
    }
    case Behavior::MergedWithPrevious: {
        bool prevMatch = false;
        for (const Span& s : m) {
            if (s.match && !prevMatch && !acc.empty()) acc.back().end = s.end;
            else acc.push_back({s.start, s.end, false});
            prevMatch = s.match;
        }
        break;
    }
    case Behavior::MergedWithNext: {
        bool prevMatch = false;
        for (auto it = m.rbegin(); it != m.rend(); ++it) {
            if (it->match && !prevMatch && !acc.empty()) acc.back().start = it->start;
            else acc.push_back({it->start, it->end, false});
            prevMatch = it->match;
        }
        std::reverse(acc.begin(), acc.end());
        break;
    }
    }
    std::vector<Span> kept;
    kept.reserve(acc.size());
    for (const Span& s : acc)
        if (!s.match && s.end > s.start) kept.push_back(s);
    return kept;
}

Behavior parseBehavior(const QJsonValue& v, const Json& j, const QString& field) {
    const QString s = j.string(v, field);
    if (s == QLatin1String("Removed")) return Behavior::Removed;
    if (s == QLatin1String("Isolated")) return Behavior::Isolated;
    if (s == QLatin1String("MergedWithPrevious")) return Behavior::MergedWithPrevious;
    if (s == QLatin1String("MergedWithNext")) return Behavior::MergedWithNext;
    if (s == QLatin1String("Contiguous")) return Behavior::Contiguous;
    j.failValue(field, v, QStringLiteral("one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"));
}

/// {"String": "..."} or {"Regex": "..."} (Split pre-tokenizer, Replace normalizer/decoder).
Pattern parsePattern(const QJsonValue& v, const Json& j, const QString& field) {
    const QJsonObject o = j.object(v, field);
    if (o.contains(QStringLiteral("String"))) {
        Pattern p;
        p.kind = Pattern::Kind::Literal;
        p.literal = j.utf8(o.value(QStringLiteral("String")), field + QStringLiteral(".String"));
        return p;
    }
    if (o.contains(QStringLiteral("Regex")))
        return Pattern::regex(j.string(o.value(QStringLiteral("Regex")), field + QStringLiteral(".Regex")), j,
                              field + QStringLiteral(".Regex"));
    j.fail(field, QStringLiteral("an object with keys [%1]").arg(o.keys().join(QStringLiteral(", "))),
           QStringLiteral("{\"String\": ...} or {\"Regex\": ...}"));
}

std::string replacePattern(const std::string& s, const Pattern& p, const std::string& content) {
    if (p.kind == Pattern::Kind::Literal) return replaceAll(s, p.literal, content);
    std::string out;
    for (const Span& sp : p.find(s)) {
        if (sp.match) out += content;
        else out.append(s, sp.start, sp.end - sp.start);
    }
    return out;
}

/// A single character given as a JSON string (Metaspace replacement, Strip content).
char32_t singleChar(const QJsonValue& v, const Json& j, const QString& field) {
    const std::string s = j.utf8(v, field);
    int len = 0;
    if (s.empty() || (decodeAt(s, 0, len), size_t(len) != s.size())) j.failValue(field, v, QStringLiteral("a single character"));
    return decodeAt(s, 0, len);
}

// ---------------------------------------------------------------------------
// Pieces of the text moving through the pipeline.
// ---------------------------------------------------------------------------

struct Piece {
    std::string text;
    int id = -1;            // >= 0: an added token, already final
    bool atOrigin = false;  // starts at offset 0 of the input (Metaspace prepend_scheme "first")
};

// ---------------------------------------------------------------------------
// Added tokens (tokenizers' AddedVocabulary): leftmost-longest literal matching.
// ---------------------------------------------------------------------------

struct AddedToken {
    std::string content;
    std::string decoded;  // what decoding yields: the normalized content for "normalized" tokens (as tokenizers)
    int id = -1;
    bool singleWord = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

class AddedMatcher {
public:
    void add(const std::string& pattern, const AddedToken* tok) {
        if (pattern.empty()) return;
        auto& bucket = byFirst_[static_cast<unsigned char>(pattern[0])];
        bucket.push_back({pattern, tok});
        std::stable_sort(bucket.begin(), bucket.end(),
                         [](const Entry& a, const Entry& b) { return a.pattern.size() > b.pattern.size(); });
        empty_ = false;
    }
    bool empty() const { return empty_; }

    /// Splits `s` into added-token pieces (id set) and the text between them.
    void split(const std::string& s, bool atOrigin, std::vector<Piece>& out) const {
        if (empty_) {
            out.push_back({s, -1, atOrigin});
            return;
        }
        size_t startOffset = 0;  // end of the previous emitted piece
        size_t i = 0;
        const size_t n = s.size();
        while (i < n) {
            const Entry* hit = nullptr;
            for (const Entry& e : byFirst_[static_cast<unsigned char>(s[i])]) {
                if (s.compare(i, e.pattern.size(), e.pattern) == 0) {
                    hit = &e;  // longest first
                    break;
                }
            }
            if (!hit) {
                ++i;
                continue;
            }
            size_t start = i, stop = i + hit->pattern.size();
            i = stop;  // the search goes on after this match whatever happens to it
            const AddedToken& t = *hit->tok;
            if (t.singleWord) {
                const bool startOk = start == 0 || !isWordChar(lastChar(std::string_view(s).substr(0, start)));
                int len = 0;
                const bool stopOk = stop == n || !isWordChar(decodeAt(s, stop, len));
                if (!startOk || !stopOk) continue;
            }
            if (t.lstrip) {
                size_t ns = start;
                while (ns > startOffset) {
                    size_t k = ns - 1;
                    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                    int len;
                    if (!isWhiteSpace(decodeAt(s, k, len))) break;
                    ns = k;
                }
                start = ns;
            }
            if (t.rstrip) {
                while (stop < n) {
                    int len;
                    if (!isWhiteSpace(decodeAt(s, stop, len))) break;
                    stop += size_t(len);
                }
                i = stop;
            }
            if (startOffset < start) out.push_back({s.substr(startOffset, start - startOffset), -1, atOrigin && startOffset == 0});
            out.push_back({s.substr(start, stop - start), t.id, atOrigin && start == 0});
            startOffset = stop;
        }
        if (startOffset < n) out.push_back({s.substr(startOffset), -1, atOrigin && startOffset == 0});
    }

private:
    struct Entry {
        std::string pattern;
        const AddedToken* tok;
    };
    std::array<std::vector<Entry>, 256> byFirst_;
    bool empty_ = true;
};

// ---------------------------------------------------------------------------
// Normalizers.
// ---------------------------------------------------------------------------

struct NormStep {
    enum class Type { Prepend, Append, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip } type;
    std::string text;     // Prepend/Append: the string; Replace: content
    Pattern pattern;      // Replace
    bool left = false, right = false;  // Strip
};

void parseNormalizer(const QJsonValue& v, const Json& j, const QString& field, std::vector<NormStep>& out) {
    if (v.isNull() || v.isUndefined()) return;
    const QJsonObject o = j.object(v, field);
    const QString type = j.type(o, field);
    NormStep s{};
    if (type == QLatin1String("Sequence")) {
        const QJsonArray arr = j.array(o.value(QStringLiteral("normalizers")), field + QStringLiteral(".normalizers"));
        for (qsizetype i = 0; i < arr.size(); ++i)
            parseNormalizer(arr[i], j, field + QStringLiteral(".normalizers[%1]").arg(i), out);
        return;
    } else if (type == QLatin1String("Prepend") || type == QLatin1String("Append")) {
        s.type = type == QLatin1String("Prepend") ? NormStep::Type::Prepend : NormStep::Type::Append;
        const QString key = type == QLatin1String("Prepend") ? QStringLiteral("prepend") : QStringLiteral("append");
        s.text = j.utf8(o.value(key), field + QLatin1Char('.') + key);
    } else if (type == QLatin1String("Replace")) {
        s.type = NormStep::Type::Replace;
        s.pattern = parsePattern(o.value(QStringLiteral("pattern")), j, field + QStringLiteral(".pattern"));
        s.text = j.utf8(o.value(QStringLiteral("content")), field + QStringLiteral(".content"));
    } else if (type == QLatin1String("NFC")) {
        s.type = NormStep::Type::NFC;
    } else if (type == QLatin1String("NFD")) {
        s.type = NormStep::Type::NFD;
    } else if (type == QLatin1String("NFKC")) {
        s.type = NormStep::Type::NFKC;
    } else if (type == QLatin1String("NFKD")) {
        s.type = NormStep::Type::NFKD;
    } else if (type == QLatin1String("Lowercase")) {
        s.type = NormStep::Type::Lowercase;
    } else if (type == QLatin1String("Strip")) {
        s.type = NormStep::Type::Strip;
        s.left = j.optBool(o, QStringLiteral("strip_left"), field, true);
        s.right = j.optBool(o, QStringLiteral("strip_right"), field, true);
    } else {
        j.fail(field + QStringLiteral(".type"), QStringLiteral("\"%1\"").arg(type),
               QStringLiteral("a supported normalizer (Sequence, Prepend, Append, Replace, NFC, NFD, NFKC, NFKD, "
                              "Lowercase, Strip)"));
    }
    out.push_back(std::move(s));
}

void normalize(const std::vector<NormStep>& steps, std::string& s) {
    for (const NormStep& st : steps) {
        switch (st.type) {
        case NormStep::Type::Prepend:
            if (!s.empty()) s.insert(0, st.text);
            break;
        case NormStep::Type::Append:
            if (!s.empty()) s.append(st.text);
            break;
        case NormStep::Type::Replace: s = replacePattern(s, st.pattern, st.text); break;
        case NormStep::Type::NFC:
        case NormStep::Type::NFD:
        case NormStep::Type::NFKC:
        case NormStep::Type::NFKD: {
            const QString::NormalizationForm f = st.type == NormStep::Type::NFC    ? QString::NormalizationForm_C
                                                 : st.type == NormStep::Type::NFD  ? QString::NormalizationForm_D
                                                 : st.type == NormStep::Type::NFKC ? QString::NormalizationForm_KC
                                                                                   : QString::NormalizationForm_KD;
            bool ascii = true;
            for (char c : s)
                if (static_cast<unsigned char>(c) >= 0x80) {
                    ascii = false;
                    break;
                }
            if (!ascii) s = toQString(s).normalized(f).toStdString();
            break;
        }
        case NormStep::Type::Lowercase:
            s = toQString(s).toLower().toStdString();
            break;
        case NormStep::Type::Strip: {
            size_t a = 0, b = s.size();
            if (st.left) {
                while (a < b) {
                    int len;
                    if (!isWhiteSpace(decodeAt(s, a, len))) break;
                    a += size_t(len);
                }
            }
            if (st.right) {
                while (b > a) {
                    size_t k = b - 1;
                    while (k > a && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                    int len;
                    if (!isWhiteSpace(decodeAt(s, k, len))) break;
                    b = k;
                }
            }
            s = s.substr(a, b - a);
            break;
        }
        }
    }
}

// ---------------------------------------------------------------------------
// Pre-tokenizers.
// ---------------------------------------------------------------------------

enum class PrependScheme { Always, First, Never };

struct PreStep {
    enum class Type { ByteLevel, Split, Metaspace, Digits } type;
    bool addPrefixSpace = false, useRegex = true;  // ByteLevel
    Pattern pattern;                               // Split
    Behavior behavior = Behavior::Isolated;        // Split
    bool invert = false;                           // Split
    std::string replacement;                       // Metaspace (UTF-8 of replChar)
    char32_t replChar = 0;
    PrependScheme scheme = PrependScheme::Always;
    bool split = true;                             // Metaspace
    bool individualDigits = false;                 // Digits
};

const Pattern& gpt2Pattern() {
    static const Pattern p = [] {
        Json j{QStringLiteral("(built-in)")};
        return Pattern::regex(
            QStringLiteral("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"), j,
            QStringLiteral("gpt2"));
    }();
    return p;
}

PrependScheme parseScheme(const QJsonObject& o, const Json& j, const QString& field) {
    const QJsonValue v = o.value(QStringLiteral("prepend_scheme"));
    if (v.isUndefined() || v.isNull())  // files written before prepend_scheme existed
        return j.optBool(o, QStringLiteral("add_prefix_space"), field, true) ? PrependScheme::Always
                                                                             : PrependScheme::Never;
    const QString s = j.string(v, field + QStringLiteral(".prepend_scheme"));
    if (s == QLatin1String("always")) return PrependScheme::Always;
    if (s == QLatin1String("first")) return PrependScheme::First;
    if (s == QLatin1String("never")) return PrependScheme::Never;
    j.failValue(field + QStringLiteral(".prepend_scheme"), v, QStringLiteral("\"always\", \"first\" or \"never\""));
}

void parsePreTokenizer(const QJsonValue& v, const Json& j, const QString& field, std::vector<PreStep>& out) {
    if (v.isNull() || v.isUndefined()) return;
    const QJsonObject o = j.object(v, field);
    const QString type = j.type(o, field);
    PreStep s{};
    if (type == QLatin1String("Sequence")) {
        const QJsonArray arr = j.array(o.value(QStringLiteral("pretokenizers")), field + QStringLiteral(".pretokenizers"));
        for (qsizetype i = 0; i < arr.size(); ++i)
            parsePreTokenizer(arr[i], j, field + QStringLiteral(".pretokenizers[%1]").arg(i), out);
        return;
    } else if (type == QLatin1String("ByteLevel")) {
        s.type = PreStep::Type::ByteLevel;
        s.addPrefixSpace = j.optBool(o, QStringLiteral("add_prefix_space"), field, true);
        s.useRegex = j.optBool(o, QStringLiteral("use_regex"), field, true);
    } else if (type == QLatin1String("Split")) {
        s.type = PreStep::Type::Split;
        s.pattern = parsePattern(o.value(QStringLiteral("pattern")), j, field + QStringLiteral(".pattern"));
        s.behavior = parseBehavior(o.value(QStringLiteral("behavior")), j, field + QStringLiteral(".behavior"));
        s.invert = j.optBool(o, QStringLiteral("invert"), field, false);
    } else if (type == QLatin1String("Metaspace")) {
        s.type = PreStep::Type::Metaspace;
        s.replChar = singleChar(o.value(QStringLiteral("replacement")), j, field + QStringLiteral(".replacement"));
        appendUtf8(s.replacement, s.replChar);
        s.scheme = parseScheme(o, j, field);
        s.split = j.optBool(o, QStringLiteral("split"), field, true);
    } else if (type == QLatin1String("Digits")) {
        s.type = PreStep::Type::Digits;
        s.individualDigits = j.optBool(o, QStringLiteral("individual_digits"), field, false);
    } else {
        j.fail(field + QStringLiteral(".type"), QStringLiteral("\"%1\"").arg(type),
               QStringLiteral("a supported pre-tokenizer (Sequence, ByteLevel, Split, Metaspace, Digits)"));
    }
    out.push_back(std::move(s));
}

void pushSpans(const Piece& p, const std::string& text, const std::vector<Span>& spans, std::vector<Piece>& out) {
    for (const Span& sp : spans)
        out.push_back({text.substr(sp.start, sp.end - sp.start), -1, p.atOrigin && sp.start == 0});
}

void preTokenize(const PreStep& st, const Piece& p, std::vector<Piece>& out) {
    switch (st.type) {
    case PreStep::Type::ByteLevel: {
        std::string t = p.text;
        if (st.addPrefixSpace && (t.empty() || t[0] != ' ')) t.insert(0, 1, ' ');
        const size_t first = out.size();
        if (st.useRegex) pushSpans(p, t, applyBehavior(gpt2Pattern().find(t), Behavior::Isolated), out);
        else if (!t.empty()) out.push_back({t, -1, p.atOrigin});
        const ByteLevelTable& tab = byteLevelTable();
        for (size_t k = first; k < out.size(); ++k) {
            std::string mapped;
            mapped.reserve(out[k].text.size() * 2);
            for (char c : out[k].text) mapped += tab.enc[static_cast<unsigned char>(c)];
            out[k].text = std::move(mapped);
        }
        break;
    }
    case PreStep::Type::Split: {
        std::vector<Span> m = st.pattern.find(p.text);
        if (st.invert)
            for (Span& s : m) s.match = !s.match;
        pushSpans(p, p.text, applyBehavior(std::move(m), st.behavior), out);
        break;
    }
    case PreStep::Type::Metaspace: {
        std::string t = replaceAll(p.text, " ", st.replacement);
        const bool startsWithRepl = t.compare(0, st.replacement.size(), st.replacement) == 0;
        if (!startsWithRepl &&
            (st.scheme == PrependScheme::Always || (st.scheme == PrependScheme::First && p.atOrigin)))
            t.insert(0, st.replacement);
        if (st.split) {
            Pattern pat;
            pat.kind = Pattern::Kind::Char;
            pat.ch = st.replChar;
            pushSpans(p, t, applyBehavior(pat.find(t), Behavior::MergedWithNext), out);
        } else if (!t.empty()) {
            out.push_back({t, -1, p.atOrigin});
        }
        break;
    }
    case PreStep::Type::Digits: {
        Pattern pat;
        pat.kind = Pattern::Kind::Numeric;
        pushSpans(p, p.text, applyBehavior(pat.find(p.text), st.individualDigits ? Behavior::Isolated : Behavior::Contiguous),
                  out);
        break;
    }
    }
}

// ---------------------------------------------------------------------------
// Decoders (tokenizers' decode_chain), on raw bytes: where tokenizers would
// produce U+FFFD for bytes that are not valid UTF-8, the bytes are kept.
// ---------------------------------------------------------------------------

struct DecStep {
    enum class Type { ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BpeSuffix } type;
    PrependScheme scheme = PrependScheme::Always;  // Metaspace
    std::string a;                                 // Metaspace: replacement; Replace: content; Strip: content; BPE: suffix
    Pattern pattern;                               // Replace
    int start = 0, stop = 0;                       // Strip
};

void parseDecoder(const QJsonValue& v, const Json& j, const QString& field, std::vector<DecStep>& out) {
    if (v.isNull() || v.isUndefined()) return;
    const QJsonObject o = j.object(v, field);
    const QString type = j.type(o, field);
    DecStep s{};
    if (type == QLatin1String("Sequence")) {
        const QJsonArray arr = j.array(o.value(QStringLiteral("decoders")), field + QStringLiteral(".decoders"));
        for (qsizetype i = 0; i < arr.size(); ++i)
            parseDecoder(arr[i], j, field + QStringLiteral(".decoders[%1]").arg(i), out);
        return;
    } else if (type == QLatin1String("ByteLevel")) {
        s.type = DecStep::Type::ByteLevel;
    } else if (type == QLatin1String("Metaspace")) {
        s.type = DecStep::Type::Metaspace;
        appendUtf8(s.a, singleChar(o.value(QStringLiteral("replacement")), j, field + QStringLiteral(".replacement")));
        s.scheme = parseScheme(o, j, field);
    } else if (type == QLatin1String("Replace")) {
        s.type = DecStep::Type::Replace;
        s.pattern = parsePattern(o.value(QStringLiteral("pattern")), j, field + QStringLiteral(".pattern"));
        s.a = j.utf8(o.value(QStringLiteral("content")), field + QStringLiteral(".content"));
    } else if (type == QLatin1String("ByteFallback")) {
        s.type = DecStep::Type::ByteFallback;
    } else if (type == QLatin1String("Fuse")) {
        s.type = DecStep::Type::Fuse;
    } else if (type == QLatin1String("Strip")) {
        s.type = DecStep::Type::Strip;
        appendUtf8(s.a, singleChar(o.value(QStringLiteral("content")), j, field + QStringLiteral(".content")));
        s.start = int(j.integer(o.value(QStringLiteral("start")), field + QStringLiteral(".start"), 0, 1 << 20));
        s.stop = int(j.integer(o.value(QStringLiteral("stop")), field + QStringLiteral(".stop"), 0, 1 << 20));
    } else if (type == QLatin1String("BPEDecoder")) {
        s.type = DecStep::Type::BpeSuffix;
        bool present = false;
        s.a = j.optString(o, QStringLiteral("suffix"), field, &present);
        if (!present) s.a = "</w>";
    } else {
        j.fail(field + QStringLiteral(".type"), QStringLiteral("\"%1\"").arg(type),
               QStringLiteral("a supported decoder (Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
                              "BPEDecoder)"));
    }
    out.push_back(std::move(s));
}

void runDecoder(const DecStep& st, std::vector<std::string>& toks) {
    switch (st.type) {
    case DecStep::Type::ByteLevel: {
        std::string all;
        for (const std::string& t : toks) all += byteLevelDecode(t);
        toks.assign(1, std::move(all));
        break;
    }
    case DecStep::Type::Metaspace:
        for (size_t i = 0; i < toks.size(); ++i)
            toks[i] = replaceAll(toks[i], st.a, i == 0 && st.scheme != PrependScheme::Never ? "" : " ");
        break;
    case DecStep::Type::Replace:
        for (std::string& t : toks) t = replacePattern(t, st.pattern, st.a);
        break;
    case DecStep::Type::ByteFallback: {
        std::vector<std::string> out;
        std::string bytes;
        bool pending = false;
        for (std::string& t : toks) {
            const int b = byteFallbackValue(t);
            if (b >= 0) {
                bytes.push_back(char(b));
                pending = true;
                continue;
            }
            if (pending) out.push_back(std::move(bytes)), bytes.clear(), pending = false;
            out.push_back(std::move(t));
        }
        if (pending) out.push_back(std::move(bytes));
        toks = std::move(out);
        break;
    }
    case DecStep::Type::Fuse: {
        std::string all;
        for (const std::string& t : toks) all += t;
        toks.assign(1, std::move(all));
        break;
    }
    case DecStep::Type::Strip:
        for (std::string& t : toks) {
            size_t a = 0, b = t.size();
            for (int k = 0; k < st.start && t.compare(a, st.a.size(), st.a) == 0 && a + st.a.size() <= b; ++k)
                a += st.a.size();
            for (int k = 0; k < st.stop && b >= a + st.a.size() && t.compare(b - st.a.size(), st.a.size(), st.a) == 0; ++k)
                b -= st.a.size();
            t = t.substr(a, b - a);
        }
        break;
    case DecStep::Type::BpeSuffix:
        for (size_t i = 0; i < toks.size(); ++i) toks[i] = replaceAll(toks[i], st.a, i + 1 == toks.size() ? "" : " ");
        break;
    }
}

// ---------------------------------------------------------------------------
// The BPE model.
// ---------------------------------------------------------------------------

struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int, PieceHash, std::equal_to<>>;

constexpr int kMaxId = (1 << 24) - 1;   // ids beyond this are rejected (bounded allocations)
constexpr size_t kCacheMaxKey = 256;    // tokenizers' cache MAX_LENGTH
constexpr size_t kCacheCapacity = 1 << 17;

class BpeModel {
public:
    TokenMap vocab;
    std::vector<std::string> idToToken;  // "" where no token has the id
    std::vector<char> hasToken;
    std::unordered_map<uint64_t, std::pair<uint32_t, int>> merges;  // (a << 32 | b) -> (rank, merged id)
    int unkId = -1;
    bool fuseUnk = false, byteFallback = false, ignoreMerges = false;
    std::string prefix, suffix;  // continuing_subword_prefix, end_of_word_suffix
    std::array<int, 256> byteIds{};

    int lookup(std::string_view s) const {
        auto it = vocab.find(s);
        return it == vocab.end() ? -1 : it->second;
    }

    void tokenize(const std::string& word, std::vector<int>& out) const {
        if (word.empty()) return;
        if (ignoreMerges) {
            const int id = lookup(word);
            if (id >= 0) {
                out.push_back(id);
                return;
            }
        }
        const bool cacheable = word.size() < kCacheMaxKey;
        if (cacheable) {
            std::lock_guard<std::mutex> lock(cacheMutex_);
            auto it = cache_.find(std::string_view(word));
            if (it != cache_.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        std::vector<int> ids = mergeWord(word);
        out.insert(out.end(), ids.begin(), ids.end());
        if (cacheable) {
            std::lock_guard<std::mutex> lock(cacheMutex_);
            if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::move(ids));
        }
    }

private:
    struct Sym {
        int c;
        int prev, next;
        size_t len;  // bytes; 0 = merged away
    };

    /// tokenizers' BPE::merge_word + Word::merge_all.
    std::vector<int> mergeWord(const std::string& w) const {
        std::vector<Sym> syms;
        syms.reserve(w.size());
        auto add = [&](int c, size_t len) {
            const int n = int(syms.size());
            if (n > 0) syms.back().next = n;
            syms.push_back({c, n - 1, -1, len});
        };
        bool unkPending = false;
        int unkTok = -1;
        size_t unkLen = 0;
        std::string s;
        for (size_t i = 0; i < w.size();) {
            const size_t len = size_t(utf8Len(static_cast<unsigned char>(w[i])));
            const size_t end = std::min(w.size(), i + len);
            const bool isFirst = i == 0, isLast = end == w.size();
            s.assign(w, i, end - i);
            if (!isFirst && !prefix.empty()) s.insert(0, prefix);
            if (isLast && !suffix.empty()) s.append(suffix);
            const size_t byteLen = end - i;
            i = end;
            const int id = lookup(s);
            if (id >= 0) {
                if (unkPending) add(unkTok, unkLen), unkPending = false;
                add(id, byteLen);
                continue;
            }
            if (byteFallback) {
                bool all = true;
                for (char c : s)
                    if (byteIds[static_cast<unsigned char>(c)] < 0) all = false;
                if (all) {
                    // tokenizers adds the bytes without flushing a pending unk first.
                    for (char c : s) add(byteIds[static_cast<unsigned char>(c)], 1);
                    continue;
                }
            }
            if (unkId >= 0) {
                if (unkPending && fuseUnk) {
                    unkLen += byteLen;
                } else {
                    if (unkPending) add(unkTok, unkLen);
                    unkPending = true;
                    unkTok = unkId;
                    unkLen = byteLen;
                }
            }
        }
        if (unkPending) add(unkTok, unkLen);

        struct Merge {
            uint32_t rank;
            int pos;
            int newId;
        };
        struct Later {  // min-heap on (rank, pos)
            bool operator()(const Merge& a, const Merge& b) const {
                return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
            }
        };
        auto key = [](int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); };
        std::vector<Merge> heapStore;
        heapStore.reserve(syms.size());
        std::priority_queue<Merge, std::vector<Merge>, Later> queue(Later{}, std::move(heapStore));
        for (size_t k = 0; k + 1 < syms.size(); ++k) {
            auto it = merges.find(key(syms[k].c, syms[k + 1].c));
            if (it != merges.end()) queue.push({it->second.first, int(k), it->second.second});
        }
        while (!queue.empty()) {
            const Merge top = queue.top();
            queue.pop();
            Sym& cur = syms[size_t(top.pos)];
            if (cur.len == 0 || cur.next == -1) continue;
            const int nextPos = cur.next;
            const Sym right = syms[size_t(nextPos)];
            auto it = merges.find(key(cur.c, right.c));
            if (it == merges.end() || it->second.second != top.newId) continue;  // expired entry
            cur.c = top.newId;
            cur.len += right.len;
            cur.next = right.next;
            syms[size_t(nextPos)].len = 0;
            if (right.next > -1 && size_t(right.next) < syms.size()) syms[size_t(right.next)].prev = top.pos;
            if (cur.prev >= 0) {
                auto p = merges.find(key(syms[size_t(cur.prev)].c, cur.c));
                if (p != merges.end()) queue.push({p->second.first, cur.prev, p->second.second});
            }
            if (cur.next >= 0) {
                auto n = merges.find(key(cur.c, syms[size_t(cur.next)].c));
                if (n != merges.end()) queue.push({n->second.first, top.pos, n->second.second});
            }
        }
        std::vector<int> ids;
        ids.reserve(syms.size());
        for (const Sym& sy : syms)
            if (sy.len != 0) ids.push_back(sy.c);
        return ids;
    }

    mutable std::mutex cacheMutex_;
    mutable std::unordered_map<std::string, std::vector<int>, PieceHash, std::equal_to<>> cache_;
};

/// Builds the merge table; `what` names the field / line for errors.
void addMerge(BpeModel& m, std::string_view a, std::string_view b, uint32_t rank, const Json& j, const QString& what) {
    const int ia = m.lookup(a), ib = m.lookup(b);
    if (ia < 0) j.fail(what, QStringLiteral("the token %1").arg(quoteUtf8(std::string(a))), QStringLiteral("a token of the vocabulary"));
    if (ib < 0) j.fail(what, QStringLiteral("the token %1").arg(quoteUtf8(std::string(b))), QStringLiteral("a token of the vocabulary"));
    std::string merged(a);
    merged.append(b.substr(std::min(b.size(), m.prefix.size())));  // tokenizers strips the prefix's length
    const int im = m.lookup(merged);
    if (im < 0)
        j.fail(what, QStringLiteral("a merge producing %1").arg(quoteUtf8(merged)),
               QStringLiteral("the merged token to be in the vocabulary"));
    // Later duplicates overwrite earlier ones (tokenizers collects into a HashMap).
    m.merges[(uint64_t(uint32_t(ia)) << 32) | uint32_t(ib)] = {rank, im};
}

void finishVocab(BpeModel& m) {
    int maxId = -1;
    for (const auto& [tok, id] : m.vocab) maxId = std::max(maxId, id);
    m.idToToken.assign(size_t(maxId + 1), std::string());
    m.hasToken.assign(size_t(maxId + 1), 0);
    for (const auto& [tok, id] : m.vocab) {
        // Duplicate ids keep one token for decoding (the first in key order, deterministic).
        if (!m.hasToken[size_t(id)] || tok < m.idToToken[size_t(id)]) m.idToToken[size_t(id)] = tok;
        m.hasToken[size_t(id)] = 1;
    }
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        m.byteIds[size_t(b)] = m.lookup(buf);
    }
}

void parseVocabObject(BpeModel& m, const QJsonObject& vocab, const Json& j, const QString& field) {
    m.vocab.reserve(size_t(vocab.size()));
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        const int id = int(j.integer(it.value(), QStringLiteral("%1[\"%2\"]").arg(field, it.key()), 0, kMaxId));
        m.vocab.emplace(it.key().toStdString(), id);
    }
    if (m.vocab.empty()) j.fail(field, QStringLiteral("an empty vocabulary"), QStringLiteral("at least one token"));
    finishVocab(m);
}

// ---------------------------------------------------------------------------
// The tokenizer.
// ---------------------------------------------------------------------------

class HfBpeTokenizer final : public Tokenizer {
public:
    QString label;
    std::string kindName = "hf-bpe";
    BpeModel model;
    std::vector<AddedToken> added;
    std::unordered_map<int, size_t> addedById;
    AddedMatcher rawMatcher, normMatcher;
    std::vector<NormStep> normalizer;
    std::vector<PreStep> preTokenizer;
    std::vector<DecStep> decoder;
    bool hasDecoder = false;
    bool byteLevelTokens = false;     // tokens are byte-level strings
    std::string metaspace;            // SentencePiece space stand-in ("▁"), empty otherwise
    int vocabTotal = 0;

    std::vector<int> encode(const std::string& text) const override {
        std::vector<int> ids;
        if (text.empty()) return ids;
        const std::string valid =
            isValidUtf8(text) ? text : toQString(text).toStdString();

        std::vector<Piece> pieces;
        rawMatcher.split(valid, true, pieces);
        std::vector<Piece> normalized;
        normalized.reserve(pieces.size());
        for (Piece& p : pieces) {
            if (p.id >= 0) {
                normalized.push_back(std::move(p));
                continue;
            }
            normalize(normalizer, p.text);
            if (p.text.empty()) continue;
            normMatcher.split(p.text, p.atOrigin, normalized);
        }
        pieces.clear();
        for (const PreStep& st : preTokenizer) {
            std::vector<Piece> next;
            next.reserve(normalized.size() * 2);
            for (Piece& p : normalized) {
                if (p.id >= 0) next.push_back(std::move(p));
                else preTokenize(st, p, next);
            }
            normalized = std::move(next);
        }
        ids.reserve(valid.size() / 3 + 8);
        for (const Piece& p : normalized) {
            if (p.id >= 0) ids.push_back(p.id);
            else model.tokenize(p.text, ids);
        }
        return ids;
    }

    std::string decodeToken(int id) const override {
        checkId(id);
        auto a = addedById.find(id);
        if (a != addedById.end()) return added[a->second].decoded;
        if (size_t(id) >= model.hasToken.size() || !model.hasToken[size_t(id)]) return {};
        const std::string& t = model.idToToken[size_t(id)];
        if (byteLevelTokens) return byteLevelDecode(t);
        if (model.byteFallback) {
            const int b = byteFallbackValue(t);
            if (b >= 0) return std::string(1, char(b));
        }
        return metaspace.empty() ? t : replaceAll(t, metaspace, " ");
    }

    int vocabSize() const override { return vocabTotal; }
    std::string kind() const override { return kindName; }

    const AddedToken* addedToken(int id) const {
        auto a = addedById.find(id);
        return a == addedById.end() ? nullptr : &added[a->second];
    }
    /// The id of a token given by content (added tokens first), or -1.
    int idOf(const std::string& content) const {
        for (const AddedToken& t : added)
            if (t.content == content) return t.id;
        return model.lookup(content);
    }
    /// Registers an added token (tokenizers: an added token that is in the model
    /// vocabulary keeps the model's id).
    void addToken(AddedToken t) {
        const int inVocab = model.lookup(t.content);
        if (inVocab >= 0) t.id = inVocab;
        for (AddedToken& e : added)
            if (e.content == t.content) {
                e = t;
                return;
            }
        added.push_back(std::move(t));
    }
    /// Builds the matchers after all added tokens are known.
    void finishAdded() {
        addedById.clear();
        for (size_t i = 0; i < added.size(); ++i) addedById[added[i].id] = i;
        rawMatcher = AddedMatcher();
        normMatcher = AddedMatcher();
        for (AddedToken& t : added) {
            t.decoded = t.content;
            if (!t.normalized) {
                rawMatcher.add(t.content, &t);
            } else {
                normalize(normalizer, t.decoded);
                normMatcher.add(t.decoded, &t);
            }
        }
        vocabTotal = int(model.idToToken.size());
        for (const AddedToken& t : added) vocabTotal = std::max(vocabTotal, t.id + 1);
    }

protected:
    std::string decodeSequence(const std::vector<int>& ids) const override {
        std::vector<std::string> toks;
        toks.reserve(ids.size());
        for (int id : ids) {
            checkId(id);
            if (const AddedToken* t = addedToken(id)) {
                if (!t->special) toks.push_back(t->decoded);
            } else if (size_t(id) < model.hasToken.size() && model.hasToken[size_t(id)]) {
                toks.push_back(model.idToToken[size_t(id)]);
            }
        }
        if (!hasDecoder) {  // tokenizers joins the tokens with spaces when there is no decoder
            std::string out;
            for (size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
            return out;
        }
        for (const DecStep& st : decoder) runDecoder(st, toks);
        std::string out;
        for (const std::string& t : toks) out += t;
        return out;
    }

private:
    void checkId(int id) const {
        if (id < 0 || id >= vocabTotal)
            throw Error(QStringLiteral("%1: token id %2 is outside the vocabulary [0, %3)").arg(label).arg(id).arg(vocabTotal));
    }
};

/// "bos_token" etc. in tokenizer_config.json: a string or {"content": ...}.
std::string configTokenString(const QJsonObject& cfg, const QString& key, const Json& j) {
    const QJsonValue v = cfg.value(key);
    if (v.isUndefined() || v.isNull()) return {};
    if (v.isString()) return v.toString().toStdString();
    if (v.isObject()) return j.utf8(v.toObject().value(QStringLiteral("content")), key + QStringLiteral(".content"));
    j.failValue(key, v, QStringLiteral("a string, an object with \"content\", or null"));
}

/// tokenizer_config.json: add_bos_token / add_eos_token decide BOS/EOS when
/// present (transformers rebuilds the post-processor from them), bos_token /
/// eos_token name them. `gpt2Style`: also register the named special tokens and
/// added_tokens_decoder as added tokens (there is no tokenizer.json listing them).
void applyTokenizerConfig(HfBpeTokenizer& tok, const QByteArray& bytes, const QString& label, bool gpt2Style) {
    if (bytes.isEmpty()) return;
    const Json j{label};
    const QJsonObject cfg = parseJsonFile(bytes, label).object();

    if (gpt2Style) {
        const QJsonValue dec = cfg.value(QStringLiteral("added_tokens_decoder"));
        if (!dec.isUndefined() && !dec.isNull()) {
            const QJsonObject d = j.object(dec, QStringLiteral("added_tokens_decoder"));
            for (auto it = d.begin(); it != d.end(); ++it) {
                const QString f = QStringLiteral("added_tokens_decoder[\"%1\"]").arg(it.key());
                bool ok = false;
                const int id = it.key().toInt(&ok);
                if (!ok || id < 0 || id > kMaxId)
                    j.fail(f, QStringLiteral("the key \"%1\"").arg(it.key()), QStringLiteral("a token id in [0, %1]").arg(kMaxId));
                const QJsonObject o = j.object(it.value(), f);
                AddedToken t;
                t.id = id;
                t.content = j.utf8(o.value(QStringLiteral("content")), f + QStringLiteral(".content"));
                t.singleWord = j.optBool(o, QStringLiteral("single_word"), f, false);
                t.lstrip = j.optBool(o, QStringLiteral("lstrip"), f, false);
                t.rstrip = j.optBool(o, QStringLiteral("rstrip"), f, false);
                t.normalized = j.optBool(o, QStringLiteral("normalized"), f, false);
                t.special = j.optBool(o, QStringLiteral("special"), f, false);
                tok.addToken(std::move(t));
            }
        }
        for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
            const std::string s = configTokenString(cfg, QLatin1String(key), j);
            if (s.empty()) continue;
            if (tok.model.lookup(s) < 0 && tok.idOf(s) < 0) continue;  // not a token of this vocabulary
            AddedToken t;
            t.content = s;
            t.id = tok.idOf(s);
            t.special = true;
            tok.addToken(std::move(t));
        }
        tok.finishAdded();
    }

    // A bos_token / eos_token that is not a token of the vocabulary is an error only
    // where it would be added (transformers would grow the vocabulary, beyond the
    // model's embedding).
    const std::string bos = configTokenString(cfg, QStringLiteral("bos_token"), j);
    const std::string eos = configTokenString(cfg, QStringLiteral("eos_token"), j);
    const int bosCfg = bos.empty() ? -1 : tok.idOf(bos);
    const int eosCfg = eos.empty() ? -1 : tok.idOf(eos);
    if (bosCfg >= 0) tok.bosId = bosCfg;
    if (eosCfg >= 0) tok.eosId = eosCfg;
    auto requireToken = [&](const char* key, const std::string& name, int id, const char* flag) {
        if (!name.empty() && id < 0)
            j.fail(QLatin1String(key), QStringLiteral("%1, which is not a token of the vocabulary").arg(quoteUtf8(name)),
                   QStringLiteral("a token of the vocabulary since %1 is true").arg(QLatin1String(flag)));
        if (name.empty() && (std::strcmp(key, "bos_token") == 0 ? tok.bosId : tok.eosId) < 0)
            j.fail(QLatin1String(key), QStringLiteral("nothing"),
                   QStringLiteral("a token of the vocabulary since %1 is true").arg(QLatin1String(flag)));
    };

    const QJsonValue addBos = cfg.value(QStringLiteral("add_bos_token"));
    if (!addBos.isUndefined() && !addBos.isNull()) {
        tok.addBos = j.boolean(addBos, QStringLiteral("add_bos_token"));
        if (tok.addBos) requireToken("bos_token", bos, bosCfg, "add_bos_token");
    }
    const QJsonValue addEos = cfg.value(QStringLiteral("add_eos_token"));
    if (!addEos.isUndefined() && !addEos.isNull()) {
        const bool want = j.boolean(addEos, QStringLiteral("add_eos_token"));
        if (want) requireToken("eos_token", eos, eosCfg, "add_eos_token");
        tok.suffixIds.clear();
        if (want) tok.suffixIds.push_back(tok.eosId);
    }
}

/// Special-token ids of a post_processor: those before / after the sequence.
void parsePostProcessor(const QJsonValue& v, const Json& j, const QString& field, std::vector<int>& prefix,
                        std::vector<int>& suffix) {
    if (v.isNull() || v.isUndefined()) return;
    const QJsonObject o = j.object(v, field);
    const QString type = j.type(o, field);
    if (type == QLatin1String("Sequence")) {
        const QJsonArray arr = j.array(o.value(QStringLiteral("processors")), field + QStringLiteral(".processors"));
        for (qsizetype i = 0; i < arr.size(); ++i)
            parsePostProcessor(arr[i], j, field + QStringLiteral(".processors[%1]").arg(i), prefix, suffix);
    } else if (type == QLatin1String("ByteLevel")) {
        // offsets trimming only
    } else if (type == QLatin1String("RobertaProcessing") || type == QLatin1String("BertProcessing")) {
        auto pairId = [&](const QString& key) {
            const QJsonArray a = j.array(o.value(key), field + QLatin1Char('.') + key);
            if (a.size() != 2) j.failValue(field + QLatin1Char('.') + key, a, QStringLiteral("[token, id]"));
            return int(j.integer(a[1], field + QLatin1Char('.') + key + QStringLiteral("[1]"), 0, kMaxId));
        };
        prefix.push_back(pairId(QStringLiteral("cls")));
        suffix.push_back(pairId(QStringLiteral("sep")));
    } else if (type == QLatin1String("TemplateProcessing")) {
        const QString sf = field + QStringLiteral(".single");
        const QJsonArray single = j.array(o.value(QStringLiteral("single")), sf);
        const QJsonObject specials =
            j.object(o.value(QStringLiteral("special_tokens")), field + QStringLiteral(".special_tokens"));
        bool seenSeq = false;
        for (qsizetype i = 0; i < single.size(); ++i) {
            const QString itf = sf + QStringLiteral("[%1]").arg(i);
            const QJsonObject item = j.object(single[i], itf);
            if (item.contains(QStringLiteral("Sequence"))) {
                if (seenSeq) j.fail(itf, QStringLiteral("a second sequence"), QStringLiteral("one $A sequence in a single-sequence template"));
                seenSeq = true;
                continue;
            }
            if (!item.contains(QStringLiteral("SpecialToken")))
                j.fail(itf, QStringLiteral("an object with keys [%1]").arg(item.keys().join(QStringLiteral(", "))),
                       QStringLiteral("{\"SpecialToken\": ...} or {\"Sequence\": ...}"));
            const QJsonObject st = j.object(item.value(QStringLiteral("SpecialToken")), itf + QStringLiteral(".SpecialToken"));
            const QString name = j.string(st.value(QStringLiteral("id")), itf + QStringLiteral(".SpecialToken.id"));
            const QString spf = field + QStringLiteral(".special_tokens[\"%1\"]").arg(name);
            if (!specials.contains(name)) j.fail(spf, QStringLiteral("nothing"), QStringLiteral("the definition of the template's special token"));
            const QJsonArray idsArr = j.array(j.object(specials.value(name), spf).value(QStringLiteral("ids")), spf + QStringLiteral(".ids"));
            for (qsizetype k = 0; k < idsArr.size(); ++k) {
                const int id = int(j.integer(idsArr[k], spf + QStringLiteral(".ids[%1]").arg(k), 0, kMaxId));
                (seenSeq ? suffix : prefix).push_back(id);
            }
        }
        if (!seenSeq) j.fail(sf, QStringLiteral("a template without $A"), QStringLiteral("a template holding the sequence"));
    } else {
        j.fail(field + QStringLiteral(".type"), QStringLiteral("\"%1\"").arg(type),
               QStringLiteral("a supported post-processor (TemplateProcessing, ByteLevel, RobertaProcessing, "
                              "BertProcessing, Sequence)"));
    }
}

std::unique_ptr<HfBpeTokenizer> parseHf(const QByteArray& bytes, const QByteArray& tokenizerConfig,
                                        const QString& label, const QString& configLabel) {
    const Json j{label};
    const QJsonObject root = parseJsonFile(bytes, label).object();
    auto tok = std::make_unique<HfBpeTokenizer>();
    tok->label = label;

    // --- model ---
    const QJsonObject model = j.object(root.value(QStringLiteral("model")), QStringLiteral("model"));
    const QJsonValue typeV = model.value(QStringLiteral("type"));
    if (!typeV.isUndefined() || !model.contains(QStringLiteral("merges"))) {
        const QString type = j.string(typeV, QStringLiteral("model.type"));
        if (type != QLatin1String("BPE"))
            j.fail(QStringLiteral("model.type"), QStringLiteral("\"%1\"").arg(type),
                   QStringLiteral("\"BPE\" (Unigram, WordPiece and WordLevel tokenizers are not supported)"));
    }
    const QJsonValue dropout = model.value(QStringLiteral("dropout"));
    if (!dropout.isUndefined() && !dropout.isNull() && !(dropout.isDouble() && dropout.toDouble() == 0.0))
        j.failValue(QStringLiteral("model.dropout"), dropout, QStringLiteral("null or 0 (BPE-dropout is random and not supported)"));
    BpeModel& m = tok->model;
    m.prefix = j.optString(model, QStringLiteral("continuing_subword_prefix"), QStringLiteral("model"));
    m.suffix = j.optString(model, QStringLiteral("end_of_word_suffix"), QStringLiteral("model"));
    m.fuseUnk = j.optBool(model, QStringLiteral("fuse_unk"), QStringLiteral("model"), false);
    m.byteFallback = j.optBool(model, QStringLiteral("byte_fallback"), QStringLiteral("model"), false);
    m.ignoreMerges = j.optBool(model, QStringLiteral("ignore_merges"), QStringLiteral("model"), false);
    parseVocabObject(m, j.object(model.value(QStringLiteral("vocab")), QStringLiteral("model.vocab")), j,
                     QStringLiteral("model.vocab"));
    bool hasUnk = false;
    const std::string unk = j.optString(model, QStringLiteral("unk_token"), QStringLiteral("model"), &hasUnk);
    if (hasUnk) {
        m.unkId = m.lookup(unk);
        if (m.unkId < 0)
            j.fail(QStringLiteral("model.unk_token"), QStringLiteral("%1, which is not in model.vocab").arg(quoteUtf8(unk)),
                   QStringLiteral("a token of model.vocab"));
    }
    const QJsonArray merges = j.array(model.value(QStringLiteral("merges")), QStringLiteral("model.merges"));
    m.merges.reserve(size_t(merges.size()));
    uint32_t rank = 0;
    for (qsizetype i = 0; i < merges.size(); ++i) {
        const QString f = QStringLiteral("model.merges[%1]").arg(i);
        const QJsonValue mv = merges[i];
        if (mv.isString()) {
            // "a b": exactly one space (tokenizers' convert_merges_to_hashmap);
            // "#version" lines are skipped and do not take a rank.
            const std::string s = mv.toString().toStdString();
            if (s.rfind("#version", 0) == 0) continue;
            const size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                j.failValue(f, mv, QStringLiteral("two tokens separated by one space, or a [\"a\", \"b\"] pair"));
            addMerge(m, std::string_view(s).substr(0, sp), std::string_view(s).substr(sp + 1), rank++, j, f);
        } else if (mv.isArray()) {
            const QJsonArray pair = mv.toArray();
            if (pair.size() != 2) j.failValue(f, mv, QStringLiteral("a [\"a\", \"b\"] pair"));
            const std::string a = j.utf8(pair[0], f + QStringLiteral("[0]"));
            const std::string b = j.utf8(pair[1], f + QStringLiteral("[1]"));
            addMerge(m, a, b, rank++, j, f);
        } else {
            j.failValue(f, mv, QStringLiteral("a string \"a b\" or a [\"a\", \"b\"] pair"));
        }
    }

    // --- normalizer, pre-tokenizer, decoder ---
    parseNormalizer(root.value(QStringLiteral("normalizer")), j, QStringLiteral("normalizer"), tok->normalizer);
    parsePreTokenizer(root.value(QStringLiteral("pre_tokenizer")), j, QStringLiteral("pre_tokenizer"), tok->preTokenizer);
    const QJsonValue dec = root.value(QStringLiteral("decoder"));
    tok->hasDecoder = !(dec.isNull() || dec.isUndefined());
    parseDecoder(dec, j, QStringLiteral("decoder"), tok->decoder);

    for (const PreStep& p : tok->preTokenizer) {
        if (p.type == PreStep::Type::ByteLevel) tok->byteLevelTokens = true;
        if (p.type == PreStep::Type::Metaspace) tok->metaspace = p.replacement;
    }
    for (const DecStep& d : tok->decoder)
        if (d.type == DecStep::Type::ByteLevel) tok->byteLevelTokens = true;
    for (const NormStep& n : tok->normalizer)
        if (n.type == NormStep::Type::Replace && n.pattern.kind == Pattern::Kind::Literal && n.pattern.literal == " " &&
            !n.text.empty())
            tok->metaspace = n.text;
    tok->kindName = tok->byteLevelTokens ? "hf-bpe-bytelevel" : !tok->metaspace.empty() ? "hf-bpe-sentencepiece" : "hf-bpe";

    // --- added tokens ---
    const QJsonValue addedV = root.value(QStringLiteral("added_tokens"));
    if (!addedV.isUndefined() && !addedV.isNull()) {
        const QJsonArray arr = j.array(addedV, QStringLiteral("added_tokens"));
        for (qsizetype i = 0; i < arr.size(); ++i) {
            const QString f = QStringLiteral("added_tokens[%1]").arg(i);
            const QJsonObject o = j.object(arr[i], f);
            AddedToken t;
            t.id = int(j.integer(o.value(QStringLiteral("id")), f + QStringLiteral(".id"), 0, kMaxId));
            t.content = j.utf8(o.value(QStringLiteral("content")), f + QStringLiteral(".content"));
            if (t.content.empty()) continue;  // tokenizers ignores empty added tokens
            t.singleWord = j.optBool(o, QStringLiteral("single_word"), f, false);
            t.lstrip = j.optBool(o, QStringLiteral("lstrip"), f, false);
            t.rstrip = j.optBool(o, QStringLiteral("rstrip"), f, false);
            t.normalized = j.optBool(o, QStringLiteral("normalized"), f, true);
            t.special = j.optBool(o, QStringLiteral("special"), f, false);
            tok->addToken(std::move(t));
        }
    }
    tok->finishAdded();

    // --- post-processor: BOS / suffix ---
    std::vector<int> prefix, suffix;
    parsePostProcessor(root.value(QStringLiteral("post_processor")), j, QStringLiteral("post_processor"), prefix, suffix);
    if (prefix.size() > 1)
        j.fail(QStringLiteral("post_processor"), QStringLiteral("%1 special tokens before the sequence").arg(prefix.size()),
               QStringLiteral("at most one (a BOS token)"));
    for (int id : prefix)
        if (id >= tok->vocabTotal)
            j.fail(QStringLiteral("post_processor"), QStringLiteral("the special token id %1").arg(id),
                   QStringLiteral("an id of the vocabulary [0, %1)").arg(tok->vocabTotal));
    for (int id : suffix)
        if (id >= tok->vocabTotal)
            j.fail(QStringLiteral("post_processor"), QStringLiteral("the special token id %1").arg(id),
                   QStringLiteral("an id of the vocabulary [0, %1)").arg(tok->vocabTotal));
    if (!prefix.empty()) {
        tok->addBos = true;
        tok->bosId = prefix[0];
    }
    tok->suffixIds = suffix;
    if (!suffix.empty()) tok->eosId = suffix.back();
    // Conventional names when the configuration does not say.
    for (const char* name : {"<s>", "<|begin_of_text|>", "<|startoftext|>"})
        if (tok->bosId < 0) tok->bosId = tok->idOf(name);
    for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>"})
        if (tok->eosId < 0) tok->eosId = tok->idOf(name);

    applyTokenizerConfig(*tok, tokenizerConfig, configLabel, false);
    return tok;
}

}  // namespace

std::unique_ptr<Tokenizer> parseHfTokenizer(const QByteArray& json, const QByteArray& tokenizerConfig,
                                            const QString& label) {
    return parseHf(json, tokenizerConfig, label, label + QStringLiteral(" (tokenizer_config.json)"));
}

std::unique_ptr<Tokenizer> loadHfTokenizer(const QString& path) {
    const QByteArray json = readFile(path, "tokenizer.json");
    const QString cfgPath = QFileInfo(path).absoluteDir().filePath(QStringLiteral("tokenizer_config.json"));
    QByteArray cfg;
    if (QFileInfo(cfgPath).isFile()) cfg = readFile(cfgPath, "tokenizer_config.json");
    return parseHf(json, cfg, path, cfgPath);
}

std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const QString& vocabJson, const QString& mergesTxt,
                                             const QString& tokenizerConfig) {
    auto tok = std::make_unique<HfBpeTokenizer>();
    tok->label = vocabJson;
    tok->kindName = "gpt2-vocab-merges";
    tok->byteLevelTokens = true;
    tok->hasDecoder = true;
    PreStep bl{};
    bl.type = PreStep::Type::ByteLevel;
    bl.addPrefixSpace = false;
    bl.useRegex = true;
    tok->preTokenizer.push_back(std::move(bl));
    DecStep d{};
    d.type = DecStep::Type::ByteLevel;
    tok->decoder.push_back(std::move(d));

    const Json jv{vocabJson};
    parseVocabObject(tok->model, parseJsonFile(readFile(vocabJson, "vocab.json"), vocabJson).object(), jv,
                     QStringLiteral("vocabulary"));

    // merges.txt: one "a b" per line; lines starting with "#version" are skipped,
    // a final empty line (trailing newline) is allowed, CR of CRLF is dropped.
    const QByteArray merges = readFile(mergesTxt, "merges.txt");
    const Json jm{mergesTxt};
    const QList<QByteArray> lines = merges.split('\n');
    uint32_t rank = 0;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines[i];
        if (line.endsWith('\r')) line.chop(1);
        if (line.isEmpty() && i == lines.size() - 1) break;
        const QString f = QStringLiteral("line %1").arg(i + 1);
        if (line.startsWith("#version")) continue;
        const std::string s = line.toStdString();
        if (!isValidUtf8(s)) jm.fail(f, QStringLiteral("bytes that are not UTF-8"), QStringLiteral("UTF-8 text"));
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
            jm.fail(f, quoteUtf8(s), QStringLiteral("two tokens separated by one space"));
        addMerge(tok->model, std::string_view(s).substr(0, sp), std::string_view(s).substr(sp + 1), rank++, jm, f);
    }

    // GPT-2's only special token; transformers registers it as unk/bos/eos.
    if (tok->model.lookup("<|endoftext|>") >= 0) {
        AddedToken t;
        t.content = "<|endoftext|>";
        t.special = true;
        tok->addToken(std::move(t));
        tok->bosId = tok->eosId = tok->model.lookup("<|endoftext|>");
    }
    tok->finishAdded();
    if (!tokenizerConfig.isEmpty())
        applyTokenizerConfig(*tok, readFile(tokenizerConfig, "tokenizer_config.json"), tokenizerConfig, true);
    return tok;
}

std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const QString& vocabJson, const QString& mergesTxt) {
    return loadGpt2Tokenizer(vocabJson, mergesTxt, QString());
}

}  // namespace qs
