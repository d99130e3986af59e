#pragma once
// The OpenCL compute backend (library quantscope_opencl): implements
// qs::ComputeBackend (core/compute/backend.h) on one OpenCL device.
//
// Operations on the device so far:
//  * fakeQuantize — every format (Int asym/sym, per channel / per group with a
//    trailing partial group; MXINT8/4, MXFP8 E4M3/E5M2, MXFP6 E3M2/E2M3, MXFP4),
//    kernel resources/opencl/quantize.cl, BIT-EXACT with the CPU path including
//    its NaN/Inf policy (tests/test_opencl.cpp). Needs float denormals on the
//    device; the integer formats also need a correctly rounded float division
//    (CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT, else cl_khr_fp64 to divide in double).
//  * accumulateHessian — X'ᵀX' in double (cl_khr_fp64), tiled with local memory,
//    kernel resources/opencl/hessian.cl; within 1e-12 of f²·Σ|x_i x_j| per element
//    of the CPU result (summation order differs). The H *= n/(n+s) rescale, the
//    add and the mirror to the upper triangle run on the host, as on the CPU.
// Every call whose device path is unavailable (capability missing, too large for
// one device allocation) or not worth it (below the Policy's size thresholds)
// runs on the CPU path; stats()/describe()/statsJson() record per operation which
// device ran it and why.
//
// Device selection (backendFromEnvironment): QUANTSCOPE_OPENCL_DEVICE =
//   unset/""       the first GPU, else the first accelerator, else the first device
//   "P:D"          device D of platform P (indices as `clinfo -l` lists them)
//   "off"          the CPU path
// No platform, an invalid selection or a failed program build: one clear message
// (qWarning, once per process) and the CPU path.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "compute/backend.h"
#include "opencl/clwrap.h"
#include "opencl/program_cache.h"

namespace qs::ocl {

class OpenClBackend final : public ComputeBackend {
public:
    /// Work below these sizes runs on the CPU path (0 = always the device).
    struct Policy {
        int64_t fakeQuantizeMinElements = 0;  // rows * cols
        int64_t hessianMinWork = 0;           // tokens * in * in
        /// The defaults for a device: an OpenCL CPU device (PoCL) never (the CPU
        /// path was faster at every size in bench/bench_opencl); GPUs and
        /// accelerators from 2^16 elements / 2^26 multiply-adds (a guess, not
        /// measured yet). See opencl_backend.cpp.
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

    /// Whether the device can run the operation at all ("" when yes, else why not).
    std::string fakeQuantizeUnsupported(const QuantFormat& f, int64_t rows, int64_t cols) const;
    std::string hessianUnsupported(int64_t tokens, int64_t in) const;

    /// The device paths without policy or fallback (throw qs::Error when
    /// unsupported); what the tests compare with the CPU path.
    MatrixRM fakeQuantizeOnDevice(const MatrixRM& W, const QuantFormat& f);
    /// G = (f·X)ᵀ(f·X), [in, in], full symmetric (lower computed, mirrored).
    Eigen::MatrixXd xtxOnDevice(const Eigen::Ref<const MatrixRM>& X, double f);

private:
    DeviceContext dc_;
    Policy policy_;
    std::string quantizeOptions_;
    bool intDivisionOk_ = false;
    Program quantizeProgram_, hessianProgram_;
    Kernel quantizeKernel_, hessianKernel_;
    size_t quantizeMaxWg_ = 1;
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

}  // namespace qs::ocl
