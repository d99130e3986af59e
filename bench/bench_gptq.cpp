// bench_gptq: GPTQ speed. Writes one JSON file (--out, default
// bench/results/gptq_<mode>.json) and prints it. See bench/README.md.
//
//   --mode layers  qs::gptqQuantize (lazy blocks of 128) on single layer shapes
//                  against a plain-Eigen GPTQ without lazy batching, timed in the
//                  same run, with a correctness check between the two and RTN for
//                  reference.
//   --mode model   calibration + GPTQ of every linear of the synthetic 125m
//                  LLaMA-shaped model through qs::quantizeModel.
//
// Exit codes: 0 success, 2 user error (bad argument, not enough disk), 1 internal error.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <QJsonArray>
#include <QJsonObject>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "bench_common.h"
#include "calib/calibration.h"
#include "calib/hessian.h"
#include "compute/threads.h"
#include "eval/forward.h"
#include "quant/formats.h"
#include "quant/gptq.h"
#include "quant/pipeline.h"
#include "synthetic.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;
using namespace qs::bench;

namespace {

const char* kUsage =
    "usage: bench_gptq --mode layers|model [options]\n"
    "\n"
    "  --mode layers  qs::gptqQuantize (lazy blocks) vs a plain-Eigen GPTQ without lazy batching,\n"
    "                 per layer shape [out x in], on a synthetic W and Hessian; RTN for reference.\n"
    "      [--shapes 768x768,4096x4096,11008x4096] [--format int4-g128] [--repeat 3]\n"
    "      [--baseline-max-seconds 120 (no further baseline repeats once its runs took this long)]\n"
    "      [--hessian-rows 4096 (activation rows behind H)]\n"
    "  --mode model   write the synthetic checkpoint, load it, calibrate on random token ids and\n"
    "                 quantize every linear with GPTQ (qs::quantizeModel).\n"
    "      [--shape 125m] [--dtype F32] [--nsamples 128] [--seqlen 2048] [--format int4-g128]\n"
    "      [--checkpoint DIR (reuse, never deleted)]\n"
    "  common: [--damp 0.01] [--threads N (0=all)] [--out FILE] [--seed N] [--quiet]\n"
    "  formats: int<b>[-sym][-g<G>] (also written int4g128), mxint8, mxint4, mxfp8_e4m3, mxfp8_e5m2,\n"
    "           mxfp6_e3m2, mxfp6_e2m3, mxfp4\n";

struct Args {
    std::string mode;
    std::string shapes = "768x768,4096x4096,11008x4096";
    std::string format = "int4-g128";
    std::string shape = "125m";
    std::string dtype = "F32";
    int repeat = 3;
    double baselineMaxSeconds = 120;
    int hessianRows = 4096;
    int nsamples = 128;
    int seqlen = 2048;
    int threads = 0;
    double damp = 0.01;
    QString checkpoint;
    QString out;
    bool quiet = false;
    uint64_t seed = 0x5EED;
};

/// QuantFormat::parse, also accepting the dash-less spelling "int4g128" / "int4symg128".
QuantFormat parseFormat(const std::string& s) {
    if (auto f = QuantFormat::parse(s)) return *f;
    std::string d;
    for (size_t i = 0; i < s.size(); ++i) {
        const bool afterDigit = i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]));
        if (afterDigit && (s[i] == 'g' || s[i] == 'G' || s.compare(i, 3, "sym") == 0)) d += '-';
        d += s[i];
    }
    if (auto f = QuantFormat::parse(d)) return *f;
    throw Error(QStringLiteral("--format: unknown format '%1'").arg(QString::fromStdString(s)));
}

Args parseArgs(int argc, char** argv) {
    Args a;
    ArgReader r(argc, argv, kUsage);
    while (r.next()) {
        const std::string& f = r.flag();
        if (f == "--mode") a.mode = r.value();
        else if (f == "--shapes") a.shapes = r.value();
        else if (f == "--format") a.format = r.value();
        else if (f == "--shape") a.shape = r.value();
        else if (f == "--dtype") a.dtype = r.value();
        else if (f == "--repeat") a.repeat = r.intValue();
        else if (f == "--baseline-max-seconds") a.baselineMaxSeconds = r.doubleValue();
        else if (f == "--hessian-rows") a.hessianRows = r.intValue();
        else if (f == "--nsamples") a.nsamples = r.intValue();
        else if (f == "--seqlen") a.seqlen = r.intValue();
        else if (f == "--threads") a.threads = r.intValue();
        else if (f == "--damp") a.damp = r.doubleValue();
        else if (f == "--checkpoint") a.checkpoint = r.pathValue();
        else if (f == "--out") a.out = r.pathValue();
        else if (f == "--seed") a.seed = uint64_t(std::strtoull(r.value(), nullptr, 0));
        else if (f == "--quiet") a.quiet = true;
        else r.unknown();
    }
    if (a.mode != "layers" && a.mode != "model")
        throw Error(QStringLiteral("--mode must be 'layers' or 'model' (found '%1')\n%2")
                        .arg(QString::fromStdString(a.mode), QString::fromLatin1(kUsage)));
    if (a.repeat < 1) throw Error(QStringLiteral("--repeat must be >= 1"));
    if (a.hessianRows < 1) throw Error(QStringLiteral("--hessian-rows must be >= 1"));
    if (a.nsamples < 1) throw Error(QStringLiteral("--nsamples must be >= 1"));
    if (a.seqlen < 2) throw Error(QStringLiteral("--seqlen must be >= 2"));
    if (a.out.isEmpty()) a.out = QStringLiteral(QS_BENCH_DIR "/results/gptq_%1.json").arg(QString::fromStdString(a.mode));
    return a;
}

/// Wall and process-CPU seconds of one timed section.
struct Timing {
    double wall = 0, cpu = 0;
    QJsonObject json() const {
        return QJsonObject{{QStringLiteral("seconds"), wall},
                           {QStringLiteral("cpu_seconds"), cpu},
                           {QStringLiteral("cpu_utilization"), wall > 0 ? cpu / (wall * threads()) : 0.0}};
    }
};

template <class F>
Timing timed(F&& f) {
    const double c0 = cpuSeconds();
    const auto t0 = Clock::now();
    f();
    return {since(t0), cpuSeconds() - c0};
}

/// Best (lowest wall) of the runs, and all runs' seconds.
struct Runs {
    std::vector<Timing> all;
    Timing best() const {
        return *std::min_element(all.begin(), all.end(), [](const Timing& x, const Timing& y) { return x.wall < y.wall; });
    }
    QJsonObject json() const {
        QJsonObject o = best().json();
        QJsonArray s;
        for (const Timing& t : all) s.append(t.wall);
        o.insert(QStringLiteral("runs_seconds"), s);
        o.insert(QStringLiteral("runs"), int(all.size()));
        return o;
    }
};

/// Runs f at least once, then again while fewer than minReps runs were made and
/// they took less than maxSeconds in all, or (short sections) while they took
/// less than minSeconds in all (at most 25 runs). `after` is called after each run.
template <class F, class G>
Runs repeatBest(int minReps, double minSeconds, double maxSeconds, F&& f, G&& after) {
    Runs r;
    double total = 0;
    do {
        r.all.push_back(timed(f));
        total += r.all.back().wall;
        after(r.all.back());
    } while ((int(r.all.size()) < minReps && total < maxSeconds) || (total < minSeconds && r.all.size() < 25));
    return r;
}
template <class F>
Runs repeatBest(int minReps, double minSeconds, double maxSeconds, F&& f) {
    return repeatBest(minReps, minSeconds, maxSeconds, std::forward<F>(f), [](const Timing&) {});
}

// ---------------------------------------------------------------------------
// layers: synthetic data

struct LayerShape {
    int64_t out = 0, in = 0;
    std::string label() const { return std::to_string(out) + "x" + std::to_string(in); }
};

std::vector<LayerShape> parseShapes(const std::string& s) {
    std::vector<LayerShape> v;
    size_t p = 0;
    while (p <= s.size()) {
        const size_t e = std::min(s.find(',', p), s.size());
        const std::string item = s.substr(p, e - p);
        long long o = 0, i = 0;
        char extra = 0;
        if (std::sscanf(item.c_str(), "%lldx%lld%c", &o, &i, &extra) != 2 || o < 1 || i < 1 || o > 200000 || i > 65536)
            throw Error(QStringLiteral("--shapes: expected OUTxIN[,OUTxIN...] (e.g. 4096x4096), found '%1'")
                            .arg(QString::fromStdString(item)));
        v.push_back({o, i});
        p = e + 1;
    }
    return v;
}

/// W [out, in]: uniform in [-1, 1) / sqrt(in), as the synthetic checkpoints.
MatrixRM syntheticWeight(const LayerShape& s, uint64_t seed) {
    SplitMix64 r(seed ^ fnv1a64("weight " + s.label()));
    MatrixRM W(s.out, s.in);
    const float k = 1.0f / std::sqrt(float(s.in));
    for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = r.uniformSym() * k;
    return W;
}

struct SyntheticActivations {
    int latent = 16;          // shared factors: every channel is a mix of them plus its own noise
    int outlierChannels = 0;  // channels scaled by `outlierScale`
    float outlierScale = 20.0f;
    int deadChannels = 1;     // channels that are always 0 (H_jj = 0: GPTQ's dead-column path)
    QJsonObject json() const {
        return QJsonObject{{QStringLiteral("latent_factors"), latent},
                           {QStringLiteral("outlier_channels"), outlierChannels},
                           {QStringLiteral("outlier_scale"), double(outlierScale)},
                           {QStringLiteral("dead_channels"), deadChannels}};
    }
};

/// H = 2/N XᵀX (qs::HessianAccumulator) from `rows` synthetic activation rows X
/// [rows, in]: x_c = s_c · (e_c + Σ_k f_k A_kc), e and f i.i.d. uniform, A a fixed
/// mixing (correlated channels); per-channel scales s_c log-uniform in [0.5, 2],
/// a few outlier channels ×outlierScale, dead channels 0. Added in chunks of 512
/// rows (one "sample" each).
Eigen::MatrixXd syntheticHessian(int64_t in, int rows, uint64_t seed, SyntheticActivations& spec) {
    spec.outlierChannels = int(std::max<int64_t>(2, in / 512));
    SplitMix64 r(seed ^ fnv1a64("activations " + std::to_string(in)));
    MatrixRM A(spec.latent, in);
    for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = r.uniformSym() * 0.5f;
    Eigen::VectorXf scale(in);
    for (Eigen::Index c = 0; c < in; ++c) scale[c] = std::exp2(r.uniformSym());
    // outliers and dead channels at fixed pseudo-random positions (distinct)
    std::vector<int64_t> special;
    while (int(special.size()) < spec.outlierChannels + spec.deadChannels) {
        const int64_t c = int64_t(r.next() % uint64_t(in));
        if (std::find(special.begin(), special.end(), c) == special.end()) special.push_back(c);
    }
    for (int k = 0; k < int(special.size()); ++k)
        scale[special[size_t(k)]] = k < spec.outlierChannels ? spec.outlierScale * scale[special[size_t(k)]] : 0.0f;

    HessianAccumulator acc(in);
    const int chunk = 512;
    for (int r0 = 0; r0 < rows; r0 += chunk) {
        const int n = std::min(chunk, rows - r0);
        MatrixRM F(n, spec.latent), X(n, in);
        for (Eigen::Index i = 0; i < F.size(); ++i) F.data()[i] = r.uniformSym();
        for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = r.uniformSym();
        X.noalias() += F * A;
        X = X * scale.asDiagonal();
        acc.add(X, 1);
    }
    return acc.hessian();
}

// ---------------------------------------------------------------------------
// layers: the baseline

struct BaselineResult {
    MatrixRM weight;
    Timing setup, loop;
    int deadColumns = 0;
};

/// GPTQ as a straightforward Eigen implementation writes it: the same algorithm as
/// qs::gptqQuantize (same damping, dead columns, per-channel params from the original
/// W, group params at each group start from the up-to-date weights, rounding by the
/// same Quantizer) but without lazy batching: after every column, a rank-1 update of
/// ALL remaining columns, W[:, j+1:] -= err ⊗ U[j, j+1:]. U = the upper Cholesky factor
/// of (H + λI)⁻¹ computed as the reference does: Cholesky, inverse from it, Cholesky.
/// No act-order, no static groups. Double precision, like qs::gptqQuantize.
BaselineResult plainGptq(const MatrixRM& W, const Eigen::MatrixXd& Hin, const Quantizer& quant, double percDamp) {
    BaselineResult res;
    const Eigen::Index rows = W.rows(), cols = W.cols();
    const Eigen::Index G = quant.format().blockSize();
    const bool grouped = G > 0;
    Eigen::MatrixXd U;
    Eigen::MatrixXd Wd;  // column-major [rows, cols]
    RowParams params;
    res.setup = timed([&] {
        if (!grouped) params = quant.findParams(W);
        Eigen::MatrixXd H = Hin;
        Wd = W.cast<double>();
        for (Eigen::Index j = 0; j < cols; ++j)
            if (H(j, j) == 0) {
                H(j, j) = 1;
                Wd.col(j).setZero();
                ++res.deadColumns;
            }
        H.diagonal().array() += percDamp * H.diagonal().mean();
        Eigen::LLT<Eigen::MatrixXd> llt(H);
        if (llt.info() != Eigen::Success) throw Error(QStringLiteral("baseline: H is not positive definite"));
        const Eigen::MatrixXd Hinv = llt.solve(Eigen::MatrixXd::Identity(cols, cols));
        Eigen::LLT<Eigen::MatrixXd> llt2(Hinv);
        if (llt2.info() != Eigen::Success) throw Error(QStringLiteral("baseline: H^-1 is not positive definite"));
        U = llt2.matrixU();
    });
    Eigen::MatrixXf Q(rows, cols);
    res.loop = timed([&] {
        for (Eigen::Index j = 0; j < cols; ++j) {
            if (grouped && j % G == 0)
                params = quant.findParams(MatrixRM(Wd.middleCols(j, std::min(G, cols - j)).cast<float>()));
            const Eigen::VectorXf q = quant.quantizeColumn(Wd.col(j).cast<float>(), params);
            Q.col(j) = q;
            const Eigen::VectorXd err = (Wd.col(j) - q.cast<double>()) / U(j, j);
            const Eigen::Index rest = cols - j - 1;
            if (rest > 0) Wd.rightCols(rest).noalias() -= err * U.row(j).tail(rest);
        }
    });
    res.weight = Q;
    return res;
}

/// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ)
double relOutputError(const MatrixRM& W, const MatrixRM& Wq, const Eigen::MatrixXd& H) {
    const double base = predictedError(W, MatrixRM::Zero(W.rows(), W.cols()), H);
    return base > 0 ? predictedError(W, Wq, H) / base : 0.0;
}

// ---------------------------------------------------------------------------
// layers

int runLayers(const Args& a) {
    if (a.threads > 0) setThreads(a.threads);
    const QuantFormat fmt = parseFormat(a.format);
    if (fmt.kind == FormatKind::None) throw Error(QStringLiteral("--format: 'none' quantizes nothing"));
    const std::vector<LayerShape> shapes = parseShapes(a.shapes);
    const Quantizer quant(fmt);
    GptqOptions opt;
    opt.percDamp = a.damp;
    QJsonObject out = resultHeader("layers");
    out.insert(QStringLiteral("format"), QString::fromStdString(fmt.name()));
    out.insert(QStringLiteral("gptq_options"), QJsonObject{{QStringLiteral("percdamp"), opt.percDamp},
                                                           {QStringLiteral("block_size"), opt.blockSize},
                                                           {QStringLiteral("act_order"), false},
                                                           {QStringLiteral("static_groups"), false}});
    out.insert(QStringLiteral("repeat"), a.repeat);
    out.insert(QStringLiteral("baseline_max_seconds"), a.baselineMaxSeconds);
    out.insert(QStringLiteral("hessian_rows"), a.hessianRows);

    QJsonArray results;
    for (const LayerShape& s : shapes) {
        const std::string lbl = s.label();
        if (!a.quiet) std::fprintf(stderr, "[bench] %s: synthetic W and H (%d activation rows)\n", lbl.c_str(), a.hessianRows);
        const MatrixRM W = syntheticWeight(s, a.seed);
        SyntheticActivations spec;
        Eigen::MatrixXd H;
        const Timing th = timed([&] { H = syntheticHessian(s.in, a.hessianRows, a.seed, spec); });
        QJsonObject r;
        r.insert(QStringLiteral("shape"), QString::fromStdString(lbl));
        r.insert(QStringLiteral("out"), double(s.out));
        r.insert(QStringLiteral("in"), double(s.in));
        r.insert(QStringLiteral("loadavg_start"), QString::fromStdString(loadavg()));
        QJsonObject hj = spec.json();
        hj.insert(QStringLiteral("rows"), a.hessianRows);
        hj.insert(QStringLiteral("generate_and_accumulate"), th.json());
        r.insert(QStringLiteral("hessian"), hj);

        // ours: best of --repeat (more runs for short shapes: at least 0.5 s in all)
        const double inf = std::numeric_limits<double>::infinity();
        GptqResult g;
        const Runs ours = repeatBest(a.repeat, 0.5, inf, [&] { g = gptqQuantize(W, H, quant, opt); }, [&](const Timing& t) {
            if (!a.quiet) std::fprintf(stderr, "[bench]   gptqQuantize: %.3f s (cpu %.0f%%)\n", t.wall, 100 * t.cpu / (t.wall * threads()));
        });
        // its set-up part (dead columns, damping, Cholesky + triangular inverse of H, copies),
        // measured from outside: the same call on the first row of W only, where the
        // column loop is negligible
        const MatrixRM W1 = W.topRows(1);
        const Runs setup = repeatBest(a.repeat, 0.5, inf, [&] { (void)gptqQuantize(W1, H, quant, opt); });

        // baseline: at least one run; --repeat runs unless they take longer than
        // --baseline-max-seconds in all
        BaselineResult b;
        Runs baseSetup, baseLoop;
        const Runs base = repeatBest(a.repeat, 0.5, a.baselineMaxSeconds, [&] { b = plainGptq(W, H, quant, opt.percDamp); },
                                     [&](const Timing& t) {
            baseSetup.all.push_back(b.setup);
            baseLoop.all.push_back(b.loop);
            if (!a.quiet) std::fprintf(stderr, "[bench]   baseline: %.3f s (set-up %.3f s, columns %.3f s, cpu %.0f%%)\n", t.wall,
                                       b.setup.wall, b.loop.wall, 100 * t.cpu / (t.wall * threads()));
        });
        MatrixRM Wr;
        const Runs rtn = repeatBest(a.repeat, 0.5, inf, [&] { Wr = quant.fakeQuantize(W); });

        const Timing o = ours.best(), bs = base.best(), su = setup.best();
        QJsonObject oj = ours.json();
        oj.insert(QStringLiteral("setup_seconds_estimate"), su.wall);
        oj.insert(QStringLiteral("column_loop_seconds_estimate"), o.wall - su.wall);
        oj.insert(QStringLiteral("setup_share"), su.wall / o.wall);
        // the column loop split further: its lazy-block trailing updates are GEMMs
        // W[:, i2:] -= Err1[out, B] · U[i1:i2, i2:]; their FLOPs at the double GEMM rate of
        // the first (largest) such shape, measured here; the rest is the in-block work
        // (rank-1 updates inside the block, rounding)
        {
            const int64_t B = opt.blockSize;
            double gemmFlops = 0;
            for (int64_t i1 = 0; i1 < s.in; i1 += B) {
                const int64_t i2 = std::min(i1 + B, s.in);
                gemmFlops += 2.0 * double(s.out) * double(i2 - i1) * double(s.in - i2);
            }
            if (s.in > B) {
                const Eigen::MatrixXd E = Eigen::MatrixXd::Constant(s.out, B, 1e-3), Ub = Eigen::MatrixXd::Constant(B, s.in - B, 0.5);
                Eigen::MatrixXd C = Eigen::MatrixXd::Zero(s.out, s.in - B);
                const Runs gr = repeatBest(3, 0.5, inf, [&] { C.noalias() -= E * Ub; });
                const double rate = 2.0 * double(s.out) * double(B) * double(s.in - B) / gr.best().wall;
                const double gemmSec = gemmFlops / rate;
                oj.insert(QStringLiteral("trailing_gemm_flops"), gemmFlops);
                oj.insert(QStringLiteral("dgemm_gflops_first_block_shape"), rate / 1e9);
                oj.insert(QStringLiteral("trailing_gemm_seconds_estimate"), gemmSec);
                oj.insert(QStringLiteral("in_block_seconds_estimate"), o.wall - su.wall - gemmSec);
            }
        }
        oj.insert(QStringLiteral("split_note"),
                  QStringLiteral("set-up (dead columns, damping, Cholesky + triangular inverse of H, copies) = the best time "
                                 "of gptqQuantize on W's first row only with the same H; column loop = total - set-up; "
                                 "trailing GEMMs = their FLOPs / the double GEMM rate of the first block's shape "
                                 "[out x B] * [B x (in - B)] measured in this run; in-block work = column loop - trailing GEMMs"));
        r.insert(QStringLiteral("ours"), oj);
        QJsonObject bj = base.json();
        bj.insert(QStringLiteral("setup"), baseSetup.json());
        bj.insert(QStringLiteral("column_loop"), baseLoop.json());
        r.insert(QStringLiteral("baseline"), bj);
        r.insert(QStringLiteral("rtn"), rtn.json());
        r.insert(QStringLiteral("speedup"), bs.wall / o.wall);
        r.insert(QStringLiteral("speedup_cpu_seconds"), bs.cpu / o.cpu);
        r.insert(QStringLiteral("column_loop_speedup"), baseLoop.best().wall / std::max(1e-9, o.wall - su.wall));
        // the error propagation's arithmetic, Σ_j 2·out·(in-j-1) = out·in·(in-1) FLOPs, per
        // second of the whole call (set-up included): an effective rate
        const double updFlops = double(s.out) * double(s.in) * double(s.in - 1);
        r.insert(QStringLiteral("update_flops"), updFlops);
        r.insert(QStringLiteral("ours_effective_gflops"), updFlops / o.wall / 1e9);
        r.insert(QStringLiteral("baseline_effective_gflops"), updFlops / bs.wall / 1e9);

        // correctness: the same algorithm, so (nearly) the same weights
        {
            const MatrixRM& qo = g.weight;
            const MatrixRM& qb = b.weight;
            const double rel = (qo - qb).norm() / qb.norm();
            int64_t diff = 0;
            for (Eigen::Index i = 0; i < qo.size(); ++i) diff += qo.data()[i] != qb.data()[i];
            QJsonObject c;
            c.insert(QStringLiteral("rel_frobenius_diff"), rel);
            c.insert(QStringLiteral("differing_entries"), double(diff));
            c.insert(QStringLiteral("differing_fraction"), double(diff) / double(qo.size()));
            c.insert(QStringLiteral("max_abs_diff"), double((qo - qb).cwiseAbs().maxCoeff()));
            c.insert(QStringLiteral("rel_output_error_ours"), relOutputError(W, qo, H));
            c.insert(QStringLiteral("rel_output_error_baseline"), relOutputError(W, qb, H));
            c.insert(QStringLiteral("rel_output_error_rtn"), relOutputError(W, Wr, H));
            c.insert(QStringLiteral("dead_columns"), g.deadColumns);
            c.insert(QStringLiteral("dead_columns_baseline"), b.deadColumns);
            c.insert(QStringLiteral("note"), QStringLiteral("rel_output_error = tr(dW H dW^T) / tr(W H W^T)"));
            r.insert(QStringLiteral("correctness"), c);
            if (!a.quiet)
                std::fprintf(stderr, "[bench] %s: ours %.3f s (set-up %.3f s), baseline %.3f s -> %.1fx; RTN %.4f s; "
                                     "outputs differ in %lld of %lld entries (rel. Frobenius %.2e)\n",
                             lbl.c_str(), o.wall, su.wall, bs.wall, bs.wall / o.wall, rtn.best().wall, (long long)diff,
                             (long long)qo.size(), rel);
        }
        r.insert(QStringLiteral("loadavg_end"), QString::fromStdString(loadavg()));
        results.append(r);
    }
    out.insert(QStringLiteral("results"), results);
    out.insert(QStringLiteral("baseline_definition"),
               QStringLiteral("the same GPTQ in plain Eigen without lazy batching: after each column a rank-1 update of all "
                              "remaining columns, W[:, j+1:] -= err * U[j, j+1:] (double, column-major W); same damping, "
                              "dead-column handling and rounding; U = upper Cholesky factor of (H + lambda I)^-1 computed as "
                              "Cholesky -> inverse (LLT solve against I) -> Cholesky; group parameters from the up-to-date "
                              "weights at each group start. Eigen runs only the GEMM-like parts multithreaded; the rank-1 "
                              "updates run on one thread."));
    out.insert(QStringLiteral("ours_definition"),
               QStringLiteral("qs::gptqQuantize: lazy blocks of block_size columns (in-block rank-1 updates, one GEMM per "
                              "block for the remaining columns), U from one Cholesky + a recursive triangular inverse"));
    out.insert(QStringLiteral("loadavg_end"), QString::fromStdString(loadavg()));
    writeJson(out, a.out);
    return 0;
}

// ---------------------------------------------------------------------------
// model

/// "model.layers.3.self_attn.q_proj" -> "q_proj"
std::string kindOf(const std::string& name) {
    const size_t p = name.rfind('.');
    return p == std::string::npos ? name : name.substr(p + 1);
}

int runModel(const Args& a) {
    if (a.threads > 0) setThreads(a.threads);
    const QuantFormat fmt = parseFormat(a.format);
    parseDtype(a.dtype);  // validate before any work
    QJsonObject out = resultHeader("model");

    // --- checkpoint: --checkpoint DIR or a synthetic one in a temporary directory;
    // VmHWM is reset after writing it, so the peak covers load + calibration + GPTQ ---
    BenchModel bm = openBenchModel(a.checkpoint, a.shape, a.dtype, a.seed, !a.quiet, 1, true);
    std::shared_ptr<Model>& model = bm.model;
    if (a.seqlen > model->config.maxPositions)
        throw Error(QStringLiteral("--seqlen %1 exceeds the model's max_position_embeddings %2").arg(a.seqlen).arg(model->config.maxPositions));
    out.insert(QStringLiteral("checkpoint"), bm.json());

    // --- calibration tokens: random ids ---
    CalibOptions calib;
    calib.nsamples = a.nsamples;
    calib.seqlen = a.seqlen;
    calib.seed = a.seed;
    const std::vector<int> tokens = randomTokens(size_t(a.nsamples) * size_t(a.seqlen), model->config.vocabSize, a.seed + 1);
    {
        QJsonObject c = calib.toJson();
        c.insert(QStringLiteral("tokens"), double(tokens.size()));
        c.insert(QStringLiteral("data"), QStringLiteral("random token ids uniform in [0, vocab) from SplitMix64(seed + 1), not "
                                                        "text: fine for timing (the work does not depend on the ids), "
                                                        "meaningless for quality"));
        out.insert(QStringLiteral("calibration"), c);
    }

    LayerPlan plan;
    plan.method = QuantMethod::Gptq;
    plan.weight = fmt;
    plan.gptq.percDamp = a.damp;
    out.insert(QStringLiteral("plan"), QJsonObject{{QStringLiteral("method"), QStringLiteral("gptq")},
                                                   {QStringLiteral("format"), QString::fromStdString(fmt.name())},
                                                   {QStringLiteral("percdamp"), plan.gptq.percDamp},
                                                   {QStringLiteral("block_size"), plan.gptq.blockSize},
                                                   {QStringLiteral("act_order"), plan.gptq.actOrder},
                                                   {QStringLiteral("scope"), QStringLiteral("every linear of every block")}});

    // progress on stderr (block/group messages always, GPTQ column messages every 5 s);
    // the pipeline's block/group messages are kept with their time stamps
    JobContext ctx;
    QJsonArray timeline;
    const auto tq = Clock::now();
    auto lastPrint = std::make_shared<Clock::time_point>(tq);
    ctx.progress = [&, lastPrint](double f, const std::string& msg) {
        // the pipeline's messages carry the overall fraction; gptqQuantize's ("GPTQ [..]: i/n
        // columns") that of its layer
        const bool group = msg.rfind("block ", 0) == 0;
        const auto now = Clock::now();
        if (group) timeline.append(QJsonObject{{QStringLiteral("t"), since(tq)}, {QStringLiteral("message"), QString::fromStdString(msg)}});
        if (a.quiet || (!group && now - *lastPrint < std::chrono::seconds(5))) return;
        *lastPrint = now;
        if (group) std::fprintf(stderr, "[%7.1f s %5.1f%%] %s\n", since(tq), 100.0 * f, msg.c_str());
        else std::fprintf(stderr, "[%7.1f s       ]   %s\n", since(tq), msg.c_str());
    };
    if (!a.quiet)
        std::fprintf(stderr, "[bench] quantizing %d blocks with GPTQ %s, calibration %d x %d tokens, %d threads\n",
                     model->config.numLayers, fmt.name().c_str(), a.nsamples, a.seqlen, threads());
    QuantizeResult qr;
    const Timing total = timed([&] { qr = quantizeModel(*model, tokens, calib, [&](const Linear&) { return plan; }, ctx); });
    const double cpu = total.cpu;
    const ProcStatus ps = readProcStatus();
    out.insert(QStringLiteral("loadavg_end"), QString::fromStdString(loadavg()));

    // per layer kind
    struct Kind {
        int count = 0;
        double seconds = 0;
        int64_t out = 0, in = 0;
    };
    std::map<std::string, Kind> kinds;
    std::vector<std::string> order;
    QJsonArray layers;
    for (const LayerResult& r : qr.layers) {
        const std::string k = kindOf(r.name);
        if (!kinds.count(k)) order.push_back(k);
        Kind& kd = kinds[k];
        kd.count++;
        kd.seconds += r.seconds;
        layers.append(QJsonObject{{QStringLiteral("name"), QString::fromStdString(r.name)},
                                  {QStringLiteral("seconds"), r.seconds},
                                  {QStringLiteral("rel_output_error"), r.relOutputError}});
    }
    for (const Block& b : model->blocks)
        for (const Linear& l : b.linears) {
            Kind& kd = kinds[kindOf(l.name)];
            kd.out = l.outFeatures;
            kd.in = l.inFeatures;
        }
    // the pipeline's per-layer seconds also hold its relative-output-error metric
    // (two predictedError calls, 2 x 2·out·in² FLOPs in double): timed here once per
    // shape so that the GPTQ part can be told apart
    QJsonObject perKind;
    double metricTotal = 0;
    for (const std::string& k : order) {
        const Kind& kd = kinds[k];
        SplitMix64 r(a.seed ^ fnv1a64(k));
        MatrixRM W(kd.out, kd.in), Wq(kd.out, kd.in);
        for (Eigen::Index i = 0; i < W.size(); ++i) {
            W.data()[i] = r.uniformSym();
            Wq.data()[i] = r.uniformSym();
        }
        const Eigen::MatrixXd H = Eigen::MatrixXd::Identity(kd.in, kd.in);
        double best = 1e30;
        for (int rep = 0; rep < 3; ++rep) best = std::min(best, timed([&] { (void)relOutputError(W, Wq, H); }).wall);
        metricTotal += best * kd.count;
        QJsonObject o;
        o.insert(QStringLiteral("shape"), QStringLiteral("%1x%2").arg(kd.out).arg(kd.in));
        o.insert(QStringLiteral("count"), kd.count);
        o.insert(QStringLiteral("seconds"), kd.seconds);
        o.insert(QStringLiteral("mean_seconds"), kd.seconds / std::max(1, kd.count));
        o.insert(QStringLiteral("error_metric_seconds_per_layer"), best);
        o.insert(QStringLiteral("gptq_seconds_estimate"), kd.seconds - best * kd.count);
        perKind.insert(QString::fromStdString(k), o);
    }

    // where the calibration time goes, estimated after the run: one batch (the
    // pipeline's batch of windows) through block 0 of the quantized model, and one
    // Hessian update per input width, each scaled to all nsamples windows
    QJsonObject calibSplit;
    {
        const int T = a.seqlen, N = a.nsamples;
        const int batch = std::max(1, std::min(N, 4096 / T));  // as quantizeModel
        const double batches = double(N) / double(batch);
        Forward fwd(*qr.model);
        const MatrixRM h0 = fwd.embed(tokens.data(), batch, T);
        double blockBest = 1e30;
        for (int rep = 0; rep < 3; ++rep) {
            MatrixRM h = h0;
            blockBest = std::min(blockBest, timed([&] { fwd.block(0, h, batch, T); }).wall);
        }
        const double blockPass = blockBest * batches;
        calibSplit.insert(QStringLiteral("one_block_pass_seconds"), blockPass);
        calibSplit.insert(QStringLiteral("block_passes_equivalent"), qr.calibrationSeconds / blockPass);
        QJsonObject hs;
        std::map<int64_t, double> hessianPass;  // in -> seconds for all windows
        for (const std::string& k : order) {
            const int64_t in = kinds[k].in;
            if (hessianPass.count(in)) continue;
            SplitMix64 r(a.seed ^ uint64_t(in));
            MatrixRM x(int64_t(batch) * T, in);
            for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = r.uniformSym();
            double best = 1e30;
            for (int rep = 0; rep < 3; ++rep) {
                HessianAccumulator acc(in);
                best = std::min(best, timed([&] { acc.add(x, batch); }).wall);
            }
            hessianPass[in] = best * batches;
            hs.insert(QString::number(in), best * batches);
        }
        calibSplit.insert(QStringLiteral("hessian_seconds_all_windows_by_in_features"), hs);
        calibSplit.insert(QStringLiteral("note"),
                          QStringLiteral("measured after the run on the quantized model (load may differ): one_block_pass = all "
                                         "nsamples windows through one decoder block (Forward::block, in batches as the "
                                         "pipeline); block_passes_equivalent = calibration_seconds / one_block_pass; hessian = "
                                         "one HessianAccumulator::add over all windows' rows for each input width"));
    }
    out.insert(QStringLiteral("calibration_split_estimate"), calibSplit);

    const double gptqSeconds = qr.quantizeSeconds;
    out.insert(QStringLiteral("total_seconds"), total.wall);
    out.insert(QStringLiteral("minutes"), total.wall / 60.0);
    out.insert(QStringLiteral("calibration_seconds"), qr.calibrationSeconds);
    out.insert(QStringLiteral("gptq_seconds"), gptqSeconds);
    out.insert(QStringLiteral("gptq_seconds_excl_error_metric_estimate"), gptqSeconds - metricTotal);
    out.insert(QStringLiteral("transform_seconds"), qr.transformSeconds);
    out.insert(QStringLiteral("other_seconds"), total.wall - qr.calibrationSeconds - gptqSeconds - qr.transformSeconds);
    out.insert(QStringLiteral("calibration_share"), qr.calibrationSeconds / total.wall);
    out.insert(QStringLiteral("gptq_share"), gptqSeconds / total.wall);
    out.insert(QStringLiteral("cpu_seconds"), cpu);
    out.insert(QStringLiteral("cpu_utilization"), cpu / (total.wall * threads()));
    out.insert(QStringLiteral("linears"), int(qr.layers.size()));
    out.insert(QStringLiteral("quantized_params"), double(qr.quantizedParams));
    out.insert(QStringLiteral("avg_bits"), qr.avgBits);
    out.insert(QStringLiteral("per_kind"), perKind);
    out.insert(QStringLiteral("peak_rss_bytes"), double(ps.vmHwm));
    out.insert(QStringLiteral("peak_rss_note"),
               bm.peakRssReset ? QStringLiteral("VmHWM, reset after writing the checkpoint: load + calibration + GPTQ")
                        : QStringLiteral("VmHWM (could not be reset: also covers writing the checkpoint)"));
    out.insert(QStringLiteral("end_to_end_seconds"), bm.writeSeconds + bm.loadSeconds + total.wall);
    out.insert(QStringLiteral("timeline"), timeline);
    out.insert(QStringLiteral("layers"), layers);
    out.insert(QStringLiteral("definitions"),
               QStringLiteral("total_seconds: qs::quantizeModel wall time (embedding, calibration forward passes, Hessians, "
                              "GPTQ; excludes writing and loading the checkpoint). calibration_seconds: the pipeline's "
                              "forward passes + Hessian accumulation. gptq_seconds: sum of the pipeline's per-layer seconds "
                              "(weight fetch + gptqQuantize + the relative output error metric); "
                              "gptq_seconds_excl_error_metric_estimate subtracts the metric, timed separately per shape."));
    if (!a.quiet)
        std::fprintf(stderr, "[bench] %d linears in %.1f s = %.2f minutes: calibration %.1f s, GPTQ %.1f s; avg bits %.3f; "
                             "peak RSS %.2f GB; CPU utilization %.0f%%\n",
                     int(qr.layers.size()), total.wall, total.wall / 60, qr.calibrationSeconds, gptqSeconds, qr.avgBits,
                     double(ps.vmHwm) / 1e9, 100 * cpu / (total.wall * threads()));
    qr.model.reset();
    model.reset();
    writeJson(out, a.out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return runMain("bench_gptq", [&] {
        const Args a = parseArgs(argc, argv);
        return a.mode == "layers" ? runLayers(a) : runModel(a);
    });
}
