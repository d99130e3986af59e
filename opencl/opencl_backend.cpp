#include "opencl/opencl_backend.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

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

}  // namespace

// ------------------------------------------------------------------ policy

OpenClBackend::Policy OpenClBackend::Policy::defaults(const DeviceInfo& d) {
    Policy p;
    if (d.type & CL_DEVICE_TYPE_CPU) {
        // An OpenCL CPU device (PoCL) shares the cores with the CPU path, and the
        // CPU path was faster for both operations at every size measured
        // (bench/bench_opencl on PoCL 3.1, 2 cores: fake_quantize 0.03-0.54x,
        // Hessian 0.12-0.13x; bench/results/opencl_ops.json), so by default every
        // call runs on the CPU path. Tests and benchmarks set Policy{0, 0}.
        p.fakeQuantizeMinElements = std::numeric_limits<int64_t>::max();
        p.hessianMinWork = std::numeric_limits<int64_t>::max();
    } else {
        // GPUs / accelerators: NOT measured yet (no GPU where this was written);
        // a guess at where launch and transfer overhead stops dominating. To be
        // replaced by bench/bench_opencl figures on real GPUs.
        p.fakeQuantizeMinElements = int64_t(1) << 16;
        p.hessianMinWork = int64_t(1) << 26;
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
    ProgramCache& cache = ProgramCache::instance();
    quantizeProgram_ = cache.get(dc_, "quantize.cl", kernelSource("quantize.cl"), quantizeOptions_);
    quantizeKernel_ = createKernel(quantizeProgram_, "fake_quantize");
    size_t wg = 1;
    check(clGetKernelWorkGroupInfo(quantizeKernel_.get(), dc_.info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg,
                                   nullptr),
          "clGetKernelWorkGroupInfo(fake_quantize)");
    quantizeMaxWg_ = floorPow2(std::min(wg, dc_.info.maxWorkGroupSize));

    if (device.fp64) {
        hessianProgram_ = cache.get(dc_, "hessian.cl", kernelSource("hessian.cl"), std12);
        hessianKernel_ = createKernel(hessianProgram_, "xtx_lower");
        check(clGetKernelWorkGroupInfo(hessianKernel_.get(), dc_.info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg,
                                       &wg, nullptr),
              "clGetKernelWorkGroupInfo(xtx_lower)");
        if (wg < size_t(kHessianWg * kHessianWg)) hessianKernel_ = Kernel();  // cannot run 16x16 work-groups
    }
}

OpenClBackend::~OpenClBackend() = default;

std::string OpenClBackend::deviceDescription() const {
    return "OpenCL " + dc_.info.label();
}

// ------------------------------------------------------------------ capability checks

std::string OpenClBackend::fakeQuantizeUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const {
    if (f.kind == FormatKind::None) return "fp32: nothing to quantize";
    if (rows == 0 || cols == 0) return "empty matrix";
    if (!dc_.info.fp32Denorms) return "device flushes float denormals";
    if (f.kind == FormatKind::Int && !intDivisionOk_) return "device float division is not correctly rounded";
    if (rows > std::numeric_limits<int>::max() || cols > std::numeric_limits<int>::max()) return "matrix too large";
    const uint64_t bytes = uint64_t(rows) * uint64_t(cols) * sizeof(float);
    if (bytes > dc_.info.maxAllocBytes) return "matrix exceeds the device's largest allocation";
    return {};
}

std::string OpenClBackend::hessianUnsupported(int64_t tokens, int64_t in) const {
    if (!dc_.info.fp64) return "device has no double precision (cl_khr_fp64)";
    if (!hessianKernel_) return "device cannot run 16x16 work-groups";
    if (tokens == 0) return "no rows";
    if (tokens > std::numeric_limits<int>::max() || in > std::numeric_limits<int>::max()) return "matrix too large";
    const uint64_t xBytes = uint64_t(tokens) * uint64_t(in) * sizeof(float);
    const uint64_t gBytes = uint64_t(in) * uint64_t(in) * sizeof(double);
    if (xBytes > dc_.info.maxAllocBytes || gBytes > dc_.info.maxAllocBytes)
        return "X or H exceeds the device's largest allocation";
    return {};
}

// ------------------------------------------------------------------ fake quantization

MatrixRM OpenClBackend::fakeQuantizeOnDevice(const MatrixRM& W, const QuantFormat& fIn) {
    const QuantFormat f = Quantizer(fIn).format();  // MX: bits and block size set by the kind
    const int64_t rows = W.rows(), cols = W.cols();
    const std::string why = fakeQuantizeUnsupported(f, rows, cols);
    if (!why.empty()) throw Error("OpenCL fake_quantize(" + f.name() + ") not available: " + why);

    const int64_t g = groupLength(f, cols);
    const int64_t groups = (cols + g - 1) / g;
    const size_t L = f.isMx() ? std::min<size_t>(32, quantizeMaxWg_)
                              : std::min<size_t>({ceilPow2(size_t(g)), size_t(256), quantizeMaxWg_});
    MatrixRM out(rows, cols);
    const size_t bytes = size_t(rows) * size_t(cols) * sizeof(float);

    std::lock_guard<std::mutex> lock(mutex_);
    Buffer in = createBuffer(dc_, CL_MEM_READ_ONLY, bytes, W.data());
    Buffer res = createBuffer(dc_, CL_MEM_WRITE_ONLY, bytes);
    const Kernel& k = quantizeKernel_;
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
    if (why.empty() && W.size() < policy_.fakeQuantizeMinElements) why = "below the size threshold";
    if (!why.empty()) {
        MatrixRM out = cpu::fakeQuantize(W, f);
        record("fake_quantize", "cpu", W.size(), secondsSince(t0), why);
        return out;
    }
    MatrixRM out = fakeQuantizeOnDevice(W, f);
    record("fake_quantize", "opencl", W.size(), secondsSince(t0));
    return out;
}

// ------------------------------------------------------------------ Hessian

Eigen::MatrixXd OpenClBackend::xtxOnDevice(const Eigen::Ref<const MatrixRM>& X, double f) {
    const int64_t tokens = X.rows(), in = X.cols();
    const std::string why = hessianUnsupported(tokens, in);
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
    Buffer xb = createBuffer(dc_, CL_MEM_READ_ONLY, xBytes, data);
    Buffer gb = createBuffer(dc_, CL_MEM_WRITE_ONLY, gBytes);
    const Kernel& k = hessianKernel_;
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
        why = "below the size threshold";
    if (!why.empty()) {
        cpu::accumulateHessian(H, n, X, samples);
        record("accumulate_hessian", "cpu", X.size(), secondsSince(t0), why);
        return;
    }
    // As cpu::accumulateHessian: H *= n / (n + s); n += s; X' = sqrt(2/n) X; H += X'ᵀX'
    // (lower triangle), mirror.
    const double ratio = double(n) / double(n + samples);
    const double f = std::sqrt(2.0 / double(n + samples));
    const Eigen::MatrixXd G = xtxOnDevice(X, f);
    H *= ratio;
    n += samples;
    H.triangularView<Eigen::Lower>() += G;
    H.triangularView<Eigen::StrictlyUpper>() = H.transpose();
    record("accumulate_hessian", "opencl", X.size(), secondsSince(t0));
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

}  // namespace qs::ocl
