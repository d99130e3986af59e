// Tests for core/quant/formats: integer grid (GPTQ reference quantizer) and the
// OCP MX v1.0 formats. Expected values are computed here independently (element
// values from sign/exponent/mantissa fields in double precision, literal spot
// values from the spec, hand-computed integer grids), never by calling the
// code under test for the expectation.
#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant/formats.h"

using namespace qs;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaNf = std::numeric_limits<float>::quiet_NaN();

struct Fmt {
    FormatKind kind;
    const char* name;
    bool isInt;
    int ebits, mbits, bias, codeBits;
    double maxVal;
};
const Fmt kMx[] = {
    {FormatKind::MxInt8, "mxint8", true, 0, 0, 0, 8, 127.0 / 64},
    {FormatKind::MxInt4, "mxint4", true, 0, 0, 0, 4, 7.0 / 4},
    {FormatKind::MxFp8E4M3, "mxfp8_e4m3", false, 4, 3, 7, 8, 448},
    {FormatKind::MxFp8E5M2, "mxfp8_e5m2", false, 5, 2, 15, 8, 57344},
    {FormatKind::MxFp6E3M2, "mxfp6_e3m2", false, 3, 2, 3, 6, 28},
    {FormatKind::MxFp6E2M3, "mxfp6_e2m3", false, 2, 3, 1, 6, 7.5},
    {FormatKind::MxFp4E2M1, "mxfp4", false, 2, 1, 1, 4, 6},
};

// Independent reference decoder (double precision, pow-based).
double refDecode(const Fmt& f, int code) {
    const int n = 1 << f.codeBits;
    if (f.isInt) {
        const int v = code >= n / 2 ? code - n : code;
        return v / (f.codeBits == 8 ? 64.0 : 4.0);
    }
    const int s = code >> (f.codeBits - 1);
    const int e = (code >> f.mbits) & ((1 << f.ebits) - 1);
    const int m = code & ((1 << f.mbits) - 1);
    const double sign = s ? -1.0 : 1.0;
    if (f.kind == FormatKind::MxFp8E4M3 && e == 15 && m == 7) return std::nan("");
    if (f.kind == FormatKind::MxFp8E5M2 && e == 31) return m == 0 ? sign * HUGE_VAL : std::nan("");
    const double frac = static_cast<double>(m) / std::pow(2.0, f.mbits);
    if (e == 0) return sign * frac * std::pow(2.0, 1 - f.bias);
    return sign * (1.0 + frac) * std::pow(2.0, e - f.bias);
}

// Exact equality: same bits, or both NaN.
bool sameF(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return true;
    uint32_t x, y;
    std::memcpy(&x, &a, 4);
    std::memcpy(&y, &b, 4);
    return x == y;
}
bool sameM(const MatrixRM& a, const MatrixRM& b, QString* where = nullptr) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) {
        if (where) *where = "shape";
        return false;
    }
    for (int64_t r = 0; r < a.rows(); ++r)
        for (int64_t c = 0; c < a.cols(); ++c)
            if (!sameF(a(r, c), b(r, c))) {
                if (where)
                    *where = QString("(%1,%2): %3 vs %4").arg(r).arg(c).arg(double(a(r, c)), 0, 'g', 9).arg(double(b(r, c)), 0, 'g', 9);
                return false;
            }
    return true;
}

QuantFormat fmt(const char* name) {
    auto f = QuantFormat::parse(name);
    if (!f) qFatal("bad format name %s", name);
    return *f;
}

MatrixRM randomMatrix(int64_t rows, int64_t cols, uint32_t seed, bool wild) {
    std::mt19937 g(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_int_distribution<int> ex(-30, 30);
    MatrixRM m(rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
        const float rowScale = wild ? std::ldexp(1.f, ex(g)) : 0.05f;
        for (int64_t c = 0; c < cols; ++c) {
            float v = nd(g) * rowScale;
            if (wild && (g() % 17) == 0) v *= 100.f;   // outliers
            if (wild && (g() % 23) == 0) v = 0.f;      // exact zeros
            m(r, c) = v;
        }
    }
    return m;
}

std::vector<const char*> allFormatNames() {
    return {"int2", "int3", "int4", "int5", "int6", "int7", "int8", "int2-sym", "int3-sym", "int4-sym", "int8-sym",
            "int4-g7", "int3-sym-g5", "int4-g32", "int2-g128", "int8-sym-g16", "int6-g3",
            "mxint8", "mxint4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4"};
}

// torch-order reference of GPTQ's quantizer for one contiguous run (written
// separately from formats.cpp, float32 throughout).
std::vector<float> refIntGroup(const std::vector<float>& x, int bits, bool sym) {
    const float maxq = float((1 << bits) - 1);
    float xmin = 0, xmax = 0;
    for (float v : x) {
        xmin = std::fmin(xmin, v);
        xmax = std::fmax(xmax, v);
    }
    if (sym) {
        xmax = std::fmax(std::fabs(xmin), xmax);
        if (xmin < 0) xmin = -xmax;
    }
    if (xmin == 0 && xmax == 0) {
        xmin = -1;
        xmax = 1;
    }
    const float scale = (xmax - xmin) / maxq;
    const float zero = sym ? (maxq + 1) / 2 : std::rint(-xmin / scale);
    std::vector<float> out;
    for (float v : x) {
        const float q = std::fmin(std::fmax(std::rint(v / scale) + zero, 0.f), maxq);
        out.push_back(scale * (q - zero));
    }
    return out;
}

}  // namespace

class TestFormats : public QObject {
    Q_OBJECT
private Q_SLOTS:

    // ---------------------------------------------------------------- element codecs
    void decodeEveryCode() {
        for (const Fmt& f : kMx) {
            for (int c = 0; c < (1 << f.codeBits); ++c) {
                const double want = refDecode(f, c);
                const float got = decodeMxElement(f.kind, static_cast<uint8_t>(c));
                if (std::isnan(want)) {
                    QVERIFY2(std::isnan(got), qPrintable(QString("%1 code %2").arg(f.name).arg(c)));
                } else {
                    QVERIFY2(double(got) == want && std::signbit(got) == std::signbit(want),
                             qPrintable(QString("%1 code %2: %3 vs %4").arg(f.name).arg(c).arg(double(got)).arg(want)));
                }
            }
        }
    }

    void decodeSpotValues() {
        struct S {
            FormatKind k;
            int code;
            double v;
        };
        const S spots[] = {
            {FormatKind::MxFp8E4M3, 0x7E, 448}, {FormatKind::MxFp8E4M3, 0xFE, -448}, {FormatKind::MxFp8E4M3, 0x38, 1.0},
            {FormatKind::MxFp8E4M3, 0x01, 1.0 / 512}, {FormatKind::MxFp8E4M3, 0x07, 7.0 / 512}, {FormatKind::MxFp8E4M3, 0x08, 1.0 / 64},
            {FormatKind::MxFp8E5M2, 0x7B, 57344}, {FormatKind::MxFp8E5M2, 0x3C, 1.0}, {FormatKind::MxFp8E5M2, 0x01, 1.0 / 65536},
            {FormatKind::MxFp8E5M2, 0x04, 1.0 / 16384},
            {FormatKind::MxFp6E3M2, 0x1F, 28}, {FormatKind::MxFp6E3M2, 0x0C, 1.0}, {FormatKind::MxFp6E3M2, 0x01, 0.0625},
            {FormatKind::MxFp6E3M2, 0x3F, -28},
            {FormatKind::MxFp6E2M3, 0x1F, 7.5}, {FormatKind::MxFp6E2M3, 0x08, 1.0}, {FormatKind::MxFp6E2M3, 0x01, 0.125},
            {FormatKind::MxFp6E2M3, 0x3F, -7.5},
            {FormatKind::MxInt8, 0x7F, 127.0 / 64}, {FormatKind::MxInt8, 0x40, 1.0}, {FormatKind::MxInt8, 0x81, -127.0 / 64},
            {FormatKind::MxInt8, 0x80, -2.0}, {FormatKind::MxInt8, 0xFF, -1.0 / 64}, {FormatKind::MxInt8, 0x01, 1.0 / 64},
            {FormatKind::MxInt4, 0x7, 1.75}, {FormatKind::MxInt4, 0x8, -2.0}, {FormatKind::MxInt4, 0xF, -0.25}, {FormatKind::MxInt4, 0x4, 1.0},
        };
        for (const S& s : spots) QCOMPARE(double(decodeMxElement(s.k, uint8_t(s.code))), s.v);
        const double e2m1[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
        for (int c = 0; c < 8; ++c) {
            QCOMPARE(double(decodeMxElement(FormatKind::MxFp4E2M1, uint8_t(c))), e2m1[c]);
            QCOMPARE(double(decodeMxElement(FormatKind::MxFp4E2M1, uint8_t(c | 8))), -e2m1[c]);
        }
        QVERIFY(std::isnan(decodeMxElement(FormatKind::MxFp8E4M3, 0x7F)));
        QVERIFY(std::isnan(decodeMxElement(FormatKind::MxFp8E4M3, 0xFF)));
        QVERIFY(std::signbit(decodeMxElement(FormatKind::MxFp8E4M3, 0x80)));
        QCOMPARE(decodeMxElement(FormatKind::MxFp8E5M2, 0x7C), kInf);
        QCOMPARE(decodeMxElement(FormatKind::MxFp8E5M2, 0xFC), -kInf);
        for (int c : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) QVERIFY(std::isnan(decodeMxElement(FormatKind::MxFp8E5M2, uint8_t(c))));
    }

    void encodeDecodeRoundTrip() {
        for (const Fmt& f : kMx) {
            for (int c = 0; c < (1 << f.codeBits); ++c) {
                const float v = decodeMxElement(f.kind, uint8_t(c));
                if (std::isnan(v)) continue;
                int want = c;
                // The most negative two's complement code (-2.0) is never produced:
                // the MXINT range is symmetric, so it saturates to -127/64 (-7/4).
                if (f.isInt && c == (1 << (f.codeBits - 1))) want = c + 1;
                QVERIFY2(encodeMxElement(f.kind, v) == want,
                         qPrintable(QString("%1 code %2 -> %3").arg(f.name).arg(c).arg(encodeMxElement(f.kind, v))));
            }
        }
    }

    // Every midpoint between adjacent representable magnitudes rounds to the
    // neighbour with an even code (even mantissa / even integer); one float step
    // off the midpoint goes to the nearer neighbour. Covers element denormals.
    void roundTiesToEven() {
        for (const Fmt& f : kMx) {
            const int maxCode = f.isInt ? (1 << (f.codeBits - 1)) - 1 : (1 << (f.codeBits - 1)) - 1;
            std::vector<std::pair<int, double>> pos;  // positive finite codes in increasing value
            for (int c = 0; c <= maxCode; ++c) {
                const double v = refDecode(f, c);
                if (std::isfinite(v)) pos.push_back({c, v});
            }
            for (size_t i = 0; i + 1 < pos.size(); ++i) {
                const double a = pos[i].second, b = pos[i + 1].second;
                QVERIFY(b > a);
                const float mid = float((a + b) / 2);
                QCOMPARE(double(mid), (a + b) / 2);  // exactly representable
                const int even = (pos[i].first % 2 == 0) ? pos[i].first : pos[i + 1].first;
                const QString ctx = QString("%1 between %2 and %3").arg(f.name).arg(a).arg(b);
                QVERIFY2(encodeMxElement(f.kind, mid) == even, qPrintable(ctx));
                QVERIFY2(encodeMxElement(f.kind, std::nextafter(mid, 0.f)) == pos[i].first, qPrintable(ctx));
                QVERIFY2(encodeMxElement(f.kind, std::nextafter(mid, kInf)) == pos[i + 1].first, qPrintable(ctx));
                // negative side: same magnitude, negated value
                const double negWant = -refDecode(f, even);
                QVERIFY2(double(decodeMxElement(f.kind, encodeMxElement(f.kind, -mid))) == negWant, qPrintable(ctx));
            }
        }
        // Hand-picked: E2M1 1.25 -> 1 (code 2), 1.75 -> 2 (code 4), 2.5 -> 2, 3.5 -> 4, 5 -> 4, 0.25 -> 0, 0.75 -> 1
        const std::pair<float, int> e2m1[] = {{1.25f, 2}, {1.75f, 4}, {2.5f, 4}, {3.5f, 6}, {5.f, 6}, {0.25f, 0}, {0.75f, 2}, {0.3f, 1}};
        for (auto [v, c] : e2m1) QCOMPARE(int(encodeMxElement(FormatKind::MxFp4E2M1, v)), c);
        // E4M3 denormals: 2^-10 (half of the smallest) -> 0; 3*2^-10 -> 2^-8 (code 2)
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, std::ldexp(1.f, -10))), 0);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, std::ldexp(3.f, -10))), 2);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, std::ldexp(5.f, -10))), 2);
        // MXINT8: 0.5/64 -> 0, 1.5/64 -> 2/64, 2.5/64 -> 2/64
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, 0.5f / 64)), 0);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, 1.5f / 64)), 2);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, 2.5f / 64)), 2);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, -2.5f / 64)), 0xFE);
    }

    void saturation() {
        for (const Fmt& f : kMx) {
            const float mx = float(f.maxVal);
            const int maxCode = encodeMxElement(f.kind, mx);
            QCOMPARE(double(decodeMxElement(f.kind, uint8_t(maxCode))), f.maxVal);
            for (float v : {mx * 1.0001f, mx * 1.07f, mx * 1.5f, mx * 2, mx * 1000, 1e30f, std::numeric_limits<float>::max()}) {
                QVERIFY2(double(decodeMxElement(f.kind, encodeMxElement(f.kind, v))) == f.maxVal, qPrintable(QString(f.name)));
                QVERIFY2(double(decodeMxElement(f.kind, encodeMxElement(f.kind, -v))) == -f.maxVal, qPrintable(QString(f.name)));
            }
        }
        // E4M3: 464 is the midpoint 448..480 and 480 does not exist: saturate.
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, 464.f)), 0x7E);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, 479.f)), 0x7E);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E5M2, 61440.f)), 0x7B);  // never Inf from finite
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp4E2M1, 7.f)), 7);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, 1.999f)), 0x7F);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, -2.f)), 0x81);
    }

    void elementSpecials() {
        // Policy: NaN -> NaN code where the format has one, else 0; Inf -> E5M2 Inf, else saturate.
        QVERIFY(std::isnan(decodeMxElement(FormatKind::MxFp8E4M3, encodeMxElement(FormatKind::MxFp8E4M3, kNaNf))));
        QVERIFY(std::isnan(decodeMxElement(FormatKind::MxFp8E5M2, encodeMxElement(FormatKind::MxFp8E5M2, kNaNf))));
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E5M2, kInf)), 0x7C);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E5M2, -kInf)), 0xFC);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, kInf)), 0x7E);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp4E2M1, -kInf)), 0xF);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, kInf)), 0x7F);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp4E2M1, kNaNf)), 0);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp8E4M3, -0.f)), 0x80);
        QCOMPARE(int(encodeMxElement(FormatKind::MxFp6E3M2, -0.f)), 0x20);
        QCOMPARE(int(encodeMxElement(FormatKind::MxInt8, -0.f)), 0);
    }

    // ---------------------------------------------------------------- MX blocks
    void mxBlockHandComputed() {
        // 32-element E2M1 block, max 6 -> e = floor(log2 6) - 2 = 0 -> scale 1.
        MatrixRM w = MatrixRM::Zero(1, 32);
        w(0, 0) = 6.f; w(0, 1) = 1.25f; w(0, 2) = -0.3f; w(0, 3) = 0.25f; w(0, 4) = 5.f; w(0, 5) = -2.5f;
        const QuantFormat f = fmt("mxfp4");
        const MatrixRM q = Quantizer(f).fakeQuantize(w);
        QCOMPARE(q(0, 0), 6.f); QCOMPARE(q(0, 1), 1.f); QCOMPARE(q(0, 2), -0.5f);
        QCOMPARE(q(0, 3), 0.f); QCOMPARE(q(0, 4), 4.f); QCOMPARE(q(0, 5), -2.f);
        const PackedMatrix p = pack(w, f);
        QCOMPARE(int(p.scaleE8M0.size()), 1);
        QCOMPARE(int(p.scaleE8M0[0]), 127);
        QCOMPARE(int(p.codes.size()), 16);
        QCOMPARE(int(p.codes[0]), 0x7 | (0x2 << 4));   // 6 -> 7, 1.0 -> 2 (low nibble first)
        QCOMPARE(int(p.codes[1]), 0x9 | (0x0 << 4));   // -0.5 -> 0x9, 0.25 -> 0
        QCOMPARE(int(p.codes[2]), 0x6 | (0xC << 4));   // 4 -> 6, -2 -> 0xC

        // Same block scaled by 2^-20: scale byte 107, values scaled exactly.
        MatrixRM w2 = w * std::ldexp(1.f, -20);
        const MatrixRM q2 = Quantizer(f).fakeQuantize(w2);
        QVERIFY(sameM(q2, q * std::ldexp(1.f, -20)));
        QCOMPARE(int(pack(w2, f).scaleE8M0[0]), 107);

        // MXINT8: max 3 -> e = 1 -> scale 2; 3/2 = 1.5 = 96/64; 0.01/2*64 = 0.32 -> 0.
        MatrixRM w3(1, 3);
        w3 << 3.f, -1.f, 0.01f;
        const MatrixRM q3 = Quantizer(fmt("mxint8")).fakeQuantize(w3);
        QCOMPARE(q3(0, 0), 3.f); QCOMPARE(q3(0, 1), -1.f); QCOMPARE(q3(0, 2), 0.f);
        QCOMPARE(int(pack(w3, fmt("mxint8")).scaleE8M0[0]), 128);
        QCOMPARE(int(pack(w3, fmt("mxint8")).codes[0]), 96);
        QCOMPARE(int(pack(w3, fmt("mxint8")).codes[1]), 0xE0);  // -32

        // E4M3: max 500 -> e = 8 - 8 = 0; 500 saturates to 448.
        MatrixRM w4(1, 2);
        w4 << 500.f, 1.f;
        const MatrixRM q4 = Quantizer(fmt("mxfp8_e4m3")).fakeQuantize(w4);
        QCOMPARE(q4(0, 0), 448.f); QCOMPARE(q4(0, 1), 1.f);
        // E2M1: max 7 -> e = 0, 7 saturates to 6.
        MatrixRM w5(1, 2);
        w5 << -7.f, 0.5f;
        const MatrixRM q5 = Quantizer(fmt("mxfp4")).fakeQuantize(w5);
        QCOMPARE(q5(0, 0), -6.f); QCOMPARE(q5(0, 1), 0.5f);
    }

    void mxZeroEqualDenormalBlocks() {
        for (const Fmt& f : kMx) {
            const QuantFormat qf = fmt(f.name);
            const Quantizer qz(qf);
            // all zero: scale byte 0 (e = -127), decodes to zeros
            MatrixRM z = MatrixRM::Zero(2, 40);
            PackedMatrix pz = pack(z, qf);
            for (uint8_t b : pz.scaleE8M0) QCOMPARE(int(b), 0);
            QVERIFY(qz.fakeQuantize(z).isZero(0));
            QVERIFY(unpack(pz).isZero(0));
            // all equal: 0.7 everywhere -> every element decodes to the same value, error bounded
            MatrixRM e = MatrixRM::Constant(1, 32, 0.7f);
            const MatrixRM qe = qz.fakeQuantize(e);
            for (int c = 1; c < 32; ++c) QCOMPARE(qe(0, c), qe(0, 0));
            QVERIFY2(std::fabs(qe(0, 0) - 0.7f) <= 0.7f * (f.isInt ? 1.0f / (f.codeBits == 8 ? 64 : 4) : std::ldexp(1.f, -f.mbits)),
                     f.name);
            // a power of two is exact in every format
            MatrixRM p2 = MatrixRM::Constant(1, 32, -0.125f);
            QVERIFY(qz.fakeQuantize(p2).isApprox(p2, 0.f));
            // float32 denormals only: exponent clamps to -127 (byte 0), values are
            // multiples of the element quantum times 2^-127
            MatrixRM d(1, 4);
            d << 1e-40f, -3e-41f, 0.f, std::numeric_limits<float>::denorm_min();
            const PackedMatrix pd = pack(d, qf);
            QCOMPARE(int(pd.scaleE8M0[0]), 0);
            const MatrixRM qd = qz.fakeQuantize(d);
            QVERIFY(sameM(unpack(pd), qd));
            for (int c = 0; c < 4; ++c) {
                const float elem = d(0, c) / std::ldexp(1.f, -127);
                QVERIFY(sameF(qd(0, c), decodeMxElement(f.kind, encodeMxElement(f.kind, elem)) * std::ldexp(1.f, -127)));
            }
        }
        // E4M3 block whose small elements land in the element's subnormal range:
        // max 448 -> scale 1; 3/512 is the E4M3 subnormal 3*2^-9, exact.
        MatrixRM w(1, 3);
        w << 448.f, 3.f / 512, 1.f / 1024;  // last one is a tie to 0
        const MatrixRM q = Quantizer(fmt("mxfp8_e4m3")).fakeQuantize(w);
        QCOMPARE(q(0, 1), 3.f / 512);
        QCOMPARE(q(0, 2), 0.f);
        // Largest float32 values: e = 127 - emax stays in range.
        MatrixRM big = MatrixRM::Constant(1, 32, 3e38f);
        for (const Fmt& f : kMx) {
            const MatrixRM qb = Quantizer(fmt(f.name)).fakeQuantize(big);
            QVERIFY2(std::isfinite(qb(0, 0)) && std::fabs(qb(0, 0) - 3e38f) < 3e38f * 0.3f, f.name);
        }
    }

    void mxNanInfPolicy() {
        for (const Fmt& f : kMx) {
            const QuantFormat qf = fmt(f.name);
            for (float bad : {kNaNf, kInf, -kInf}) {
                MatrixRM w = randomMatrix(2, 70, 5, false);
                w(1, 40) = bad;  // row 1, block 1 (columns 32..63)
                const MatrixRM q = Quantizer(qf).fakeQuantize(w);
                const PackedMatrix p = pack(w, qf);
                QCOMPARE(int(p.scaleE8M0[1 * 3 + 1]), 0xFF);
                for (int c = 0; c < 70; ++c) {
                    QVERIFY(!std::isnan(q(0, c)));
                    QCOMPARE(bool(std::isnan(q(1, c))), c >= 32 && c < 64);
                }
                QString where;
                QVERIFY2(sameM(unpack(p), q, &where), qPrintable(QString(f.name) + " " + where));
                // params from the NaN block: NaN scale -> NaN column values
                const Quantizer qz(qf);
                const RowParams rp = qz.findParams(w.middleCols(32, 32));
                QVERIFY(std::isnan(rp.scale[1]) && !std::isnan(rp.scale[0]));
                const Eigen::VectorXf col = qz.quantizeColumn(w.col(33), rp);
                QVERIFY(std::isnan(col[1]) && !std::isnan(col[0]));
            }
        }
    }

    // ---------------------------------------------------------------- integer grid
    void intHandComputed() {
        // int4 asym, row [-1.5, 0, 6, 0.25, 0.75, 1.25]: xmin -1.5, xmax 6,
        // scale 7.5/15 = 0.5, zero = round(3) = 3. 0.25/0.5 = 0.5 -> 0 (even),
        // 0.75/0.5 = 1.5 -> 2, 1.25/0.5 = 2.5 -> 2.
        MatrixRM w(1, 6);
        w << -1.5f, 0.f, 6.f, 0.25f, 0.75f, 1.25f;
        const QuantFormat f = fmt("int4");
        const MatrixRM q = Quantizer(f).fakeQuantize(w);
        const float want[] = {-1.5f, 0.f, 6.f, 0.f, 1.f, 1.f};
        for (int c = 0; c < 6; ++c) QCOMPARE(q(0, c), want[c]);
        const PackedMatrix p = pack(w, f);
        QCOMPARE(p.scale[0], 0.5f);
        QCOMPARE(int(p.zero[0]), 3);
        QCOMPARE(int(p.codes.size()), 3);
        QCOMPARE(int(p.codes[0]), 0 | (3 << 4));
        QCOMPARE(int(p.codes[1]), 15 | (3 << 4));
        QCOMPARE(int(p.codes[2]), 5 | (5 << 4));
        // int3 sym, row [-3.5, 3.5, 1, 0.25, 2.5]: xmax 3.5, xmin -3.5, scale 1,
        // zero 4: -3.5 -> -4 (q 0: GPTQ's sym grid reaches -2^(b-1)), 3.5 -> 4+4 -> 7 -> 3.
        MatrixRM s(1, 5);
        s << -3.5f, 3.5f, 1.f, 0.25f, 2.5f;
        const MatrixRM qs_ = Quantizer(fmt("int3-sym")).fakeQuantize(s);
        const float wantS[] = {-4.f, 3.f, 1.f, 0.f, 2.f};
        for (int c = 0; c < 5; ++c) QCOMPARE(qs_(0, c), wantS[c]);
        QCOMPARE(int(pack(s, fmt("int3-sym")).zero[0]), 4);
        // GPTQ's sym quirk: all-positive row keeps xmin = 0; int2-sym [1, 2]:
        // scale 2/3, zero 2 -> both clamp to q = 3 -> value scale * 1.
        MatrixRM pz(1, 2);
        pz << 1.f, 2.f;
        const MatrixRM qp = Quantizer(fmt("int2-sym")).fakeQuantize(pz);
        QCOMPARE(qp(0, 0), 2.f / 3.f);
        QCOMPARE(qp(0, 1), 2.f / 3.f);
        // asym all-positive: xmin = 0 -> zero 0; int2 [1, 2]: scale 2/3, 1/(2/3) = 1.5 -> 2.
        const MatrixRM qa = Quantizer(fmt("int2")).fakeQuantize(pz);
        QCOMPARE(qa(0, 0), (2.f / 3.f) * 2.f);
        QCOMPARE(qa(0, 1), (2.f / 3.f) * 3.f);
    }

    void intAllZeroAndRows() {
        for (const char* n : {"int2", "int4-sym", "int8", "int3-g4"}) {
            const QuantFormat f = fmt(n);
            MatrixRM z = MatrixRM::Zero(3, 9);
            z(1, 2) = 0.5f;  // only row 1 non-zero (and only in one group)
            const MatrixRM q = Quantizer(f).fakeQuantize(z);
            QVERIFY(q.row(0).isZero(0));
            QVERIFY(q.row(2).isZero(0));
            const RowParams p = Quantizer(f).findParams(z);
            const float maxq = float((1 << f.bits) - 1);
            if (f.groupSize == 0) QCOMPARE(p.scale[0], 2.f / maxq);  // [-1, 1] range
            QVERIFY(sameM(unpack(pack(z, f)), q));
        }
    }

    void intMatchesReference() {
        // fakeQuantize == an independent torch-order implementation, per group,
        // including trailing partial groups and 1-column groups.
        for (const char* n : {"int2", "int3", "int4", "int8", "int2-sym", "int4-sym", "int7-sym", "int4-g5", "int3-sym-g4",
                              "int4-g128", "int2-g1", "int6-g32"}) {
            const QuantFormat f = fmt(n);
            for (auto [rows, cols] : {std::pair{1, 1}, {1, 37}, {4, 13}, {3, 150}}) {
                const MatrixRM w = randomMatrix(rows, cols, uint32_t(rows * 1000 + cols), true);
                const MatrixRM q = Quantizer(f).fakeQuantize(w);
                const int g = f.groupSize > 0 ? f.groupSize : cols;
                for (int r = 0; r < rows; ++r)
                    for (int c0 = 0; c0 < cols; c0 += g) {
                        const int len = std::min(g, cols - c0);
                        std::vector<float> x(w.row(r).data() + c0, w.row(r).data() + c0 + len);
                        const std::vector<float> ref = refIntGroup(x, f.bits, f.symmetric);
                        for (int i = 0; i < len; ++i)
                            QVERIFY2(sameF(q(r, c0 + i), ref[size_t(i)]),
                                     qPrintable(QString("%1 %2x%3 at (%4,%5): %6 vs %7").arg(n).arg(rows).arg(cols).arg(r)
                                                    .arg(c0 + i).arg(double(q(r, c0 + i))).arg(double(ref[size_t(i)]))));
                    }
            }
        }
    }

    void intNanInf() {
        for (const char* n : {"int4", "int4-sym", "int3-g8"}) {
            const QuantFormat f = fmt(n);
            for (float bad : {kNaNf, kInf, -kInf}) {
                MatrixRM w = randomMatrix(2, 20, 3, false);
                w(0, 9) = bad;
                const MatrixRM q = Quantizer(f).fakeQuantize(w);
                const int g = f.groupSize > 0 ? f.groupSize : 20;
                for (int c = 0; c < 20; ++c) {
                    QCOMPARE(bool(std::isnan(q(0, c))), c / g == 9 / g);
                    QVERIFY(std::isfinite(q(1, c)));
                }
                QVERIFY(sameM(unpack(pack(w, f)), q));
            }
        }
    }

    // ---------------------------------------------------------------- GPTQ entry points
    void findParamsQuantizeColumnEqualsFakeQuantize() {
        for (const char* n : allFormatNames()) {
            const QuantFormat f = fmt(n);
            const Quantizer qz(f);
            for (auto [rows, cols] : {std::pair{1, 1}, {5, 33}, {3, 70}, {7, 200}}) {
                const MatrixRM w = randomMatrix(rows, cols, uint32_t(cols * 7 + rows), true);
                const MatrixRM q = qz.fakeQuantize(w);
                const int g = qz.format().blockSize() > 0 ? qz.format().blockSize() : cols;
                MatrixRM byCol(rows, cols);
                for (int c0 = 0; c0 < cols; c0 += g) {
                    const int len = std::min(g, cols - c0);
                    const RowParams p = qz.findParams(w.middleCols(c0, len));
                    for (int c = c0; c < c0 + len; ++c) byCol.col(c) = qz.quantizeColumn(w.col(c), p);
                }
                QString where;
                QVERIFY2(sameM(byCol, q, &where), qPrintable(QString("%1 %2x%3 %4").arg(n).arg(rows).arg(cols).arg(where)));
            }
        }
    }

    // ---------------------------------------------------------------- pack / unpack
    void packUnpackExact() {
        const std::pair<int, int> shapes[] = {{1, 1}, {1, 2}, {1, 33}, {3, 1}, {2, 31}, {5, 32}, {4, 65}, {3, 127}, {6, 100}, {1, 257}};
        uint32_t seed = 1;
        for (const char* n : allFormatNames()) {
            const QuantFormat f = fmt(n);
            for (auto [rows, cols] : shapes) {
                for (bool wild : {false, true}) {
                    const MatrixRM w = randomMatrix(rows, cols, seed++, wild);
                    const PackedMatrix p = pack(w, f);
                    const MatrixRM u = unpack(p);
                    const MatrixRM q = Quantizer(f).fakeQuantize(w);
                    QCOMPARE(u.rows(), w.rows());
                    QCOMPARE(u.cols(), w.cols());
                    QVERIFY(std::memcmp(u.data(), q.data(), sizeof(float) * size_t(rows * cols)) == 0);
                    // storage sizes
                    const int bits = f.isMx() ? QuantFormat(f).bits : f.bits;
                    QCOMPARE(int64_t(p.codes.size()), int64_t(rows) * ((int64_t(cols) * bits + 7) / 8));
                    const int g = f.isMx() ? 32 : (f.groupSize > 0 ? f.groupSize : cols);
                    const int64_t groups = rows * ((cols + g - 1) / g);
                    if (f.isMx()) {
                        QCOMPARE(int64_t(p.scaleE8M0.size()), groups);
                    } else {
                        QCOMPARE(int64_t(p.scale.size()), groups);
                        QCOMPARE(int64_t(p.zero.size()), groups);
                    }
                }
            }
        }
        // fp32 passthrough
        const MatrixRM w = randomMatrix(3, 5, 9, true);
        QVERIFY(sameM(unpack(pack(w, fmt("fp32"))), w));
    }

    void packLayout6bit() {
        // E3M2 codes 6 bits, little end first: two elements 1.0 (0x0C) and -28 (0x3F)
        // with max 28 -> e = 4 - 4 = 0.
        MatrixRM w(1, 3);
        w << 1.f, -28.f, 0.0625f;
        const PackedMatrix p = pack(w, fmt("mxfp6_e3m2"));
        QCOMPARE(int(p.codes.size()), 3);  // 18 bits -> 3 bytes
        const uint32_t bitsAll = uint32_t(p.codes[0]) | (uint32_t(p.codes[1]) << 8) | (uint32_t(p.codes[2]) << 16);
        QCOMPARE(int(bitsAll & 63), 0x0C);
        QCOMPARE(int((bitsAll >> 6) & 63), 0x3F);
        QCOMPARE(int((bitsAll >> 12) & 63), 0x01);
        QCOMPARE(int(p.scaleE8M0[0]), 127);
        // int3: 3 codes per row, rows byte-aligned
        MatrixRM w3(2, 3);
        w3 << 0.f, 7.f, 3.f, 0.f, 7.f, 3.f;  // xmin 0, xmax 7, scale 1, zero 0 -> codes 0, 7, 3
        const PackedMatrix p3 = pack(w3, fmt("int3"));
        QCOMPARE(int(p3.codes.size()), 4);
        QCOMPARE(int(p3.codes[0]), 0 | (7 << 3) | ((3 & 3) << 6));
        QCOMPARE(int(p3.codes[1]), 3 >> 2);
        QCOMPARE(int(p3.codes[2]), int(p3.codes[0]));
    }

    // ---------------------------------------------------------------- activations
    void activations() {
        MatrixRM x(4, 5);
        x << 127.f, -63.5f, 0.5f, 1.f, 1.5f,     // absmax 127 -> step 1
             0.f, 0.f, 0.f, 0.f, 0.f,            // stays zero
             1.f, kNaNf, 2.f, 3.f, 4.f,          // NaN row
             -2.54f, 0.01f, 0.f, 1.f, 2.f;       // step 0.02
        MatrixRM y = x;
        fakeQuantizeActivations(y, fmt("int8-sym"));
        const float want0[] = {127.f, -64.f, 0.f, 1.f, 2.f};
        for (int c = 0; c < 5; ++c) QCOMPARE(y(0, c), want0[c]);
        QVERIFY(y.row(1).isZero(0));
        for (int c = 0; c < 5; ++c) QVERIFY(std::isnan(y(2, c)));
        const float s = 2.54f / 127.f;
        QCOMPARE(y(3, 0), -127.f * s);
        QCOMPARE(y(3, 1), std::nearbyint(0.01f / s) * s);
        QCOMPARE(y(3, 4), std::nearbyint(2.f / s) * s);
        // MX activations == weight fake quantization of the same rows
        for (const char* n : {"mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp4"}) {
            MatrixRM a = randomMatrix(3, 77, 42, true);
            MatrixRM b = a;
            fakeQuantizeActivations(b, fmt(n));
            QVERIFY(sameM(b, Quantizer(fmt(n)).fakeQuantize(a)));
        }
        MatrixRM c = x;
        fakeQuantizeActivations(c, fmt("fp32"));
        QVERIFY(sameM(c, x));
    }

    // ---------------------------------------------------------------- names & sizes
    void parseNameRoundTrip() {
        for (const char* n : allFormatNames()) {
            const auto f = QuantFormat::parse(n);
            QVERIFY2(f.has_value(), n);
            QCOMPARE(QString::fromStdString(f->name()), QString(n));
            QVERIFY(*QuantFormat::parse(f->name()) == *f);
        }
        QCOMPARE(QString::fromStdString(fmt("fp32").name()), QString("fp32"));
        QCOMPARE(fmt("none").kind, FormatKind::None);
        QCOMPARE(fmt("mxfp8").kind, FormatKind::MxFp8E4M3);
        QCOMPARE(fmt("mxfp6").kind, FormatKind::MxFp6E3M2);
        QCOMPARE(fmt("mxfp4_e2m1").kind, FormatKind::MxFp4E2M1);
        QCOMPARE(fmt("MXINT4").kind, FormatKind::MxInt4);
        const QuantFormat g = fmt("int3-sym-g64");
        QCOMPARE(g.kind, FormatKind::Int);
        QCOMPARE(g.bits, 3);
        QVERIFY(g.symmetric);
        QCOMPARE(g.groupSize, 64);
        QVERIFY(fmt("int4-g128-sym") == fmt("int4-sym-g128"));
        QCOMPARE(fmt("mxfp4").bits, 4);
        QCOMPARE(fmt("mxfp6_e2m3").bits, 6);
        QCOMPARE(fmt("mxint8").groupSize, 32);
        QVERIFY(fmt("mxint8").isMx());
        QVERIFY(!fmt("int8").isMx());
        QCOMPARE(fmt("mxfp8_e5m2").blockSize(), 32);
        QCOMPARE(fmt("int4-g128").blockSize(), 128);
        QCOMPARE(fmt("int4").blockSize(), 0);
        for (const char* bad : {"int1", "int9", "int0", "int16", "int4-g-5", "int4-g", "int4-gx", "int4-sym-sym", "int",
                                "int4-", "mxfp5", "fp8", "gguf_q4_k", "", "int4 ", "int-4", "int4-g128-g64"})
            QVERIFY2(!QuantFormat::parse(bad).has_value(), bad);
    }

    void bitsPerWeight() {
        struct B {
            const char* n;
            int64_t in;
            double want;
        };
        const B cases[] = {
            {"int4-g128", 4096, 4 + 20.0 / 128},      // fp16 scale + 4-bit zero per 128
            {"int4-sym-g128", 4096, 4 + 16.0 / 128},
            {"int3-g64", 4096, 3 + 19.0 / 64},
            {"int4", 4096, 4 + 20.0 / 4096},
            {"int8-sym", 1024, 8 + 16.0 / 1024},
            {"int3-g128", 200, 3 + 2 * 19.0 / 200},   // trailing partial group costs a full scale
            {"mxfp4", 4096, 4.25},
            {"mxint8", 4096, 8.25},
            {"mxfp6_e3m2", 4096, 6.25},
            {"mxint4", 64, 4.25},
            {"mxfp8_e4m3", 33, 8 + 16.0 / 33},
            {"fp32", 100, 32},
        };
        for (const B& b : cases)
            QVERIFY2(std::fabs(fmt(b.n).bitsPerWeight(b.in) - b.want) < 1e-12,
                     qPrintable(QString("%1 @%2: %3 vs %4").arg(b.n).arg(b.in).arg(fmt(b.n).bitsPerWeight(b.in)).arg(b.want)));
    }
};

QTEST_APPLESS_MAIN(TestFormats)
#include "test_formats.moc"
