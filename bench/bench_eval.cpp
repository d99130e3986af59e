// bench_eval: eval throughput against the machine's own SGEMM peak, and peak
// memory of a one-window eval of a 7B-shaped checkpoint. Writes one JSON file
// (--out, default bench/results/<mode>.json) and prints it. See bench/README.md.
//
// Exit codes: 0 success, 2 user error (bad argument, not enough disk), 1 internal error.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <sys/statfs.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>

#include <Eigen/Core>

#include "compute/threads.h"
#include "eval/forward.h"
#include "eval/perplexity.h"
#include "bench_common.h"
#include "model/hf_loader.h"
#include "synthetic.h"
#include "util/error.h"
#include "util/rng.h"

using namespace qs;
using namespace qs::bench;

namespace {

const char* kUsage =
    "usage: bench_eval --mode throughput|memory [options]\n"
    "\n"
    "  --mode throughput  SGEMM peak of this machine (same threads), then perplexity eval of a\n"
    "                     synthetic checkpoint; tokens/s, achieved GFLOP/s and ratio to the peak.\n"
    "      [--shape 125m] [--dtype F32] [--seqlen 2048] [--windows 4] [--batch 0=auto]\n"
    "      [--repeat 2 (eval runs; the fastest counts)]\n"
    "  --mode memory      write a synthetic checkpoint to disk, load it (memory-mapped), evaluate\n"
    "                     one window; peak VmHWM / RssAnon / RssFile.\n"
    "      [--shape 7b] [--dtype F16] [--seqlen 128] [--workdir /tmp/quantscope-bench] [--keep]\n"
    "  common: [--checkpoint DIR (reuse, never deleted)] [--threads N (0=all)] [--out FILE]\n"
    "          [--seed N] [--fill-threads 1 (synthetic generation)] [--quiet]\n";

struct Args {
    std::string mode;
    std::string shape;
    std::string dtype;
    int seqlen = 0;
    int windows = 0;
    int batch = 0;
    int threads = 0;
    int repeat = 0;
    int fillThreads = 1;
    QString checkpoint;
    QString workdir = QStringLiteral("/tmp/quantscope-bench");
    QString out;
    bool keep = false;
    bool quiet = false;
    uint64_t seed = 0x5EED;
};

Args parseArgs(int argc, char** argv) {
    Args a;
    ArgReader r(argc, argv, kUsage);
    while (r.next()) {
        const std::string& f = r.flag();
        if (f == "--mode") a.mode = r.value();
        else if (f == "--shape") a.shape = r.value();
        else if (f == "--dtype") a.dtype = r.value();
        else if (f == "--seqlen") a.seqlen = r.intValue();
        else if (f == "--windows") a.windows = r.intValue();
        else if (f == "--batch") a.batch = r.intValue();
        else if (f == "--threads") a.threads = r.intValue();
        else if (f == "--repeat") a.repeat = r.intValue();
        else if (f == "--fill-threads") a.fillThreads = r.intValue();
        else if (f == "--checkpoint") a.checkpoint = r.pathValue();
        else if (f == "--workdir") a.workdir = r.pathValue();
        else if (f == "--out") a.out = r.pathValue();
        else if (f == "--seed") a.seed = uint64_t(std::strtoull(r.value(), nullptr, 0));
        else if (f == "--keep") a.keep = true;
        else if (f == "--quiet") a.quiet = true;
        else r.unknown();
    }
    if (a.mode != "throughput" && a.mode != "memory")
        throw Error(QStringLiteral("--mode must be 'throughput' or 'memory' (found '%1')\n%2")
                        .arg(QString::fromStdString(a.mode), QString::fromLatin1(kUsage)));
    const bool thr = a.mode == "throughput";
    if (a.shape.empty()) a.shape = thr ? "125m" : "7b";
    if (a.dtype.empty()) a.dtype = thr ? "F32" : "F16";
    if (a.seqlen == 0) a.seqlen = thr ? 2048 : 128;
    if (a.windows == 0) a.windows = thr ? 4 : 1;
    if (a.repeat == 0) a.repeat = thr ? 2 : 1;
    if (a.out.isEmpty()) a.out = QStringLiteral(QS_BENCH_DIR "/results/%1.json").arg(QString::fromStdString(a.mode));
    return a;
}

/// True when `path` (or its nearest existing ancestor) is on tmpfs/ramfs: files
/// there live in RAM (shmem), which would defeat a memory benchmark.
bool onRamFilesystem(const QString& path) {
    QString p = QFileInfo(path).absoluteFilePath();
    while (!QFileInfo::exists(p) && p != QLatin1String("/")) p = QFileInfo(p).absolutePath();
    struct statfs sf;
    if (statfs(QFile::encodeName(p).constData(), &sf) != 0) return false;
    return sf.f_type == 0x01021994 /* TMPFS_MAGIC */ || sf.f_type == 0x858458f6 /* RAMFS_MAGIC */;
}

/// Samples /proc/self/status every `periodMs` and keeps the peaks of RssAnon,
/// RssFile and VmRSS, overall and per named phase.
class MemSampler {
public:
    struct Peaks {
        int64_t anon = 0, file = 0, shmem = 0, rss = 0;
        int samples = 0;
    };
    explicit MemSampler(int periodMs) : period_(periodMs) {
        phase("start");
        thread_ = std::thread([this] { loop(); });
    }
    ~MemSampler() { stop(); }
    void phase(const std::string& name) {
        std::lock_guard<std::mutex> lock(mu_);
        current_ = name;
        if (!perPhase_.count(name)) order_.push_back(name);
        perPhase_[name];
        sampleLocked();
    }
    void stop() {
        if (!thread_.joinable()) return;
        stop_ = true;
        thread_.join();
        std::lock_guard<std::mutex> lock(mu_);
        sampleLocked();
    }
    QJsonObject json() const {
        std::lock_guard<std::mutex> lock(mu_);
        auto toJ = [](const Peaks& p) {
            QJsonObject o;
            o.insert(QStringLiteral("rss_anon_peak_bytes"), double(p.anon));
            o.insert(QStringLiteral("rss_file_peak_bytes"), double(p.file));
            o.insert(QStringLiteral("rss_shmem_peak_bytes"), double(p.shmem));
            o.insert(QStringLiteral("vm_rss_peak_bytes"), double(p.rss));
            o.insert(QStringLiteral("samples"), p.samples);
            return o;
        };
        QJsonObject o = toJ(all_);
        o.insert(QStringLiteral("period_ms"), period_);
        QJsonObject ph;
        for (const auto& n : order_) ph.insert(QString::fromStdString(n), toJ(perPhase_.at(n)));
        o.insert(QStringLiteral("phases"), ph);
        return o;
    }
    Peaks phasePeaks(const std::string& n) const {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = perPhase_.find(n);
        return it == perPhase_.end() ? Peaks{} : it->second;
    }

private:
    void loop() {
        while (!stop_) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                sampleLocked();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(period_));
        }
    }
    void sampleLocked() {
        const ProcStatus s = readProcStatus();
        for (Peaks* p : {&all_, &perPhase_[current_]}) {
            p->anon = std::max(p->anon, s.rssAnon);
            p->file = std::max(p->file, s.rssFile);
            p->shmem = std::max(p->shmem, s.rssShmem);
            p->rss = std::max(p->rss, s.vmRss);
            p->samples++;
        }
    }
    int period_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    std::string current_;
    std::vector<std::string> order_;
    std::map<std::string, Peaks> perPhase_;
    Peaks all_;
    std::thread thread_;
};

// ---------------------------------------------------------------------------
// SGEMM timing: exactly the expression the forward pass uses for a linear,
// y[M,N] = x[M,K] * W[N,K]ᵀ with row-major float matrices (Eigen, OpenMP threads),
// plus plain C = A * B for square shapes.

struct GemmShape {
    std::string label;
    int64_t m, n, k;
    bool transB;  // true: C = A * Bᵀ with B [n, k] (the forward's linear); false: B [k, n]
    bool operator<(const GemmShape& o) const { return std::tie(m, n, k, transB) < std::tie(o.m, o.n, o.k, o.transB); }
};

struct GemmResult {
    GemmShape shape;
    double bestSeconds = 0, bestGflops = 0, medianGflops = 0;
    double cpuUtilization = 0;  // CPU seconds / (wall seconds * threads) over the timed reps
    double gflopsPerCpuSecond = 0;  // FLOPs of the timed reps / their CPU seconds
    int reps = 0;
};

GemmResult timeGemm(const GemmShape& s, double minSeconds = 0.6) {
    MatrixRM A(s.m, s.k), B = s.transB ? MatrixRM(s.n, s.k) : MatrixRM(s.k, s.n), C(s.m, s.n);
    SplitMix64 r(0x6E44 + uint64_t(s.m * 31 + s.n * 17 + s.k));
    for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = r.uniformSym();
    for (Eigen::Index i = 0; i < B.size(); ++i) B.data()[i] = r.uniformSym();
    auto once = [&] {
        const auto t0 = Clock::now();
        if (s.transB)
            C.noalias() = A * B.transpose();
        else
            C.noalias() = A * B;
        return since(t0);
    };
    const double warm = once();
    const int reps = std::clamp(int(minSeconds / std::max(warm, 1e-6)), 3, 25);
    std::vector<double> t;
    const double cpu0 = cpuSeconds();
    const auto w0 = Clock::now();
    for (int i = 0; i < reps; ++i) t.push_back(once());
    const double wall = since(w0), cpu = cpuSeconds() - cpu0;
    std::sort(t.begin(), t.end());
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    GemmResult g;
    g.shape = s;
    g.reps = reps;
    g.bestSeconds = t.front();
    g.bestGflops = flops / t.front() / 1e9;
    g.medianGflops = flops / t[t.size() / 2] / 1e9;
    g.cpuUtilization = cpu / (wall * threads());
    g.gflopsPerCpuSecond = flops * reps / cpu / 1e9;
    volatile float sink = C(0, 0);
    (void)sink;
    return g;
}

QJsonObject gemmJson(const GemmResult& g) {
    QJsonObject o;
    o.insert(QStringLiteral("label"), QString::fromStdString(g.shape.label));
    o.insert(QStringLiteral("m"), double(g.shape.m));
    o.insert(QStringLiteral("n"), double(g.shape.n));
    o.insert(QStringLiteral("k"), double(g.shape.k));
    o.insert(QStringLiteral("expr"), g.shape.transB ? QStringLiteral("C[m,n] = A[m,k] * B[n,k]^T (row-major)")
                                                    : QStringLiteral("C[m,n] = A[m,k] * B[k,n] (row-major)"));
    o.insert(QStringLiteral("reps"), g.reps);
    o.insert(QStringLiteral("best_seconds"), g.bestSeconds);
    o.insert(QStringLiteral("best_gflops"), g.bestGflops);
    o.insert(QStringLiteral("median_gflops"), g.medianGflops);
    o.insert(QStringLiteral("cpu_utilization"), g.cpuUtilization);
    o.insert(QStringLiteral("gflops_per_cpu_second"), g.gflopsPerCpuSecond);
    return o;
}

struct PeakRun {
    std::vector<GemmResult> results;
    double peak = 0;
    std::string peakLabel;
    double peakPerCpu = 0;
};

PeakRun measurePeak(const std::vector<GemmShape>& shapes, bool quiet) {
    PeakRun p;
    for (const auto& s : shapes) {
        GemmResult g = timeGemm(s);
        if (!quiet)
            std::fprintf(stderr, "[sgemm] %-34s %6lld x %6lld x %6lld  best %7.1f GFLOP/s  median %7.1f  (%d reps, cpu %3.0f%%)\n",
                         s.label.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, g.bestGflops, g.medianGflops, g.reps,
                         100 * g.cpuUtilization);
        p.peakPerCpu = std::max(p.peakPerCpu, g.gflopsPerCpuSecond);
        if (g.bestGflops > p.peak) {
            p.peak = g.bestGflops;
            p.peakLabel = s.label;
        }
        p.results.push_back(g);
    }
    return p;
}

// ---------------------------------------------------------------------------
// throughput

int runThroughput(const Args& a) {
    parseDtype(a.dtype);  // validate before any work
    if (a.threads > 0) setThreads(a.threads);
    const int nThreads = threads();
    QJsonObject out = resultHeader("throughput");

    // --- checkpoint: --checkpoint DIR or a synthetic one in a temporary directory ---
    BenchModel bm = openBenchModel(a.checkpoint, a.shape, a.dtype, a.seed, !a.quiet, a.fillThreads);
    std::shared_ptr<Model>& model = bm.model;
    const ModelConfig& c = model->config;
    const int T = a.seqlen;
    if (T < 2 || T > c.maxPositions)
        throw Error(QStringLiteral("--seqlen %1 must be in [2, %2] (the model's max_position_embeddings)").arg(T).arg(c.maxPositions));
    const int batch = a.batch > 0 ? a.batch : std::max(1, std::min(a.windows, 4096 / T));  // as evaluatePerplexity
    const int64_t R = int64_t(batch) * T;  // rows of a linear's input
    out.insert(QStringLiteral("checkpoint"), bm.json());

    // --- SGEMM shapes: the model's own linears at [batch*seqlen, in] x [in, out],
    // the lm_head chunk perplexity uses (512 rows), and a large square ---
    const int64_t H = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize;
    const int64_t qd = int64_t(c.numHeads) * c.headDim, kvd = int64_t(c.numKvHeads) * c.headDim;
    const int64_t lmRows = 512;
    std::vector<GemmShape> shapes = {
        {"square 2048^3", 2048, 2048, 2048, false},
        {"square 2048^3 (B^T)", 2048, 2048, 2048, true},
        {"q_proj/o_proj", R, qd, H, true},
        {"k_proj/v_proj", R, kvd, H, true},
        {"gate_proj/up_proj", R, I, H, true},
        {"down_proj", R, H, I, true},
        {"lm_head (512-row chunk)", lmRows, V, H, true},
    };
    {  // dedupe identical shapes (e.g. q and k when kv heads == heads)
        std::set<GemmShape> seen;
        std::vector<GemmShape> u;
        for (auto& g : shapes) {
            auto it = seen.find(g);
            if (it == seen.end()) {
                seen.insert(g);
                u.push_back(g);
            } else {
                for (auto& x : u)
                    if (!(x < g) && !(g < x)) x.label += " = " + g.label;
            }
        }
        shapes = u;
    }

    if (!a.quiet) std::fprintf(stderr, "[bench] SGEMM peak (before eval), %d threads\n", nThreads);
    const PeakRun peakBefore = measurePeak(shapes, a.quiet);

    // --- perplexity eval on random token ids ---
    const std::vector<int> tokens = randomTokens(size_t(a.windows) * size_t(T), c.vocabSize, a.seed + 1);
    EvalOptions opt;
    opt.seqlen = T;
    opt.maxWindows = a.windows;
    opt.batch = batch;
    JobContext ctx;
    if (!a.quiet)
        ctx.progress = [](double f, const std::string& m) { std::fprintf(stderr, "[eval] %3.0f%% %s\n", 100 * f, m.c_str()); };
    // the eval runs --repeat times; the fastest run counts (a shared machine can only slow a run down)
    EvalResult ev;
    double bestEvalCpu = 0;
    QJsonArray runs;
    for (int rep = 0; rep < a.repeat; ++rep) {
        if (!a.quiet)
            std::fprintf(stderr, "[bench] eval run %d/%d: %d windows of %d tokens, batch %d\n", rep + 1, a.repeat, a.windows, T, batch);
        const double cpu0 = cpuSeconds();
        const std::string load0 = firstLine("/proc/loadavg");
        EvalResult r = evaluatePerplexity(*model, tokens, opt, ctx);
        const double cpu = cpuSeconds() - cpu0;
        QJsonObject ro;
        ro.insert(QStringLiteral("seconds"), r.seconds);
        ro.insert(QStringLiteral("tokens_per_second"), r.tokensPerSecond);
        ro.insert(QStringLiteral("cpu_seconds"), cpu);
        ro.insert(QStringLiteral("cpu_utilization"), cpu / (r.seconds * nThreads));
        ro.insert(QStringLiteral("loadavg_start"), QString::fromStdString(load0));
        runs.append(ro);
        if (!a.quiet) std::fprintf(stderr, "[bench]   %.2f s, %.1f tokens/s, CPU utilization %.0f%% of %d threads\n", r.seconds,
                                   r.tokensPerSecond, 100 * cpu / (r.seconds * nThreads), nThreads);
        if (rep == 0 || r.seconds < ev.seconds) {
            ev = std::move(r);
            bestEvalCpu = cpu;
        }
    }

    // --- instrumented pass over one batch: segment timings through the linear-input hooks ---
    // Forward::block calls the hook with a linear's input right before that linear
    // runs, so the gaps between hook calls split a block into segments:
    //   start -> q:    weight fetch + input RMSNorm
    //   q -> o:        q/k/v GEMMs + RoPE + causal attention
    //   o -> gate:     o_proj GEMM + residual add + post-attention RMSNorm
    //   gate -> down:  gate/up GEMMs + SiLU*up
    //   down -> end:   down_proj GEMM + residual add
    // Each segment keeps wall and process-CPU seconds.
    if (!a.quiet) std::fprintf(stderr, "[bench] instrumented pass over one batch (%d windows)\n", batch);
    struct Stamp {
        Clock::time_point w;
        double c;
        static Stamp now() { return {Clock::now(), cpuSeconds()}; }
    };
    struct Seg {
        double wall = 0, cpu = 0;
        void add(const Stamp& x, const Stamp& y) {
            wall += std::chrono::duration<double>(y.w - x.w).count();
            cpu += y.c - x.c;
        }
    };
    Seg sEmbed, sNorm, sQkvAttn, sO, sGateUp, sDown, sFinal, sLm;
    {
        Forward fwd(*model);
        Stamp t0s = Stamp::now();
        MatrixRM h = fwd.embed(tokens.data(), batch, T);
        sEmbed.add(t0s, Stamp::now());
        for (int i = 0; i < c.numLayers; ++i) {
            std::map<LinearKind, Stamp> at;
            auto hook = [&](const Linear& l, const MatrixRM&) {
                if (!at.count(l.kind)) at[l.kind] = Stamp::now();
            };
            const Stamp b0 = Stamp::now();
            fwd.block(i, h, batch, T, hook);
            const Stamp b1 = Stamp::now();
            sNorm.add(b0, at[LinearKind::Q]);
            sQkvAttn.add(at[LinearKind::Q], at[LinearKind::O]);
            sO.add(at[LinearKind::O], at[LinearKind::Gate]);
            sGateUp.add(at[LinearKind::Gate], at[LinearKind::Down]);
            sDown.add(at[LinearKind::Down], b1);
        }
        t0s = Stamp::now();
        const MatrixRM fh = fwd.finalHidden(h);
        sFinal.add(t0s, Stamp::now());
        t0s = Stamp::now();
        for (int b = 0; b < batch; ++b)
            for (int r0 = 0; r0 < T - 1; r0 += int(lmRows)) {
                const int n = std::min(int(lmRows), T - 1 - r0);
                MatrixRM lg = fwd.logits(fh.middleRows(int64_t(b) * T + r0, n));
                volatile float sink = lg(0, 0);
                (void)sink;
            }
        sLm.add(t0s, Stamp::now());
    }

    if (!a.quiet) std::fprintf(stderr, "[bench] SGEMM peak (after eval)\n");
    const PeakRun peakAfter = measurePeak(shapes, a.quiet);
    out.insert(QStringLiteral("loadavg_end"), QString::fromStdString(firstLine("/proc/loadavg")));

    // peak = the better of both measurements: contention during one of them cannot
    // shrink the denominator and flatter the eval
    const double peak = std::max(peakBefore.peak, peakAfter.peak);
    const double peakPerCpu = std::max(peakBefore.peakPerCpu, peakAfter.peakPerCpu);
    PeakRun best = peakBefore;
    for (size_t i = 0; i < best.results.size(); ++i)
        if (peakAfter.results[i].bestGflops > best.results[i].bestGflops) best.results[i] = peakAfter.results[i];
    {
        QJsonObject p;
        QJsonArray before, after;
        for (const auto& g : peakBefore.results) before.append(gemmJson(g));
        for (const auto& g : peakAfter.results) after.append(gemmJson(g));
        p.insert(QStringLiteral("before_eval"), before);
        p.insert(QStringLiteral("after_eval"), after);
        p.insert(QStringLiteral("peak_before_gflops"), peakBefore.peak);
        p.insert(QStringLiteral("peak_after_gflops"), peakAfter.peak);
        p.insert(QStringLiteral("peak_gflops"), peak);
        p.insert(QStringLiteral("peak_shape"), QString::fromStdString(peakBefore.peak >= peakAfter.peak ? peakBefore.peakLabel
                                                                                                        : peakAfter.peakLabel));
        p.insert(QStringLiteral("peak_gflops_per_cpu_second"), peakPerCpu);
        p.insert(QStringLiteral("definition"),
                 QStringLiteral("best GFLOP/s (2*m*n*k / best time) over the listed Eigen SGEMM shapes and repetitions, "
                                "measured before and after the eval in this process with the same thread count; the max of both"));
        out.insert(QStringLiteral("sgemm"), p);
    }

    // --- FLOPs ---
    const double linParams = double(model->numLinearParams());
    const double lmParams = double(V) * double(model->lmHead.logicalCols());
    const double attnPerTokPerLayer = 2.0 * 2.0 * (double(T) + 1.0) / 2.0 * double(H);
    const double flopsPerToken = 2.0 * (linParams + lmParams) + double(c.numLayers) * attnPerTokPerLayer;
    const double evalTokens = double(ev.windows) * double(T);
    const double evalFlops = flopsPerToken * evalTokens;
    const double achieved = evalFlops / ev.seconds / 1e9;
    {
        QJsonObject f;
        f.insert(QStringLiteral("formula"),
                 QStringLiteral("flops_per_token = 2*(linear_params + lm_head_params) + num_layers * 2*2*((T+1)/2)*hidden "
                                "(matmul FLOPs only: QK^T and PV over the causal half, T = seqlen; norms, RoPE, softmax, "
                                "SiLU and log-softmax are not counted; lm_head counted for all T tokens although "
                                "perplexity needs T-1)"));
        f.insert(QStringLiteral("linear_params"), linParams);
        f.insert(QStringLiteral("lm_head_params"), lmParams);
        f.insert(QStringLiteral("attention_flops_per_token"), double(c.numLayers) * attnPerTokPerLayer);
        f.insert(QStringLiteral("flops_per_token"), flopsPerToken);
        f.insert(QStringLiteral("eval_flops"), evalFlops);
        out.insert(QStringLiteral("flops"), f);
    }
    {
        QJsonObject e = ev.toJson();
        e.remove(QStringLiteral("window_loss"));
        e.insert(QStringLiteral("batch"), batch);
        e.insert(QStringLiteral("runs"), runs);
        e.insert(QStringLiteral("note"), QStringLiteral("random token ids; weights synthetic: ppl is meaningless, only the timing matters. "
                                                        "The fastest of the runs is reported; seconds include Forward setup (float weight "
                                                        "cache), all blocks, lm_head and log-softmax. cpu_utilization = CPU seconds / "
                                                        "(wall seconds * threads): well below 1 means other processes took the cores"));
        out.insert(QStringLiteral("eval"), e);
    }
    const double ratio = achieved / peak;
    out.insert(QStringLiteral("tokens_per_second"), ev.tokensPerSecond);
    out.insert(QStringLiteral("achieved_gflops"), achieved);
    out.insert(QStringLiteral("peak_gflops"), peak);
    out.insert(QStringLiteral("fraction_of_peak"), ratio);
    out.insert(QStringLiteral("target_fraction_of_peak"), 0.5);
    out.insert(QStringLiteral("target_met"), ratio >= 0.5);
    const double evalPerCpu = evalFlops / bestEvalCpu / 1e9;
    {
        QJsonObject cn;
        cn.insert(QStringLiteral("eval_gflops_per_cpu_second"), evalPerCpu);
        cn.insert(QStringLiteral("peak_gflops_per_cpu_second"), peakPerCpu);
        cn.insert(QStringLiteral("fraction_of_peak"), evalPerCpu / peakPerCpu);
        cn.insert(QStringLiteral("note"),
                  QStringLiteral("the same ratio with process CPU seconds instead of wall seconds on both sides: robust to other "
                                 "processes taking the cores, but blind to time a thread spends descheduled/sleeping (serial "
                                 "sections, load imbalance), so it can only be higher than the wall-clock ratio on an idle "
                                 "machine; the wall-clock fraction_of_peak is the figure of record"));
        out.insert(QStringLiteral("cpu_normalized"), cn);
    }

    // --- linears only and the per-segment breakdown ---
    const double perBatchTokens = double(R);
    const double oFlops = 2.0 * perBatchTokens * double(H) * double(qd) * c.numLayers;
    const double gateUpFlops = 2.0 * perBatchTokens * 2.0 * double(I) * double(H) * c.numLayers;
    const double downFlops = 2.0 * perBatchTokens * double(H) * double(I) * c.numLayers;
    const double qkvFlops = 2.0 * perBatchTokens * double(H) * double(qd + 2 * kvd) * c.numLayers;
    const double lmRowsTotal = double(batch) * double(T - 1);
    const double lmFlops = 2.0 * lmRowsTotal * double(V) * double(H);
    const double attnFlops = perBatchTokens * double(c.numLayers) * attnPerTokPerLayer;
    auto gemmFor = [&](int64_t m, int64_t n, int64_t k) -> const GemmResult* {
        for (const auto& g : best.results)
            if (g.shape.transB && g.shape.m == m && g.shape.n == n && g.shape.k == k) return &g;
        return nullptr;
    };
    const GemmResult* gQ = gemmFor(R, qd, H);
    const GemmResult* gKV = gemmFor(R, kvd, H);
    Seg qkvStandalone;  // q/k/v GEMM time from the standalone measurement of the same shapes
    if (gQ && gKV) {
        qkvStandalone.wall = (gQ->bestSeconds + 2 * gKV->bestSeconds) * c.numLayers;
        const double fQ = 2.0 * double(R) * double(qd) * double(H), fKV = 2.0 * double(R) * double(kvd) * double(H);
        qkvStandalone.cpu = (fQ / (gQ->gflopsPerCpuSecond * 1e9) + 2 * fKV / (gKV->gflopsPerCpuSecond * 1e9)) * c.numLayers;
    }
    Seg lin;
    for (const Seg* sg : {&sO, &sGateUp, &sDown, &sLm, &qkvStandalone}) {
        lin.wall += sg->wall;
        lin.cpu += sg->cpu;
    }
    const double linearFlops = oFlops + gateUpFlops + downFlops + qkvFlops + lmFlops;
    Seg attn;
    attn.wall = sQkvAttn.wall - qkvStandalone.wall;
    attn.cpu = sQkvAttn.cpu - qkvStandalone.cpu;
    Seg pass;
    for (const Seg* sg : {&sEmbed, &sNorm, &sQkvAttn, &sO, &sGateUp, &sDown, &sFinal, &sLm}) {
        pass.wall += sg->wall;
        pass.cpu += sg->cpu;
    }
    const double evalPerBatch = ev.seconds * double(batch) / double(ev.windows);
    auto seg = [&](const Seg& sg, double flops, const QString& what) {
        QJsonObject o;
        o.insert(QStringLiteral("seconds"), sg.wall);
        o.insert(QStringLiteral("cpu_seconds"), sg.cpu);
        o.insert(QStringLiteral("contains"), what);
        if (flops > 0) {
            o.insert(QStringLiteral("matmul_flops"), flops);
            o.insert(QStringLiteral("gflops"), flops / sg.wall / 1e9);
            o.insert(QStringLiteral("fraction_of_peak"), flops / sg.wall / 1e9 / peak);
            o.insert(QStringLiteral("fraction_of_peak_cpu_normalized"), flops / sg.cpu / 1e9 / peakPerCpu);
        }
        o.insert(QStringLiteral("share_of_pass"), sg.wall / pass.wall);
        return o;
    };
    {
        QJsonObject L = seg(lin, linearFlops,
                            QStringLiteral("o/gate/up/down/lm_head: in-situ segment times of the instrumented pass (each segment "
                                           "also holds a residual add, RMSNorm or SiLU, so this is an upper bound on their GEMM "
                                           "time); q/k/v: the best standalone time of the same Eigen GEMM shape (their in-situ "
                                           "segment also holds RoPE and attention). Per batch of %1 windows.").arg(batch));
        L.remove(QStringLiteral("share_of_pass"));
        L.insert(QStringLiteral("target_met"), linearFlops / lin.wall / 1e9 / peak >= 0.5);
        out.insert(QStringLiteral("linears_only"), L);
    }
    {
        QJsonObject B;
        B.insert(QStringLiteral("windows"), batch);
        B.insert(QStringLiteral("pass_seconds"), pass.wall);
        B.insert(QStringLiteral("pass_cpu_seconds"), pass.cpu);
        B.insert(QStringLiteral("eval_seconds_per_batch"), evalPerBatch);
        B.insert(QStringLiteral("note"),
                 QStringLiteral("one batch run block by block outside evaluatePerplexity (no log-softmax); compare "
                                "pass_seconds with eval_seconds_per_batch to see how much the machine's load moved "
                                "between the two"));
        QJsonObject S;
        S.insert(QStringLiteral("embed"), seg(sEmbed, 0, QStringLiteral("embedding lookup")));
        S.insert(QStringLiteral("norm1"), seg(sNorm, 0, QStringLiteral("block weight fetch + input RMSNorm")));
        S.insert(QStringLiteral("qkv_attention"), seg(sQkvAttn, qkvFlops + attnFlops,
                                                      QStringLiteral("q/k/v GEMMs + RoPE + causal attention (QK^T, softmax, PV)")));
        S.insert(QStringLiteral("attention_estimate"),
                 seg(attn, attnFlops, QStringLiteral("qkv_attention minus the standalone q/k/v GEMM time: RoPE + attention")));
        S.insert(QStringLiteral("o_proj"), seg(sO, oFlops, QStringLiteral("o_proj GEMM + residual + post-attention RMSNorm")));
        S.insert(QStringLiteral("gate_up"), seg(sGateUp, gateUpFlops, QStringLiteral("gate/up GEMMs + SiLU(gate)*up")));
        S.insert(QStringLiteral("down_proj"), seg(sDown, downFlops, QStringLiteral("down_proj GEMM + residual")));
        S.insert(QStringLiteral("final_norm"), seg(sFinal, 0, QStringLiteral("final RMSNorm")));
        S.insert(QStringLiteral("lm_head"), seg(sLm, lmFlops, QStringLiteral("lm_head GEMM in 512-row chunks (T-1 rows per window)")));
        B.insert(QStringLiteral("segments"), S);
        out.insert(QStringLiteral("breakdown_one_batch"), B);
    }
    if (!a.quiet) {
        std::fprintf(stderr, "[bench] %.1f tokens/s, %.1f GFLOP/s achieved, peak %.1f GFLOP/s -> %.1f%% (target 50%%: %s)\n",
                     ev.tokensPerSecond, achieved, peak, 100 * ratio, ratio >= 0.5 ? "met" : "NOT met");
        std::fprintf(stderr, "[bench] CPU-normalized: %.1f / %.1f GFLOP per CPU-second -> %.1f%%; linears only %.1f%% (wall), "
                             "attention %.1f%% of the pass\n",
                     evalPerCpu, peakPerCpu, 100 * evalPerCpu / peakPerCpu, 100 * linearFlops / lin.wall / 1e9 / peak,
                     100 * attn.wall / pass.wall);
    }
    model.reset();
    writeJson(out, a.out);
    return 0;
}

// ---------------------------------------------------------------------------
// memory

int runMemory(const Args& a) {
    MemSampler sampler(20);
    const DType dtype = parseDtype(a.dtype);
    if (a.threads > 0) setThreads(a.threads);
    QJsonObject out = resultHeader("memory");

    // removes a checkpoint this run created (unless --keep), also when the run fails
    struct Cleanup {
        QString dir;
        ~Cleanup() {
            if (!dir.isEmpty()) QDir(dir).removeRecursively();
        }
    } cleanup;
    QString ckpt = a.checkpoint;
    bool created = false;
    double writeSeconds = 0;
    QJsonObject ck;
    if (ckpt.isEmpty()) {
        const bench::SyntheticShape s = parseShape(a.shape);
        ckpt = QDir(a.workdir).filePath(QStringLiteral("synthetic-%1-%2").arg(QString::fromStdString(s.name), QString::fromStdString(a.dtype)));
        const int64_t bytes = int64_t(s.dataBytes(dtype));
        const int64_t need = std::max<int64_t>(int64_t(20) * 1000 * 1000 * 1000, bytes + bytes / 10);
        const int64_t freeB = freeDiskBytes(a.workdir);
        ck.insert(QStringLiteral("free_disk_bytes_before"), double(freeB));
        if (freeB < 0)
            throw Error(QStringLiteral("%1: cannot determine the free disk space").arg(a.workdir));
        if (onRamFilesystem(a.workdir))
            throw Error(QStringLiteral("%1 is on tmpfs/ramfs: the %2 GB checkpoint would be held in RAM and distort the "
                                       "measurement; use --workdir on a disk-backed file system")
                            .arg(a.workdir).arg(double(bytes) / 1e9, 0, 'f', 1));
        if (freeB < need)
            throw Error(QStringLiteral("%1: only %2 GB free on disk; the synthetic %3 %4 checkpoint is %5 GB and this benchmark "
                                       "requires at least %6 GB free (use --workdir on a larger disk, or --checkpoint DIR)")
                            .arg(a.workdir).arg(double(freeB) / 1e9, 0, 'f', 1)
                            .arg(QString::fromStdString(s.name), QString::fromStdString(a.dtype))
                            .arg(double(bytes) / 1e9, 0, 'f', 1).arg(double(need) / 1e9, 0, 'f', 1));
        sampler.phase("write");
        created = true;
        cleanup.dir = a.keep ? QString() : ckpt;
        writeSeconds = bench::writeSyntheticCheckpoint(ckpt, s, dtype, a.seed, !a.quiet, a.fillThreads).seconds;
    }
    const QString stFile = QDir(ckpt).filePath(QStringLiteral("model.safetensors"));
    const double fileBytes = QFileInfo(stFile).exists() ? double(QFileInfo(stFile).size()) : -1.0;

    // peak RSS of the eval alone: reset VmHWM (which the writer's buffers may have raised)
    const ProcStatus beforeLoad = readProcStatus();
    const bool hwmReset = resetPeakRss();
    sampler.phase("load");
    auto t0 = Clock::now();
    std::shared_ptr<Model> model = loadModel(ckpt);
    const double loadSeconds = since(t0);
    const ProcStatus afterLoad = readProcStatus();
    const bench::SyntheticShape s = a.checkpoint.isEmpty() ? parseShape(a.shape) : shapeOfModel(*model);
    const ModelConfig& c = model->config;
    if (a.seqlen < 2 || a.seqlen > c.maxPositions)
        throw Error(QStringLiteral("--seqlen %1 must be in [2, %2]").arg(a.seqlen).arg(c.maxPositions));

    sampler.phase("eval");
    const std::vector<int> tokens = randomTokens(size_t(a.windows) * size_t(a.seqlen), c.vocabSize, a.seed + 1);
    EvalOptions opt;
    opt.seqlen = a.seqlen;
    opt.maxWindows = a.windows;
    opt.batch = a.batch;
    JobContext ctx;
    if (!a.quiet)
        ctx.progress = [](double f, const std::string& m) { std::fprintf(stderr, "[eval] %3.0f%% %s\n", 100 * f, m.c_str()); };
    if (!a.quiet) std::fprintf(stderr, "[bench] loaded in %.2f s; evaluating %d window(s) of %d tokens\n", loadSeconds, a.windows, a.seqlen);
    const EvalResult ev = evaluatePerplexity(*model, tokens, opt, ctx);
    const ProcStatus afterEval = readProcStatus();

    // how much of the eval is converting weights from the file dtype to float32: one
    // block's linears converted again, exactly as Forward does per block (matrix() +
    // releasePages()), extrapolated to all blocks
    sampler.phase("convert");
    double convertBlockSeconds = 0;
    {
        const Block& blk = model->blocks[model->blocks.size() / 2];
        const auto tc = Clock::now();
        for (const Linear& l : blk.linears) {
            const MatrixRM w = l.weight.matrix();
            l.weight.releasePages();
            volatile float sink = w(0, 0);
            (void)sink;
        }
        convertBlockSeconds = since(tc);
    }
    sampler.phase("end");
    sampler.stop();

    ck.insert(QStringLiteral("path"), ckpt);
    ck.insert(QStringLiteral("dtype"), QString::fromStdString(a.dtype));
    ck.insert(QStringLiteral("file_bytes"), fileBytes);
    ck.insert(QStringLiteral("stored_tensor_bytes"), double(model->storedBytes()));
    ck.insert(QStringLiteral("params"), double(model->numParams()));
    ck.insert(QStringLiteral("write_seconds"), writeSeconds);
    ck.insert(QStringLiteral("created_by_this_run"), created);
    ck.insert(QStringLiteral("shape"), configJson(s));
    ck.insert(QStringLiteral("page_cache_note"),
              QStringLiteral("a freshly written checkpoint is usually still in the page cache, so the eval reads it from memory, not disk"));
    out.insert(QStringLiteral("checkpoint"), ck);
    out.insert(QStringLiteral("load_seconds"), loadSeconds);
    {
        QJsonObject e = ev.toJson();
        e.remove(QStringLiteral("window_loss"));
        e.insert(QStringLiteral("note"), QStringLiteral("random token ids, synthetic weights: ppl is meaningless"));
        out.insert(QStringLiteral("eval"), e);
    }
    out.insert(QStringLiteral("eval_seconds"), ev.seconds);
    {
        QJsonObject cv;
        cv.insert(QStringLiteral("one_block_seconds"), convertBlockSeconds);
        cv.insert(QStringLiteral("all_blocks_seconds_estimate"), convertBlockSeconds * c.numLayers);
        cv.insert(QStringLiteral("share_of_eval_estimate"), convertBlockSeconds * c.numLayers / ev.seconds);
        cv.insert(QStringLiteral("note"),
                  QStringLiteral("the linears of the middle block converted from the file dtype to float32 again after the eval "
                                 "(WeightSource::matrix + releasePages, as Forward does per block when the model exceeds the "
                                 "float cache budget), times the number of blocks; includes faulting the pages back in"));
        out.insert(QStringLiteral("weight_conversion"), cv);
    }

    // expected floor: one block's linears as float32 (per-block conversion) + one lm_head chunk
    const double blockF32 = double(s.linearParams()) / double(s.layers) * 4.0;
    const double lmChunkF32 = 8192.0 * double(c.hiddenSize) * 4.0;
    const double memTotal = double(memTotalBytes());
    const MemSampler::Peaks evalPeaks = sampler.phasePeaks("eval"), loadPeaks = sampler.phasePeaks("load");
    const double peakAnonEval = double(std::max({evalPeaks.anon, loadPeaks.anon, afterEval.rssAnon}));
    const double peakFileEval = double(std::max({evalPeaks.file, loadPeaks.file, afterEval.rssFile}));
    {
        QJsonObject m;
        m.insert(QStringLiteral("vm_hwm_bytes"), double(afterEval.vmHwm));
        m.insert(QStringLiteral("vm_hwm_reset_before_load"), hwmReset);
        m.insert(QStringLiteral("vm_hwm_note"),
                 hwmReset ? QStringLiteral("VmHWM was reset (clear_refs 5) after writing the checkpoint: peak RSS of load + eval")
                          : QStringLiteral("VmHWM could not be reset: it also covers writing the checkpoint"));
        m.insert(QStringLiteral("vm_hwm_before_reset_bytes"), double(beforeLoad.vmHwm));
        m.insert(QStringLiteral("rss_anon_peak_load_eval_bytes"), peakAnonEval);
        m.insert(QStringLiteral("rss_file_peak_load_eval_bytes"), peakFileEval);
        m.insert(QStringLiteral("after_load"), QJsonObject{{QStringLiteral("rss_anon_bytes"), double(afterLoad.rssAnon)},
                                                           {QStringLiteral("rss_file_bytes"), double(afterLoad.rssFile)}});
        m.insert(QStringLiteral("after_eval"), QJsonObject{{QStringLiteral("rss_anon_bytes"), double(afterEval.rssAnon)},
                                                           {QStringLiteral("rss_file_bytes"), double(afterEval.rssFile)}});
        m.insert(QStringLiteral("sampler"), sampler.json());
        m.insert(QStringLiteral("mem_total_bytes"), memTotal);
        m.insert(QStringLiteral("anon_peak_fraction_of_ram"), peakAnonEval / memTotal);
        m.insert(QStringLiteral("anon_peak_fraction_of_file"), peakAnonEval / fileBytes);
        m.insert(QStringLiteral("one_block_f32_bytes"), blockF32);
        m.insert(QStringLiteral("lm_head_chunk_f32_bytes"), lmChunkF32);
        m.insert(QStringLiteral("anon_peak_over_one_block_f32"), peakAnonEval / blockF32);
        m.insert(QStringLiteral("target"), QStringLiteral("peak RssAnon during load + eval <= 25% of physical RAM "
                                                          "(memory-mapped weights, one block converted to float at a time)"));
        m.insert(QStringLiteral("target_met"), peakAnonEval <= 0.25 * memTotal);
        out.insert(QStringLiteral("memory"), m);
    }
    if (!a.quiet)
        std::fprintf(stderr, "[bench] VmHWM %.2f GB, peak RssAnon %.2f GB, peak RssFile %.2f GB (file %.2f GB), eval %.1f s\n",
                     double(afterEval.vmHwm) / 1e9, peakAnonEval / 1e9, peakFileEval / 1e9, fileBytes / 1e9, ev.seconds);
    model.reset();
    if (created && !a.keep) {
        QDir(ckpt).removeRecursively();
        cleanup.dir.clear();
        out.insert(QStringLiteral("checkpoint_deleted"), true);
    } else {
        out.insert(QStringLiteral("checkpoint_deleted"), false);
    }
    writeJson(out, a.out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return runMain("bench_eval", [&] {
        const Args a = parseArgs(argc, argv);
        return a.mode == "throughput" ? runThroughput(a) : runMemory(a);
    });
}
