#include "opencl/opencl_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>
#include <vector>

#include <QtGlobal>

#include "util/error.h"

namespace qs::ocl {

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

size_t floorPow2(size_t v) {
    size_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}
size_t ceilPow2(size_t v) {
    size_t p = 1;
    while (p < v) p *= 2;
    return p;
}

// The group length along a row, as formats.cpp: MX blocks of 32, Int groups or the
// whole row.
int64_t groupLength(const QuantFormat& f, int64_t cols) {
    if (f.isMx()) return 32;
    return f.groupSize > 0 ? f.groupSize : std::max<int64_t>(cols, 1);
}

constexpr int64_t kMaxRowsPerLaunch = 32768;  // global size in dimension 1 stays small (some GPUs cap it at 65535)
constexpr int kHessianTile = 64, kHessianWg = 16;

// Why a call below a policy threshold ran on the CPU path.
std::string belowThreshold(int64_t threshold) {
    return threshold == std::numeric_limits<int64_t>::max() ? "the CPU path is faster on this device"
                                                            : "below the size threshold";
}

// A device call that failed at run time (out of resources, a kernel that cannot
// run the work-group size, ...) is redone on the CPU path; said once per operation.
void warnDeviceFailure(const char* op, const std::string& what) {
    static std::mutex m;
    static std::vector<std::string> told;
    std::lock_guard<std::mutex> lock(m);
    if (std::find(told.begin(), told.end(), op) != told.end()) return;
    told.emplace_back(op);
    qWarning("OpenCL: %s failed on the device (%s); such calls run on the CPU path", op, what.c_str());
}

}  // namespace

// ------------------------------------------------------------------ policy

OpenClBackend::Policy OpenClBackend::Policy::defaults(const DeviceInfo& d) {
    Policy p;
    if (d.type & CL_DEVICE_TYPE_CPU) {
        // An OpenCL CPU device (PoCL) shares the cores with the CPU path. Measured
        // with bench/bench_opencl on PoCL (2 cores, bench/results/opencl_ops.json,
        // README "OpenCL"), OpenCL's speed over the CPU path's: fake_quantize
        // 0.08-0.92x, accumulate_hessian 0.14-0.17x, matmul 0.06x, gptq_update
        // 0.03-0.13x, pack 0.07-0.68x, unpack 0.13-1.09x (the one case >= 1,
        // int4-g128 at 768x768, is within run-to-run noise: 0.6-2.1x over runs),
        // quantize+eval end to end 0.30x: every operation stays on the CPU path.
        p.fakeQuantizeMinElements = kNever;
        p.hessianMinWork = kNever;
        p.matmulMinWork = kNever;
        p.gptqUpdateMinWork = kNever;
        p.packMinElements = kNever;
    } else {
        // GPUs / accelerators: NOT measured yet (no GPU where this was written);
        // a guess at where launch and transfer overhead stops dominating. To be
        // replaced by bench/bench_opencl figures on real GPUs.
        p.fakeQuantizeMinElements = int64_t(1) << 16;
        p.hessianMinWork = int64_t(1) << 26;
        p.matmulMinWork = int64_t(1) << 24;
        p.gptqUpdateMinWork = int64_t(1) << 24;
        p.packMinElements = int64_t(1) << 16;
    }
    return p;
}

// ------------------------------------------------------------------ construction

OpenClBackend::OpenClBackend(const DeviceInfo& device, const Options& opt) {
    dc_ = sharedContext(device);
    policy_ = opt.policy ? *opt.policy : Policy::defaults(device);
    const std::string std12 = device.openclC12 ? "-cl-std=CL1.2" : "";

    // quantize.cl: no fast-math; correctly rounded division (see the kernel's header).
    Division div = opt.division;
    if (div == Division::Auto)
        div = device.fp32CorrectDivide ? Division::CorrectlyRounded : (device.fp64 ? Division::ViaDouble : Division::Auto);
    quantizeOptions_ = std12;
    if (div == Division::CorrectlyRounded) {
        if (!device.fp32CorrectDivide)
            throw Error("OpenCL: " + device.label() + " has no correctly rounded float division");
        quantizeOptions_ += " -cl-fp32-correctly-rounded-divide-sqrt";
        intDivisionOk_ = true;
    } else if (div == Division::ViaDouble) {
        if (!device.fp64) throw Error("OpenCL: " + device.label() + " has no double precision (cl_khr_fp64)");
        quantizeOptions_ += " -DQS_DIV_VIA_DOUBLE";
        intDivisionOk_ = true;
    }
    auto prog = [](const char* file, const std::string& options, std::vector<const char*> kernels) {
        Prog p;
        p.file = file;
        p.options = options;
        p.kernelNames = std::move(kernels);
        return p;
    };
    quantize_ = prog("quantize.cl", quantizeOptions_, {"fake_quantize", "quant_params", "pack_codes", "unpack_codes"});
    hessian_ = prog("hessian.cl", std12, {"xtx_lower"});
    matmul_ = prog("matmul.cl", std12, {"matmul_nt"});
    gptq_ = prog("gptq.cl", std12, {"gptq_update"});
    if (opt.buildAll) {
        // Every program now; a failed build throws with its log (backendFromSpec
        // then says so once and uses the CPU path).
        std::lock_guard<std::mutex> lock(mutex_);
        for (Prog* p : {&quantize_, &matmul_}) {
            if (!ensure(*p, false)) throw Error(p->error);
        }
        if (device.fp64) {
            for (Prog* p : {&hessian_, &gptq_})
                if (!ensure(*p, false)) throw Error(p->error);
        }
    }
}

OpenClBackend::~OpenClBackend() = default;

bool OpenClBackend::ensure(Prog& p, bool warn) {
    if (p.tried) return p.error.empty();
    p.tried = true;
    try {
        p.program = ProgramCache::instance().get(dc_, p.file, kernelSource(QString::fromStdString(p.file)), p.options);
        for (const char* k : p.kernelNames) p.kernels.push_back(createKernel(p.program, k));
    } catch (const Error& e) {
        p.error = e.what();
        p.kernels.clear();
        // Said once per program; its operations run on the CPU path from now on.
        if (warn) qWarning("%s; the operations of %s run on the CPU path", p.error.c_str(), p.file.c_str());
        return false;
    }
    return true;
}

std::string OpenClBackend::programProblem(Prog& p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return ensure(p, true) ? std::string() : "program " + p.file + " failed to build";
}

size_t OpenClBackend::maxGroupOf(const Kernel& k) const {
    size_t wg = 1;
    check(clGetKernelWorkGroupInfo(k.get(), dc_.info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, nullptr),
          "clGetKernelWorkGroupInfo");
    return std::min(wg, dc_.info.maxWorkGroupSize);
}

std::string OpenClBackend::deviceDescription() const {
    return "OpenCL " + dc_.info.label();
}

std::vector<std::pair<std::string, std::string>> OpenClBackend::routing() const {
    auto where = [](int64_t threshold, const char* unit, const std::string& missing) -> std::string {
        if (!missing.empty()) return "cpu (" + missing + ")";
        if (threshold == 0) return "opencl";
        if (threshold == kNever) return "cpu (measured faster on this device)";
        return "opencl from " + std::to_string(threshold) + " " + unit + ", else cpu";
    };
    const DeviceInfo& d = dc_.info;
    const std::string denorm = d.fp32Denorms ? "" : "device flushes float denormals";
    const std::string fp64 = d.fp64 ? "" : "device has no double precision (cl_khr_fp64)";
    return {{"fake_quantize", where(policy_.fakeQuantizeMinElements, "elements", denorm)},
            {"accumulate_hessian", where(policy_.hessianMinWork, "tokens*in*in", fp64)},
            {"matmul", where(policy_.matmulMinWork, "multiply-adds", "")},
            {"gptq_update", where(policy_.gptqUpdateMinWork, "multiply-adds", fp64)},
            {"pack", where(policy_.packMinElements, "elements", denorm)},
            {"unpack", where(policy_.packMinElements, "elements", denorm)}};
}

// ------------------------------------------------------------------ capability checks

namespace {
std::string tooLarge(std::initializer_list<uint64_t> bytes, cl_ulong maxAlloc) {
    for (uint64_t b : bytes)
        if (b > maxAlloc) return "an operand exceeds the device's largest allocation";
    return {};
}
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
}  // namespace

std::string OpenClBackend::fakeQuantizeUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const {
    if (f.kind == FormatKind::None) return "fp32: nothing to quantize";
    // The kernels know the integer and MX kinds (quantize.cl); any other kind
    // (e.g. GGUF block types, fp16) runs on the CPU path.
    if ((f.kind != FormatKind::Int && !f.isMx()) || f.fp16Scale) return "no OpenCL kernel for " + f.name();  // fp16-scale Int: CPU path
    if (rows == 0 || cols == 0) return "empty matrix";
    if (!dc_.info.fp32Denorms) return "device flushes float denormals";
    if (f.kind == FormatKind::Int && !intDivisionOk_) return "device float division is not correctly rounded";
    if (rows > kIntMax || cols > kIntMax) return "matrix too large";
    return tooLarge({uint64_t(rows) * uint64_t(cols) * sizeof(float)}, dc_.info.maxAllocBytes);
}

std::string OpenClBackend::packUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const {
    const std::string why = fakeQuantizeUnsupported(f, rows, cols);
    if (!why.empty()) return why;
    if (uint64_t(cols) * 8 > uint64_t(kIntMax)) return "row too long";  // bit positions are int
    return {};
}

std::string OpenClBackend::hessianUnsupported(int64_t tokens, int64_t in) const {
    if (!dc_.info.fp64) return "device has no double precision (cl_khr_fp64)";
    if (dc_.info.maxWorkGroupSize < size_t(kHessianWg * kHessianWg)) return "device cannot run 16x16 work-groups";
    if (tokens == 0) return "no rows";
    if (tokens > kIntMax || in > kIntMax) return "matrix too large";
    return tooLarge({uint64_t(tokens) * uint64_t(in) * sizeof(float), uint64_t(in) * uint64_t(in) * sizeof(double)},
                    dc_.info.maxAllocBytes);
}

std::string OpenClBackend::matmulUnsupported(int64_t M, int64_t N, int64_t K) const {
    if (M == 0 || N == 0 || K == 0) return "empty matrix";
    if (dc_.info.maxWorkGroupSize < 256) return "device cannot run 16x16 work-groups";
    if (M > kIntMax || N > kIntMax || K > kIntMax) return "matrix too large";
    return tooLarge({uint64_t(M) * uint64_t(K) * 4, uint64_t(N) * uint64_t(K) * 4, uint64_t(M) * uint64_t(N) * 4},
                    dc_.info.maxAllocBytes);
}

std::string OpenClBackend::gptqUpdateUnsupported(int64_t rows, int64_t k, int64_t n) const {
    if (!dc_.info.fp64) return "device has no double precision (cl_khr_fp64)";
    if (rows == 0 || k == 0 || n == 0) return "empty matrix";
    if (dc_.info.maxWorkGroupSize < 256) return "device cannot run 16x16 work-groups";
    if (rows > kIntMax || k > kIntMax || n > kIntMax) return "matrix too large";
    return tooLarge({uint64_t(rows) * uint64_t(n) * 8, uint64_t(rows) * uint64_t(k) * 8, uint64_t(k) * uint64_t(n) * 8},
                    dc_.info.maxAllocBytes);
}

// ------------------------------------------------------------------ fake quantization

namespace {
// Work-group size of the per-(row, group) reductions (fake_quantize, quant_params):
// a power of two, MX blocks of 32 at most 32, Int groups up to 256.
size_t reductionGroupSize(const QuantFormat& f, int64_t g, size_t maxWg) {
    return f.isMx() ? std::min<size_t>(32, maxWg) : std::min<size_t>({ceilPow2(size_t(g)), size_t(256), maxWg});
}
}  // namespace

MatrixRM OpenClBackend::fakeQuantizeOnDevice(const MatrixRM& W, const QuantFormat& fIn) {
    const QuantFormat f = Quantizer(fIn).format();  // MX: bits and block size set by the kind
    const int64_t rows = W.rows(), cols = W.cols();
    std::string why = fakeQuantizeUnsupported(f, rows, cols);
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) throw Error("OpenCL fake_quantize(" + f.name() + ") not available: " + why);

    const int64_t g = groupLength(f, cols);
    const int64_t groups = (cols + g - 1) / g;
    MatrixRM out(rows, cols);
    const size_t bytes = size_t(rows) * size_t(cols) * sizeof(float);

    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& k = quantize_.kernels[0];
    const size_t L = reductionGroupSize(f, g, floorPow2(maxGroupOf(k)));
    Buffer in = createBuffer(dc_, CL_MEM_READ_ONLY, bytes, W.data());
    Buffer res = createBuffer(dc_, CL_MEM_WRITE_ONLY, bytes);
    setArg(k, 0, in);
    setArg(k, 1, res);
    setArg(k, 2, cl_int(rows));
    setArg(k, 3, cl_int(cols));
    setArg(k, 4, cl_int(g));
    setArg(k, 5, cl_int(f.kind));
    setArg(k, 6, cl_int(f.bits));
    setArg(k, 7, cl_int(f.symmetric ? 1 : 0));
    setLocalArg(k, 9, L * sizeof(float));
    setLocalArg(k, 10, L * sizeof(float));
    setLocalArg(k, 11, L * sizeof(cl_int));
    for (int64_t r0 = 0; r0 < rows; r0 += kMaxRowsPerLaunch) {
        const int64_t nr = std::min(kMaxRowsPerLaunch, rows - r0);
        setArg(k, 8, cl_int(r0));
        const size_t global[2] = {size_t(groups) * L, size_t(nr)};
        const size_t local[2] = {L, 1};
        check(clEnqueueNDRangeKernel(dc_.queue.get(), k.get(), 2, nullptr, global, local, 0, nullptr, nullptr),
              "clEnqueueNDRangeKernel(fake_quantize)");
    }
    check(clEnqueueReadBuffer(dc_.queue.get(), res.get(), CL_TRUE, 0, bytes, out.data(), 0, nullptr, nullptr),
          "clEnqueueReadBuffer(fake_quantize)");
    return out;
}

MatrixRM OpenClBackend::fakeQuantize(const MatrixRM& W, const QuantFormat& f) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string why = fakeQuantizeUnsupported(Quantizer(f).format(), W.rows(), W.cols());
    if (why.empty() && W.size() < policy_.fakeQuantizeMinElements) why = belowThreshold(policy_.fakeQuantizeMinElements);
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) {
        MatrixRM out = cpu::fakeQuantize(W, f);
        record("fake_quantize", "cpu", W.size(), secondsSince(t0), why);
        return out;
    }
    try {
        MatrixRM out = fakeQuantizeOnDevice(W, f);
        record("fake_quantize", "opencl", W.size(), secondsSince(t0));
        return out;
    } catch (const Error& e) {
        warnDeviceFailure("fake_quantize", e.what());
        MatrixRM out = cpu::fakeQuantize(W, f);
        record("fake_quantize", "cpu", W.size(), secondsSince(t0), "device error");
        return out;
    }
}

// ------------------------------------------------------------------ pack / unpack

namespace {
int64_t packRowBytes(int64_t cols, int bits) {
    return (cols * bits + 7) / 8;
}
}  // namespace

PackedMatrix OpenClBackend::packOnDevice(const MatrixRM& W, const QuantFormat& fIn) {
    const QuantFormat f = Quantizer(fIn).format();
    const int64_t rows = W.rows(), cols = W.cols();
    std::string why = packUnsupported(f, rows, cols);
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) throw Error("OpenCL pack(" + f.name() + ") not available: " + why);

    const int64_t g = groupLength(f, cols);
    const int64_t groups = (cols + g - 1) / g;
    const int bits = f.bits;  // the code width (Quantizer sets it for MX)
    const int64_t rowBytes = packRowBytes(cols, bits);
    const size_t nParams = size_t(rows) * size_t(groups);
    PackedMatrix p;
    p.format = f;
    p.rows = rows;
    p.cols = cols;
    p.codes.assign(size_t(rows * rowBytes), 0);
    std::vector<float> scaleF, zeroF;
    const bool isInt = f.kind == FormatKind::Int;
    if (isInt) {
        scaleF.resize(nParams);
        zeroF.resize(nParams);
    } else {
        p.scaleE8M0.resize(nParams);
    }

    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& kp = quantize_.kernels[1];
    const Kernel& kc = quantize_.kernels[2];
    const size_t L = reductionGroupSize(f, g, floorPow2(maxGroupOf(kp)));
    Buffer in = createBuffer(dc_, CL_MEM_READ_ONLY, size_t(W.size()) * sizeof(float), W.data());
    // Int: scale + zero as floats; MX: the E8M0 bytes (the other buffers are unused 1-byte stand-ins).
    Buffer sb = createBuffer(dc_, CL_MEM_READ_WRITE, isInt ? nParams * sizeof(float) : 0);
    Buffer zb = createBuffer(dc_, CL_MEM_READ_WRITE, isInt ? nParams * sizeof(float) : 0);
    Buffer eb = createBuffer(dc_, CL_MEM_READ_WRITE, isInt ? 0 : nParams);
    Buffer cb = createBuffer(dc_, CL_MEM_WRITE_ONLY, p.codes.size());
    setArg(kp, 0, in);
    setArg(kp, 1, cl_int(rows));
    setArg(kp, 2, cl_int(cols));
    setArg(kp, 3, cl_int(g));
    setArg(kp, 4, cl_int(groups));
    setArg(kp, 5, cl_int(f.kind));
    setArg(kp, 6, cl_int(f.bits));
    setArg(kp, 7, cl_int(f.symmetric ? 1 : 0));
    setArg(kp, 9, sb);
    setArg(kp, 10, zb);
    setArg(kp, 11, eb);
    setLocalArg(kp, 12, L * sizeof(float));
    setLocalArg(kp, 13, L * sizeof(float));
    setLocalArg(kp, 14, L * sizeof(cl_int));
    setArg(kc, 0, in);
    setArg(kc, 1, cl_int(rows));
    setArg(kc, 2, cl_int(cols));
    setArg(kc, 3, cl_int(g));
    setArg(kc, 4, cl_int(groups));
    setArg(kc, 5, cl_int(f.kind));
    setArg(kc, 6, cl_int(bits));
    setArg(kc, 7, cl_int(rowBytes));
    setArg(kc, 9, sb);
    setArg(kc, 10, zb);
    setArg(kc, 11, eb);
    setArg(kc, 12, cb);
    for (int64_t r0 = 0; r0 < rows; r0 += kMaxRowsPerLaunch) {
        const int64_t nr = std::min(kMaxRowsPerLaunch, rows - r0);
        setArg(kp, 8, cl_int(r0));
        const size_t global[2] = {size_t(groups) * L, size_t(nr)};
        const size_t local[2] = {L, 1};
        check(clEnqueueNDRangeKernel(dc_.queue.get(), kp.get(), 2, nullptr, global, local, 0, nullptr, nullptr),
              "clEnqueueNDRangeKernel(quant_params)");
    }
    for (int64_t r0 = 0; r0 < rows; r0 += kMaxRowsPerLaunch) {
        const int64_t nr = std::min(kMaxRowsPerLaunch, rows - r0);
        setArg(kc, 8, cl_int(r0));
        const size_t global[2] = {size_t(rowBytes), size_t(nr)};
        check(clEnqueueNDRangeKernel(dc_.queue.get(), kc.get(), 2, nullptr, global, nullptr, 0, nullptr, nullptr),
              "clEnqueueNDRangeKernel(pack_codes)");
    }
    check(clEnqueueReadBuffer(dc_.queue.get(), cb.get(), CL_FALSE, 0, p.codes.size(), p.codes.data(), 0, nullptr,
                              nullptr),
          "clEnqueueReadBuffer(pack codes)");
    if (isInt) {
        check(clEnqueueReadBuffer(dc_.queue.get(), sb.get(), CL_FALSE, 0, nParams * sizeof(float), scaleF.data(), 0,
                                  nullptr, nullptr),
              "clEnqueueReadBuffer(pack scales)");
        check(clEnqueueReadBuffer(dc_.queue.get(), zb.get(), CL_FALSE, 0, nParams * sizeof(float), zeroF.data(), 0,
                                  nullptr, nullptr),
              "clEnqueueReadBuffer(pack zeros)");
    } else {
        check(clEnqueueReadBuffer(dc_.queue.get(), eb.get(), CL_FALSE, 0, nParams, p.scaleE8M0.data(), 0, nullptr,
                                  nullptr),
              "clEnqueueReadBuffer(pack E8M0 scales)");
    }
    check(clFinish(dc_.queue.get()), "clFinish(pack)");
    if (isInt) {
        // formats.cpp pack(): the scale as float, the zero as its byte (0 for a NaN
        // group, and for a NaN/Inf zero of a group whose scale underflowed to 0).
        p.scale = std::move(scaleF);
        p.zero.assign(nParams, 0);
        for (size_t i = 0; i < nParams; ++i) {
            const float z = zeroF[i];
            if (!std::isnan(p.scale[i])) p.zero[i] = (z >= 0.f && z <= 255.f) ? static_cast<uint8_t>(z) : uint8_t(0);
        }
    }
    return p;
}

MatrixRM OpenClBackend::unpackOnDevice(const PackedMatrix& p) {
    const QuantFormat& f = p.format;
    const int64_t rows = p.rows, cols = p.cols;
    std::string why = packUnsupported(f, rows, cols);
    if (f.kind == FormatKind::Int && (f.bits < 2 || f.bits > 8)) why = "integer bits outside 2..8";
    if (f.isMx() && Quantizer(f).format().bits != f.bits) why = "MX code width does not match the kind";
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) throw Error("OpenCL unpack(" + f.name() + ") not available: " + why);
    const int64_t g = groupLength(f, cols);
    const int64_t groups = (cols + g - 1) / g;
    const int64_t rowBytes = packRowBytes(cols, f.bits);
    const size_t nParams = size_t(rows) * size_t(groups);
    const bool isInt = f.kind == FormatKind::Int;
    if (p.codes.size() != size_t(rows * rowBytes) ||
        (isInt ? (p.scale.size() != nParams || p.zero.size() != nParams) : p.scaleE8M0.size() != nParams))
        throw Error("unpack: the packed matrix's codes/scales do not match its shape [" + std::to_string(rows) + " x " +
                    std::to_string(cols) + "] in " + f.name());
    MatrixRM out(rows, cols);

    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& k = quantize_.kernels[3];
    Buffer cb = createBuffer(dc_, CL_MEM_READ_ONLY, p.codes.size(), p.codes.data());
    Buffer sb = createBuffer(dc_, CL_MEM_READ_ONLY, isInt ? nParams * sizeof(float) : 0, isInt ? p.scale.data() : nullptr);
    Buffer zb = createBuffer(dc_, CL_MEM_READ_ONLY, isInt ? nParams : 0, isInt ? p.zero.data() : nullptr);
    Buffer eb = createBuffer(dc_, CL_MEM_READ_ONLY, isInt ? 0 : nParams, isInt ? nullptr : p.scaleE8M0.data());
    Buffer ob = createBuffer(dc_, CL_MEM_WRITE_ONLY, size_t(rows) * size_t(cols) * sizeof(float));
    setArg(k, 0, cb);
    setArg(k, 1, cl_int(rows));
    setArg(k, 2, cl_int(cols));
    setArg(k, 3, cl_int(g));
    setArg(k, 4, cl_int(groups));
    setArg(k, 5, cl_int(f.kind));
    setArg(k, 6, cl_int(f.bits));
    setArg(k, 7, cl_int(rowBytes));
    setArg(k, 9, sb);
    setArg(k, 10, zb);
    setArg(k, 11, eb);
    setArg(k, 12, ob);
    for (int64_t r0 = 0; r0 < rows; r0 += kMaxRowsPerLaunch) {
        const int64_t nr = std::min(kMaxRowsPerLaunch, rows - r0);
        setArg(k, 8, cl_int(r0));
        const size_t global[2] = {size_t(cols), size_t(nr)};
        check(clEnqueueNDRangeKernel(dc_.queue.get(), k.get(), 2, nullptr, global, nullptr, 0, nullptr, nullptr),
              "clEnqueueNDRangeKernel(unpack_codes)");
    }
    check(clEnqueueReadBuffer(dc_.queue.get(), ob.get(), CL_TRUE, 0, size_t(out.size()) * sizeof(float), out.data(), 0,
                              nullptr, nullptr),
          "clEnqueueReadBuffer(unpack)");
    return out;
}

PackedMatrix OpenClBackend::pack(const MatrixRM& W, const QuantFormat& f) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string why = packUnsupported(Quantizer(f).format(), W.rows(), W.cols());
    if (why.empty() && W.size() < policy_.packMinElements) why = belowThreshold(policy_.packMinElements);
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) {
        PackedMatrix p = qs::pack(W, f);
        record("pack", "cpu", W.size(), secondsSince(t0), why);
        return p;
    }
    try {
        PackedMatrix p = packOnDevice(W, f);
        record("pack", "opencl", W.size(), secondsSince(t0));
        return p;
    } catch (const Error& e) {
        warnDeviceFailure("pack", e.what());
        PackedMatrix p = qs::pack(W, f);
        record("pack", "cpu", W.size(), secondsSince(t0), "device error");
        return p;
    }
}

MatrixRM OpenClBackend::unpack(const PackedMatrix& p) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string why = packUnsupported(p.format, p.rows, p.cols);
    if (why.empty() && p.rows * p.cols < policy_.packMinElements) why = belowThreshold(policy_.packMinElements);
    if (why.empty()) why = programProblem(quantize_);
    if (!why.empty()) {
        MatrixRM out = qs::unpack(p);
        record("unpack", "cpu", p.rows * p.cols, secondsSince(t0), why);
        return out;
    }
    try {
        MatrixRM out = unpackOnDevice(p);
        record("unpack", "opencl", p.rows * p.cols, secondsSince(t0));
        return out;
    } catch (const Error& e) {
        warnDeviceFailure("unpack", e.what());
        MatrixRM out = qs::unpack(p);
        record("unpack", "cpu", p.rows * p.cols, secondsSince(t0), "device error");
        return out;
    }
}

// ------------------------------------------------------------------ Hessian

Eigen::MatrixXd OpenClBackend::xtxOnDevice(const Eigen::Ref<const MatrixRM>& X, double f) {
    const int64_t tokens = X.rows(), in = X.cols();
    std::string why = hessianUnsupported(tokens, in);
    if (why.empty()) why = programProblem(hessian_);
    if (!why.empty()) throw Error("OpenCL accumulate_hessian not available: " + why);
    // The kernel reads a dense row-major [tokens, in] array.
    MatrixRM copy;
    const float* data = X.data();
    if (X.outerStride() != in) {
        copy = X;
        data = copy.data();
    }
    const size_t xBytes = size_t(tokens) * size_t(in) * sizeof(float);
    const size_t gBytes = size_t(in) * size_t(in) * sizeof(double);
    Eigen::MatrixXd G(in, in);

    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& k = hessian_.kernels[0];
    if (maxGroupOf(k) < size_t(kHessianWg * kHessianWg))
        throw Error(std::string("OpenCL accumulate_hessian not available: the kernel cannot run 16x16 work-groups"));
    Buffer xb = createBuffer(dc_, CL_MEM_READ_ONLY, xBytes, data);
    Buffer gb = createBuffer(dc_, CL_MEM_WRITE_ONLY, gBytes);
    setArg(k, 0, xb);
    setArg(k, 1, cl_int(tokens));
    setArg(k, 2, cl_int(in));
    setArg(k, 3, cl_double(f));
    setArg(k, 4, gb);
    const size_t tiles = size_t((in + kHessianTile - 1) / kHessianTile);
    const size_t global[2] = {tiles * kHessianWg, tiles * kHessianWg};
    const size_t local[2] = {size_t(kHessianWg), size_t(kHessianWg)};
    check(clEnqueueNDRangeKernel(dc_.queue.get(), k.get(), 2, nullptr, global, local, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel(xtx_lower)");
    check(clEnqueueReadBuffer(dc_.queue.get(), gb.get(), CL_TRUE, 0, gBytes, G.data(), 0, nullptr, nullptr),
          "clEnqueueReadBuffer(xtx_lower)");
    G.triangularView<Eigen::StrictlyUpper>() = G.transpose();  // the upper part was never written
    return G;
}

void OpenClBackend::accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X,
                                      int64_t samples) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::checkHessianArgs(H, X, samples);
    const int64_t tokens = X.rows(), in = X.cols();
    std::string why = hessianUnsupported(tokens, in);
    if (why.empty() && double(tokens) * double(in) * double(in) < double(policy_.hessianMinWork))
        why = belowThreshold(policy_.hessianMinWork);
    if (why.empty()) why = programProblem(hessian_);
    if (!why.empty()) {
        cpu::accumulateHessian(H, n, X, samples);
        record("accumulate_hessian", "cpu", X.size(), secondsSince(t0), why);
        return;
    }
    // As cpu::accumulateHessian: H *= n / (n + s); n += s; X' = sqrt(2/n) X; H += X'ᵀX'
    // (lower triangle), mirror.
    const double ratio = double(n) / double(n + samples);
    const double f = std::sqrt(2.0 / double(n + samples));
    Eigen::MatrixXd G;
    try {
        G = xtxOnDevice(X, f);
    } catch (const Error& e) {
        warnDeviceFailure("accumulate_hessian", e.what());
        cpu::accumulateHessian(H, n, X, samples);
        record("accumulate_hessian", "cpu", X.size(), secondsSince(t0), "device error");
        return;
    }
    H *= ratio;
    n += samples;
    H.triangularView<Eigen::Lower>() += G;
    H.triangularView<Eigen::StrictlyUpper>() = H.transpose();
    record("accumulate_hessian", "opencl", X.size(), secondsSince(t0));
}

// ------------------------------------------------------------------ matmul

constexpr int kGemmTile = 64, kGemmWg = 16;

MatrixRM OpenClBackend::matmulOnDevice(const MatrixRM& x, const MatrixRM& W) {
    const int64_t M = x.rows(), K = x.cols(), N = W.rows();
    if (W.cols() != K) throw Error("OpenCL matmul: x has " + std::to_string(K) + " columns, W " + std::to_string(W.cols()));
    std::string why = matmulUnsupported(M, N, K);
    if (why.empty()) why = programProblem(matmul_);
    if (!why.empty()) throw Error("OpenCL matmul not available: " + why);
    MatrixRM y(M, N);
    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& k = matmul_.kernels[0];
    if (maxGroupOf(k) < size_t(kGemmWg * kGemmWg))
        throw Error(std::string("OpenCL matmul not available: the kernel cannot run 16x16 work-groups"));
    Buffer xb = createBuffer(dc_, CL_MEM_READ_ONLY, size_t(x.size()) * sizeof(float), x.data());
    Buffer wb = createBuffer(dc_, CL_MEM_READ_ONLY, size_t(W.size()) * sizeof(float), W.data());
    Buffer yb = createBuffer(dc_, CL_MEM_WRITE_ONLY, size_t(y.size()) * sizeof(float));
    setArg(k, 0, xb);
    setArg(k, 1, wb);
    setArg(k, 2, yb);
    setArg(k, 3, cl_int(M));
    setArg(k, 4, cl_int(N));
    setArg(k, 5, cl_int(K));
    const size_t global[2] = {size_t((N + kGemmTile - 1) / kGemmTile) * kGemmWg,
                              size_t((M + kGemmTile - 1) / kGemmTile) * kGemmWg};
    const size_t local[2] = {size_t(kGemmWg), size_t(kGemmWg)};
    check(clEnqueueNDRangeKernel(dc_.queue.get(), k.get(), 2, nullptr, global, local, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel(matmul_nt)");
    check(clEnqueueReadBuffer(dc_.queue.get(), yb.get(), CL_TRUE, 0, size_t(y.size()) * sizeof(float), y.data(), 0,
                              nullptr, nullptr),
          "clEnqueueReadBuffer(matmul_nt)");
    return y;
}

void OpenClBackend::matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t M = x.rows(), K = x.cols(), N = W.rows();
    const int64_t work = M * K * N;
    std::string why = K == W.cols() ? matmulUnsupported(M, N, K) : "shapes disagree";
    if (why.empty() && work < policy_.matmulMinWork) why = belowThreshold(policy_.matmulMinWork);
    if (why.empty()) why = programProblem(matmul_);
    if (!why.empty()) {
        cpu::matmulTransposed(x, W, y);  // throws on a shape mismatch
        record("matmul", "cpu", work, secondsSince(t0), why);
        return;
    }
    try {
        y = matmulOnDevice(x, W);
        record("matmul", "opencl", work, secondsSince(t0));
    } catch (const Error& e) {
        warnDeviceFailure("matmul", e.what());
        cpu::matmulTransposed(x, W, y);
        record("matmul", "cpu", work, secondsSince(t0), "device error");
    }
}

// ------------------------------------------------------------------ GPTQ update

void OpenClBackend::gptqUpdateOnDevice(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                                       const Eigen::Ref<const Eigen::MatrixXd>& U) {
    cpu::checkGptqUpdateArgs(W, E, U);
    const int64_t R = W.rows(), C = W.cols(), Kd = E.cols();
    std::string why = gptqUpdateUnsupported(R, Kd, C);
    if (why.empty()) why = programProblem(gptq_);
    if (!why.empty()) throw Error("OpenCL gptq_update not available: " + why);
    // The kernel reads dense column-major operands (leading dimension = rows).
    Eigen::MatrixXd Wc = W;
    Eigen::MatrixXd Ec, Uc;
    const double* e = E.data();
    const double* u = U.data();
    if (E.outerStride() != R) {
        Ec = E;
        e = Ec.data();
    }
    if (U.outerStride() != Kd) {
        Uc = U;
        u = Uc.data();
    }
    const size_t wBytes = size_t(Wc.size()) * sizeof(double);
    std::lock_guard<std::mutex> lock(mutex_);
    const Kernel& k = gptq_.kernels[0];
    if (maxGroupOf(k) < size_t(kGemmWg * kGemmWg))
        throw Error(std::string("OpenCL gptq_update not available: the kernel cannot run 16x16 work-groups"));
    Buffer wb = createBuffer(dc_, CL_MEM_READ_WRITE, wBytes, Wc.data());
    Buffer eb = createBuffer(dc_, CL_MEM_READ_ONLY, size_t(R * Kd) * sizeof(double), e);
    Buffer ub = createBuffer(dc_, CL_MEM_READ_ONLY, size_t(Kd * C) * sizeof(double), u);
    setArg(k, 0, wb);
    setArg(k, 1, eb);
    setArg(k, 2, ub);
    setArg(k, 3, cl_int(R));
    setArg(k, 4, cl_int(C));
    setArg(k, 5, cl_int(Kd));
    const size_t global[2] = {size_t((R + kGemmTile - 1) / kGemmTile) * kGemmWg,
                              size_t((C + kGemmTile - 1) / kGemmTile) * kGemmWg};
    const size_t local[2] = {size_t(kGemmWg), size_t(kGemmWg)};
    check(clEnqueueNDRangeKernel(dc_.queue.get(), k.get(), 2, nullptr, global, local, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel(gptq_update)");
    check(clEnqueueReadBuffer(dc_.queue.get(), wb.get(), CL_TRUE, 0, wBytes, Wc.data(), 0, nullptr, nullptr),
          "clEnqueueReadBuffer(gptq_update)");
    W = Wc;
}

void OpenClBackend::gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                                    const Eigen::Ref<const Eigen::MatrixXd>& U) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::checkGptqUpdateArgs(W, E, U);
    const int64_t work = W.rows() * E.cols() * W.cols();
    std::string why = gptqUpdateUnsupported(W.rows(), E.cols(), W.cols());
    if (why.empty() && work < policy_.gptqUpdateMinWork) why = belowThreshold(policy_.gptqUpdateMinWork);
    if (why.empty()) why = programProblem(gptq_);
    if (!why.empty()) {
        cpu::gptqBlockUpdate(W, E, U);
        record("gptq_update", "cpu", work, secondsSince(t0), why);
        return;
    }
    try {
        gptqUpdateOnDevice(W, E, U);
        record("gptq_update", "opencl", work, secondsSince(t0));
    } catch (const Error& e) {
        warnDeviceFailure("gptq_update", e.what());
        cpu::gptqBlockUpdate(W, E, U);
        record("gptq_update", "cpu", work, secondsSince(t0), "device error");
    }
}

// ------------------------------------------------------------------ selection

namespace {

std::string deviceList(const std::vector<DeviceInfo>& ds) {
    std::string s;
    for (const DeviceInfo& d : ds) s += (s.empty() ? "" : "; ") + d.label();
    return s.empty() ? "(none)" : s;
}

bool parseIndex(const std::string& s, int& out) {
    if (s.empty() || s.size() > 6) return false;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

std::string trimLower(const std::string& in) {
    size_t b = 0, e = in.size();
    while (b < e && std::isspace(static_cast<unsigned char>(in[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(in[e - 1]))) --e;
    std::string s = in.substr(b, e - b);
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

DeviceSelection selectDevice(const std::string& specIn) {
    DeviceSelection sel;
    const std::string spec = trimLower(specIn);
    const std::string quoted = "QUANTSCOPE_OPENCL_DEVICE=\"" + specIn + "\"";
    if (spec == "off") {
        sel.status = DeviceSelection::Status::Off;
        sel.message = "OpenCL: disabled by " + quoted + "; using the CPU path";
        return sel;
    }
    std::vector<DeviceInfo> ds;
    try {
        ds = listDevices();
    } catch (const Error& e) {
        sel.status = DeviceSelection::Status::NoPlatform;
        sel.message = std::string("OpenCL: cannot list the OpenCL platforms (") + e.what() + "); using the CPU path";
        return sel;
    }
    if (ds.empty()) {
        sel.status = DeviceSelection::Status::NoPlatform;
        sel.message =
            "OpenCL: no OpenCL platform or device found (no ICD installed, e.g. pocl-opencl-icd or a GPU driver's); "
            "using the CPU path";
        return sel;
    }
    if (spec.empty()) {
        auto pick = [&](cl_device_type t) -> const DeviceInfo* {
            for (const DeviceInfo& d : ds)
                if (d.type & t) return &d;
            return nullptr;
        };
        const DeviceInfo* d = pick(CL_DEVICE_TYPE_GPU);
        if (!d) d = pick(CL_DEVICE_TYPE_ACCELERATOR);
        if (!d) d = &ds.front();
        sel.status = DeviceSelection::Status::Selected;
        sel.device = *d;
        sel.message = "OpenCL: using device " + d->label() +
                      " (QUANTSCOPE_OPENCL_DEVICE=platform:device chooses another, =off the CPU path; devices: " +
                      deviceList(ds) + ")";
        return sel;
    }
    const size_t colon = spec.find(':');
    int p = -1, dIdx = -1;
    if (colon == std::string::npos || !parseIndex(spec.substr(0, colon), p) ||
        !parseIndex(spec.substr(colon + 1), dIdx)) {
        sel.status = DeviceSelection::Status::Invalid;
        sel.message = "OpenCL: " + quoted +
                      " is not \"platform:device\" (two indices, e.g. 0:0) or \"off\"; devices: " + deviceList(ds) +
                      "; using the CPU path";
        return sel;
    }
    for (const DeviceInfo& d : ds) {
        if (d.platformIndex == p && d.deviceIndex == dIdx) {
            sel.status = DeviceSelection::Status::Selected;
            sel.device = d;
            sel.message = "OpenCL: using device " + d.label() + " (" + quoted + ")";
            return sel;
        }
    }
    sel.status = DeviceSelection::Status::Invalid;
    sel.message = "OpenCL: " + quoted + " names no device (there is no device " + std::to_string(dIdx) +
                  " on platform " + std::to_string(p) + "); devices: " + deviceList(ds) + "; using the CPU path";
    return sel;
}

BackendChoice backendFromSpec(const std::string& spec, const OpenClBackend::Options& opt) {
    BackendChoice c;
    DeviceSelection sel = selectDevice(spec);
    c.message = sel.message;
    if (sel.status == DeviceSelection::Status::Selected) {
        try {
            c.backend = std::make_shared<OpenClBackend>(*sel.device, opt);
            c.opencl = true;
            return c;
        } catch (const Error& e) {
            c.message = "OpenCL: device " + sel.device->label() + " cannot be used (" + e.what() +
                        "); using the CPU path";
        }
    }
    c.backend = std::make_shared<CpuBackend>();
    return c;
}

BackendChoice backendFromEnvironment() {
    const char* env = std::getenv("QUANTSCOPE_OPENCL_DEVICE");
    BackendChoice c = backendFromSpec(env ? env : "");
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) qWarning("%s", c.message.c_str());
    return c;
}

BackendChoice backendForDevice(const std::string& deviceIn, const std::string& envSpec) {
    const std::string device = trimLower(deviceIn);
    BackendChoice c;
    if (device == "cpu") {
        c.backend = std::make_shared<CpuBackend>();
        c.message = "compute: the CPU path (--device cpu)";
        return c;
    }
    if (device != "opencl" && device != "auto")
        throw Error("--device: expected cpu, opencl or auto, found '" + deviceIn + "'");
    const bool forced = device == "opencl";
    DeviceSelection sel = selectDevice(envSpec);
    if (sel.status != DeviceSelection::Status::Selected) {
        c.backend = std::make_shared<CpuBackend>();
        c.message = sel.message + " (--device " + device + ")";
        return c;
    }
    OpenClBackend::Options opt;
    opt.policy = forced ? OpenClBackend::Policy::always() : OpenClBackend::Policy::defaults(*sel.device);
    // QUANTSCOPE_OPENCL_OPS=op,op,...: with --device opencl only these operations go
    // to the device (the others run on the CPU path), e.g. to tell which one moves a result.
    const char* only = std::getenv("QUANTSCOPE_OPENCL_OPS");
    if (forced && only && *only) {
        OpenClBackend::Policy& p = *opt.policy;
        p = OpenClBackend::Policy{OpenClBackend::kNever, OpenClBackend::kNever, OpenClBackend::kNever,
                                  OpenClBackend::kNever, OpenClBackend::kNever};
        std::string list = only;
        for (char& ch : list)
            if (ch == ',') ch = ' ';
        std::istringstream in(list);
        for (std::string op; in >> op;) {
            if (op == "fake_quantize") p.fakeQuantizeMinElements = 0;
            else if (op == "accumulate_hessian") p.hessianMinWork = 0;
            else if (op == "matmul") p.matmulMinWork = 0;
            else if (op == "gptq_update") p.gptqUpdateMinWork = 0;
            else if (op == "pack" || op == "unpack") p.packMinElements = 0;
            else
                throw Error("QUANTSCOPE_OPENCL_OPS: unknown operation '" + op +
                            "' (expected fake_quantize, accumulate_hessian, matmul, gptq_update, pack, unpack)");
        }
    }
    // auto builds a program only when an operation first goes to the device (on
    // PoCL, where every measured default is the CPU path, nothing is built).
    opt.buildAll = forced;
    try {
        auto b = std::make_shared<OpenClBackend>(*sel.device, opt);
        c.opencl = true;
        std::string routes;
        for (const auto& [op, where] : b->routing()) routes += (routes.empty() ? "" : ", ") + op + " " + where;
        c.message = sel.message + "; --device " + device + ": " + routes;
        c.backend = std::move(b);
    } catch (const Error& e) {
        c.backend = std::make_shared<CpuBackend>();
        c.message = "OpenCL: device " + sel.device->label() + " cannot be used (" + e.what() + "); using the CPU path";
    }
    return c;
}

BackendChoice backendForDevice(const std::string& device) {
    const char* env = std::getenv("QUANTSCOPE_OPENCL_DEVICE");
    return backendForDevice(device, env ? env : "");
}

}  // namespace qs::ocl
