#include "quant/transforms.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace qs {

Eigen::VectorXd smoothQuantScales(const Eigen::VectorXd& actAbsMax, const std::vector<const MatrixRM*>& weights,
                                  double alpha) {
    const Eigen::Index in = actAbsMax.size();
    if (!(alpha >= 0 && alpha <= 1)) throw Error(QStringLiteral("SmoothQuant alpha must be in [0, 1], got %1").arg(alpha));
    if (weights.empty()) throw Error(QStringLiteral("SmoothQuant: no weights share this input"));
    Eigen::VectorXd wMax = Eigen::VectorXd::Zero(in);
    for (const MatrixRM* W : weights) {
        if (W->cols() != in)
            throw Error(QStringLiteral("SmoothQuant: weight has %1 input channels, activations have %2").arg(W->cols()).arg(in));
        wMax = wMax.cwiseMax(W->cwiseAbs().colwise().maxCoeff().transpose().cast<double>());
    }
    Eigen::VectorXd s(in);
    for (Eigen::Index j = 0; j < in; ++j) {
        if (!(actAbsMax[j] > 0)) {
            s[j] = 1.0;
            continue;
        }
        const double a = std::max(actAbsMax[j], 1e-5), w = std::max(wMax[j], 1e-5);
        s[j] = std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), 1e-5);
    }
    return s;
}

Eigen::VectorXd awqScales(const Eigen::VectorXd& meanAbs, double ratio) {
    Eigen::VectorXd s = meanAbs.unaryExpr([ratio](double x) { return std::max(std::pow(x, ratio), 1e-4); });
    return s / std::sqrt(s.maxCoeff() * s.minCoeff());
}

MatrixRM quantizeScaled(const MatrixRM& W, const Eigen::VectorXd& s, const Quantizer& q) {
    const Eigen::RowVectorXf sf = s.cast<float>().transpose();
    MatrixRM Ws = W.array().rowwise() * sf.array();
    MatrixRM Q = q.fakeQuantize(Ws);
    Q.array().rowwise() /= sf.array();
    return Q;
}

GroupGram::GroupGram(int64_t inFeatures, int groupSize) : in_(inFeatures), g_(groupSize > 0 ? groupSize : int(inFeatures)) {
    for (int64_t c0 = 0; c0 < in_; c0 += g_) {
        const int64_t n = std::min<int64_t>(g_, in_ - c0);
        blocks_.push_back(Eigen::MatrixXd::Zero(n, n));
    }
}

void GroupGram::add(const MatrixRM& x) {
    if (x.cols() != in_) throw Error(QStringLiteral("GroupGram: input has %1 columns, expected %2").arg(x.cols()).arg(in_));
    const Eigen::MatrixXd xd = x.cast<double>();
#pragma omp parallel for schedule(dynamic, 1) if (blocks_.size() > 1 && x.rows() * in_ > 65536)
    for (size_t g = 0; g < blocks_.size(); ++g) {
        const int64_t c0 = int64_t(g) * g_, n = blocks_[g].rows();
        blocks_[g].noalias() += xd.middleCols(c0, n).transpose() * xd.middleCols(c0, n);
    }
    tokens_ += x.rows();
}

ClipResult awqClip(const MatrixRM& W, const Quantizer& q, const GroupGram& gram, const AwqOptions& opt) {
    const int64_t rows = W.rows(), cols = W.cols();
    const int G = gram.groupSize();
    const int qg = q.format().blockSize() > 0 ? q.format().blockSize() : int(cols);
    if (std::min<int64_t>(qg, cols) != std::min<int64_t>(G, cols))
        throw Error(QStringLiteral("AWQ clipping: Gram groups of %1 do not match the format's groups of %2").arg(G).arg(qg));
    const int nGroups = int(gram.blocks().size());
    const int steps = std::max(1, int(opt.maxShrink * opt.grid));
    // per (row, group): max |w| and the best loss / factor so far
    MatrixRM absMax(rows, nGroups);
    for (int g = 0; g < nGroups; ++g) {
        const int64_t c0 = int64_t(g) * G, n = gram.blocks()[size_t(g)].rows();
        absMax.col(g) = W.middleCols(c0, n).cwiseAbs().rowwise().maxCoeff();
    }
    Eigen::MatrixXd bestLoss = Eigen::MatrixXd::Constant(rows, nGroups, std::numeric_limits<double>::infinity());
    Eigen::MatrixXf bestF = Eigen::MatrixXf::Ones(rows, nGroups);
    ClipResult res;
    MatrixRM Wc(rows, cols);
    for (int i = 0; i < steps; ++i) {
        const float f = float(1.0 - double(i) / opt.grid);
        for (int g = 0; g < nGroups; ++g) {
            const int64_t c0 = int64_t(g) * G, n = gram.blocks()[size_t(g)].rows();
            for (int64_t r = 0; r < rows; ++r) {
                const float m = absMax(r, g) * f;
                Wc.row(r).segment(c0, n) = W.row(r).segment(c0, n).cwiseMax(-m).cwiseMin(m);
            }
        }
        const MatrixRM Qc = q.fakeQuantize(Wc);
        for (int g = 0; g < nGroups; ++g) {
            const int64_t c0 = int64_t(g) * G, n = gram.blocks()[size_t(g)].rows();
            const Eigen::MatrixXd E = (Qc.middleCols(c0, n) - W.middleCols(c0, n)).cast<double>();
            const Eigen::VectorXd loss = (E * gram.blocks()[size_t(g)]).cwiseProduct(E).rowwise().sum();
            for (int64_t r = 0; r < rows; ++r) {
                if (i == 0) res.lossBefore += loss[r];
                if (loss[r] < bestLoss(r, g)) {
                    bestLoss(r, g) = loss[r];
                    bestF(r, g) = f;
                }
            }
        }
    }
    res.weight = W;
    for (int g = 0; g < nGroups; ++g) {
        const int64_t c0 = int64_t(g) * G, n = gram.blocks()[size_t(g)].rows();
        for (int64_t r = 0; r < rows; ++r) {
            const float m = absMax(r, g) * bestF(r, g);
            res.weight.row(r).segment(c0, n) = W.row(r).segment(c0, n).cwiseMax(-m).cwiseMin(m);
        }
    }
    res.lossAfter = bestLoss.sum();
    res.meanShrink = double(bestF.mean());
    return res;
}

std::vector<InputGroup> inputGroups(Block& b, const ModelConfig& c) {
    std::vector<InputGroup> g;
    auto members = [&](std::initializer_list<LinearKind> kinds) {
        std::vector<Linear*> m;
        for (LinearKind k : kinds)
            if (Linear* l = b.find(k)) m.push_back(l);
        return m;
    };
    g.push_back({members({LinearKind::Q, LinearKind::K, LinearKind::V}), &b.attnNorm, nullptr});
    Linear* v = b.find(LinearKind::V);
    Linear* o = b.find(LinearKind::O);
    // softmax(QKᵀ)·V is linear in V: o's input channel j is v's output channel j (without GQA)
    g.push_back({members({LinearKind::O}), nullptr, (v && o && v->outFeatures == o->inFeatures) ? v : nullptr});
    if (b.find(LinearKind::Gate)) {
        g.push_back({members({LinearKind::Gate, LinearKind::Up}), &b.mlpNorm, nullptr});
        // act(gate) · up is linear in up
        g.push_back({members({LinearKind::Down}), nullptr, b.find(LinearKind::Up)});
    } else {
        g.push_back({members({LinearKind::Fc1}), &b.mlpNorm, nullptr});
        // ReLU(z / s) = ReLU(z) / s for s > 0; GELU is not homogeneous
        g.push_back({members({LinearKind::Fc2}), nullptr, c.act == Activation::ReLU ? b.find(LinearKind::Fc1) : nullptr});
    }
    return g;
}

void foldInputScales(InputGroup& g, const Eigen::VectorXd& s) {
    const Eigen::VectorXf sf = s.cast<float>();
    for (Linear* m : g.members) {
        MatrixRM W = m->weightMatrix();
        W.array().rowwise() *= sf.transpose().array();
        m->override = std::make_shared<const MatrixRM>(std::move(W));
    }
    if (g.prevNorm) {
        g.prevNorm->weightOverride = std::make_shared<const VectorF>(g.prevNorm->weightVector().cwiseQuotient(sf));
        const VectorF b = g.prevNorm->biasVector();
        if (b.size()) g.prevNorm->biasOverride = std::make_shared<const VectorF>(b.cwiseQuotient(sf));
    } else if (g.prevLinear) {
        MatrixRM W = g.prevLinear->weightMatrix();
        W.array().colwise() /= sf.array();
        g.prevLinear->override = std::make_shared<const MatrixRM>(std::move(W));
        const VectorF b = g.prevLinear->biasVector();
        if (b.size()) g.prevLinear->biasOverride = std::make_shared<const VectorF>(b.cwiseQuotient(sf));
    }
}

}  // namespace qs
