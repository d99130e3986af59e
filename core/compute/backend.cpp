// The compute interface and its CPU implementation. See backend.h.
#include "compute/backend.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include <QJsonArray>

#include "compute/threads.h"
#include "util/error.h"

namespace qs {

// ------------------------------------------------------------------ ComputeBackend

ComputeBackend::~ComputeBackend() = default;

void ComputeBackend::record(const std::string& op, const std::string& device, int64_t elements, double seconds,
                            const std::string& reason) {
    std::lock_guard<std::mutex> lock(statsMutex_);
    for (ComputeOpRecord& r : stats_) {
        if (r.op == op && r.device == device) {
            ++r.calls;
            r.elements += elements;
            r.seconds += seconds;
            r.lastReason = reason;
            return;
        }
    }
    stats_.push_back({op, device, 1, elements, seconds, reason});
}

std::vector<ComputeOpRecord> ComputeBackend::stats() const {
    std::lock_guard<std::mutex> lock(statsMutex_);
    return stats_;
}

void ComputeBackend::resetStats() {
    std::lock_guard<std::mutex> lock(statsMutex_);
    stats_.clear();
}

std::string ComputeBackend::describe() const {
    const std::vector<ComputeOpRecord> st = stats();
    std::ostringstream s;
    s << name() << " [" << deviceDescription() << "]";
    std::vector<std::string> ops;
    for (const ComputeOpRecord& r : st)
        if (std::find(ops.begin(), ops.end(), r.op) == ops.end()) ops.push_back(r.op);
    if (ops.empty()) s << ": no operation run yet";
    for (size_t i = 0; i < ops.size(); ++i) {
        s << (i == 0 ? ": " : "; ") << ops[i];
        bool first = true;
        for (const ComputeOpRecord& r : st) {
            if (r.op != ops[i]) continue;
            s << (first ? " " : ", ") << r.calls << "x " << r.device;
            if (!r.lastReason.empty()) s << " (" << r.lastReason << ")";
            first = false;
        }
    }
    return s.str();
}

std::vector<std::pair<std::string, std::string>> ComputeBackend::routing() const {
    std::vector<std::pair<std::string, std::string>> r;
    for (const char* op : kComputeOps) r.emplace_back(op, "cpu");
    return r;
}

QJsonObject ComputeBackend::statsJson() const {
    QJsonObject o;
    o["backend"] = QString::fromStdString(name());
    o["device"] = QString::fromStdString(deviceDescription());
    QJsonObject routes;
    for (const auto& [op, where] : routing()) routes[QString::fromStdString(op)] = QString::fromStdString(where);
    o["routing"] = routes;
    QJsonArray ops;
    for (const ComputeOpRecord& r : stats()) {
        QJsonObject e;
        e["op"] = QString::fromStdString(r.op);
        e["device"] = QString::fromStdString(r.device);
        e["calls"] = double(r.calls);
        e["elements"] = double(r.elements);
        e["seconds"] = r.seconds;
        if (!r.lastReason.empty()) e["reason"] = QString::fromStdString(r.lastReason);
        ops.append(e);
    }
    o["ops"] = ops;
    return o;
}

// ------------------------------------------------------------------ CPU path

namespace cpu {

MatrixRM fakeQuantize(const MatrixRM& W, const QuantFormat& f) {
    return Quantizer(f).fakeQuantize(W);
}

void checkHessianArgs(const Eigen::MatrixXd& H, const Eigen::Ref<const MatrixRM>& X, int64_t samples) {
    if (H.rows() != H.cols() || H.rows() <= 0)
        throw Error("accumulateHessian: H must be square and non-empty, got [" + std::to_string(H.rows()) + " x " +
                    std::to_string(H.cols()) + "]");
    if (X.cols() != H.rows())
        throw Error("accumulateHessian: input has " + std::to_string(X.cols()) + " columns, expected " +
                    std::to_string(H.rows()) + " (the linear's in_features)");
    if (samples <= 0) throw Error("accumulateHessian: samples must be positive, got " + std::to_string(samples));
}

// The Hessian update of HessianAccumulator::add (calib/hessian.cpp calls this):
// H *= n/(n+s); n += s; X = sqrt(2/n)·X; H += XᵀX.
void accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& x, int64_t samples) {
    checkHessianArgs(H, x, samples);
    if (x.rows() == 0) return;
    const int64_t in = H.rows();
    // H *= n / (n + s); n += s
    H *= double(n) / double(n + samples);
    n += samples;
    // X = sqrt(2/n) · X (double); H += XᵀX, lower triangle in column panels,
    // each panel by one thread, then mirrored.
    const double f = std::sqrt(2.0 / double(n));
    Eigen::MatrixXd xd = x.cast<double>() * f;  // [tokens, in], column-major
    const int64_t panel = 64;
    const int64_t nPanels = (in + panel - 1) / panel;
#pragma omp parallel for schedule(dynamic, 1) if (nPanels > 1 && x.rows() * in > 65536)
    for (int64_t p = 0; p < nPanels; ++p) {
        const int64_t c0 = p * panel, w = std::min(panel, in - c0);
        H.block(c0, c0, in - c0, w).noalias() += xd.middleCols(c0, in - c0).transpose() * xd.middleCols(c0, w);
    }
    H.triangularView<Eigen::StrictlyUpper>() = H.transpose();
}

void matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) {
    if (x.cols() != W.cols())
        throw Error("matmul: x has " + std::to_string(x.cols()) + " columns but W [" + std::to_string(W.rows()) + " x " +
                    std::to_string(W.cols()) + "] expects " + std::to_string(W.cols()));
    // What forward.cpp's linears always computed (the same expression, bit for bit).
    y.resize(x.rows(), W.rows());
    y.noalias() = x * W.transpose();
}

void checkGptqUpdateArgs(const Eigen::Ref<const Eigen::MatrixXd>& W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                         const Eigen::Ref<const Eigen::MatrixXd>& U) {
    if (E.rows() != W.rows() || E.cols() != U.rows() || U.cols() != W.cols())
        throw Error("gptqBlockUpdate: W [" + std::to_string(W.rows()) + " x " + std::to_string(W.cols()) + "] -= E [" +
                    std::to_string(E.rows()) + " x " + std::to_string(E.cols()) + "] * U [" + std::to_string(U.rows()) +
                    " x " + std::to_string(U.cols()) + "]: shapes disagree");
}

void gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                     const Eigen::Ref<const Eigen::MatrixXd>& U) {
    checkGptqUpdateArgs(W, E, U);
    // gptq.cpp's lazy-batch GEMM, unchanged: W[:, i2:] -= Err1 · U[i1:i2, i2:]
    W.noalias() -= E * U;
}

}  // namespace cpu

std::string CpuBackend::deviceDescription() const {
    return "CPU (Eigen + OpenMP, " + std::to_string(threads()) + " threads)";
}

namespace {
double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

MatrixRM CpuBackend::fakeQuantize(const MatrixRM& W, const QuantFormat& f) {
    const auto t0 = std::chrono::steady_clock::now();
    MatrixRM out = cpu::fakeQuantize(W, f);
    record("fake_quantize", "cpu", W.size(), secondsSince(t0));
    return out;
}

void CpuBackend::accumulateHessian(Eigen::MatrixXd& H, int64_t& n, const Eigen::Ref<const MatrixRM>& X,
                                   int64_t samples) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::accumulateHessian(H, n, X, samples);
    record("accumulate_hessian", "cpu", X.size(), secondsSince(t0));
}

void CpuBackend::matmulTransposed(const MatrixRM& x, const MatrixRM& W, MatrixRM& y) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::matmulTransposed(x, W, y);
    record("matmul", "cpu", x.rows() * x.cols() * W.rows(), secondsSince(t0));
}

void CpuBackend::gptqBlockUpdate(Eigen::Ref<Eigen::MatrixXd> W, const Eigen::Ref<const Eigen::MatrixXd>& E,
                                 const Eigen::Ref<const Eigen::MatrixXd>& U) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::gptqBlockUpdate(W, E, U);
    record("gptq_update", "cpu", W.rows() * E.cols() * W.cols(), secondsSince(t0));
}

PackedMatrix CpuBackend::pack(const MatrixRM& W, const QuantFormat& f) {
    const auto t0 = std::chrono::steady_clock::now();
    PackedMatrix p = qs::pack(W, f);
    record("pack", "cpu", W.size(), secondsSince(t0));
    return p;
}

MatrixRM CpuBackend::unpack(const PackedMatrix& p) {
    const auto t0 = std::chrono::steady_clock::now();
    MatrixRM out = qs::unpack(p);
    record("unpack", "cpu", p.rows * p.cols, secondsSince(t0));
    return out;
}

// ------------------------------------------------------------------ selection

namespace {
std::mutex g_backendMutex;
std::shared_ptr<ComputeBackend>& currentBackend() {
    static std::shared_ptr<ComputeBackend> b = std::make_shared<CpuBackend>();
    return b;
}
}  // namespace

std::shared_ptr<ComputeBackend> computeBackend() {
    std::lock_guard<std::mutex> lock(g_backendMutex);
    return currentBackend();
}

void setComputeBackend(std::shared_ptr<ComputeBackend> b) {
    std::lock_guard<std::mutex> lock(g_backendMutex);
    currentBackend() = b ? std::move(b) : std::make_shared<CpuBackend>();
}

}  // namespace qs
