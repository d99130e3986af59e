#include "quant/boa.h"

#include <cmath>

#include "eval/forward.h"
#include "util/error.h"

namespace qs {

BoaStats::BoaStats(const ModelConfig& c, int64_t inFeatures, bool withV) : c_(c), in_(inFeatures), withV_(withV) {
    const int hd = c.headDim;
    covK_.assign(size_t(c.numKvHeads), Eigen::MatrixXd::Zero(hd, hd));
    covQ_.assign(size_t(c.numKvHeads), Eigen::MatrixXd::Zero(hd, hd));
    if (withV) vCol_.assign(size_t(c.numKvHeads), Eigen::MatrixXd::Zero(inFeatures, inFeatures));
}

void BoaStats::add(const MatrixRM& x, const MatrixRM& q, const MatrixRM& k, int seqlen) {
    const int nH = c_.numHeads, nKV = c_.numKvHeads, hd = c_.headDim, group = nH / nKV;
    if (seqlen < 1 || x.rows() % seqlen != 0 || x.cols() != in_ || q.rows() != x.rows() || k.rows() != x.rows() ||
        q.cols() != int64_t(nH) * hd || k.cols() != int64_t(nKV) * hd)
        throw Error(QStringLiteral("BoA statistics: inconsistent shapes (x %1x%2, q %3x%4, k %5x%6, seqlen %7)")
                        .arg(x.rows()).arg(x.cols()).arg(q.rows()).arg(q.cols()).arg(k.rows()).arg(k.cols()).arg(seqlen));
    if (seqlen_ && seqlen != seqlen_) throw Error(QStringLiteral("BoA statistics: windows of different lengths"));
    seqlen_ = seqlen;
    const int nW = int(x.rows() / seqlen);
    const Eigen::MatrixXd qd = q.cast<double>(), kd = k.cast<double>();
    for (int g = 0; g < nKV; ++g) {
        covK_[size_t(g)].noalias() += kd.middleCols(int64_t(g) * hd, hd).transpose() * kd.middleCols(int64_t(g) * hd, hd);
        for (int h = g * group; h < (g + 1) * group; ++h)
            covQ_[size_t(g)].noalias() += qd.middleCols(int64_t(h) * hd, hd).transpose() * qd.middleCols(int64_t(h) * hd, hd);
    }
    tokens_ += x.rows();
    windows_ += nW;
    if (!withV_) return;
    // v: (A_h X)ᵀ (A_h X) per window and head, summed into the head's KV group
    const float scale = 1.0f / std::sqrt(float(hd));
    std::vector<Eigen::MatrixXd> part(size_t(nKV) * size_t(nW));
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int w = 0; w < nW; ++w)
        for (int g = 0; g < nKV; ++g) {
            const int64_t r0 = int64_t(w) * seqlen;
            const MatrixRM X = x.middleRows(r0, seqlen);
            Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(in_, in_);
            for (int h = g * group; h < (g + 1) * group; ++h) {
                MatrixRM s = q.block(r0, int64_t(h) * hd, seqlen, hd) * k.block(r0, int64_t(g) * hd, seqlen, hd).transpose();
                causalSoftmaxRows(s, 0, scale);
                const Eigen::MatrixXd Y = (s * X).cast<double>();  // [T, in]
                acc.noalias() += Y.transpose() * Y;
            }
            part[size_t(w) * size_t(nKV) + size_t(g)] = std::move(acc);
        }
    for (int w = 0; w < nW; ++w)
        for (int g = 0; g < nKV; ++g) vCol_[size_t(g)] += part[size_t(w) * size_t(nKV) + size_t(g)];
}

Eigen::MatrixXd BoaStats::ropeMean(const Eigen::MatrixXd& C, const ModelConfig& c, int seqlen) {
    if (c.arch != Arch::Llama || seqlen < 1) return C;  // learned/absolute positions: no rotation
    const int hd = int(C.rows()), half = hd / 2;
    std::vector<float> cosT, sinT;
    ropeTables(c, seqlen, cosT, sinT);
    // mean over t of the four products per frequency pair (i, j)
    Eigen::MatrixXd cc = Eigen::MatrixXd::Zero(half, half), cs = cc, sc = cc, ss = cc;
    for (int t = 0; t < seqlen; ++t) {
        const Eigen::Map<const Eigen::VectorXf> co(cosT.data() + size_t(t) * half, half), si(sinT.data() + size_t(t) * half, half);
        const Eigen::VectorXd cd = co.cast<double>(), sd = si.cast<double>();
        cc.noalias() += cd * cd.transpose();
        cs.noalias() += cd * sd.transpose();
        sc.noalias() += sd * cd.transpose();
        ss.noalias() += sd * sd.transpose();
    }
    const double inv = 1.0 / double(seqlen);
    cc *= inv, cs *= inv, sc *= inv, ss *= inv;
    Eigen::MatrixXd M(hd, hd);
    auto pair = [&](int a) { return a < half ? a + half : a - half; };
    auto sigma = [&](int a) { return a < half ? 1.0 : -1.0; };
    for (int b = 0; b < hd; ++b)
        for (int a = 0; a < hd; ++a) {
            const int i = a % half, j = b % half, ab = pair(a), bb = pair(b);
            M(a, b) = C(a, b) * cc(i, j) + sigma(b) * C(a, bb) * cs(i, j) + sigma(a) * C(ab, b) * sc(i, j) +
                      sigma(a) * sigma(b) * C(ab, bb) * ss(i, j);
        }
    return M;
}

std::vector<Eigen::MatrixXd> BoaStats::qRowFactors() const {
    const int nH = c_.numHeads, group = nH / c_.numKvHeads;
    std::vector<Eigen::MatrixXd> perKv, out;
    for (const Eigen::MatrixXd& ck : covK_) perKv.push_back(ropeMean(ck / double(std::max<int64_t>(1, tokens_)), c_, seqlen_));
    for (int h = 0; h < nH; ++h) out.push_back(perKv[size_t(h / group)]);
    return out;
}

std::vector<Eigen::MatrixXd> BoaStats::kRowFactors() const {
    std::vector<Eigen::MatrixXd> out;
    for (const Eigen::MatrixXd& cq : covQ_) out.push_back(ropeMean(cq / double(std::max<int64_t>(1, tokens_)), c_, seqlen_));
    return out;
}

std::vector<Eigen::MatrixXd> BoaStats::vColFactors() const {
    if (!withV_) throw Error(QStringLiteral("BoA statistics were collected without the v factors"));
    std::vector<Eigen::MatrixXd> out;
    for (const Eigen::MatrixXd& v : vCol_) out.push_back(v * (2.0 / double(std::max<int64_t>(1, windows_))));
    return out;
}

std::vector<Eigen::MatrixXd> BoaStats::vRowFactors(const MatrixRM& Wo, const ModelConfig& c) {
    const int nH = c.numHeads, nKV = c.numKvHeads, hd = c.headDim, group = nH / nKV;
    std::vector<Eigen::MatrixXd> out(size_t(nKV), Eigen::MatrixXd::Zero(hd, hd));
    const Eigen::MatrixXd W = Wo.cast<double>();
    for (int h = 0; h < nH; ++h) out[size_t(h / group)].noalias() += W.middleCols(int64_t(h) * hd, hd).transpose() * W.middleCols(int64_t(h) * hd, hd);
    return out;
}

}  // namespace qs
