#pragma once
// The OpenCL compute backend (library quantscope_opencl): implements
// qs::ComputeBackend (core/compute/backend.h) on one OpenCL device.
//
// Operations on the device:
//  * fakeQuantize — every format (Int asym/sym, per channel / per group with a
//    trailing partial group; MXINT8/4, MXFP8 E4M3/E5M2, MXFP6 E3M2/E2M3, MXFP4),
//    kernel resources/opencl/quantize.cl, BIT-EXACT with the CPU path including
//    its NaN/Inf policy (tests/test_opencl.cpp). Needs float denormals on the
//    device; the integer formats also need a correctly rounded float division
//    (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT, else cl_khr_fp64 to divide in double).
//  * pack / unpack — the same formats and requirements, kernels quant_params +
//    pack_codes / unpack_codes in quantize.cl, BIT-EXACT with qs::pack / qs::unpack
//    (codes, scales, zeros).
//  * accumulateHessian — X'ᵀX' in double (cl_khr_fp64), tiled with local memory,
//    kernel resources/opencl/hessian.cl; within 1e-12 of f²·Σ|x_i x_j| per element
//    of the CPU result (summation order differs). The H *= n/(n+s) rescale, the
//    add and the mirror to the upper triangle run on the host, as on the CPU.
//  * matmulTransposed — y = x·Wᵀ in float, 64x64 tiles, float4 loads and
//    arithmetic, kernel resources/opencl/matmul.cl; within the dot-product bound
//    2·γ_K·Σ_k|x_mk w_nk| of the CPU result.
//  * gptqBlockUpdate — W -= E·U in double (cl_khr_fp64), kernel
//    resources/opencl/gptq.cl; within 2·γ_k·(|W_ij| + Σ|E_ik U_kj|).
// Every call whose device path is unavailable (capability missing, too large for
// one device allocation, its program failed to build) or not worth it (below the
// Policy's size thresholds) runs on the CPU path; stats()/describe()/statsJson()
// record per operation which device ran it and why, routing() says where each
// operation goes by default.
//
// Device selection (backendFromEnvironment): QUANTSCOPE_OPENCL_DEVICE =
//   unset/""       the first GPU, else the first accelerator, else the first device
//   "P:D"          device D of platform P (indices as `clinfo -l` lists them)
//   "off"          the CPU path
// No platform, an invalid selection or a failed program build: one clear message
// (qWarning, once per process) and the CPU path.
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compute/backend.h"
#include "opencl/clwrap.h"
#include "opencl/program_cache.h"

namespace qs::ocl {

class OpenClBackend final : public ComputeBackend {
public:
    /// Work below these sizes runs on the CPU path (0 = always the device;
    /// kNever = never the device).
    static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
    struct Policy {
        int64_t fakeQuantizeMinElements = 0;  // rows * cols
        int64_t hessianMinWork = 0;           // tokens * in * in
        int64_t matmulMinWork = 0;            // N * in * out multiply-adds
        int64_t gptqUpdateMinWork = 0;        // rows * k * n multiply-adds
        int64_t packMinElements = 0;          // rows * cols (pack and unpack)
        /// Every operation on the device whenever it can (--device opencl, tests).
        static Policy always() { return Policy{}; }
        /// The per-operation defaults for a device (--device auto): on an OpenCL
        /// CPU device (PoCL) each operation where bench/bench_opencl measured the
        /// CPU path faster stays there; on GPUs and accelerators thresholds that
        /// are a guess, not measured yet. See opencl_backend.cpp.
        static Policy defaults(const DeviceInfo& d);
    };
    enum class Division {
        Auto,              // correctly rounded build option when supported, else via double, else CPU for Int
        CorrectlyRounded,  // -cl-fp32-correctly-rounded-divide-sqrt (throws if unsupported)
        ViaDouble,         // -DQS_DIV_VIA_DOUBLE (throws without cl_khr_fp64)
    };
    struct Options {
        std::optional<Policy> policy;  // unset: Policy::defaults(device)
        Division division = Division::Auto;
        /// Build every program now (a failed build throws qs::Error with its log);
        /// false: each program is built on the first call that needs it, and a
        /// failed build is said once (qWarning) and its operation runs on the CPU.
        bool buildAll = true;
    };

    /// Creates a context and queue on `device` and builds the programs (through
    /// the ProgramCache). Throws qs::Error (with the build log on a failed build).
    OpenClBackend(const DeviceInfo& device, const Options& opt);
    explicit OpenClBackend(const DeviceInfo& device) : OpenClBackend(device, Options()) {}
    ~OpenClBackend() override;

    std::string name() const override { return "opencl"; }
    std::string deviceDescription() const override;
    const DeviceInfo& device() const { return dc_.info; }
    const Policy& policy() const { return policy_; }
    void setPolicy(const Policy& p) { policy_ = p; }
    /// The build options of the quantize program.
    const std::string& quantizeBuildOptions() const { return quantizeOptions_; }

    MatrixRM fakeQuantize(const MatrixRM& W, const QuantFormat& f) override;
    void accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X,
                           int64_t samples) override;
    void matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) override;
    void gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                         const Eigen::Ref<const Eigen::MatrixXd>& U) override;
    PackedMatrix pack(const MatrixRM& W, const QuantFormat& f) override;
    MatrixRM unpack(const PackedMatrix& p) override;
    std::vector<std::pair<std::string, std::string>> routing() const override;

    /// Whether the device can run the operation at all ("" when yes, else why not).
    std::string fakeQuantizeUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const;
    std::string hessianUnsupported(int64_t tokens, int64_t in) const;
    std::string matmulUnsupported(int64_t M, int64_t N, int64_t K) const;
    std::string gptqUpdateUnsupported(int64_t rows, int64_t k, int64_t n) const;
    std::string packUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const;

    /// The device paths without policy or fallback (throw qs::Error when
    /// unsupported); what the tests compare with the CPU path.
    MatrixRM fakeQuantizeOnDevice(const MatrixRM& W, const QuantFormat& f);
    /// G = (f·X)ᵀ(f·X), [in, in], full symmetric (lower computed, mirrored).
    Eigen::MatrixXd xtxOnDevice(const Eigen::Ref<const MatrixRM>& X, double f);
    /// x · Wᵀ, [x.rows(), W.rows()].
    MatrixRM matmulOnDevice(const MatrixRM& x, const MatrixRM& W);
    /// W -= E · U in place.
    void gptqUpdateOnDevice(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                            const Eigen::Ref<const Eigen::MatrixXd>& U);
    PackedMatrix packOnDevice(const MatrixRM& W, const QuantFormat& f);
    MatrixRM unpackOnDevice(const PackedMatrix& p);

private:
    /// One program (built lazily unless Options::buildAll) and its kernels.
    struct Prog {
        std::string file, options;
        std::vector<const char*> kernelNames;
        bool tried = false;
        std::string error;  // the build failed: why
        Program program;
        std::vector<Kernel> kernels;
    };
    /// Builds `p` once; false when its build failed (with `warn`: said once by
    /// qWarning). Callers hold mutex_.
    bool ensure(Prog& p, bool warn);
    /// ensure() under the mutex; "" or why the program is unusable.
    std::string programProblem(Prog& p);
    size_t maxGroupOf(const Kernel& k) const;

    DeviceContext dc_;
    Policy policy_;
    std::string quantizeOptions_;
    bool intDivisionOk_ = false;
    Prog quantize_, hessian_, matmul_, gptq_;
    std::mutex mutex_;  // one operation at a time on the queue / kernel arguments
};

/// The outcome of choosing a device from a QUANTSCOPE_OPENCL_DEVICE value.
struct DeviceSelection {
    enum class Status { Selected, Off, NoPlatform, Invalid };
    Status status = Status::NoPlatform;
    std::optional<DeviceInfo> device;  // Selected only
    std::string message;               // what to tell the user (also for Selected)
};
DeviceSelection selectDevice(const std::string& spec);

/// The backend for a QUANTSCOPE_OPENCL_DEVICE value: an OpenClBackend, or the
/// CpuBackend when the value is "off", there is no platform, the value is
/// invalid or the device's programs fail to build. `message` says which and why.
struct BackendChoice {
    std::shared_ptr<ComputeBackend> backend;
    bool opencl = false;
    std::string message;
};
BackendChoice backendFromSpec(const std::string& spec, const OpenClBackend::Options& opt = {});
/// backendFromSpec(getenv("QUANTSCOPE_OPENCL_DEVICE")); the message goes to
/// qWarning once per process (later calls stay quiet). Does not install it:
/// callers pass .backend to qs::setComputeBackend().
BackendChoice backendFromEnvironment();

/// The backend for `quantscope-cli --device D` (and the app's setting):
///   "cpu"     the CPU path;
///   "opencl"  every operation on the OpenCL device wherever it can run
///             (Policy::always(), every program built now);
///   "auto"    the per-operation defaults (Policy::defaults: on PoCL the CPU path
///             for each operation where bench_opencl measured it faster);
///             programs are built when an operation first goes to the device.
/// The device is QUANTSCOPE_OPENCL_DEVICE's choice (`envSpec`; "off" = CPU path).
/// No platform, an invalid selection or a failed build: the CPU path, and
/// `message` says why. Throws qs::Error for an unknown `device`.
BackendChoice backendForDevice(const std::string& device, const std::string& envSpec);
/// backendForDevice(device, getenv("QUANTSCOPE_OPENCL_DEVICE")).
BackendChoice backendForDevice(const std::string& device);

}  // namespace qs::ocl
