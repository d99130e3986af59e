// Storage dtype conversions (core/model/dtype) and the safetensors parser/writer
// (core/model/safetensors): valid images, every malformed-header case the parser
// promises to reject (each error names the file label and the offending
// tensor/field), and writeSafetensors -> parse round trips.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>

#include "model/dtype.h"
#include "model/safetensors.h"
#include "testutil.h"
#include "util/error.h"
#include "util/rng.h"

namespace {

uint32_t bitsOf(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float floatOf(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

/// Independent reference for float -> BF16 (RNE): pick the nearer of the two
/// neighbouring BF16 values in double arithmetic, ties to the even mantissa.
uint16_t refBf16(float f) {
    const uint32_t u = bitsOf(f);
    const uint16_t lo = uint16_t(u >> 16);  // truncation (toward zero in magnitude)
    if ((u & 0xffff) == 0) return lo;
    const uint16_t hi = uint16_t(lo + 1);   // next magnitude up (may become Inf: correct)
    const double a = std::abs(double(f));
    const double dl = a - std::abs(double(qs::bf16ToFloat(lo)));
    // past the largest finite value the next "value" is 2^128 (the RNE overflow boundary)
    const double vh = (hi & 0x7fff) == 0x7f80 ? std::ldexp(1.0, 128) : std::abs(double(qs::bf16ToFloat(hi)));
    const double dh = vh - a;
    if (dl < dh) return lo;
    if (dh < dl) return hi;
    return (lo & 1) ? hi : lo;
}

/// Independent reference for float -> F16 (RNE) by exhaustive neighbour search
/// over the 2^15 magnitudes (values are monotonic in the bit pattern).
uint16_t refHalf(float f) {
    if (std::isnan(f)) return 0x7e00;
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double a = std::abs(double(f));
    // largest half magnitude <= a, by binary search over 0x0000..0x7c00
    int lo = 0, hi = 0x7c00;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (double(qs::halfToFloat(uint16_t(mid))) <= a) lo = mid; else hi = mid - 1;
    }
    const double vl = qs::halfToFloat(uint16_t(lo));
    if (vl == a || lo == 0x7c00) return uint16_t(sign | lo);
    // above 65504 the next "value" is the rounding boundary of Inf: 65520 rounds to Inf
    const double vh = lo == 0x7bff ? 65536.0 : double(qs::halfToFloat(uint16_t(lo + 1)));
    const double dl = a - vl, dh = vh - a;
    int r;
    if (dl < dh) r = lo;
    else if (dh < dl) r = lo + 1;
    else r = (lo & 1) ? lo + 1 : lo;
    return uint16_t(sign | r);
}

/// A safetensors byte image: u64 LE header length, the header, then `data`.
QByteArray image(const QByteArray& header, const QByteArray& data = {}) {
    QByteArray out(8, '\0');
    const uint64_t n = uint64_t(header.size());
    for (int i = 0; i < 8; ++i) out[i] = char(uint8_t(n >> (8 * i)));
    return out + header + data;
}
QByteArray image(const QJsonObject& header, const QByteArray& data = {}) {
    return image(QJsonDocument(header).toJson(QJsonDocument::Compact), data);
}
QJsonObject entry(const QString& dtype, const QJsonArray& shape, qint64 b, qint64 e) {
    return QJsonObject{{QStringLiteral("dtype"), dtype},
                       {QStringLiteral("shape"), shape},
                       {QStringLiteral("data_offsets"), QJsonArray{b, e}}};
}

qs::SafetensorsHeader parse(const QByteArray& img, const QString& label) {
    return qs::parseSafetensors(reinterpret_cast<const uint8_t*>(img.constData()), size_t(img.size()), label);
}

QByteArray floatsLE(const std::vector<float>& v) {
    QByteArray b(qsizetype(v.size() * 4), '\0');
    std::memcpy(b.data(), v.data(), v.size() * 4);
    return b;
}

const QString kLabel = QStringLiteral("weights/odd-file-label.safetensors");

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // ---------------- dtype conversions ----------------

    void dtypeNames() {
        QCOMPARE(qs::dtypeFromName("F32"), std::optional<qs::DType>(qs::DType::F32));
        QCOMPARE(qs::dtypeFromName("F16"), std::optional<qs::DType>(qs::DType::F16));
        QCOMPARE(qs::dtypeFromName("BF16"), std::optional<qs::DType>(qs::DType::BF16));
        QVERIFY(!qs::dtypeFromName("f32"));
        QVERIFY(!qs::dtypeFromName("I32"));
        QCOMPARE(QString::fromLatin1(qs::dtypeName(qs::DType::BF16)), QStringLiteral("BF16"));
        QCOMPARE(qs::dtypeSize(qs::DType::F32), size_t(4));
        QCOMPARE(qs::dtypeSize(qs::DType::F16), size_t(2));
        QCOMPARE(qs::dtypeSize(qs::DType::BF16), size_t(2));
        QCOMPARE(qs::safetensorsItemSize("I64"), size_t(8));
        QCOMPARE(qs::safetensorsItemSize("U8"), size_t(1));
        QCOMPARE(qs::safetensorsItemSize("F99"), size_t(0));
    }

    /// Every F16 bit pattern survives half -> float -> half (NaN stays NaN).
    void halfRoundTripAllPatterns() {
        for (uint32_t h = 0; h <= 0xffff; ++h) {
            const float f = qs::halfToFloat(uint16_t(h));
            const uint16_t back = qs::floatToHalf(f);
            const bool isNan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
            if (isNan) {
                QVERIFY2(std::isnan(f), qPrintable(QString::number(h, 16)));
                QVERIFY2(std::isnan(qs::halfToFloat(back)), qPrintable(QString::number(h, 16)));
                QCOMPARE(int(back & 0x8000), int(h & 0x8000));
            } else if (back != h) {
                QFAIL(qPrintable(QStringLiteral("half 0x%1 -> %2 -> 0x%3").arg(h, 4, 16, QLatin1Char('0')).arg(double(f)).arg(back, 4, 16, QLatin1Char('0'))));
            }
        }
    }

    void bf16RoundTripAllPatterns() {
        for (uint32_t b = 0; b <= 0xffff; ++b) {
            const float f = qs::bf16ToFloat(uint16_t(b));
            QCOMPARE(bitsOf(f), b << 16);
            const uint16_t back = qs::floatToBf16(f);
            const bool isNan = (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
            if (isNan) {
                QVERIFY(std::isnan(qs::bf16ToFloat(back)));
                QCOMPARE(int(back & 0x8000), int(b & 0x8000));
            } else if (back != b) {
                QFAIL(qPrintable(QStringLiteral("bf16 0x%1 -> 0x%2").arg(b, 4, 16, QLatin1Char('0')).arg(back, 4, 16, QLatin1Char('0'))));
            }
        }
    }

    void halfKnownValues_data() {
        QTest::addColumn<float>("value");
        QTest::addColumn<int>("bits");
        const float t24 = std::ldexp(1.0f, -24), t25 = std::ldexp(1.0f, -25);
        QTest::newRow("one") << 1.0f << 0x3c00;
        QTest::newRow("minus two") << -2.0f << 0xc000;
        QTest::newRow("+0") << 0.0f << 0x0000;
        QTest::newRow("-0") << -0.0f << 0x8000;
        QTest::newRow("max") << 65504.0f << 0x7bff;
        QTest::newRow("below overflow boundary") << std::nextafter(65520.0f, 0.0f) << 0x7bff;
        QTest::newRow("overflow boundary -> inf") << 65520.0f << 0x7c00;
        QTest::newRow("huge -> -inf") << -1e30f << 0xfc00;
        QTest::newRow("float max -> inf") << std::numeric_limits<float>::max() << 0x7c00;
        QTest::newRow("+inf") << std::numeric_limits<float>::infinity() << 0x7c00;
        QTest::newRow("-inf") << -std::numeric_limits<float>::infinity() << 0xfc00;
        // ties in the normal range go to the even mantissa
        QTest::newRow("tie 1+2^-11 -> 1") << 1.0f + std::ldexp(1.0f, -11) << 0x3c00;
        QTest::newRow("tie 1+3*2^-11 -> even up") << 1.0f + 3 * std::ldexp(1.0f, -11) << 0x3c02;
        QTest::newRow("just above tie") << std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f) << 0x3c01;
        QTest::newRow("tie 2-2^-11 carries into exponent") << 2.0f - std::ldexp(1.0f, -11) << 0x4000;
        // subnormals
        QTest::newRow("min subnormal") << t24 << 0x0001;
        QTest::newRow("-min subnormal") << -t24 << 0x8001;
        QTest::newRow("tie 2^-25 -> 0") << t25 << 0x0000;
        QTest::newRow("tie -2^-25 -> -0") << -t25 << 0x8000;
        QTest::newRow("above 2^-25 -> min") << std::nextafter(t25, 1.0f) << 0x0001;
        QTest::newRow("tie 3*2^-25 -> 2") << 3 * t25 << 0x0002;
        QTest::newRow("tie 5*2^-25 -> 2") << 5 * t25 << 0x0002;
        QTest::newRow("max subnormal") << 1023 * t24 << 0x03ff;
        QTest::newRow("tie max subnormal+half ulp -> min normal") << 1023.5f * t24 << 0x0400;
        QTest::newRow("min normal") << std::ldexp(1.0f, -14) << 0x0400;
        QTest::newRow("float min normal -> 0") << std::numeric_limits<float>::min() << 0x0000;
        QTest::newRow("float denormal -> 0") << std::numeric_limits<float>::denorm_min() << 0x0000;
    }
    void halfKnownValues() {
        QFETCH(float, value);
        QFETCH(int, bits);
        QCOMPARE(int(qs::floatToHalf(value)), bits);
        if ((bits & 0x7c00) != 0x7c00 || (bits & 0x3ff) == 0)  // value of the result round-trips
            QCOMPARE(qs::floatToHalf(qs::halfToFloat(uint16_t(bits))), uint16_t(bits));
    }

    void halfSubnormalValues() {
        for (int m = 1; m < 1024; ++m) {
            QCOMPARE(qs::halfToFloat(uint16_t(m)), std::ldexp(float(m), -24));
            QCOMPARE(qs::halfToFloat(uint16_t(0x8000 | m)), -std::ldexp(float(m), -24));
        }
        QCOMPARE(qs::halfToFloat(0x7bff), 65504.0f);
        QVERIFY(std::isinf(qs::halfToFloat(0x7c00)) && qs::halfToFloat(0x7c00) > 0);
        QVERIFY(std::isinf(qs::halfToFloat(0xfc00)) && qs::halfToFloat(0xfc00) < 0);
        QVERIFY(std::isnan(qs::halfToFloat(0x7e00)));
        QVERIFY(std::isnan(qs::halfToFloat(0x7c01)));
        QVERIFY(std::signbit(qs::halfToFloat(0x8000)));
    }

    void nanAndInf() {
        const float qnan = std::numeric_limits<float>::quiet_NaN();
        const float snan = std::numeric_limits<float>::signaling_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        for (float n : {qnan, snan, -qnan, floatOf(0x7f800001u), floatOf(0xffc00123u)}) {
            QVERIFY(std::isnan(qs::halfToFloat(qs::floatToHalf(n))));
            QVERIFY(std::isnan(qs::bf16ToFloat(qs::floatToBf16(n))));
            QCOMPARE(bool(qs::floatToHalf(n) & 0x8000), std::signbit(n));
            QCOMPARE(bool(qs::floatToBf16(n) & 0x8000), std::signbit(n));
        }
        QCOMPARE(qs::floatToBf16(inf), uint16_t(0x7f80));
        QCOMPARE(qs::floatToBf16(-inf), uint16_t(0xff80));
        QCOMPARE(qs::floatToBf16(std::numeric_limits<float>::max()), uint16_t(0x7f80));  // RNE overflows to Inf
        QCOMPARE(qs::floatToBf16(floatOf(0x7f7f7fffu)), uint16_t(0x7f7f));                // just below the tie
    }

    void bf16KnownValues() {
        QCOMPARE(qs::floatToBf16(1.0f), uint16_t(0x3f80));
        QCOMPARE(qs::floatToBf16(-0.0f), uint16_t(0x8000));
        QCOMPARE(qs::floatToBf16(floatOf(0x3f808000u)), uint16_t(0x3f80));  // tie, even stays
        QCOMPARE(qs::floatToBf16(floatOf(0x3f818000u)), uint16_t(0x3f82));  // tie, odd rounds up
        QCOMPARE(qs::floatToBf16(floatOf(0x3f808001u)), uint16_t(0x3f81));  // above tie
        QCOMPARE(qs::floatToBf16(floatOf(0x3f807fffu)), uint16_t(0x3f80));  // below tie
        QCOMPARE(qs::floatToBf16(floatOf(0x3fff8000u)), uint16_t(0x4000));  // carry into exponent
        QCOMPARE(qs::floatToBf16(floatOf(0x00018000u)), uint16_t(0x0002));  // subnormal tie, odd -> up
        QCOMPARE(qs::floatToBf16(floatOf(0x00008000u)), uint16_t(0x0000));  // subnormal tie, even -> 0
        QCOMPARE(qs::floatToBf16(floatOf(0x807fffffu)), uint16_t(0x8080));  // largest -subnormal -> -min normal
    }

    /// floatToHalf / floatToBf16 agree with independent references over a dense
    /// sample of all float bit patterns (every 4099th pattern plus the neighbours of
    /// every F16 rounding boundary).
    void conversionsMatchReference() {
        int checked = 0;
        auto check = [&](uint32_t u) -> bool {
            const float f = floatOf(u);
            ++checked;
            if (std::isnan(f)) return true;
            const uint16_t h = qs::floatToHalf(f), hr = refHalf(f);
            const uint16_t b = qs::floatToBf16(f), br = refBf16(f);
            if (h != hr || b != br) {
                qWarning("float 0x%08x (%g): half 0x%04x ref 0x%04x, bf16 0x%04x ref 0x%04x", u, double(f), h, hr, b, br);
                return false;
            }
            return true;
        };
        for (uint64_t u = 0; u <= 0xffffffffull; u += 4099)
            if (!check(uint32_t(u))) QFAIL("mismatch (see warning)");
        for (uint32_t h = 0; h < 0x7c00; ++h) {  // midpoints between consecutive halves and their neighbours
            const double mid = (double(qs::halfToFloat(uint16_t(h))) +
                                (h == 0x7bff ? 65536.0 : double(qs::halfToFloat(uint16_t(h + 1))))) / 2;
            const float fm = float(mid);
            if (double(fm) != mid) continue;
            for (uint32_t u : {bitsOf(fm) - 1, bitsOf(fm), bitsOf(fm) + 1, bitsOf(fm) | 0x80000000u})
                if (!check(u)) QFAIL("mismatch at a rounding boundary (see warning)");
        }
        QVERIFY(checked > 1000000);
    }

    void convertArraysUnaligned() {
        std::vector<float> src = {1.0f, -2.5f, 0.1f, 65504.0f, std::ldexp(1.0f, -24), -0.0f, 3.14159f};
        for (qs::DType t : {qs::DType::F32, qs::DType::F16, qs::DType::BF16}) {
            std::vector<unsigned char> buf(src.size() * qs::dtypeSize(t) + 1);
            qs::convertFromFloat(t, src.data(), buf.data() + 1, src.size());  // odd address
            std::vector<float> back(src.size());
            qs::convertToFloat(t, buf.data() + 1, back.data(), src.size());
            for (size_t i = 0; i < src.size(); ++i) {
                float expect = src[i];
                if (t == qs::DType::F16) expect = qs::halfToFloat(qs::floatToHalf(src[i]));
                if (t == qs::DType::BF16) expect = qs::bf16ToFloat(qs::floatToBf16(src[i]));
                QCOMPARE(bitsOf(back[i]), bitsOf(expect));
            }
            // little-endian storage
            if (t == qs::DType::F16) QCOMPARE(int(buf[1]) | (int(buf[2]) << 8), 0x3c00);
            if (t == qs::DType::BF16) QCOMPARE(int(buf[1]) | (int(buf[2]) << 8), 0x3f80);
        }
    }

    // ---------------- parser: valid images ----------------

    void parseValid() {
        const std::vector<float> a = {1, 2, 3, 4, 5, 6};
        QByteArray data = floatsLE(a);                       // "a" F32 [2,3] at [0,24)
        const uint16_t hb[2] = {0x3c00, 0xc000};             // "h" F16 [2] at [24,28)
        data.append(reinterpret_cast<const char*>(hb), 4);
        const uint16_t bb[1] = {0x3f80};                     // "b" BF16 [] (scalar) at [28,30)
        data.append(reinterpret_cast<const char*>(bb), 2);
        const int32_t ib[1] = {7};                           // "i" I32 [1] at [30,34)
        data.append(reinterpret_cast<const char*>(ib), 4);
        QJsonObject hdr{{QStringLiteral("a"), entry(QStringLiteral("F32"), {2, 3}, 0, 24)},
                        {QStringLiteral("h"), entry(QStringLiteral("F16"), {2}, 24, 28)},
                        {QStringLiteral("b"), entry(QStringLiteral("BF16"), {}, 28, 30)},
                        {QStringLiteral("i"), entry(QStringLiteral("I32"), {1}, 30, 34)},
                        {QStringLiteral("empty"), entry(QStringLiteral("F32"), {0, 5}, 34, 34)},
                        {QStringLiteral("__metadata__"), QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")}}}};
        const QByteArray img = image(hdr, data);
        const qs::SafetensorsHeader h = parse(img, kLabel);
        QCOMPARE(h.tensors.size(), size_t(5));
        QCOMPARE(h.metadata.at("format"), std::string("pt"));
        QCOMPARE(h.dataStart, size_t(img.size() - data.size()));
        const qs::TensorRef& ta = h.tensors.at("a");
        QCOMPARE(ta.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(ta.numel(), int64_t(6));
        QCOMPARE(ta.nbytes, size_t(24));
        QCOMPARE(ta.dtypeName, std::string("F32"));
        QVERIFY(ta.dtype == qs::DType::F32);
        QCOMPARE(ta.data, reinterpret_cast<const uint8_t*>(img.constData()) + h.dataStart);
        QVERIFY(ta.describe().contains(kLabel) && ta.describe().contains(QLatin1String("'a'")));
        std::vector<float> out(6);
        ta.toFloat(out.data());
        QVERIFY(out == a);
        ta.toFloat(out.data(), 4, 2);
        QCOMPARE(out[0], 5.0f);
        QCOMPARE(out[1], 6.0f);
        ta.toFloat(out.data(), 6, 0);  // empty range at the end is fine

        h.tensors.at("h").toFloat(out.data());
        QCOMPARE(out[0], 1.0f);
        QCOMPARE(out[1], -2.0f);
        const qs::TensorRef& tb = h.tensors.at("b");
        QVERIFY(tb.shape.empty());
        QCOMPARE(tb.numel(), int64_t(1));
        tb.toFloat(out.data());
        QCOMPARE(out[0], 1.0f);
        QCOMPARE(h.tensors.at("empty").numel(), int64_t(0));
        QCOMPARE(h.tensors.at("empty").nbytes, size_t(0));

        // a non-float tensor parses but refuses conversion, naming the file and tensor
        const qs::TensorRef& ti = h.tensors.at("i");
        QVERIFY(!ti.dtype);
        QCOMPARE(ti.dtypeName, std::string("I32"));
        try {
            ti.toFloat(out.data());
            QFAIL("toFloat on I32 did not throw");
        } catch (const qs::Error& e) {
            const QString m = QString::fromUtf8(e.what());
            QVERIFY2(m.contains(kLabel) && m.contains(QLatin1String("'i'")) && m.contains(QLatin1String("I32")), qPrintable(m));
        }
    }

    void parseValidEdgeCases() {
        // empty header object, no data
        QCOMPARE(parse(image(QByteArray("{}")), kLabel).tensors.size(), size_t(0));
        // header padded with spaces (as the writer and the Rust crate do), trailing data unused
        const qs::SafetensorsHeader h = parse(
            image(QByteArray(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      )"), QByteArray(12, '\0')), kLabel);
        QCOMPARE(h.tensors.size(), size_t(1));
        // tensors need not be in offset order; zero-size tensors may share an offset
        const QJsonObject hdr{{QStringLiteral("late"), entry(QStringLiteral("F32"), {1}, 4, 8)},
                              {QStringLiteral("early"), entry(QStringLiteral("F32"), {1}, 0, 4)},
                              {QStringLiteral("z1"), entry(QStringLiteral("F16"), {0}, 4, 4)},
                              {QStringLiteral("z2"), entry(QStringLiteral("BF16"), {3, 0}, 4, 4)}};
        QCOMPARE(parse(image(hdr, QByteArray(8, '\0')), kLabel).tensors.size(), size_t(4));
        // __metadata__ with no entries
        QCOMPARE(parse(image(QJsonObject{{QStringLiteral("__metadata__"), QJsonObject{}}}), kLabel).metadata.size(), size_t(0));
    }

    // ---------------- parser: every malformed case ----------------

    void parseErrors_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("mustContain");  // besides the label
        const QByteArray d16(16, '\0');
        auto hdr1 = [](const QJsonObject& e) { return QJsonObject{{QStringLiteral("w.weight"), e}}; };

        QTest::newRow("empty file") << QByteArray() << QStringList{QStringLiteral("8")};
        QTest::newRow("7 bytes") << QByteArray(7, '\0') << QStringList{QStringLiteral("8")};
        {
            QByteArray b = image(QByteArray("{}"));
            b[0] = char(100);  // claims 100 header bytes, has 2
            QTest::newRow("header length past EOF") << b << QStringList{QStringLiteral("header"), QStringLiteral("100")};
            QByteArray c(8, char(0xff));  // 2^64 - 1
            QTest::newRow("header length 2^64-1") << c << QStringList{QStringLiteral("header")};
        }
        QTest::newRow("non-JSON header") << image(QByteArray("{not json")) << QStringList{QStringLiteral("JSON")};
        QTest::newRow("truncated JSON") << image(QByteArray(R"({"w.weight":{"dtype":"F32")")) << QStringList{QStringLiteral("JSON")};
        QTest::newRow("header is an array") << image(QByteArray("[1,2,3]")) << QStringList{QStringLiteral("object")};
        QTest::newRow("header is a string") << image(QByteArray("\"x\"")) << QStringList{QStringLiteral("header")};
        QTest::newRow("entry not an object")
            << image(QByteArray(R"({"w.weight":[1,2]})")) << QStringList{QStringLiteral("w.weight")};
        QTest::newRow("unknown dtype")
            << image(hdr1(entry(QStringLiteral("F99"), {4}, 0, 16)), d16) << QStringList{QStringLiteral("w.weight"), QStringLiteral("F99")};
        QTest::newRow("dtype missing")
            << image(QByteArray(R"({"w.weight":{"shape":[4],"data_offsets":[0,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("dtype")};
        QTest::newRow("dtype not a string")
            << image(QByteArray(R"({"w.weight":{"dtype":4,"shape":[4],"data_offsets":[0,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("dtype")};
        QTest::newRow("shape not integer")
            << image(hdr1(entry(QStringLiteral("F32"), {2.5, 2}, 0, 16)), d16) << QStringList{QStringLiteral("w.weight"), QStringLiteral("shape")};
        QTest::newRow("shape entry a string")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("shape")};
        QTest::newRow("shape negative")
            << image(hdr1(entry(QStringLiteral("F32"), {-4}, 0, 16)), d16) << QStringList{QStringLiteral("w.weight"), QStringLiteral("shape")};
        QTest::newRow("shape not an array")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("shape")};
        QTest::newRow("shape product overflows")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("shape")};
        QTest::newRow("data_offsets missing")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":[4]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("data_offsets")};
        QTest::newRow("data_offsets three entries")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,8,16]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("data_offsets")};
        QTest::newRow("data_offsets negative")
            << image(hdr1(entry(QStringLiteral("F32"), {4}, -16, 0)), d16) << QStringList{QStringLiteral("w.weight"), QStringLiteral("data_offsets")};
        QTest::newRow("data_offsets fractional")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("data_offsets")};
        QTest::newRow("data_offsets out of range")
            << image(hdr1(entry(QStringLiteral("F32"), {8}, 0, 32)), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("32"), QStringLiteral("16")};
        QTest::newRow("data_offsets huge")
            << image(QByteArray(R"({"w.weight":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]}})"), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("data_offsets")};
        QTest::newRow("begin > end")
            << image(hdr1(entry(QStringLiteral("F32"), {1}, 8, 4)), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("8"), QStringLiteral("4")};
        QTest::newRow("size mismatch with shape x dtype")
            << image(hdr1(entry(QStringLiteral("F16"), {2, 3}, 0, 16)), d16)
            << QStringList{QStringLiteral("w.weight"), QStringLiteral("16"), QStringLiteral("12"), QStringLiteral("F16")};
        QTest::newRow("overlapping tensors")
            << image(QJsonObject{{QStringLiteral("first.weight"), entry(QStringLiteral("F32"), {2}, 0, 8)},
                                 {QStringLiteral("second.weight"), entry(QStringLiteral("F32"), {2}, 4, 12)}}, d16)
            << QStringList{QStringLiteral("first.weight"), QStringLiteral("second.weight"), QStringLiteral("overlap")};
        QTest::newRow("tensor inside another")
            << image(QJsonObject{{QStringLiteral("outer"), entry(QStringLiteral("F32"), {4}, 0, 16)},
                                 {QStringLiteral("inner"), entry(QStringLiteral("F16"), {2}, 4, 8)}}, d16)
            << QStringList{QStringLiteral("outer"), QStringLiteral("inner")};
        QTest::newRow("overlap hidden behind an empty tensor")
            << image(QJsonObject{{QStringLiteral("big"), entry(QStringLiteral("F32"), {4}, 0, 16)},
                                 {QStringLiteral("nothing"), entry(QStringLiteral("F32"), {0}, 4, 4)},
                                 {QStringLiteral("hidden"), entry(QStringLiteral("F32"), {1}, 8, 12)}}, d16)
            << QStringList{QStringLiteral("'big'"), QStringLiteral("'hidden'")};
        QTest::newRow("identical spans")
            << image(QJsonObject{{QStringLiteral("p"), entry(QStringLiteral("F32"), {2}, 0, 8)},
                                 {QStringLiteral("q"), entry(QStringLiteral("F32"), {2}, 0, 8)}}, d16)
            << QStringList{QStringLiteral("'p'"), QStringLiteral("'q'")};
        QTest::newRow("__metadata__ value not a string")
            << image(QJsonObject{{QStringLiteral("__metadata__"), QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")},
                                                                             {QStringLiteral("total_size"), 123}}}})
            << QStringList{QStringLiteral("__metadata__"), QStringLiteral("total_size")};
        QTest::newRow("__metadata__ not an object")
            << image(QJsonObject{{QStringLiteral("__metadata__"), QJsonArray{1}}}) << QStringList{QStringLiteral("__metadata__")};
    }
    void parseErrors() {
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, mustContain);
        try {
            parse(bytes, kLabel);
            QFAIL("no qs::Error was thrown");
        } catch (const qs::Error& e) {
            const QString m = QString::fromUtf8(e.what());
            qInfo().noquote() << m;
            QVERIFY2(m.contains(kLabel), qPrintable(QStringLiteral("label missing: ") + m));
            for (const QString& s : mustContain)
                QVERIFY2(m.contains(s, Qt::CaseInsensitive), qPrintable(QStringLiteral("'%1' missing: %2").arg(s, m)));
        }
    }

    /// Every prefix of a valid file is either rejected with qs::Error or (for the
    /// full file) accepted; no crash, no read past the given size (ASan build).
    void everyTruncationRejected() {
        const std::vector<float> v = {1, 2, 3, 4};
        const QByteArray img = image(QJsonObject{{QStringLiteral("t"), entry(QStringLiteral("F32"), {4}, 0, 16)}}, floatsLE(v));
        for (qsizetype n = 0; n < img.size(); ++n) {
            QByteArray prefix = img.left(n);  // own buffer of exactly n bytes
            bool threw = false;
            try {
                parse(prefix, kLabel);
            } catch (const qs::Error& e) {
                threw = QString::fromUtf8(e.what()).contains(kLabel);
            }
            QVERIFY2(threw, qPrintable(QStringLiteral("prefix of %1 bytes not rejected").arg(n)));
        }
        QCOMPARE(parse(img, kLabel).tensors.size(), size_t(1));
    }

    /// openSafetensors names the file path in errors.
    void openErrorsNamePath() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString p = dir.filePath(QStringLiteral("broken.safetensors"));
        QFile f(p);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(image(QByteArray(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"), QByteArray(8, '\0')));
        f.close();
        for (const QString& path : {p, dir.filePath(QStringLiteral("absent.safetensors"))}) {
            try {
                qs::openSafetensors(path);
                QFAIL("no error");
            } catch (const qs::Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(path), e.what());
            }
        }
    }

    // ---------------- writer round trip ----------------

    void writeParseRoundTrip_data() {
        QTest::addColumn<int>("dtype");
        QTest::newRow("F32") << int(qs::DType::F32);
        QTest::newRow("F16") << int(qs::DType::F16);
        QTest::newRow("BF16") << int(qs::DType::BF16);
    }
    void writeParseRoundTrip() {
        QFETCH(int, dtype);
        const qs::DType t = qs::DType(dtype);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("rt.safetensors"));
        qs::SplitMix64 rng(7);
        std::vector<float> a(3 * 5), b(7);
        for (float& x : a) x = rng.uniformSym() * 3.0f;
        for (float& x : b) x = rng.uniformSym() * 1e-6f;  // F16 subnormal range
        a[0] = 65504.0f;
        a[1] = -0.0f;
        a[2] = std::ldexp(1.0f, -24);
        const size_t bigN = (size_t(1) << 20) + 123;  // > one writer chunk, produced by `fill`
        std::vector<qs::TensorToWrite> ts(4);
        ts[0] = {"model.a.weight", {3, 5}, t, a.data(), {}};
        ts[1] = {"b.bias", {7}, t, b.data(), {}};
        ts[2] = {"empty", {0, 4}, t, nullptr, [](float*, size_t, size_t) {}};
        ts[3].name = "big";
        ts[3].shape = {int64_t(bigN)};
        ts[3].dtype = t;
        ts[3].fill = [](float* dst, size_t first, size_t count) {
            for (size_t i = 0; i < count; ++i) dst[i] = float((first + i) % 256) * 0.25f;
        };
        qs::writeSafetensors(path, ts, {{"format", "pt"}, {"note", "round trip"}});

        const qs::SafetensorsHeader h = qs::openSafetensors(path);
        QCOMPARE(h.tensors.size(), size_t(4));
        QCOMPARE(h.metadata.size(), size_t(2));
        QCOMPARE(h.metadata.at("note"), std::string("round trip"));
        QCOMPARE(h.dataStart % 8, size_t(0));  // data buffer aligned
        auto expectOf = [t](float x) {
            if (t == qs::DType::F16) return qs::halfToFloat(qs::floatToHalf(x));
            if (t == qs::DType::BF16) return qs::bf16ToFloat(qs::floatToBf16(x));
            return x;
        };
        for (const auto& [name, src] : {std::pair<std::string, const std::vector<float>*>{"model.a.weight", &a},
                                        std::pair<std::string, const std::vector<float>*>{"b.bias", &b}}) {
            const qs::TensorRef& r = h.tensors.at(name);
            QCOMPARE(r.dtypeName, std::string(qs::dtypeName(t)));
            QVERIFY(r.dtype == t);
            QCOMPARE(size_t(r.numel()), src->size());
            QCOMPARE(r.nbytes, src->size() * qs::dtypeSize(t));
            std::vector<float> out(src->size());
            r.toFloat(out.data());
            for (size_t i = 0; i < out.size(); ++i) QCOMPARE(bitsOf(out[i]), bitsOf(expectOf((*src)[i])));
        }
        QCOMPARE(h.tensors.at("model.a.weight").shape, (std::vector<int64_t>{3, 5}));
        QCOMPARE(h.tensors.at("empty").shape, (std::vector<int64_t>{0, 4}));
        QCOMPARE(h.tensors.at("empty").nbytes, size_t(0));
        const qs::TensorRef& big = h.tensors.at("big");
        QCOMPARE(size_t(big.numel()), bigN);
        std::vector<float> out(bigN);
        big.toFloat(out.data());
        for (size_t i : {size_t(0), size_t(999), size_t(1000), (size_t(1) << 20) - 1, size_t(1) << 20, bigN - 1})
            QCOMPARE(out[i], float(i % 256) * 0.25f);  // exactly representable in all three dtypes
        // the file is exactly header + all tensors, contiguous
        QCOMPARE(size_t(QFileInfo(path).size()), h.dataStart + (15 + 7 + bigN) * qs::dtypeSize(t));
        // the parsed header is plain JSON that other readers accept
        const QByteArray raw = qs::test::readAll(path);
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(raw.mid(8, qsizetype(h.dataStart - 8)), &err);
        QCOMPARE(err.error, QJsonParseError::NoError);
        QCOMPARE(doc.object().value(QLatin1String("b.bias")).toObject().value(QLatin1String("dtype")).toString(),
                 QString::fromLatin1(qs::dtypeName(t)));
    }

    void writeErrorNamesPath() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("no/such/dir/x.safetensors"));
        const float v = 1.0f;
        try {
            qs::writeSafetensors(path, {{"x", {1}, qs::DType::F32, &v, {}}});
            QFAIL("no error");
        } catch (const qs::Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(path), e.what());
        }
        QVERIFY(!QFileInfo::exists(path));
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
