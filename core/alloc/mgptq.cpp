// MG-PTQ: see mgptq.h for the method, its conventions and its approximations.
#include "alloc/mgptq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <Eigen/Cholesky>
#include <QString>

#include "quant/gptq.h"
#include "util/error.h"
#include "util/rng.h"

namespace qs {

namespace {

constexpr double kTiny = 1e-30;
constexpr double kInf = std::numeric_limits<double>::infinity();

QString shapeOf(const MatrixRM& W) { return QStringLiteral("[%1 x %2]").arg(W.rows()).arg(W.cols()); }

/// Storage per row in whole bits of each group per bit of width (n_g, +1 for an
/// asymmetric zero point) and the fixed overhead (a 16-bit scale per group).
struct Layout {
    int N = 0;
    std::vector<int64_t> cost;  // per group
    int64_t overhead = 0;
};

Layout layoutOf(int64_t in, const QuantFormat& base) {
    Layout L;
    const int64_t G = base.groupSize;
    L.N = int((in + G - 1) / G);
    for (int g = 0; g < L.N; ++g) L.cost.push_back(std::min<int64_t>(G, in - int64_t(g) * G) + (base.symmetric ? 0 : 1));
    L.overhead = 16 * int64_t(L.N);
    return L;
}

void checkBase(const QuantFormat& base, const char* what) {
    if (base.kind != FormatKind::Int || base.groupSize <= 0)
        throw Error(QStringLiteral("%1: MG-PTQ allocates bits per group of input columns and needs a grouped integer format "
                                   "(e.g. int3-g64: the group size and symmetry are taken from it), got %2")
                        .arg(QLatin1String(what), QString::fromStdString(base.name())));
}

/// The per-row storage reachable by assignments: DP over groups in units of the
/// gcd of every group's extra cost. Returns (unit, base storage, reachable flags).
struct Reach {
    int64_t unit = 1, base = 0, range = 0;  // storage = base + unit·t, t in [0, range]
    std::vector<std::vector<int64_t>> w;    // per group and choice: extra units
};

Reach reachOf(const Layout& L, const std::vector<int>& choices) {
    Reach r;
    const int K = int(choices.size());
    int64_t g = 0;
    for (int i = 0; i < L.N; ++i)
        for (int k = 1; k < K; ++k) g = std::gcd(g, L.cost[size_t(i)] * int64_t(choices[size_t(k)] - choices[0]));
    r.unit = std::max<int64_t>(1, g);
    r.base = L.overhead;
    for (int i = 0; i < L.N; ++i) {
        r.base += L.cost[size_t(i)] * choices[0];
        std::vector<int64_t> wi;
        for (int k = 0; k < K; ++k) wi.push_back(L.cost[size_t(i)] * int64_t(choices[size_t(k)] - choices[0]) / r.unit);
        r.range += wi.back();
        r.w.push_back(std::move(wi));
    }
    return r;
}

}  // namespace

const char* mgptqLossName(MgptqLoss l) { return l == MgptqLoss::Rtn ? "rtn" : "gptq"; }

std::string validateMgptqOptions(const MgptqOptions& o) {
    if (o.choices.empty()) return "mgptq_choices: expected at least one bit width";
    for (size_t i = 0; i < o.choices.size(); ++i) {
        if (o.choices[i] < 2 || o.choices[i] > 8)
            return "mgptq_choices: bit widths must be integers in 2..8, found " + std::to_string(o.choices[i]);
        if (i > 0 && o.choices[i] <= o.choices[i - 1]) return "mgptq_choices: expected distinct bit widths in ascending order";
    }
    if (!(o.targetBits > 0) || !std::isfinite(o.targetBits)) return "mgptq_bits: expected a positive average bits per weight";
    if (o.hidden < 1 || o.topK < 0 || o.steps < 0 || !(o.learningRate > 0) || !(o.tempStart > 0) || !(o.tempEnd > 0))
        return "MG-PTQ: invalid training options";
    return {};
}

double mixedBitsPerWeight(int64_t in, const QuantFormat& base, const std::vector<int>& groupBits) {
    checkBase(base, "mixedBitsPerWeight");
    const Layout L = layoutOf(in, base);
    if (int(groupBits.size()) != L.N)
        throw Error(QStringLiteral("mixedBitsPerWeight: %1 widths for %2 groups").arg(groupBits.size()).arg(L.N));
    int64_t s = L.overhead;
    for (int g = 0; g < L.N; ++g) s += L.cost[size_t(g)] * groupBits[size_t(g)];
    return double(s) / double(in);
}

std::vector<double> mgptqAchievableBits(int64_t in, const QuantFormat& base, const std::vector<int>& choices) {
    checkBase(base, "mgptqAchievableBits");
    if (in <= 0 || choices.empty()) return {};
    const Layout L = layoutOf(in, base);
    const Reach r = reachOf(L, choices);
    std::vector<char> can(size_t(r.range) + 1, 0), next(can.size());
    can[0] = 1;
    for (int g = 0; g < L.N; ++g) {
        std::fill(next.begin(), next.end(), 0);
        for (int64_t t = 0; t <= r.range; ++t)
            if (can[size_t(t)])
                for (int64_t w : r.w[size_t(g)]) next[size_t(t + w)] = 1;
        can.swap(next);
    }
    std::vector<double> out;
    for (int64_t t = 0; t <= r.range; ++t)
        if (can[size_t(t)]) out.push_back(double(r.base + r.unit * t) / double(in));
    return out;
}

std::vector<QuantFormat> MgptqAllocation::groupFormats(const QuantFormat& base) const {
    std::vector<QuantFormat> f;
    for (int b : groupBits) {
        QuantFormat q = base;
        q.bits = b;
        f.push_back(q);
    }
    return f;
}

namespace mgptq {

Eigen::MatrixXd Graph::times(const Eigen::MatrixXd& X) const {
    Eigen::MatrixXd Y = Eigen::MatrixXd::Zero(X.rows(), X.cols());
    for (int i = 0; i < n; ++i)
        for (int e = start[size_t(i)]; e < start[size_t(i) + 1]; ++e) Y.row(i) += weight[size_t(e)] * X.row(index[size_t(e)]);
    return Y;
}

double Problem::expectedLoss(const MatrixRD& P) const {
    const Eigen::Map<const Eigen::VectorXd> p(P.data(), P.size());
    return (cross ? p.dot(Qc * p) : 0.0) + Qd.dot(p);
}

double Problem::expectedBits(const MatrixRD& P) const {
    double s = overheadBits;
    for (int g = 0; g < N; ++g)
        for (int k = 0; k < K; ++k) s += P(g, k) * groupCost(g) * choices[size_t(k)];
    return s / double(inFeatures);
}

double Problem::hardLoss(const std::vector<int>& c) const {
    double s = 0;
    for (int g = 0; g < N; ++g) {
        s += Qd(g * K + c[size_t(g)]);
        if (cross)
            for (int h = 0; h < N; ++h) s += Qc(g * K + c[size_t(g)], h * K + c[size_t(h)]);
    }
    return s;
}

Problem buildProblem(const MatrixRM& W, const Eigen::MatrixXd& H, const QuantFormat& base, const MgptqOptions& opt,
                     const GptqOptions& gptq, const JobContext& ctx) {
    const QString shape = shapeOf(W);
    checkBase(base, "MG-PTQ");
    {
        MgptqOptions o = opt;
        o.targetBits = 1;  // the target is not needed here
        const std::string e = validateMgptqOptions(o);
        if (!e.empty()) throw Error(QStringLiteral("MG-PTQ for W %1: %2").arg(shape, QString::fromStdString(e)));
    }
    const int64_t out = W.rows(), in = W.cols();
    if (in == 0 || out == 0) throw Error(QStringLiteral("MG-PTQ: W %1 is empty").arg(shape));
    if (H.rows() != in || H.cols() != in)
        throw Error(QStringLiteral("MG-PTQ: the Hessian is [%1 x %2], expected [%3 x %3] for W %4").arg(H.rows()).arg(H.cols()).arg(in).arg(shape));
    if (!W.allFinite() || !H.allFinite()) throw Error(QStringLiteral("MG-PTQ: W %1 or its Hessian contains NaN/Inf").arg(shape));
    if (gptq.actOrder && !gptq.staticGroups)
        throw Error(QStringLiteral("MG-PTQ for W %1: act-order needs static groups (each group's grid is fixed before the columns are permuted)").arg(shape));

    Problem pr;
    pr.inFeatures = in;
    pr.G = base.groupSize;
    pr.symmetric = base.symmetric;
    pr.choices = opt.choices;
    pr.loss = opt.loss;
    const Layout L = layoutOf(in, base);
    const int N = pr.N = L.N, K = pr.K = int(opt.choices.size());
    const int64_t G = pr.G;
    pr.groupCost.resize(N);
    for (int g = 0; g < N; ++g) pr.groupCost(g) = double(L.cost[size_t(g)]);
    pr.overheadBits = double(L.overhead);
    auto g0 = [&](int g) { return int64_t(g) * G; };
    auto gn = [&](int g) { return std::min<int64_t>(G, in - int64_t(g) * G); };
    std::vector<QuantFormat> formats;
    for (int b : opt.choices) {
        QuantFormat f = base;
        f.bits = b;
        formats.push_back(f);
    }

    // GPTQ's factor, as GPTQ builds it: dead columns (H_jj = 0) get H_jj = 1, act-order
    // permutes by descending diag, λ = percDamp · mean diag; J (H + λI) J = LLᵀ gives
    // U⁻¹ = J L J (U the upper Cholesky factor of (H + λI)⁻¹) and 1/U_jj² = L_{n-1-j}².
    Eigen::MatrixXd Hm = H;
    std::vector<char> dead(size_t(in), 0);
    for (int64_t j = 0; j < in; ++j)
        if (Hm(j, j) == 0) Hm(j, j) = 1, dead[size_t(j)] = 1;
    std::vector<int64_t> perm(static_cast<size_t>(in)), pos(static_cast<size_t>(in));
    std::iota(perm.begin(), perm.end(), int64_t(0));
    if (gptq.actOrder) std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return Hm(a, a) > Hm(b, b); });
    for (int64_t j = 0; j < in; ++j) pos[size_t(perm[size_t(j)])] = j;
    Eigen::MatrixXd Rf(in, in);  // J P (H + λI) Pᵀ J, then its Cholesky factor in place
    for (int64_t j = 0; j < in; ++j)
        for (int64_t i = 0; i < in; ++i) Rf(in - 1 - i, in - 1 - j) = Hm(perm[size_t(i)], perm[size_t(j)]);
    Rf.diagonal().array() += gptq.percDamp * Hm.diagonal().mean();
    {
        Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(Rf);
        if (llt.info() != Eigen::Success)
            throw Error(QStringLiteral("MG-PTQ: the Hessian of W %1 is not positive definite even after damping (percdamp %2)")
                            .arg(shape).arg(gptq.percDamp));
    }
    Rf.triangularView<Eigen::StrictlyUpper>().setZero();  // L
    Eigen::VectorXd condDiag(in);                          // 1/U_jj², original column order
    for (int64_t j = 0; j < in; ++j) condDiag(j) = Rf(in - 1 - pos[size_t(j)], in - 1 - pos[size_t(j)]) * Rf(in - 1 - pos[size_t(j)], in - 1 - pos[size_t(j)]);

    MatrixRD Qs = MatrixRD::Zero(N * K, N * K);  // the full symmetric loss matrix (Rtn) or its diagonal (Gptq)
    if (opt.loss == MgptqLoss::Gptq) {
        // ℓ_gk = ||E_k[:, g]||², E_k = ΔW_k U⁻¹ the scaled rounding errors of a uniform
        // GPTQ pass at width k (ΔW = E U): Σ_g ℓ_gk = tr(ΔW_k (H + λI) ΔW_kᵀ) = 2 · its loss
        MatrixRM Wz = W;
        for (int64_t j = 0; j < in; ++j)
            if (dead[size_t(j)]) Wz.col(j).setZero();
        for (int k = 0; k < K; ++k) {
            ctx.check();
            const GptqResult g = gptqQuantize(W, H, Quantizer(formats[size_t(k)]), gptq,
                                              ctx.sub(0.8 * k / K, 0.8 * (k + 1) / K, "MG-PTQ loss model: "));
            Eigen::MatrixXd Drev(out, in);  // ΔW P J (permuted, reversed columns)
            for (int64_t j = 0; j < in; ++j)
                Drev.col(in - 1 - j) = (Wz.col(perm[size_t(j)]).cast<double>() - g.weight.col(perm[size_t(j)]).cast<double>());
            const Eigen::MatrixXd Erev = Drev * Rf.triangularView<Eigen::Lower>();  // E P J
            for (int64_t j = 0; j < in; ++j) {
                const int gr = int(j / G);
                Qs(gr * K + k, gr * K + k) += Erev.col(in - 1 - pos[size_t(j)]).squaredNorm();
            }
        }
    } else {
        // Q[(g,k),(h,l)] = Σ_r Σ_{i∈g, j∈h} D_k[r,i] H_ij D_l[r,j], D_k = W - RTN_k(W), over row chunks
        pr.cross = true;
        MatrixRD Q = MatrixRD::Zero(N * K, N * K);
        const int64_t chunk = std::max<int64_t>(16, (int64_t(1) << 22) / std::max<int64_t>(1, in * (K + 1)));
        for (int64_t r0 = 0; r0 < out; r0 += chunk) {
            ctx.check();
            const int64_t n = std::min(chunk, out - r0);
            const MatrixRM Wc = W.middleRows(r0, n);
            std::vector<MatrixRD> D(static_cast<size_t>(K));
            for (int k = 0; k < K; ++k) D[size_t(k)] = Wc.cast<double>() - Quantizer(formats[size_t(k)]).fakeQuantize(Wc).cast<double>();
#pragma omp parallel for schedule(static)
            for (int h = 0; h < N; ++h) {
                MatrixRD Y(n, in);
                for (int l = 0; l < K; ++l) {
                    // inside a parallel region Eigen's GEMM runs on this thread only
                    Y.noalias() = D[size_t(l)].middleCols(g0(h), gn(h)) * H.middleRows(g0(h), gn(h));
                    for (int k = 0; k < K; ++k)
                        for (int g = 0; g < N; ++g)
                            Q(g * K + k, h * K + l) += D[size_t(k)].middleCols(g0(g), gn(g)).cwiseProduct(Y.middleCols(g0(g), gn(g))).sum();
                }
            }
            ctx.report(0.8 * double(r0 + n) / double(out), "MG-PTQ loss model");
        }
        Qs = 0.5 * (Q + Q.transpose());
    }
    pr.Qd = Qs.diagonal();
    if (pr.cross) {
        pr.Qc = Qs;
        for (int g = 0; g < N; ++g) pr.Qc.block(g * K, g * K, K, K).setZero();
    }
    double ref = 0;
    for (int g = 0; g < N; ++g)
        for (int h = 0; h < N; ++h) ref += Qs(g * K, h * K);
    pr.lossRef = ref > 0 && std::isfinite(ref) ? ref : 1.0;

    // 2. the graph: mean |input correlation| between groups, top-k neighbours
    Eigen::VectorXd inv(in);
    for (int64_t j = 0; j < in; ++j) inv(j) = H(j, j) > 0 ? 1.0 / std::sqrt(H(j, j)) : 0.0;
    Eigen::MatrixXd S = Eigen::MatrixXd::Zero(N, N);
#pragma omp parallel for schedule(static)
    for (int h = 0; h < N; ++h)
        for (int64_t j = g0(h); j < g0(h) + gn(h); ++j)
            for (int64_t i = 0; i < in; ++i) S(i / G, h) += std::abs(H(i, j)) * inv(i) * inv(j);
    for (int g = 0; g < N; ++g)
        for (int h = 0; h < N; ++h) S(g, h) /= double(gn(g) * gn(h));
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(N, N);
    for (int g = 0; g < N; ++g) {
        std::vector<int> nb;
        for (int h = 0; h < N; ++h)
            if (h != g && S(g, h) > 0) nb.push_back(h);
        std::stable_sort(nb.begin(), nb.end(), [&](int a, int b) { return S(g, a) > S(g, b); });
        for (size_t t = 0; t < std::min<size_t>(nb.size(), size_t(opt.topK)); ++t) {
            const int h = nb[t];
            A(g, h) = A(h, g) = 0.5 * (S(g, h) + S(h, g));
        }
        A(g, g) = 1.0;
    }
    const Eigen::VectorXd deg = A.rowwise().sum();
    pr.adj.n = N;
    pr.adj.start.push_back(0);
    for (int g = 0; g < N; ++g) {
        for (int h = 0; h < N; ++h)
            if (A(g, h) != 0) {
                pr.adj.index.push_back(h);
                pr.adj.weight.push_back(A(g, h) / std::sqrt(deg(g) * deg(h)));
            }
        pr.adj.start.push_back(int(pr.adj.index.size()));
    }

    // 3. node features
    const int F = 8 + 2 * K;
    Eigen::MatrixXd X = Eigen::MatrixXd::Zero(N, F);
    {
        // weight statistics per group (two passes: kurtosis about the group's mean)
        Eigen::VectorXd sum = Eigen::VectorXd::Zero(N), m2 = Eigen::VectorXd::Zero(N), m4 = Eigen::VectorXd::Zero(N),
                        amax = Eigen::VectorXd::Zero(N);
        for (int64_t r = 0; r < out; ++r)
            for (int64_t j = 0; j < in; ++j) sum(j / G) += double(W(r, j));
        Eigen::VectorXd mean(N);
        for (int g = 0; g < N; ++g) mean(g) = sum(g) / double(out * gn(g));
        for (int64_t r = 0; r < out; ++r)
            for (int64_t j = 0; j < in; ++j) {
                const int g = int(j / G);
                const double d = double(W(r, j)) - mean(g), d2 = d * d;
                m2(g) += d2;
                m4(g) += d2 * d2;
                amax(g) = std::max(amax(g), std::abs(double(W(r, j))));
            }
        for (int g = 0; g < N; ++g) {
            const double n = double(out * gn(g));
            const double var = m2(g) / n, kurt = var > 0 ? (m4(g) / n) / (var * var) : 1.0;
            double dsum = 0, dmax = 0, csum = 0;
            for (int64_t j = g0(g); j < g0(g) + gn(g); ++j) {
                dsum += H(j, j);
                dmax = std::max(dmax, H(j, j));
                csum += condDiag(j);
            }
            const double dmean = dsum / double(gn(g));
            double strength = 0;
            for (int h = 0; h < N; ++h)
                if (h != g) strength += S(g, h);
            int f = 0;
            X(g, f++) = std::log(amax(g) + kTiny);
            X(g, f++) = std::log(std::sqrt(var) + kTiny);
            X(g, f++) = std::log(std::max(kurt, kTiny));
            X(g, f++) = std::log(dmean + kTiny);
            X(g, f++) = std::log((dmax + kTiny) / (dmean + kTiny));
            X(g, f++) = std::log(csum / double(gn(g)) + kTiny);
            for (int k = 0; k < K; ++k) X(g, f++) = std::log(std::max(pr.Qd(g * K + k), 0.0) + kTiny);
            // the loss saved per storage bit by each next width
            for (int k = 0; k + 1 < K; ++k)
                X(g, f++) = std::log(std::max(pr.Qd(g * K + k) - pr.Qd(g * K + k + 1), 0.0) /
                                         (pr.groupCost(g) * (opt.choices[size_t(k + 1)] - opt.choices[size_t(k)])) + kTiny);
            X(g, f++) = std::log(strength + kTiny);
            X(g, f++) = double(gn(g)) / double(G);
            X(g, f++) = N > 1 ? double(g) / double(N - 1) : 0.0;
            Q_ASSERT(f == F);
        }
        for (int f = 0; f < F; ++f) {
            const double m = X.col(f).mean();
            const double sd = std::sqrt((X.col(f).array() - m).square().mean());
            if (sd > 1e-12 * (std::abs(m) + 1)) X.col(f) = (X.col(f).array() - m) / sd;
            else X.col(f).setZero();
        }
    }
    pr.X = std::move(X);
    return pr;
}

// --- the GNN --------------------------------------------------------------------

namespace {

/// Offsets of the parameter blocks in the flat vector.
struct Layoutp {
    int F, H, K;
    int ws1() const { return 0; }
    int wn1() const { return ws1() + F * H; }
    int b1() const { return wn1() + F * H; }
    int ws2() const { return b1() + H; }
    int wn2() const { return ws2() + H * H; }
    int b2() const { return wn2() + H * H; }
    int wo() const { return b2() + H; }
    int bo() const { return wo() + H * K; }
    int wx() const { return bo() + K; }
    int size() const { return wx() + F * K; }
};

using MapM = Eigen::Map<const Eigen::MatrixXd>;
using MapMW = Eigen::Map<Eigen::MatrixXd>;

}  // namespace

Gnn::Gnn(int features, int hidden, int K, uint64_t seed) : F_(features), H_(hidden), K_(K) {
    const Layoutp l{F_, H_, K_};
    params = Eigen::VectorXd::Zero(l.size());
    SplitMix64 rng(seed ^ 0x6d67707471ull);  // "mgptq"
    auto xavier = [&](int off, int fanIn, int fanOut) {
        const double a = std::sqrt(6.0 / double(fanIn + fanOut));
        for (int i = 0; i < fanIn * fanOut; ++i) params(off + i) = a * (2.0 * rng.uniformDouble() - 1.0);
    };
    xavier(l.ws1(), F_, H_);
    xavier(l.wn1(), F_, H_);
    xavier(l.ws2(), H_, H_);
    xavier(l.wn2(), H_, H_);
    xavier(l.wo(), H_, K_);
    xavier(l.wx(), F_, K_);
}

Eigen::MatrixXd Gnn::forward(const Eigen::MatrixXd& X, const Graph& adj) {
    const Layoutp l{F_, H_, K_};
    const double* p = params.data();
    adj_ = &adj;
    X_ = X;
    A1_ = adj.times(X);
    Eigen::MatrixXd P1 = X.lazyProduct(MapM(p + l.ws1(), F_, H_)) + A1_.lazyProduct(MapM(p + l.wn1(), F_, H_));
    P1.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(p + l.b1(), H_);
    H1_ = P1.array().tanh().matrix();
    A2_ = adj.times(H1_);
    Eigen::MatrixXd P2 = H1_.lazyProduct(MapM(p + l.ws2(), H_, H_)) + A2_.lazyProduct(MapM(p + l.wn2(), H_, H_));
    P2.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(p + l.b2(), H_);
    H2_ = P2.array().tanh().matrix();
    Eigen::MatrixXd Z = H2_.lazyProduct(MapM(p + l.wo(), H_, K_)) + X.lazyProduct(MapM(p + l.wx(), F_, K_));
    Z.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(p + l.bo(), K_);
    return Z;
}

Eigen::VectorXd Gnn::backward(const Eigen::MatrixXd& dZ) const {
    const Layoutp l{F_, H_, K_};
    const double* p = params.data();
    Eigen::VectorXd grad = Eigen::VectorXd::Zero(params.size());
    double* q = grad.data();
    MapMW(q + l.wo(), H_, K_) = H2_.transpose().lazyProduct(dZ);
    MapMW(q + l.wx(), F_, K_) = X_.transpose().lazyProduct(dZ);
    Eigen::Map<Eigen::RowVectorXd>(q + l.bo(), K_) = dZ.colwise().sum();
    const Eigen::MatrixXd dH2 = dZ.lazyProduct(MapM(p + l.wo(), H_, K_).transpose());
    const Eigen::MatrixXd dP2 = dH2.array() * (1.0 - H2_.array().square());
    MapMW(q + l.ws2(), H_, H_) = H1_.transpose().lazyProduct(dP2);
    MapMW(q + l.wn2(), H_, H_) = A2_.transpose().lazyProduct(dP2);
    Eigen::Map<Eigen::RowVectorXd>(q + l.b2(), H_) = dP2.colwise().sum();
    // Â is symmetric: d(Â·H1)/dH1 contributes Â·(dP2·Wn2ᵀ)
    const Eigen::MatrixXd dH1 = dP2.lazyProduct(MapM(p + l.ws2(), H_, H_).transpose()) +
                                adj_->times(dP2.lazyProduct(MapM(p + l.wn2(), H_, H_).transpose()));
    const Eigen::MatrixXd dP1 = dH1.array() * (1.0 - H1_.array().square());
    MapMW(q + l.ws1(), F_, H_) = X_.transpose().lazyProduct(dP1);
    MapMW(q + l.wn1(), F_, H_) = A1_.transpose().lazyProduct(dP1);
    Eigen::Map<Eigen::RowVectorXd>(q + l.b1(), H_) = dP1.colwise().sum();
    return grad;
}

namespace {

/// p_gk = softmax_k(z_gk / T - t·a_gk), a_gk = c_g·b_k / in (the bits group g adds per
/// weight at width k).
void shiftedSoftmax(const Problem& pr, const Eigen::MatrixXd& Z, double T, double t, MatrixRD& P) {
    P.resize(pr.N, pr.K);
    for (int g = 0; g < pr.N; ++g) {
        double m = -kInf;
        for (int k = 0; k < pr.K; ++k) m = std::max(m, Z(g, k) / T - t * pr.bitsPerWeightOf(g, k));
        double s = 0;
        for (int k = 0; k < pr.K; ++k) s += (P(g, k) = std::exp(Z(g, k) / T - t * pr.bitsPerWeightOf(g, k) - m));
        P.row(g) /= s;
    }
}

}  // namespace

double Problem::bitsPerWeightOf(int g, int k) const { return groupCost(g) * choices[size_t(k)] / double(inFeatures); }

double budgetShift(const Problem& pr, const Eigen::MatrixXd& Z, double T, double targetBits, MatrixRD& P) {
    // bits(t) is non-increasing in t: bracket, then bisect to the last bit
    auto bitsAt = [&](double t) {
        shiftedSoftmax(pr, Z, T, t, P);
        return pr.expectedBits(P);
    };
    double lo = -1, hi = 1;
    for (int i = 0; i < 200 && bitsAt(lo) < targetBits; ++i) lo *= 2;
    for (int i = 0; i < 200 && bitsAt(hi) > targetBits; ++i) hi *= 2;
    for (int i = 0; i < 2200; ++i) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        (bitsAt(mid) > targetBits ? lo : hi) = mid;
    }
    // the side closer to the target
    const double blo = bitsAt(lo), bhi = bitsAt(hi);
    const double t = std::abs(blo - targetBits) <= std::abs(bhi - targetBits) ? lo : hi;
    shiftedSoftmax(pr, Z, T, t, P);
    return t;
}

double objective(const Problem& pr, Gnn& net, double T, double targetBits, Eigen::VectorXd* grad, MatrixRD* Pout) {
    const Eigen::MatrixXd Z = net.forward(pr.X, pr.adj);
    MatrixRD P;
    budgetShift(pr, Z, T, targetBits, P);
    const Eigen::Map<const Eigen::VectorXd> p(P.data(), P.size());
    const Eigen::VectorXd Qp = pr.cross ? Eigen::VectorXd(pr.Qc * p) : Eigen::VectorXd::Zero(p.size());
    const double J = (p.dot(Qp) + pr.Qd.dot(p)) / pr.lossRef;
    if (Pout) *Pout = P;
    if (grad) {
        // G = dJ/dp; through the shifted softmax with t(z) solving bits = target:
        // dJ/dz_gk = p_gk [(G_gk - Ḡ_g) - (C / V)(a_gk - ā_g)] / T with Ḡ_g, ā_g the
        // p-weighted means, V = Σ_g Var_g(a), C = Σ_g Cov_g(G, a) (implicit dt/dz).
        MatrixRD G(pr.N, pr.K);
        for (int g = 0; g < pr.N; ++g)
            for (int k = 0; k < pr.K; ++k) G(g, k) = (2.0 * Qp(g * pr.K + k) + pr.Qd(g * pr.K + k)) / pr.lossRef;
        Eigen::VectorXd Gm(pr.N), am(pr.N);
        double V = 0, C = 0;
        for (int g = 0; g < pr.N; ++g) {
            Gm(g) = am(g) = 0;
            for (int k = 0; k < pr.K; ++k) Gm(g) += P(g, k) * G(g, k), am(g) += P(g, k) * pr.bitsPerWeightOf(g, k);
            for (int k = 0; k < pr.K; ++k) {
                const double da = pr.bitsPerWeightOf(g, k) - am(g);
                V += P(g, k) * da * da;
                C += P(g, k) * (G(g, k) - Gm(g)) * da;
            }
        }
        const double ratio = V > 0 ? C / V : 0.0;
        Eigen::MatrixXd dZ(pr.N, pr.K);
        for (int g = 0; g < pr.N; ++g)
            for (int k = 0; k < pr.K; ++k)
                dZ(g, k) = P(g, k) * ((G(g, k) - Gm(g)) - ratio * (pr.bitsPerWeightOf(g, k) - am(g))) / T;
        *grad = net.backward(dZ);
    }
    return J;
}

std::vector<int> exactBudgetAssignment(const Problem& pr, double targetBits, const MatrixRD& score) {
    Layout L;
    L.N = pr.N;
    for (int g = 0; g < pr.N; ++g) L.cost.push_back(int64_t(std::llround(pr.groupCost(g))));
    L.overhead = int64_t(std::llround(pr.overheadBits));
    const Reach r = reachOf(L, pr.choices);
    const double limit = targetBits * double(pr.inFeatures);
    const double tol = 1e-9 * std::max(1.0, std::abs(limit));
    if (double(r.base) > limit + tol)
        throw Error(QStringLiteral("MG-PTQ: a target of %1 bits per weight is below the smallest achievable %2 (every group of %3 at %4 "
                                   "bits, scales%5 included) for rows of %6 inputs")
                        .arg(targetBits)
                        .arg(double(r.base) / double(pr.inFeatures), 0, 'f', 4)
                        .arg(pr.G)
                        .arg(pr.choices.front())
                        .arg(pr.symmetric ? QString() : QStringLiteral(" and zero points"))
                        .arg(pr.inFeatures));
    const int64_t R = std::min<int64_t>(r.range, int64_t(std::floor((limit - double(r.base) + tol) / double(r.unit))));
    const size_t W = size_t(R) + 1;
    std::vector<double> best(W, kInf), next(W);
    best[0] = 0;
    std::vector<uint8_t> arg(size_t(pr.N) * W, 0);
    for (int g = 0; g < pr.N; ++g) {
        uint8_t* a = &arg[size_t(g) * W];
        for (size_t t = 0; t < W; ++t) {
            double b = kInf;
            uint8_t c = 0;
            for (int k = 0; k < pr.K; ++k) {
                const int64_t w = r.w[size_t(g)][size_t(k)];
                if (w > int64_t(t) || best[t - size_t(w)] == kInf) continue;
                const double v = best[t - size_t(w)] + score(g, k);
                if (v < b) b = v, c = uint8_t(k);
            }
            next[t] = b;
            a[t] = c;
        }
        best.swap(next);
    }
    int64_t t = R;
    while (t >= 0 && best[size_t(t)] == kInf) --t;
    Q_ASSERT(t >= 0);  // the all-lowest assignment (t = 0) always fits here
    std::vector<int> choice(size_t(pr.N), 0);
    for (int g = pr.N; g-- > 0;) {
        const int k = arg[size_t(g) * W + size_t(t)];
        choice[size_t(g)] = k;
        t -= r.w[size_t(g)][size_t(k)];
    }
    return choice;
}

}  // namespace mgptq

MgptqAllocation mgptqAllocate(const MatrixRM& W, const Eigen::MatrixXd& H, const QuantFormat& base, const MgptqOptions& opt,
                              const GptqOptions& gptq, const JobContext& ctx) {
    using namespace mgptq;
    const std::string err = validateMgptqOptions(opt);
    if (!err.empty()) throw Error(QStringLiteral("MG-PTQ for W %1: %2").arg(shapeOf(W), QString::fromStdString(err)));
    const Problem pr = buildProblem(W, H, base, opt, gptq, ctx);
    const int N = pr.N, K = pr.K;
    // the exact budget (also checks feasibility before training)
    const std::vector<int> lowest = exactBudgetAssignment(pr, opt.targetBits, MatrixRD::Zero(N, K));
    std::vector<int> lowestBits;
    for (int c : lowest) lowestBits.push_back(pr.choices[size_t(c)]);
    const double target = mixedBitsPerWeight(pr.inFeatures, base, lowestBits);

    Gnn net(int(pr.X.cols()), opt.hidden, K, opt.seed);
    // Adam on J with the temperature annealed geometrically
    Eigen::VectorXd m = Eigen::VectorXd::Zero(net.params.size()), v = m, grad;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int s = 0; s < opt.steps; ++s) {
        const double frac = opt.steps > 1 ? double(s) / double(opt.steps - 1) : 1.0;
        const double T = opt.tempStart * std::pow(opt.tempEnd / opt.tempStart, frac);
        objective(pr, net, T, target, &grad);
        m = b1 * m + (1 - b1) * grad;
        v = b2 * v + (1 - b2) * grad.cwiseProduct(grad);
        const double c1 = 1 - std::pow(b1, s + 1), c2 = 1 - std::pow(b2, s + 1);
        net.params.array() -= opt.learningRate * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
        if (s % 25 == 0) {
            ctx.check();
            ctx.report(0.8 + 0.2 * double(s + 1) / double(opt.steps), "MG-PTQ: training the GNN");
        }
    }
    // the final soft assignment and the exact-budget MAP assignment under it
    MgptqAllocation a;
    MatrixRD P;
    a.finalObjective = objective(pr, net, opt.tempEnd, target, nullptr, &P);
    const Eigen::MatrixXd Z = net.forward(pr.X, pr.adj);
    a.logits = Z;
    // -log p (p at the final temperature and budget shift; the shift adds the same
    // amount to every assignment of one storage total, so it does not change the DP's choice)
    MatrixRD score(N, K);
    const double t = budgetShift(pr, Z, opt.tempEnd, target, P);
    for (int g = 0; g < N; ++g) {
        double mx = -kInf;
        for (int k = 0; k < K; ++k) mx = std::max(mx, Z(g, k) / opt.tempEnd - t * pr.bitsPerWeightOf(g, k));
        double s = 0;
        for (int k = 0; k < K; ++k) s += std::exp(Z(g, k) / opt.tempEnd - t * pr.bitsPerWeightOf(g, k) - mx);
        for (int k = 0; k < K; ++k) score(g, k) = -(Z(g, k) / opt.tempEnd - t * pr.bitsPerWeightOf(g, k) - mx - std::log(s));
    }
    const std::vector<int> choice = exactBudgetAssignment(pr, opt.targetBits, score);
    for (int g = 0; g < N; ++g) {
        a.groupBits.push_back(pr.choices[size_t(choice[size_t(g)])]);
        int am = 0;
        for (int k = 1; k < K; ++k)
            if (P(g, k) > P(g, am)) am = k;
        if (am != choice[size_t(g)]) ++a.repairedGroups;
    }
    a.bitsPerWeight = mixedBitsPerWeight(pr.inFeatures, base, a.groupBits);
    a.targetBits = opt.targetBits;
    a.relaxedBits = pr.expectedBits(P);
    a.modelLoss = pr.hardLoss(choice);
    a.lowestLoss = pr.lossRef;
    {
        // the optimum of the per-group terms alone (exact DP): the model's optimum when
        // it is separable (Gptq), for comparison with the GNN's assignment
        MatrixRD q(N, K);
        for (int g = 0; g < N; ++g)
            for (int k = 0; k < K; ++k) q(g, k) = pr.Qd(g * K + k);
        a.separableOptimumLoss = pr.hardLoss(exactBudgetAssignment(pr, opt.targetBits, q));
    }
    ctx.report(1.0, "MG-PTQ: allocated");
    return a;
}

}  // namespace qs
