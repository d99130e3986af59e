// bench_opencl: the OpenCL kernels against the CPU path, timed in the same run.
// Writes one JSON file (--out, default bench/results/opencl_ops.json) and prints it.
//
// For each case: the CPU path (core's code: Quantizer::fakeQuantize, the Hessian
// update of calib/hessian.cpp) and the OpenCL device path
// (OpenClBackend::fakeQuantizeOnDevice / the device Hessian update, host<->device
// transfers included), best of --repeat runs each, the ratio cpu_seconds /
// opencl_seconds (> 1: OpenCL faster) and the agreement (fake quantization: number
// of differing bit patterns, must be 0; Hessian: max |diff| / (f² Σ|x_i x_j|)).
// These ratios are what OpenClBackend::Policy::defaults() is based on.
//
// Exit codes: 0 success, 2 user error (bad argument, no OpenCL device), 1 internal error.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <QJsonArray>
#include <QJsonObject>

#include "bench_common.h"
#include "compute/backend.h"
#include "compute/threads.h"
#include "opencl/opencl_backend.h"
#include "quant/formats.h"
#include "util/error.h"

using namespace qs;
using namespace qs::bench;

namespace {

const char* kUsage =
    "usage: bench_opencl [options]\n"
    "  [--device P:D (default: QUANTSCOPE_OPENCL_DEVICE's choice)]\n"
    "  [--quant-shapes 768x768,4096x4096] [--formats int4-g128,int4,mxfp4,mxint8,mxfp8_e4m3]\n"
    "  [--hessian-shapes 2048x768,2048x2048 (tokens x in)]\n"
    "  [--repeat 3] [--threads N (0=all)] [--out FILE] [--seed N]\n";

struct Args {
    std::string device;
    std::string quantShapes = "768x768,4096x4096";
    std::string formats = "int4-g128,int4,mxfp4,mxint8,mxfp8_e4m3";
    std::string hessianShapes = "2048x768,2048x2048";
    int repeat = 3, threads = 0;
    uint64_t seed = 0;
    QString out;
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    size_t b = 0;
    while (b <= s.size()) {
        const size_t e = s.find(sep, b);
        const std::string part = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
        if (!part.empty()) v.push_back(part);
        if (e == std::string::npos) break;
        b = e + 1;
    }
    return v;
}

std::vector<std::pair<int, int>> parseShapes(const std::string& flag, const std::string& s) {
    std::vector<std::pair<int, int>> v;
    for (const std::string& p : split(s, ',')) {
        const size_t x = p.find('x');
        if (x == std::string::npos) throw Error(flag + ": '" + p + "' is not RxC");
        v.emplace_back(toInt(flag, p.substr(0, x).c_str()), toInt(flag, p.substr(x + 1).c_str()));
        if (v.back().first < 1 || v.back().second < 1) throw Error(flag + ": sizes must be >= 1");
    }
    return v;
}

template <class F>
double bestOf(int repeat, F&& f) {
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = Clock::now();
        f();
        best = std::min(best, since(t0));
    }
    return best;
}

MatrixRM randomMatrix(int rows, int cols, std::mt19937& g) {
    std::normal_distribution<float> nd(0.f, 1.f);
    MatrixRM m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = nd(g);
    return m;
}

int64_t countBitDiffs(const MatrixRM& a, const MatrixRM& b) {
    int64_t n = 0;
    for (int64_t i = 0; i < a.size(); ++i) {
        const float x = a.data()[i], y = b.data()[i];
        if (std::isnan(x) && std::isnan(y)) continue;
        if (std::memcmp(&x, &y, 4) != 0) ++n;
    }
    return n;
}

int run(const Args& a) {
    if (a.threads > 0) setThreads(a.threads);
    ocl::OpenClBackend::Options opt;
    opt.policy = ocl::OpenClBackend::Policy{0, 0};  // always the device: we time it
    const ocl::BackendChoice choice = a.device.empty() ? ocl::backendFromSpec(std::getenv("QUANTSCOPE_OPENCL_DEVICE")
                                                                                  ? std::getenv("QUANTSCOPE_OPENCL_DEVICE")
                                                                                  : "",
                                                                              opt)
                                                       : ocl::backendFromSpec(a.device, opt);
    std::fprintf(stderr, "%s\n", choice.message.c_str());
    if (!choice.opencl) throw Error("no usable OpenCL device: " + choice.message);
    auto& dev = static_cast<ocl::OpenClBackend&>(*choice.backend);

    QJsonObject out = resultHeader("opencl_ops");
    QJsonObject d;
    d["label"] = QString::fromStdString(dev.device().label());
    d["version"] = QString::fromStdString(dev.device().deviceVersion);
    d["type"] = QString::fromStdString(dev.device().typeName());
    d["fp64"] = dev.device().fp64;
    d["quantize_build_options"] = QString::fromStdString(dev.quantizeBuildOptions());
    out["device"] = d;
    out["repeat"] = a.repeat;

    std::mt19937 g(uint32_t(a.seed));
    QJsonArray quant;
    for (const auto& [rows, cols] : parseShapes("--quant-shapes", a.quantShapes)) {
        const MatrixRM W = randomMatrix(rows, cols, g);
        for (const std::string& fn : split(a.formats, ',')) {
            const auto f = QuantFormat::parse(fn);
            if (!f) throw Error("--formats: unknown format '" + fn + "'");
            MatrixRM ref, got;
            dev.fakeQuantizeOnDevice(W, *f);  // warm-up (first launch)
            const double tc = bestOf(a.repeat, [&] { ref = cpu::fakeQuantize(W, *f); });
            const double to = bestOf(a.repeat, [&] { got = dev.fakeQuantizeOnDevice(W, *f); });
            QJsonObject c;
            c["format"] = QString::fromStdString(f->name());
            c["rows"] = rows;
            c["cols"] = cols;
            c["cpu_seconds"] = tc;
            c["opencl_seconds"] = to;
            c["cpu_over_opencl"] = tc / to;
            c["bit_differences"] = double(countBitDiffs(got, ref));
            quant.append(c);
            std::fprintf(stderr, "fake_quantize %-12s [%d x %d]: cpu %.4f s, opencl %.4f s, ratio %.2f\n",
                         f->name().c_str(), rows, cols, tc, to, tc / to);
        }
    }
    out["fake_quantize"] = quant;

    QJsonArray hess;
    for (const auto& [tokens, in] : parseShapes("--hessian-shapes", a.hessianShapes)) {
        const MatrixRM X = randomMatrix(tokens, in, g);
        Eigen::MatrixXd Hc, Hd;
        int64_t nc = 0, nd = 0;
        dev.xtxOnDevice(X, 1.0);  // warm-up
        const double tc = bestOf(a.repeat, [&] {
            Hc = Eigen::MatrixXd::Zero(in, in);
            nc = 0;
            cpu::accumulateHessian(Hc, nc, X, 1);
        });
        const double to = bestOf(a.repeat, [&] {
            Hd = Eigen::MatrixXd::Zero(in, in);
            nd = 0;
            dev.accumulateHessian(Hd, nd, X, 1);
        });
        Eigen::MatrixXd A = Eigen::MatrixXd::Zero(in, in);
        int64_t na = 0;
        cpu::accumulateHessian(A, na, X.cwiseAbs(), 1);
        double worst = 0;
        for (int64_t i = 0; i < A.size(); ++i)
            if (A.data()[i] > 0) worst = std::max(worst, std::fabs(Hd.data()[i] - Hc.data()[i]) / A.data()[i]);
        QJsonObject c;
        c["tokens"] = tokens;
        c["in"] = in;
        c["cpu_seconds"] = tc;
        c["opencl_seconds"] = to;
        c["cpu_over_opencl"] = tc / to;
        c["max_rel_diff"] = worst;
        hess.append(c);
        std::fprintf(stderr, "accumulate_hessian [%d x %d]: cpu %.4f s, opencl %.4f s, ratio %.2f, max rel diff %.2g\n",
                     tokens, in, tc, to, tc / to, worst);
    }
    out["accumulate_hessian"] = hess;
    writeJson(out, a.out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return runMain("bench_opencl", [&] {
        Args a;
        ArgReader r(argc, argv, kUsage);
        while (r.next()) {
            const std::string& f = r.flag();
            if (f == "--device") a.device = r.value();
            else if (f == "--quant-shapes") a.quantShapes = r.value();
            else if (f == "--formats") a.formats = r.value();
            else if (f == "--hessian-shapes") a.hessianShapes = r.value();
            else if (f == "--repeat") a.repeat = r.intValue();
            else if (f == "--threads") a.threads = r.intValue();
            else if (f == "--seed") a.seed = uint64_t(std::strtoull(r.value(), nullptr, 0));
            else if (f == "--out") a.out = r.pathValue();
            else r.unknown();
        }
        if (a.repeat < 1) throw Error(QStringLiteral("--repeat must be >= 1"));
        if (a.out.isEmpty()) a.out = QStringLiteral(QS_BENCH_DIR "/results/opencl_ops.json");
        return run(a);
    });
}
