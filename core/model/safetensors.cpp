#include "model/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include "util/error.h"

namespace qs {

size_t safetensorsItemSize(const std::string& t) {
    if (t == "F64" || t == "I64" || t == "U64") return 8;
    if (t == "F32" || t == "I32" || t == "U32") return 4;
    if (t == "F16" || t == "BF16" || t == "I16" || t == "U16") return 2;
    if (t == "I8" || t == "U8" || t == "BOOL" || t == "F8_E4M3" || t == "F8_E5M2") return 1;
    return 0;
}

int64_t TensorRef::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

QString TensorRef::describe() const {
    return QStringLiteral("%1: tensor '%2'").arg(file, QString::fromStdString(name));
}

void TensorRef::toFloat(float* dst) const { toFloat(dst, 0, size_t(numel())); }

void TensorRef::toFloat(float* dst, size_t first, size_t count) const {
    if (!dtype)
        throw Error(QStringLiteral("%1 has dtype %2; expected a float dtype (F32, F16 or BF16)")
                        .arg(describe(), QString::fromStdString(dtypeName)));
    const size_t isz = dtypeSize(*dtype);
    Q_ASSERT((first + count) * isz <= nbytes);
    convertToFloat(*dtype, data + first * isz, dst, count);
}

namespace {

[[noreturn]] void fail(const QString& label, const QString& what) {
    throw Error(QStringLiteral("%1: %2").arg(label, what));
}

}  // namespace

SafetensorsHeader parseSafetensors(const uint8_t* data, size_t size, const QString& label) {
    if (size < 8)
        fail(label, QStringLiteral("truncated safetensors file: %1 bytes, expected at least 8 for the header length").arg(size));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n > size - 8)
        fail(label, QStringLiteral("safetensors header length %1 runs past the end of the file (%2 bytes after the length field)")
                        .arg(n).arg(size - 8));
    if (n > 100u * 1024 * 1024)
        fail(label, QStringLiteral("safetensors header length %1 is implausibly large (limit 100 MiB)").arg(n));
    QJsonParseError perr;
    const QByteArray headerBytes(reinterpret_cast<const char*>(data + 8), qsizetype(n));
    const QJsonDocument doc = QJsonDocument::fromJson(headerBytes, &perr);
    if (perr.error != QJsonParseError::NoError)
        fail(label, QStringLiteral("safetensors header is not valid JSON at byte %1: %2").arg(perr.offset).arg(perr.errorString()));
    if (!doc.isObject()) fail(label, QStringLiteral("safetensors header is not a JSON object"));

    SafetensorsHeader h;
    h.dataStart = size_t(8 + n);
    const size_t dataSize = size - h.dataStart;
    const QJsonObject root = doc.object();
    struct Span { size_t b, e; std::string name; };
    std::vector<Span> spans;
    for (auto it = root.begin(); it != root.end(); ++it) {
        const std::string name = it.key().toStdString();
        if (it.key() == QLatin1String("__metadata__")) {
            if (!it.value().isObject()) fail(label, QStringLiteral("'__metadata__' is not an object"));
            const QJsonObject md = it.value().toObject();
            for (auto m = md.begin(); m != md.end(); ++m) {
                if (!m.value().isString())
                    fail(label, QStringLiteral("'__metadata__.%1' is not a string").arg(m.key()));
                h.metadata[m.key().toStdString()] = m.value().toString().toStdString();
            }
            continue;
        }
        const QString tdesc = QStringLiteral("tensor '%1'").arg(it.key());
        if (!it.value().isObject()) fail(label, QStringLiteral("%1: entry is not an object").arg(tdesc));
        const QJsonObject t = it.value().toObject();
        TensorRef ref;
        ref.name = name;
        ref.file = label;
        const QJsonValue dt = t.value(QLatin1String("dtype"));
        if (!dt.isString()) fail(label, QStringLiteral("%1: missing or non-string 'dtype'").arg(tdesc));
        ref.dtypeName = dt.toString().toStdString();
        const size_t isz = safetensorsItemSize(ref.dtypeName);
        if (isz == 0)
            fail(label, QStringLiteral("%1: unknown dtype '%2'; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL")
                            .arg(tdesc, dt.toString()));
        ref.dtype = dtypeFromName(ref.dtypeName);
        const QJsonValue sh = t.value(QLatin1String("shape"));
        if (!sh.isArray()) fail(label, QStringLiteral("%1: missing or non-array 'shape'").arg(tdesc));
        unsigned __int128 numel = 1;
        for (const QJsonValue& d : sh.toArray()) {
            const double v = d.toDouble(-1);
            if (!d.isDouble() || v < 0 || v != std::floor(v) || v > 9.0e15)
                fail(label, QStringLiteral("%1: shape entry %2 is not a non-negative integer")
                                .arg(tdesc, QString::fromUtf8(QJsonDocument(QJsonArray{d}).toJson(QJsonDocument::Compact))));
            ref.shape.push_back(int64_t(v));
            numel *= uint64_t(v);
            if (numel > (unsigned __int128)(1) << 62) fail(label, QStringLiteral("%1: shape is too large").arg(tdesc));
        }
        const QJsonValue off = t.value(QLatin1String("data_offsets"));
        const QJsonArray offa = off.toArray();
        if (!off.isArray() || offa.size() != 2 || !offa[0].isDouble() || !offa[1].isDouble())
            fail(label, QStringLiteral("%1: 'data_offsets' must be an array of two integers").arg(tdesc));
        const double b = offa[0].toDouble(), e = offa[1].toDouble();
        if (b < 0 || e < 0 || b != std::floor(b) || e != std::floor(e) || b > 9.0e15 || e > 9.0e15)
            fail(label, QStringLiteral("%1: 'data_offsets' [%2, %3] are not non-negative integers").arg(tdesc).arg(b).arg(e));
        if (b > e)
            fail(label, QStringLiteral("%1: data_offsets begin %2 is after end %3").arg(tdesc).arg(qint64(b)).arg(qint64(e)));
        if (size_t(e) > dataSize)
            fail(label, QStringLiteral("%1: data_offsets end %2 is past the end of the data buffer (%3 bytes); the file is truncated or the header is wrong")
                            .arg(tdesc).arg(qint64(e)).arg(dataSize));
        const unsigned __int128 expectBytes = numel * isz;
        if (expectBytes != (unsigned __int128)(size_t(e) - size_t(b)))
            fail(label, QStringLiteral("%1: data_offsets span %2 bytes, but dtype %3 with shape %4 needs %5 bytes")
                            .arg(tdesc).arg(qint64(e - b)).arg(dt.toString(),
                                 QString::fromUtf8(QJsonDocument(sh.toArray()).toJson(QJsonDocument::Compact)))
                            .arg(quint64(expectBytes)));
        ref.data = data + h.dataStart + size_t(b);
        ref.nbytes = size_t(e - b);
        spans.push_back({size_t(b), size_t(e), name});
        h.tensors.emplace(name, std::move(ref));
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.b < b.b || (a.b == b.b && a.e < b.e); });
    // compare each non-empty span with the furthest-reaching one before it
    // (neighbour-only checks miss overlaps hidden behind an empty tensor)
    const Span* reach = nullptr;
    for (const Span& sp : spans) {
        if (sp.e == sp.b) continue;
        if (reach && sp.b < reach->e)
            fail(label, QStringLiteral("tensors '%1' [%2, %3) and '%4' [%5, %6) overlap in the data buffer")
                            .arg(QString::fromStdString(reach->name)).arg(reach->b).arg(reach->e)
                            .arg(QString::fromStdString(sp.name)).arg(sp.b).arg(sp.e));
        if (!reach || sp.e > reach->e) reach = &sp;
    }
    return h;
}

SafetensorsHeader openSafetensors(const QString& path) {
    auto mf = MappedFile::open(path);
    SafetensorsHeader h = parseSafetensors(mf->data(), mf->size(), path);
    for (auto& [name, t] : h.tensors) t.keepAlive = mf;
    return h;
}

void writeSafetensors(const QString& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    QJsonObject header;
    if (!metadata.empty()) {
        QJsonObject md;
        for (const auto& [k, v] : metadata) md.insert(QString::fromStdString(k), QString::fromStdString(v));
        header.insert(QStringLiteral("__metadata__"), md);
    }
    size_t offset = 0;
    for (const auto& t : tensors) {
        int64_t numel = 1;
        QJsonArray shape;
        for (int64_t d : t.shape) {
            numel *= d;
            shape.append(qint64(d));
        }
        const size_t bytes = size_t(numel) * dtypeSize(t.dtype);
        QJsonObject e;
        e.insert(QStringLiteral("dtype"), QString::fromLatin1(dtypeName(t.dtype)));
        e.insert(QStringLiteral("shape"), shape);
        e.insert(QStringLiteral("data_offsets"), QJsonArray{qint64(offset), qint64(offset + bytes)});
        header.insert(QString::fromStdString(t.name), e);
        offset += bytes;
    }
    QByteArray hjson = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while ((8 + hjson.size()) % 8) hjson.append(' ');  // align the data buffer to 8 bytes
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        throw Error(QStringLiteral("%1: cannot write: %2").arg(path, f.errorString()));
    uint64_t n = uint64_t(hjson.size());
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(n >> (8 * i));
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(hjson);
    std::vector<unsigned char> buf;
    std::vector<float> fbuf;
    for (const auto& t : tensors) {
        int64_t numel = 1;
        for (int64_t d : t.shape) numel *= d;
        // convert in chunks so a multi-GB synthetic checkpoint needs little memory
        const size_t chunk = 1 << 20;
        for (size_t i = 0; i < size_t(numel); i += chunk) {
            const size_t c = std::min(chunk, size_t(numel) - i);
            buf.resize(c * dtypeSize(t.dtype));
            const float* src = t.values ? t.values + i : nullptr;
            if (!src) {
                fbuf.resize(c);
                t.fill(fbuf.data(), i, c);
                src = fbuf.data();
            }
            convertFromFloat(t.dtype, src, buf.data(), c);
            if (f.write(reinterpret_cast<const char*>(buf.data()), qint64(buf.size())) != qint64(buf.size()))
                throw Error(QStringLiteral("%1: write failed: %2").arg(path, f.errorString()));
        }
    }
    if (!f.commit()) throw Error(QStringLiteral("%1: cannot finish writing: %2").arg(path, f.errorString()));
}

}  // namespace qs
