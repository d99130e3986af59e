// bench_opencl: the OpenCL kernels against the CPU path, timed in the same run.
// Writes one JSON file (--out, default bench/results/opencl_ops.json) and prints it.
//
// For each case: the CPU path (core's code: Quantizer::fakeQuantize, the Hessian
// update of calib/hessian.cpp, Eigen's GEMMs, qs::pack / qs::unpack) and the
// OpenCL device path (OpenClBackend::*OnDevice, host<->device transfers
// included), best of --repeat runs each, the ratio cpu_seconds / opencl_seconds
// (> 1: OpenCL faster) and the agreement (fake quantization, pack, unpack: number
// of differing bit patterns / bytes, must be 0; Hessian: max |diff| / (f² Σ|x_i x_j|);
// GEMMs: max |diff| / (2·γ_K·Σ|terms|), must be <= 1).
// The end-to-end row quantizes (GPTQ, calibration Hessians and block updates) and
// evaluates (forward GEMMs) the built-in demo model, or --e2e-model, once with the
// CPU backend and once with the OpenCL backend forced onto the device
// (Policy::always(), as `quantscope-cli --device opencl`), in the same run.
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
#include "calib/calibration.h"
#include "compute/backend.h"
#include "compute/threads.h"
#include "eval/perplexity.h"
#include "eval/textdata.h"
#include "model/demo.h"
#include "model/hf_loader.h"
#include "model/tokenizer.h"
#include "opencl/opencl_backend.h"
#include "quant/formats.h"
#include "quant/pipeline.h"
#include "util/error.h"

using namespace qs;
using namespace qs::bench;

namespace {

const char* kUsage =
    "usage: bench_opencl [options]\n"
    "  [--device P:D (default: QUANTSCOPE_OPENCL_DEVICE's choice)]\n"
    "  [--quant-shapes 768x768,4096x4096] [--formats int4-g128,int4,mxfp4,mxint8,mxfp8_e4m3]\n"
    "  [--hessian-shapes 2048x768,2048x2048 (tokens x in)]\n"
    "  [--gemm-shapes 2048x768x768,2048x2048x768 (tokens x out x in)]\n"
    "  [--gptq-shapes 768x128x640,2048x128x1920 (rows x block x remaining columns)]\n"
    "  [--pack-shapes 768x768,4096x4096] [--pack-formats int4-g128,int3,mxfp4,mxfp6_e3m2,mxint8]\n"
    "  [--e2e-model demo|PATH] [--e2e-data TEXT (default: the demo's text)] [--e2e-nsamples 8]\n"
    "  [--e2e-seqlen 128] [--e2e-windows 8] [--no-e2e]\n"
    "  [--repeat 3] [--threads N (0=all)] [--out FILE] [--seed N]\n";

struct Args {
    std::string device;
    std::string quantShapes = "768x768,4096x4096";
    std::string formats = "int4-g128,int4,mxfp4,mxint8,mxfp8_e4m3";
    std::string hessianShapes = "2048x768,2048x2048";
    std::string gemmShapes = "2048x768x768,2048x2048x768";
    std::string gptqShapes = "768x128x640,2048x128x1920";
    std::string packShapes = "768x768,4096x4096";
    std::string packFormats = "int4-g128,int3,mxfp4,mxfp6_e3m2,mxint8";
    std::string e2eModel = "demo", e2eData;
    int e2eNsamples = 8, e2eSeqlen = 128, e2eWindows = 8;
    bool e2e = true;
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

std::vector<std::vector<int>> parseDims(const std::string& flag, const std::string& s, size_t n) {
    std::vector<std::vector<int>> v;
    for (const std::string& p : split(s, ',')) {
        std::vector<int> d;
        for (const std::string& x : split(p, 'x')) d.push_back(toInt(flag, x.c_str()));
        if (d.size() != n) throw Error(flag + ": '" + p + "' needs " + std::to_string(n) + " sizes joined by 'x'");
        for (int x : d)
            if (x < 1) throw Error(flag + ": sizes must be >= 1");
        v.push_back(d);
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

// quantize (GPTQ int4-g32: calibration Hessians, block updates, forward GEMMs) +
// eval (forward GEMMs) on the CPU backend and on the OpenCL backend forced onto
// the device, in this run.
QJsonObject endToEnd(const Args& a, ocl::OpenClBackend& dev) {
    std::shared_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::string text;
    if (a.e2eModel == "demo") {
        Demo d = makeDemo();
        model = d.model;
        tok = std::move(d.tokenizer);
        text = d.evalText;
    } else {
        model = loadModel(QString::fromStdString(a.e2eModel));
        tok = loadTokenizerFor(QString::fromStdString(a.e2eModel), QString(), model->config);
    }
    if (!a.e2eData.empty()) text = loadText(QString::fromStdString(a.e2eData));
    if (text.empty()) throw Error(std::string("--e2e-data is required for a model other than demo"));
    const std::vector<int> ids = tok->encodeForModel(text);
    CalibOptions calib;
    calib.nsamples = a.e2eNsamples;
    calib.seqlen = a.e2eSeqlen;
    calib.seed = 0;
    const std::vector<int> calibTokens = sampleCalibration(ids, calib);
    LayerPlan plan;
    plan.method = QuantMethod::Gptq;
    plan.weight = *QuantFormat::parse("int4-g32");
    EvalOptions eo;
    eo.seqlen = a.e2eSeqlen;
    eo.maxWindows = a.e2eWindows;

    ocl::OpenClBackend::Options opt;
    opt.policy = ocl::OpenClBackend::Policy::always();
    auto forced = std::make_shared<ocl::OpenClBackend>(dev.device(), opt);
    QJsonObject o;
    o["model"] = QString::fromStdString(a.e2eModel);
    o["params"] = double(model->numParams());
    o["method"] = "gptq int4-g32";
    o["calibration"] = calib.toJson();
    o["eval_seqlen"] = eo.seqlen;
    o["eval_windows"] = eo.maxWindows;
    double ppl[2] = {0, 0}, total[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
        std::shared_ptr<ComputeBackend> b = i == 0 ? std::shared_ptr<ComputeBackend>(std::make_shared<CpuBackend>())
                                                   : std::shared_ptr<ComputeBackend>(forced);
        setComputeBackend(b);
        const auto t0 = Clock::now();
        QuantizeResult qr;
        EvalResult er;
        double tq = 0;
        try {
            qr = quantizeModel(*model, calibTokens, calib, [&](const Linear&) { return plan; });
            tq = since(t0);
            er = evaluatePerplexity(*qr.model, ids, eo);
        } catch (...) {
            setComputeBackend(nullptr);
            throw;
        }
        setComputeBackend(nullptr);
        total[i] = since(t0);
        ppl[i] = er.ppl;
        QJsonObject r;
        r["quantize_seconds"] = tq;
        r["eval_seconds"] = total[i] - tq;
        r["total_seconds"] = total[i];
        r["ppl"] = er.ppl;
        r["device"] = b->statsJson();
        o[i == 0 ? "cpu" : "opencl"] = r;
        std::fprintf(stderr, "end to end (%s) on %s: quantize %.2f s, eval %.2f s, ppl %.6f\n", a.e2eModel.c_str(),
                     i == 0 ? "cpu" : "opencl", tq, total[i] - tq, er.ppl);
    }
    o["cpu_over_opencl"] = total[0] / total[1];
    o["ppl_relative_difference"] = std::fabs(ppl[1] - ppl[0]) / ppl[0];
    return o;
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

    // ---- matmul (the forward pass's y = x·Wᵀ)
    QJsonArray gemm;
    for (const std::vector<int>& d : parseDims("--gemm-shapes", a.gemmShapes, 3)) {
        const int M = d[0], N = d[1], K = d[2];
        const MatrixRM x = randomMatrix(M, K, g), W = randomMatrix(N, K, g);
        MatrixRM yc, yd;
        dev.matmulOnDevice(x, W);  // warm-up
        const double tc = bestOf(a.repeat, [&] { cpu::matmulTransposed(x, W, yc); });
        const double to = bestOf(a.repeat, [&] { yd = dev.matmulOnDevice(x, W); });
        const Eigen::MatrixXd A = x.cast<double>().cwiseAbs() * W.cast<double>().cwiseAbs().transpose();
        const double gamma = double(K) * std::ldexp(1.0, -24) / (1 - double(K) * std::ldexp(1.0, -24));
        double worst = 0;
        for (int64_t i = 0; i < A.size(); ++i)
            worst = std::max(worst, std::fabs(double(yd.data()[i]) - double(yc.data()[i])) / (2 * gamma * A.data()[i]));
        QJsonObject c;
        c["tokens"] = M;
        c["out"] = N;
        c["in"] = K;
        c["cpu_seconds"] = tc;
        c["opencl_seconds"] = to;
        c["cpu_over_opencl"] = tc / to;
        c["cpu_gflops"] = 2.0 * M * N * K / tc * 1e-9;
        c["opencl_gflops"] = 2.0 * M * N * K / to * 1e-9;
        c["max_diff_over_bound"] = worst;
        gemm.append(c);
        std::fprintf(stderr, "matmul [%d x %d x %d]: cpu %.4f s, opencl %.4f s, ratio %.2f, max diff/bound %.2g\n", M, N, K,
                     tc, to, tc / to, worst);
    }
    out["matmul"] = gemm;

    // ---- GPTQ lazy-batch update W[:, i2:] -= Err · Hinv[i1:i2, i2:] (double)
    QJsonArray gup;
    if (dev.device().fp64) {
        for (const std::vector<int>& d : parseDims("--gptq-shapes", a.gptqShapes, 3)) {
            const int R = d[0], k = d[1], n = d[2];
            const Eigen::MatrixXd W0 = Eigen::MatrixXd::Random(R, n), E = Eigen::MatrixXd::Random(R, k),
                                  U = Eigen::MatrixXd::Random(k, n);
            Eigen::MatrixXd Wc = W0, Wd = W0;
            dev.gptqUpdateOnDevice(Wd, E, U);  // warm-up
            const double tc = bestOf(a.repeat, [&] {
                Wc = W0;
                cpu::gptqBlockUpdate(Wc, E, U);
            });
            const double to = bestOf(a.repeat, [&] {
                Wd = W0;
                dev.gptqUpdateOnDevice(Wd, E, U);
            });
            const Eigen::MatrixXd A = W0.cwiseAbs() + E.cwiseAbs() * U.cwiseAbs();
            const double gamma = double(k + 1) * std::ldexp(1.0, -53) / (1 - double(k + 1) * std::ldexp(1.0, -53));
            double worst = 0;
            for (int64_t i = 0; i < A.size(); ++i) worst = std::max(worst, std::fabs(Wd.data()[i] - Wc.data()[i]) / (2 * gamma * A.data()[i]));
            QJsonObject c;
            c["rows"] = R;
            c["block"] = k;
            c["columns"] = n;
            c["cpu_seconds"] = tc;
            c["opencl_seconds"] = to;
            c["cpu_over_opencl"] = tc / to;
            c["max_diff_over_bound"] = worst;
            gup.append(c);
            std::fprintf(stderr, "gptq_update [%d x %d x %d]: cpu %.4f s, opencl %.4f s, ratio %.2f, max diff/bound %.2g\n", R,
                         k, n, tc, to, tc / to, worst);
        }
    }
    out["gptq_update"] = gup;

    // ---- pack / unpack
    QJsonArray packs;
    for (const auto& [rows, cols] : parseShapes("--pack-shapes", a.packShapes)) {
        const MatrixRM W = randomMatrix(rows, cols, g);
        for (const std::string& fn : split(a.packFormats, ',')) {
            const auto f = QuantFormat::parse(fn);
            if (!f || f->kind == FormatKind::None) throw Error("--pack-formats: unknown format '" + fn + "'");
            PackedMatrix pc, pd;
            MatrixRM uc, ud;
            pd = dev.packOnDevice(W, *f);  // warm-up
            dev.unpackOnDevice(pd);
            const double tpc = bestOf(a.repeat, [&] { pc = qs::pack(W, *f); });
            const double tpo = bestOf(a.repeat, [&] { pd = dev.packOnDevice(W, *f); });
            const double tuc = bestOf(a.repeat, [&] { uc = qs::unpack(pc); });
            const double tuo = bestOf(a.repeat, [&] { ud = dev.unpackOnDevice(pc); });
            int64_t byteDiffs = 0;
            for (size_t i = 0; i < std::min(pc.codes.size(), pd.codes.size()); ++i) byteDiffs += pc.codes[i] != pd.codes[i];
            byteDiffs += int64_t(std::max(pc.codes.size(), pd.codes.size()) - std::min(pc.codes.size(), pd.codes.size()));
            const bool paramsSame = pc.scaleE8M0 == pd.scaleE8M0 && pc.zero == pd.zero && pc.scale.size() == pd.scale.size() &&
                                    std::memcmp(pc.scale.data(), pd.scale.data(), pc.scale.size() * sizeof(float)) == 0;
            QJsonObject c;
            c["format"] = QString::fromStdString(f->name());
            c["rows"] = rows;
            c["cols"] = cols;
            c["pack_cpu_seconds"] = tpc;
            c["pack_opencl_seconds"] = tpo;
            c["pack_cpu_over_opencl"] = tpc / tpo;
            c["unpack_cpu_seconds"] = tuc;
            c["unpack_opencl_seconds"] = tuo;
            c["unpack_cpu_over_opencl"] = tuc / tuo;
            c["pack_byte_differences"] = double(byteDiffs);
            c["pack_params_identical"] = paramsSame;
            c["unpack_bit_differences"] = double(countBitDiffs(ud, uc));
            packs.append(c);
            std::fprintf(stderr, "pack %-12s [%d x %d]: cpu %.4f s, opencl %.4f s, ratio %.2f; unpack: cpu %.4f s, opencl %.4f s, ratio %.2f\n",
                         f->name().c_str(), rows, cols, tpc, tpo, tpc / tpo, tuc, tuo, tuc / tuo);
        }
    }
    out["pack_unpack"] = packs;

    if (a.e2e) out["end_to_end"] = endToEnd(a, dev);
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
            else if (f == "--gemm-shapes") a.gemmShapes = r.value();
            else if (f == "--gptq-shapes") a.gptqShapes = r.value();
            else if (f == "--pack-shapes") a.packShapes = r.value();
            else if (f == "--pack-formats") a.packFormats = r.value();
            else if (f == "--e2e-model") a.e2eModel = r.value();
            else if (f == "--e2e-data") a.e2eData = r.value();
            else if (f == "--e2e-nsamples") a.e2eNsamples = r.intValue();
            else if (f == "--e2e-seqlen") a.e2eSeqlen = r.intValue();
            else if (f == "--e2e-windows") a.e2eWindows = r.intValue();
            else if (f == "--no-e2e") a.e2e = false;
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
