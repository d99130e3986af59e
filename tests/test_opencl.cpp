// Tests for the compute interface (core/compute/backend) and the OpenCL backend
// (opencl/): every OpenCL kernel against the CPU path on random and adversarial
// inputs.
//
//  * fake quantization: BIT-EXACT for every format (Int 2..8 bits asym/sym, per
//    channel and per group incl. odd and trailing partial groups; all seven MX
//    element types) on normal, wide-range, random-bit-pattern (NaN/Inf/denormals
//    everywhere) and structured adversarial inputs (NaN, +-Inf, all-zero and
//    all-equal blocks, denormals, values near FLT_MAX, -0, ties), on odd shapes
//    (1x1, 7x33, 129x95, ...). NaN compares equal to NaN (the CPU policy defines
//    "NaN", not a payload); every other value compares by its bit pattern.
//  * Hessian accumulation: within |ΔH_ij| <= 1e-12 · Â_ij, where Â is the same
//    accumulation over |X| (Â_ij = Σ_batches ratio-weighted f² Σ_t |x_ti||x_tj|),
//    i.e. relative to the magnitude of the terms summed; n exactly equal, H
//    exactly symmetric; NaN/Inf propagate to the same entries.
// Without an OpenCL device the device tests QSKIP (the CPU-backend tests still run).
#include <QJsonArray>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "calib/hessian.h"
#include "compute/backend.h"
#include "opencl/opencl_backend.h"
#include "quant/formats.h"
#include "testutil.h"
#include "util/error.h"

using namespace qs;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kDenormMin = std::numeric_limits<float>::denorm_min();

uint32_t bitsOf(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
}
float fromBits(uint32_t b) {
    float v;
    std::memcpy(&v, &b, 4);
    return v;
}

// Bit-exact comparison; NaN == NaN. Returns "" when equal, else the first difference.
QString diffBits(const MatrixRM& dev, const MatrixRM& ref, const MatrixRM& in) {
    if (dev.rows() != ref.rows() || dev.cols() != ref.cols())
        return QString("shape [%1 x %2] vs [%3 x %4]").arg(dev.rows()).arg(dev.cols()).arg(ref.rows()).arg(ref.cols());
    int64_t bad = 0;
    QString first;
    for (int64_t r = 0; r < ref.rows(); ++r)
        for (int64_t c = 0; c < ref.cols(); ++c) {
            const float a = dev(r, c), b = ref(r, c);
            if (std::isnan(a) && std::isnan(b)) continue;
            if (bitsOf(a) == bitsOf(b)) continue;
            if (bad++ == 0)
                first = QString("(%1,%2): input %3 (0x%4): opencl %5 (0x%6) vs cpu %7 (0x%8)")
                            .arg(r)
                            .arg(c)
                            .arg(double(in(r, c)), 0, 'g', 9)
                            .arg(bitsOf(in(r, c)), 8, 16, QChar('0'))
                            .arg(double(a), 0, 'g', 9)
                            .arg(bitsOf(a), 8, 16, QChar('0'))
                            .arg(double(b), 0, 'g', 9)
                            .arg(bitsOf(b), 8, 16, QChar('0'));
        }
    return bad == 0 ? QString() : QString("%1 of %2 differ; first %3").arg(bad).arg(ref.size()).arg(first);
}

QuantFormat intFmt(int bits, bool sym, int group) {
    QuantFormat f;
    f.kind = FormatKind::Int;
    f.bits = bits;
    f.symmetric = sym;
    f.groupSize = group;
    return f;
}

std::vector<QuantFormat> allFormats() {
    std::vector<QuantFormat> fs;
    for (int bits : {2, 3, 4, 8})
        for (bool sym : {false, true})
            for (int g : {0, 32, 7, 128}) fs.push_back(intFmt(bits, sym, g));
    for (int bits : {5, 6, 7}) {
        fs.push_back(intFmt(bits, false, 0));
        fs.push_back(intFmt(bits, true, 64));
    }
    for (const char* n : {"mxint8", "mxint4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4"})
        fs.push_back(*QuantFormat::parse(n));
    return fs;
}

const std::vector<std::pair<int, int>> kShapes = {{1, 1}, {7, 33}, {129, 95}, {5, 257}, {33, 64}, {2, 1000}, {3, 31}};

// Inputs -------------------------------------------------------------------

MatrixRM normalInput(int rows, int cols, std::mt19937& g) {
    std::normal_distribution<float> nd(0.f, 1.f);
    MatrixRM m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = nd(g) * 0.05f;
    return m;
}

// Magnitudes 2^[-150, 128): denormals, tiny, huge (finite: exponents that
// overflow are clamped to FLT_MAX).
MatrixRM wideInput(int rows, int cols, std::mt19937& g) {
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::uniform_int_distribution<int> e(-150, 127);
    MatrixRM m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) {
        float v = std::ldexp(1.f + u(g), e(g));
        if (!std::isfinite(v)) v = FLT_MAX;
        m.data()[i] = (g() & 1) ? -v : v;
    }
    return m;
}

// Uniform random 32-bit patterns: every class of float, NaN and Inf included.
MatrixRM bitsInput(int rows, int cols, std::mt19937& g, bool finiteOnly) {
    MatrixRM m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) {
        uint32_t b = g();
        if (finiteOnly && ((b >> 23) & 0xFF) == 0xFF) b &= ~(1u << 30);  // exponent 0xFF -> 0x7F
        m.data()[i] = fromBits(b);
    }
    return m;
}

// Structured blocks of 32 along each row (also straddling Int groups of 7/128).
MatrixRM adversarialInput(int rows, int cols, std::mt19937& g) {
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_int_distribution<int> small(-40, 40);
    MatrixRM m(rows, cols);
    for (int r = 0; r < rows; ++r)
        for (int c0 = 0, b = 0; c0 < cols; c0 += 32, ++b) {
            const int kind = (r * 7 + b) % 18;
            for (int c = c0; c < std::min(cols, c0 + 32); ++c) {
                const int i = c - c0;
                float v = 0;
                switch (kind) {
                case 0: v = 0.f; break;                                       // all zero
                case 1: v = 3.f; break;                                       // all equal +
                case 2: v = -2.5f; break;                                     // all equal -
                case 3: v = i == 5 ? kNaN : nd(g); break;                     // one NaN
                case 4: v = i == 0 ? kInf : nd(g); break;                     // +Inf
                case 5: v = i == 31 ? -kInf : nd(g); break;                   // -Inf
                case 6: v = kDenormMin * float(1 + (i * 37) % 1000) * ((i & 1) ? -1.f : 1.f); break;  // denormals only
                case 7: v = std::nextafter(FLT_MAX, 0.f) * ((i % 3) ? 1.f : -0.75f); break;          // near FLT_MAX
                case 8: v = (i % 2) ? -0.f : 0.f; break;                      // +-0
                case 9: v = std::ldexp(float(2 * small(g) + 1), -4); break;   // halves of grid steps: ties
                case 10: v = std::nextafter(std::ldexp(1.f, small(g) / 4), 0.f); break;  // just below 2^k
                case 11: v = nd(g); break;
                case 12: v = i == 3 ? FLT_MIN : 0.f; break;                   // one smallest normal
                case 13: v = i == 0 ? FLT_MAX : FLT_MIN * float(i); break;    // huge + tiny
                case 14: v = -0.f; break;                                     // all -0
                case 15: v = i == 0 ? 1e-30f : kDenormMin; break;             // e clamps at -127
                case 16: v = float(small(g)) * 0.125f; break;                 // on a coarse grid, negative included
                case 17: v = kNaN; break;                                     // all NaN
                }
                m(r, c) = v;
            }
        }
    return m;
}

bool sameD(double a, double b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return false;  // finite: compared with a tolerance by the caller
}

const char* kChildEnv = "QS_TEST_OPENCL_CHILD";

}  // namespace

// QSKIP returns from the calling test function, so this is a macro.
#define QS_REQUIRE_OPENCL_DEVICE() \
    if (!dev_) QSKIP(qPrintable(QString::fromStdString("no usable OpenCL device: " + why_)))

class TestOpenCl : public QObject {
    Q_OBJECT

    std::shared_ptr<ocl::OpenClBackend> dev_;  // forced to the device (Policy{0, 0})
    std::string why_;


    void checkAllFormats(ocl::OpenClBackend& b, const char* inputName,
                         MatrixRM (*make)(int, int, std::mt19937&), bool intOnly = false) {
        std::mt19937 g(1234);
        for (const auto& [rows, cols] : kShapes) {
            const MatrixRM W = make(rows, cols, g);
            for (const QuantFormat& f : allFormats()) {
                if (intOnly && f.kind != FormatKind::Int) continue;
                const MatrixRM ref = Quantizer(f).fakeQuantize(W);
                const MatrixRM got = b.fakeQuantizeOnDevice(W, f);
                const QString d = diffBits(got, ref, W);
                if (!d.isEmpty())
                    QFAIL(qPrintable(QString("%1 input, %2, [%3 x %4]: %5")
                                         .arg(inputName, QString::fromStdString(f.name()))
                                         .arg(rows)
                                         .arg(cols)
                                         .arg(d)));
            }
        }
    }

private Q_SLOTS:
    void initTestCase() {
        if (qEnvironmentVariableIsSet(kChildEnv)) return;
        ocl::OpenClBackend::Options opt;
        opt.policy = ocl::OpenClBackend::Policy{0, 0};
        ocl::BackendChoice c = ocl::backendFromSpec("", opt);
        why_ = c.message;
        if (c.opencl) dev_ = std::dynamic_pointer_cast<ocl::OpenClBackend>(c.backend);
        qInfo("%s", c.message.c_str());
        if (dev_) qInfo("quantize.cl build options: '%s'", dev_->quantizeBuildOptions().c_str());
    }

    // ---------------------------------------------------------------- CPU backend

    void cpuBackendIsCoreCode() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        CpuBackend cpu;
        std::mt19937 g(7);
        const MatrixRM W = adversarialInput(9, 77, g);
        for (const QuantFormat& f : allFormats()) {
            const QString d = diffBits(cpu.fakeQuantize(W, f), Quantizer(f).fakeQuantize(W), W);
            QVERIFY2(d.isEmpty(), qPrintable(QString::fromStdString(f.name()) + ": " + d));
        }
        // Hessian: the same bits as HessianAccumulator, batch after batch.
        for (const auto& [tokens, in] : std::vector<std::pair<int, int>>{{1, 1}, {7, 33}, {200, 130}, {64, 257}}) {
            HessianAccumulator acc(in);
            Eigen::MatrixXd H = Eigen::MatrixXd::Zero(in, in);
            int64_t n = 0;
            for (int batch = 0; batch < 3; ++batch) {
                const MatrixRM X = normalInput(tokens + batch, in, g);
                acc.add(X, batch + 1);
                cpu.accumulateHessian(H, n, X, batch + 1);
            }
            QCOMPARE(n, acc.samples());
            QVERIFY2(H == acc.hessian(), qPrintable(QString("[%1 x %2]: max |diff| %3")
                                                        .arg(tokens)
                                                        .arg(in)
                                                        .arg((H - acc.hessian()).cwiseAbs().maxCoeff())));
        }
        // Argument checks as HessianAccumulator's.
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(4, 4);
        int64_t n = 0;
        QVERIFY_THROWS_EXCEPTION(Error, cpu.accumulateHessian(H, n, MatrixRM::Zero(3, 5), 1));
        QVERIFY_THROWS_EXCEPTION(Error, cpu.accumulateHessian(H, n, MatrixRM::Zero(3, 4), 0));
        cpu.accumulateHessian(H, n, MatrixRM::Zero(0, 4), 1);  // no rows: nothing changes
        QCOMPARE(n, int64_t(0));
        // Stats record the CPU.
        const std::vector<ComputeOpRecord> st = cpu.stats();
        QCOMPARE(int(st.size()), 2);
        QCOMPARE(st[0].op, std::string("fake_quantize"));
        QCOMPARE(st[0].device, std::string("cpu"));
        QCOMPARE(st[0].calls, int64_t(allFormats().size()));
        QCOMPARE(st[1].op, std::string("accumulate_hessian"));
        QVERIFY(cpu.describe().find("fake_quantize") != std::string::npos);
    }

    void processWideSelection() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QCOMPARE(computeBackend()->name(), std::string("cpu"));
        auto mine = std::make_shared<CpuBackend>();
        setComputeBackend(mine);
        QCOMPARE(computeBackend().get(), static_cast<ComputeBackend*>(mine.get()));
        setComputeBackend(nullptr);
        QVERIFY(computeBackend().get() != mine.get());
        QCOMPARE(computeBackend()->name(), std::string("cpu"));
    }

    // ---------------------------------------------------------------- selection

    void selectionOff() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        for (const char* spec : {"off", "OFF", " off "}) {
            const ocl::DeviceSelection s = ocl::selectDevice(spec);
            QCOMPARE(int(s.status), int(ocl::DeviceSelection::Status::Off));
            const ocl::BackendChoice c = ocl::backendFromSpec(spec);
            QVERIFY(!c.opencl);
            QCOMPARE(c.backend->name(), std::string("cpu"));
            QVERIFY2(c.message.find(std::string("QUANTSCOPE_OPENCL_DEVICE=\"") + spec + "\"") != std::string::npos &&
                         c.message.find("using the CPU path") != std::string::npos,
                     c.message.c_str());
        }
    }

    void selectionInvalid() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        for (const char* spec : {"99:0", "0:99", "abc", "1", "0:", ":0", "-1:0", "0:0:0", "0;0"}) {
            const ocl::DeviceSelection s = ocl::selectDevice(spec);
            QVERIFY2(s.status == ocl::DeviceSelection::Status::Invalid, spec);
            const ocl::BackendChoice c = ocl::backendFromSpec(spec);
            QVERIFY(!c.opencl);
            QCOMPARE(c.backend->name(), std::string("cpu"));
            // The message quotes the value, lists the devices and says what happens.
            QVERIFY2(c.message.find(std::string("\"") + spec + "\"") != std::string::npos, c.message.c_str());
            QVERIFY2(c.message.find(dev_->device().deviceName) != std::string::npos, c.message.c_str());
            QVERIFY2(c.message.find("using the CPU path") != std::string::npos, c.message.c_str());
        }
        const ocl::DeviceSelection ok = ocl::selectDevice("0:0");
        QCOMPARE(int(ok.status), int(ocl::DeviceSelection::Status::Selected));
        QCOMPARE(ok.device->platformIndex, 0);
        QCOMPARE(ok.device->deviceIndex, 0);
        const ocl::BackendChoice c = ocl::backendFromSpec("0:0");
        QVERIFY(c.opencl);
        QCOMPARE(c.backend->name(), std::string("opencl"));
    }

    // No platform at all: a child process with an empty ICD vendor directory
    // (ocl-icd's OCL_ICD_VENDORS) must fall back to the CPU path and say so once.
    void noPlatform() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QTemporaryDir empty;
        QVERIFY(empty.isValid());
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(kChildEnv, "1");
        env.insert("OCL_ICD_VENDORS", empty.path());
        env.insert("OPENCL_VENDOR_PATH", empty.path());
        env.remove("QUANTSCOPE_OPENCL_DEVICE");
        p.setProcessEnvironment(env);
        p.start(QCoreApplication::applicationFilePath(), {"noPlatformChild"});
        QVERIFY(p.waitForFinished(120000));
        const QByteArray out = p.readAllStandardOutput() + p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, out.constData());
        QVERIFY2(out.contains("PASS   : TestOpenCl::noPlatformChild"), out.constData());
        QCOMPARE(out.count("no OpenCL platform or device found"), 1);  // said once, not per call
    }
    void noPlatformChild() {
        if (!qEnvironmentVariableIsSet(kChildEnv)) QSKIP("runs only as noPlatform's child process");
        QVERIFY(ocl::listDevices().empty());
        const ocl::BackendChoice a = ocl::backendFromEnvironment();
        const ocl::BackendChoice b = ocl::backendFromEnvironment();
        QVERIFY(!a.opencl && !b.opencl);
        QCOMPARE(a.backend->name(), std::string("cpu"));
        QVERIFY(a.message.find("no OpenCL platform or device found") != std::string::npos);
        // The CPU path works.
        std::mt19937 g(1);
        const MatrixRM W = normalInput(4, 40, g);
        const QuantFormat f = *QuantFormat::parse("mxfp4");
        QVERIFY(diffBits(a.backend->fakeQuantize(W, f), Quantizer(f).fakeQuantize(W), W).isEmpty());
    }

    // ---------------------------------------------------------------- program cache

    void programCacheBuildsOnce() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        ocl::DeviceContext c = ocl::createContext(dev_->device());
        ocl::ProgramCache& cache = ocl::ProgramCache::instance();
        const QByteArray src = "__kernel void k(__global float* x) { x[get_global_id(0)] *= 2.0f; }\n";
        const int64_t b0 = cache.builds();
        const ocl::Program p1 = cache.get(c, "twice.cl", src, "");
        const ocl::Program p2 = cache.get(c, "twice.cl", src, "");
        QCOMPARE(cache.builds(), b0 + 1);
        QCOMPARE(p1.get(), p2.get());
        cache.get(c, "twice.cl", src, "-DOTHER=1");  // other options: another build
        QCOMPARE(cache.builds(), b0 + 2);
        // Backends on one device share its context: a second one builds nothing.
        const int64_t b1 = cache.builds();
        ocl::OpenClBackend again(dev_->device());
        QCOMPARE(cache.builds(), b1);
        // The embedded sources are there.
        QVERIFY(ocl::kernelSource("quantize.cl").contains("fake_quantize"));
        QVERIFY(ocl::kernelSource("hessian.cl").contains("xtx_lower"));
        QVERIFY_THROWS_EXCEPTION(Error, ocl::kernelSource("missing.cl"));
    }

    void brokenKernelGivesBuildLog() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        ocl::DeviceContext c = ocl::createContext(dev_->device());
        ocl::ProgramCache& cache = ocl::ProgramCache::instance();
        const QByteArray src = "__kernel void broken(__global float* x) { x[0] = qs_undeclared_identifier; }\n";
        const int64_t b0 = cache.builds();
        std::string msg;
        try {
            cache.get(c, "broken.cl", src, "");
            QFAIL("a broken kernel built");
        } catch (const Error& e) {
            msg = e.what();
        }
        QVERIFY2(msg.find("broken.cl") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("CL_BUILD_PROGRAM_FAILURE") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("build log:") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("qs_undeclared_identifier") != std::string::npos, msg.c_str());  // from the compiler's log
        // Remembered: the same error again without a second build.
        try {
            cache.get(c, "broken.cl", src, "");
            QFAIL("a broken kernel built the second time");
        } catch (const Error& e) {
            QCOMPARE(std::string(e.what()), msg);
        }
        QCOMPARE(cache.builds(), b0 + 1);
    }

    // ---------------------------------------------------------------- fake quantization

    void fakeQuantizeNormal() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        checkAllFormats(*dev_, "normal", normalInput);
    }
    void fakeQuantizeWideRange() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        checkAllFormats(*dev_, "wide-range", wideInput);
    }
    void fakeQuantizeRandomBits() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        checkAllFormats(*dev_, "random-bits", [](int r, int c, std::mt19937& g) { return bitsInput(r, c, g, false); });
        checkAllFormats(*dev_, "random-finite-bits",
                        [](int r, int c, std::mt19937& g) { return bitsInput(r, c, g, true); });
    }
    void fakeQuantizeAdversarial() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        checkAllFormats(*dev_, "adversarial", adversarialInput);
        // Whole rows of one value (per-channel groups all-zero / all-equal / all -0).
        for (float v : {0.f, -0.f, 1.f, -7.25f, kDenormMin, FLT_MAX, -FLT_MAX, kNaN, kInf}) {
            const MatrixRM W = MatrixRM::Constant(3, 45, v);
            for (const QuantFormat& f : allFormats()) {
                const QString d = diffBits(dev_->fakeQuantizeOnDevice(W, f), Quantizer(f).fakeQuantize(W), W);
                QVERIFY2(d.isEmpty(), qPrintable(QString("constant %1, %2: %3")
                                                     .arg(double(v))
                                                     .arg(QString::fromStdString(f.name()), d)));
            }
        }
        // A large matrix: several launches' worth of work-groups.
        std::mt19937 g(99);
        const MatrixRM W = adversarialInput(600, 4099, g);
        for (const char* n : {"int4", "int3-sym-g128", "mxfp4", "mxint8", "mxfp8_e4m3"}) {
            const QuantFormat f = *QuantFormat::parse(n);
            const QString d = diffBits(dev_->fakeQuantizeOnDevice(W, f), Quantizer(f).fakeQuantize(W), W);
            QVERIFY2(d.isEmpty(), qPrintable(QString(n) + " [600 x 4099]: " + d));
        }
    }
    // Every element code of every MX type: a block whose max fixes the scale at
    // 2^0 and values sweeping all float32 around the element grid (ties and
    // neighbours of every representable value and of every midpoint).
    void fakeQuantizeMxGridSweep() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        for (const char* n : {"mxint8", "mxint4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4"}) {
            const QuantFormat f = *QuantFormat::parse(n);
            const int codes = 1 << f.bits;
            std::vector<float> grid;
            for (int c = 0; c < codes; ++c) {
                const float v = decodeMxElement(f.kind, uint8_t(c));
                if (std::isfinite(v)) grid.push_back(v);
            }
            std::sort(grid.begin(), grid.end());
            std::vector<float> vals;
            for (size_t i = 0; i < grid.size(); ++i) {
                for (float v : {grid[i], std::nextafter(grid[i], -kInf), std::nextafter(grid[i], kInf)}) vals.push_back(v);
                if (i + 1 < grid.size()) {
                    const float mid = (grid[i] + grid[i + 1]) / 2;
                    for (float v : {mid, std::nextafter(mid, -kInf), std::nextafter(mid, kInf)}) vals.push_back(v);
                }
            }
            // Blocks of 31 sweep values + the block max (the grid's max) as element 0;
            // scaled by 2^k too, so the shared exponent moves (denormal range included).
            for (int k : {0, -20, -126, -135, 100}) {
                const int perBlock = 31;
                const int blocks = int((vals.size() + perBlock - 1) / perBlock);
                MatrixRM W = MatrixRM::Zero(1, blocks * 32);
                for (int b = 0; b < blocks; ++b) {
                    W(0, b * 32) = std::ldexp(grid.back(), k);
                    for (int i = 0; i < perBlock && b * perBlock + i < int(vals.size()); ++i)
                        W(0, b * 32 + 1 + i) = std::ldexp(vals[size_t(b * perBlock + i)], k);
                }
                const QString d = diffBits(dev_->fakeQuantizeOnDevice(W, f), Quantizer(f).fakeQuantize(W), W);
                QVERIFY2(d.isEmpty(), qPrintable(QString("%1, scale 2^%2: %3").arg(n).arg(k).arg(d)));
            }
        }
    }
    // The integer formats through the division-in-double build (devices without
    // a correctly rounded float division).
    void fakeQuantizeIntDivisionViaDouble() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        if (!dev_->device().fp64) QSKIP("device has no cl_khr_fp64");
        ocl::OpenClBackend::Options opt;
        opt.policy = ocl::OpenClBackend::Policy{0, 0};
        opt.division = ocl::OpenClBackend::Division::ViaDouble;
        ocl::OpenClBackend b(dev_->device(), opt);
        QVERIFY(b.quantizeBuildOptions().find("QS_DIV_VIA_DOUBLE") != std::string::npos);
        checkAllFormats(b, "normal (div via double)", normalInput, true);
        checkAllFormats(b, "adversarial (div via double)", adversarialInput, true);
        checkAllFormats(b, "wide-range (div via double)", wideInput, true);
    }

    // Policy thresholds route calls; the record says where each ran and why.
    void perOperationSelectionIsRecorded() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        ocl::OpenClBackend::Options opt;
        opt.policy = ocl::OpenClBackend::Policy{1000, 1000000};
        ocl::OpenClBackend b(dev_->device(), opt);
        std::mt19937 g(5);
        const QuantFormat f = *QuantFormat::parse("int4-g32");
        const MatrixRM small = normalInput(10, 50, g), big = normalInput(20, 64, g);
        QVERIFY(diffBits(b.fakeQuantize(small, f), Quantizer(f).fakeQuantize(small), small).isEmpty());  // 500 < 1000
        QVERIFY(diffBits(b.fakeQuantize(big, f), Quantizer(f).fakeQuantize(big), big).isEmpty());        // 1280
        QVERIFY(diffBits(b.fakeQuantize(big, f), Quantizer(f).fakeQuantize(big), big).isEmpty());
        const QuantFormat none = *QuantFormat::parse("fp32");
        QVERIFY(diffBits(b.fakeQuantize(big, none), big, big).isEmpty());
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(64, 64);
        int64_t n = 0;
        b.accumulateHessian(H, n, normalInput(100, 64, g), 1);  // 409600 < 1e6: CPU
        b.accumulateHessian(H, n, normalInput(300, 64, g), 1);  // 1228800: device
        QCOMPARE(n, int64_t(2));

        int seen = 0;
        for (const ComputeOpRecord& r : b.stats()) {
            if (r.op == "fake_quantize" && r.device == "opencl") {
                QCOMPARE(r.calls, int64_t(2));
                QCOMPARE(r.elements, int64_t(2 * 20 * 64));
                ++seen;
            } else if (r.op == "fake_quantize" && r.device == "cpu") {
                QCOMPARE(r.calls, int64_t(2));
                QCOMPARE(r.lastReason, std::string("fp32: nothing to quantize"));
                ++seen;
            } else if (r.op == "accumulate_hessian") {
                QCOMPARE(r.calls, int64_t(1));
                if (r.device == "cpu") QCOMPARE(r.lastReason, std::string("below the size threshold"));
                ++seen;
            }
        }
        QCOMPARE(seen, 4);
        const std::string d = b.describe();
        QVERIFY2(d.find("opencl [OpenCL 0:0") == 0 || d.find("opencl [OpenCL ") == 0, d.c_str());
        QVERIFY2(d.find("fake_quantize 2x cpu (fp32: nothing to quantize), 2x opencl;") != std::string::npos, d.c_str());
        QVERIFY2(d.find("accumulate_hessian 1x cpu (below the size threshold), 1x opencl") != std::string::npos, d.c_str());
        const QJsonObject j = b.statsJson();
        QCOMPARE(j["backend"].toString(), QString("opencl"));
        QCOMPARE(j["ops"].toArray().size(), 4);
        qInfo("%s", d.c_str());

        // The default policy of an OpenCL CPU device keeps everything on the CPU path.
        if (dev_->device().type & CL_DEVICE_TYPE_CPU) {
            ocl::OpenClBackend dflt(dev_->device());
            dflt.fakeQuantize(big, f);
            QCOMPARE(dflt.stats().front().device, std::string("cpu"));
        }
    }

    // ---------------------------------------------------------------- Hessian

    void hessianWithinTolerance() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        if (!dev_->device().fp64) QSKIP("device has no cl_khr_fp64: the Hessian runs on the CPU path");
        const double tol = 1e-12;
        double worst = 0;
        std::mt19937 g(42);
        const std::vector<std::pair<int, int>> shapes = {{1, 1}, {7, 33}, {129, 95}, {300, 200}, {64, 130}, {1000, 65}, {17, 257}};
        for (const auto& [tokens, in] : shapes)
            for (int input = 0; input < 3; ++input) {
                Eigen::MatrixXd Hc = Eigen::MatrixXd::Zero(in, in), Hd = Hc, A = Hc;
                int64_t nc = 0, nd = 0, na = 0;
                for (int batch = 0; batch < 3; ++batch) {
                    MatrixRM X = input == 0   ? normalInput(tokens + batch, in, g)
                                 : input == 1 ? wideInput(tokens + batch, in, g)
                                              : adversarialInput(tokens + batch, in, g);
                    if (input > 0) {  // keep it finite here (non-finite: hessianNonFinite); scale to avoid overflow
                        for (int64_t i = 0; i < X.size(); ++i) {
                            float& v = X.data()[i];
                            if (!std::isfinite(v)) v = 1.f;
                            else if (std::fabs(v) > 1e30f) v = std::copysign(1e30f, v);
                        }
                    }
                    const int64_t s = batch + 1;
                    cpu::accumulateHessian(Hc, nc, X, s);
                    dev_->accumulateHessian(Hd, nd, X, s);
                    const MatrixRM Xa = X.cwiseAbs();
                    cpu::accumulateHessian(A, na, Xa, s);  // the same accumulation over |X|
                }
                QCOMPARE(nd, nc);
                QVERIFY(Hd == Hd.transpose());
                for (int j = 0; j < in; ++j)
                    for (int i = 0; i < in; ++i) {
                        const double diff = std::fabs(Hd(i, j) - Hc(i, j));
                        const double bound = tol * A(i, j);
                        if (A(i, j) == 0) {
                            QVERIFY2(Hd(i, j) == 0 && Hc(i, j) == 0, "zero terms must give exactly zero");
                            continue;
                        }
                        worst = std::max(worst, diff / A(i, j));
                        if (!(diff <= bound))
                            QFAIL(qPrintable(QString("[%1 x %2] input %3: H(%4,%5) opencl %6 vs cpu %7, |diff| %8 > %9")
                                                 .arg(tokens)
                                                 .arg(in)
                                                 .arg(input)
                                                 .arg(i)
                                                 .arg(j)
                                                 .arg(Hd(i, j), 0, 'g', 17)
                                                 .arg(Hc(i, j), 0, 'g', 17)
                                                 .arg(diff)
                                                 .arg(bound)));
                    }
            }
        qInfo("Hessian: max |opencl - cpu| / (f^2 sum|x_i x_j|) = %.3g (tolerance %.0e)", worst, tol);
        // All-zero input gives exact zeros; the device path really ran.
        Eigen::MatrixXd Z = Eigen::MatrixXd::Zero(40, 40);
        int64_t nz = 0;
        dev_->accumulateHessian(Z, nz, MatrixRM::Zero(70, 40), 2);
        QVERIFY(Z.isZero(0));
        bool ranOnDevice = false;
        for (const ComputeOpRecord& r : dev_->stats())
            if (r.op == "accumulate_hessian" && r.device == "opencl" && r.calls > 0) ranOnDevice = true;
        QVERIFY(ranOnDevice);
    }

    void hessianNonFinite() {
        if (qEnvironmentVariableIsSet(kChildEnv)) QSKIP("child run");
        QS_REQUIRE_OPENCL_DEVICE();
        if (!dev_->device().fp64) QSKIP("device has no cl_khr_fp64: the Hessian runs on the CPU path");
        std::mt19937 g(3);
        MatrixRM X = normalInput(50, 70, g);
        X(3, 5) = kNaN;
        X(10, 20) = kInf;
        X(11, 20) = kInf;
        X(12, 40) = -kInf;
        X(13, 69) = kInf;
        X(14, 69) = -kInf;  // Inf - Inf in one sum: NaN
        Eigen::MatrixXd Hc = Eigen::MatrixXd::Zero(70, 70), Hd = Hc;
        int64_t nc = 0, nd = 0;
        cpu::accumulateHessian(Hc, nc, X, 1);
        dev_->accumulateHessian(Hd, nd, X, 1);
        int nonFinite = 0;
        for (int j = 0; j < 70; ++j)
            for (int i = 0; i < 70; ++i) {
                const double a = Hd(i, j), b = Hc(i, j);
                if (std::isfinite(a) && std::isfinite(b)) {
                    QVERIFY(std::fabs(a - b) <= 1e-12 * (std::fabs(b) + 1));
                    continue;
                }
                ++nonFinite;
                QVERIFY2(sameD(a, b), qPrintable(QString("H(%1,%2): opencl %3 vs cpu %4").arg(i).arg(j).arg(a).arg(b)));
            }
        QVERIFY(nonFinite > 4 * 70);
    }
};

QTEST_GUILESS_MAIN(TestOpenCl)
#include "test_opencl.moc"
