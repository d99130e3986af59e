#pragma once
// The compute interface (core/compute): the heavy numeric operations core runs,
// behind an abstract backend so that an accelerator (opencl/, library
// quantscope_opencl) can take them over per operation while core stays
// Qt6::Core + Eigen only.
//
// Conventions (as in the rest of core): a weight matrix W is [out, in]
// row-major float; activations X are [tokens, in] row-major float (one row per
// token); Hessians are [in, in] column-major double, symmetric.
//
// Every operation has the CPU path's semantics; an accelerated backend is
// either bit-exact with it (fakeQuantize, pack, unpack) or within a stated
// tolerance (accumulateHessian, matmulTransposed, gptqBlockUpdate:
// floating-point reductions in a different order), and may
// run any call on the CPU path instead (below a size threshold, or when its
// device lacks a capability). Each backend keeps a per-operation record of which
// device ran how many calls (stats(), describe(), statsJson()) for logs and
// --json output.
//
// Selection: computeBackend() is the process-wide backend core calls through
// (the CpuBackend until setComputeBackend() installs another). The OpenCL
// library's qs::ocl::backendFromEnvironment() builds one from
// QUANTSCOPE_OPENCL_DEVICE.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <QJsonObject>

#include <Eigen/Core>

#include "model/model.h"
#include "quant/formats.h"

namespace qs {

/// How many calls of one operation ran on one device.
struct ComputeOpRecord {
    std::string op;       // one of kComputeOps
    std::string device;   // "cpu" or "opencl"
    int64_t calls = 0;
    int64_t elements = 0;  // work: input elements (W: rows*cols, X: tokens*in); GEMMs: multiply-adds
    double seconds = 0;    // wall time inside the backend call (transfers included)
    std::string lastReason;  // why the last call ran there ("" = the backend's own device)
};

class ComputeBackend {
public:
    virtual ~ComputeBackend();

    /// "cpu" or "opencl".
    virtual std::string name() const = 0;
    /// The device in words, e.g. "CPU (Eigen, OpenMP 2 threads)" or
    /// "OpenCL 0:0 pthread-... (Portable Computing Language)".
    virtual std::string deviceDescription() const = 0;

    /// RTN fake quantization: same result as Quantizer(f).fakeQuantize(W), bit for bit.
    virtual MatrixRM fakeQuantize(const MatrixRM& W, const QuantFormat& f) = 0;

    /// One step of GPTQ's add_batch, as HessianAccumulator::add (calib/hessian.cpp)
    /// does it, in double:
    ///     H *= n / (n + samples);  n += samples;  X' = sqrt(2 / n) · X;  H += X'ᵀX'
    /// H is [in, in] with in = X.cols(); it stays exactly symmetric (the lower
    /// triangle is accumulated and mirrored). X without rows changes nothing (n
    /// included). Throws qs::Error when the shapes disagree or samples <= 0.
    virtual void accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X,
                                   int64_t samples) = 0;

    /// The forward pass's linear GEMM (op "matmul"): y = x · Wᵀ, x [N, in], W
    /// [out, in], y resized to [N, out]; float32. The CPU path is Eigen's
    /// `y.noalias() = x * W.transpose()`; an accelerator agrees within the
    /// floating-point bound of a K-term dot product (see the backend's notes).
    virtual void matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) = 0;

    /// GPTQ's lazy-batch update (op "gptq_update"), in double: W -= E · U, with W
    /// [rows, n] (the not-yet-quantized columns W[:, i2:] of the working weights,
    /// column-major), E [rows, k] (the block's scaled errors) and U [k, n]
    /// (Hinv[i1:i2, i2:]). Throws qs::Error when the shapes disagree. The CPU path
    /// is Eigen's `W.noalias() -= E * U` (what gptq.cpp always did, bit for bit).
    virtual void gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                                 const Eigen::Ref<const Eigen::MatrixXd>& U) = 0;

    /// Exact storage (ops "pack" / "unpack"): the same result as qs::pack /
    /// qs::unpack (quant/formats.h), bit for bit (codes, scales, zeros).
    virtual PackedMatrix pack(const MatrixRM& W, const QuantFormat& f) = 0;
    virtual MatrixRM unpack(const PackedMatrix& p) = 0;

    /// Where each operation goes by default (before size thresholds or missing
    /// capabilities send single calls elsewhere): (op, "cpu" | "opencl" | a
    /// threshold in words), in the order of kOps.
    virtual std::vector<std::pair<std::string, std::string>> routing() const;

    /// Per (operation, device) records, in order of first use.
    std::vector<ComputeOpRecord> stats() const;
    void resetStats();
    /// One line: backend, device and per operation where its calls ran, e.g.
    /// "opencl [OpenCL 0:0 ...]: fake_quantize 12x opencl, 3x cpu (below threshold)".
    std::string describe() const;
    /// {"backend", "device", "routing": {op: where}, "ops": [{"op", "device", "calls",
    /// "elements", "seconds", "reason"}]}
    QJsonObject statsJson() const;

protected:
    void record(const std::string& op, const std::string& device, int64_t elements, double seconds,
                const std::string& reason = {});

private:
    mutable std::mutex statsMutex_;
    std::vector<ComputeOpRecord> stats_;
};

/// The operations of the interface, as stats and routing name them.
inline constexpr const char* kComputeOps[] = {"fake_quantize", "accumulate_hessian", "matmul", "gptq_update", "pack",
                                              "unpack"};

/// The CPU path: calls core's own code (Quantizer, the Hessian update of
/// calib/hessian.cpp, Eigen's GEMMs, qs::pack / qs::unpack).
class CpuBackend final : public ComputeBackend {
public:
    std::string name() const override { return "cpu"; }
    std::string deviceDescription() const override;
    MatrixRM fakeQuantize(const MatrixRM& W, const QuantFormat& f) override;
    void accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X,
                           int64_t samples) override;
    void matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) override;
    void gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                         const Eigen::Ref<const Eigen::MatrixXd>& U) override;
    PackedMatrix pack(const MatrixRM& W, const QuantFormat& f) override;
    MatrixRM unpack(const PackedMatrix& p) override;
};

namespace cpu {
/// The CPU implementations, usable directly by other backends for their
/// fallbacks (no stats recorded).
MatrixRM fakeQuantize(const MatrixRM& W, const QuantFormat& f);
/// HessianAccumulator::add's matrix update, the same code (see backend.h above).
void accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X, int64_t samples);
/// Checks accumulateHessian's arguments; throws qs::Error naming what disagrees.
void checkHessianArgs(const Eigen::MatrixXd& H, const Eigen::Ref<const MatrixRM>& X, int64_t samples);
/// y = x · Wᵀ (Eigen). Throws qs::Error when x.cols() != W.cols().
void matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y);
/// W -= E · U (Eigen); checkGptqUpdateArgs first.
void gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                     const Eigen::Ref<const Eigen::MatrixXd>& U);
void checkGptqUpdateArgs(const Eigen::Ref<const Eigen::MatrixXd>& W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                         const Eigen::Ref<const Eigen::MatrixXd>& U);
}  // namespace cpu

/// The process-wide backend (never null; a CpuBackend until one is installed).
/// Callers keep the shared_ptr for the duration of a call.
std::shared_ptr<ComputeBackend> computeBackend();
/// Installs `b` as the process-wide backend; nullptr restores the CPU backend.
void setComputeBackend(std::shared_ptr<ComputeBackend> b);

}  // namespace qs
