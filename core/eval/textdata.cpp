#include "eval/textdata.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include "util/error.h"

namespace qs {

long long firstInvalidUtf8(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return (long long)i;
        if (i + len > n) return (long long)i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return (long long)i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (long long)i;
        i += len;
    }
    return -1;
}

std::string loadText(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw Error(QStringLiteral("%1: cannot open text file: %2").arg(path, f.errorString()));
    const QByteArray all = f.readAll();
    std::string out;
    if (path.endsWith(QLatin1String(".jsonl"))) {
        out.reserve(size_t(all.size()));
        qsizetype pos = 0;
        int line = 0, rows = 0;
        while (pos < all.size()) {
            qsizetype end = all.indexOf('\n', pos);
            if (end < 0) end = all.size();
            ++line;
            QByteArray l = all.mid(pos, end - pos);
            pos = end + 1;
            if (l.endsWith('\r')) l.chop(1);
            if (l.trimmed().isEmpty()) continue;
            QJsonParseError err;
            const QJsonDocument d = QJsonDocument::fromJson(l, &err);
            if (err.error != QJsonParseError::NoError)
                throw Error(QStringLiteral("%1: line %2: not valid JSON: %3").arg(path).arg(line).arg(err.errorString()));
            const QJsonValue t = d.object().value(QLatin1String("text"));
            if (!d.isObject() || !t.isString())
                throw Error(QStringLiteral("%1: line %2: expected an object with a string field 'text'").arg(path).arg(line));
            if (rows++) out += "\n\n";
            out += t.toString().toStdString();
        }
        if (rows == 0) throw Error(QStringLiteral("%1: no {\"text\": ...} rows found").arg(path));
    } else {
        out.reserve(size_t(all.size()));
        for (qsizetype i = 0; i < all.size(); ++i) {
            if (all[i] == '\r' && i + 1 < all.size() && all[i + 1] == '\n') continue;
            out += all[i];
        }
        const long long bad = firstInvalidUtf8(out);
        if (bad >= 0)
            throw Error(QStringLiteral("%1: invalid UTF-8 at byte %2 (after CRLF normalisation); expected a UTF-8 text file").arg(path).arg(bad));
    }
    return out;
}

}  // namespace qs
