#include "alloc/allocate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QJsonDocument>
#include <QStringList>

#include "util/error.h"

namespace qs {

int64_t AllocItem::costBits(size_t c) const { return std::llround(double(params) * choices[c].bitsPerWeight); }

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void validate(const std::vector<AllocItem>& items) {
    if (items.empty()) throw Error(QStringLiteral("allocation: no layers to allocate"));
    for (const AllocItem& it : items) {
        if (it.choices.empty()) throw Error(QStringLiteral("allocation: layer '%1' has no choices").arg(QString::fromStdString(it.name)));
        if (it.choices.size() > 255) throw Error(QStringLiteral("allocation: layer '%1' has more than 255 choices").arg(QString::fromStdString(it.name)));
        if (it.params <= 0) throw Error(QStringLiteral("allocation: layer '%1' has no parameters").arg(QString::fromStdString(it.name)));
        for (const AllocChoice& c : it.choices)
            if (!std::isfinite(c.error) || !(c.bitsPerWeight > 0))
                throw Error(QStringLiteral("allocation: layer '%1', choice %2: the error (%3) and bits per weight (%4) must be finite and positive bits")
                                .arg(QString::fromStdString(it.name), QString::fromStdString(c.format.name()))
                                .arg(c.error)
                                .arg(c.bitsPerWeight));
    }
}

/// The DP over capacities 0..R units of *extra* cost: each item's cost is counted
/// above its cheapest choice (so the all-cheapest assignment always fits and a
/// coarse unit never makes a feasible budget infeasible), rounded up to units.
/// arg[i * (R+1) + r] = choice of item i at capacity r.
struct Table {
    int64_t unit = 1, R = 0;
    std::vector<std::vector<int64_t>> w;  // extra units per item and choice
    std::vector<double> best;            // min Σ error at capacity ≤ r (all items)
    std::vector<uint8_t> arg;
};

int64_t cheapest(const AllocItem& it) {
    int64_t m = std::numeric_limits<int64_t>::max();
    for (size_t c = 0; c < it.choices.size(); ++c) m = std::min(m, it.costBits(c));
    return m;
}

Table solve(const std::vector<AllocItem>& items, int64_t capacityUnits, int64_t unit) {
    Table t;
    t.unit = std::max<int64_t>(1, unit);
    t.R = std::max<int64_t>(0, capacityUnits);
    const size_t L = items.size(), W = size_t(t.R) + 1;
    t.w.resize(L);
    for (size_t i = 0; i < L; ++i) {
        const int64_t base = cheapest(items[i]);
        for (size_t c = 0; c < items[i].choices.size(); ++c) t.w[i].push_back((items[i].costBits(c) - base + t.unit - 1) / t.unit);
    }
    std::vector<double> prev(W, 0.0), cur(W);
    t.arg.assign(L * W, 0);
    for (size_t i = 0; i < L; ++i) {
        uint8_t* arg = &t.arg[i * W];
        for (size_t r = 0; r < W; ++r) {
            double b = kInf;
            uint8_t a = 0;
            for (size_t c = 0; c < items[i].choices.size(); ++c) {
                const int64_t wc = t.w[i][c];
                if (wc > int64_t(r)) continue;
                const double v = prev[r - size_t(wc)] + items[i].choices[c].error;
                if (v < b) b = v, a = uint8_t(c);
            }
            cur[r] = b;
            arg[r] = a;
        }
        std::swap(prev, cur);
    }
    t.best = std::move(prev);
    return t;
}

Allocation backtrack(const std::vector<AllocItem>& items, const Table& t, int64_t r) {
    Allocation a;
    a.unitBits = t.unit;
    a.choice.assign(items.size(), 0);
    const size_t W = size_t(t.R) + 1;
    int64_t params = 0;
    for (size_t k = items.size(); k-- > 0;) {
        const int c = t.arg[k * W + size_t(r)];
        a.choice[k] = c;
        r -= t.w[k][size_t(c)];
        a.error += items[k].choices[size_t(c)].error;
        a.bits += items[k].costBits(size_t(c));
        params += items[k].params;
    }
    a.avgBits = double(a.bits) / double(params);
    return a;
}

int64_t totalParams(const std::vector<AllocItem>& items) {
    int64_t p = 0;
    for (const AllocItem& it : items) p += it.params;
    return p;
}

}  // namespace

Allocation allocateKnapsack(const std::vector<AllocItem>& items, double budgetAvgBits, int resolution) {
    validate(items);
    if (resolution < 1) throw Error(QStringLiteral("allocation: the resolution must be positive"));
    const int64_t P = totalParams(items);
    if (!(budgetAvgBits > 0) || !std::isfinite(budgetAvgBits))
        throw Error(QStringLiteral("allocation: the budget must be a positive number of bits per weight, got %1").arg(budgetAvgBits));
    const int64_t budget = int64_t(std::floor(budgetAvgBits * double(P) + 1e-6));
    int64_t minBits = 0;
    for (const AllocItem& it : items) minBits += cheapest(it);
    if (minBits > budget)
        throw Error(QStringLiteral("allocation: a budget of %1 bits per weight is below the cheapest assignment (%2 bits per weight)")
                        .arg(budgetAvgBits)
                        .arg(double(minBits) / double(P), 0, 'f', 4));
    // the extra bits above the cheapest assignment, in units fine enough for the resolution
    const int64_t extra = budget - minBits;
    const int64_t unit = std::max<int64_t>(1, (extra + resolution - 1) / resolution);
    const Table t = solve(items, extra / unit, unit);
    return backtrack(items, t, t.R);
}

std::vector<Allocation> paretoFrontier(const std::vector<AllocItem>& items, int resolution) {
    validate(items);
    int64_t range = 0;  // the most expensive assignment's extra bits over the cheapest
    for (const AllocItem& it : items) {
        int64_t hi = 0;
        for (size_t c = 0; c < it.choices.size(); ++c) hi = std::max(hi, it.costBits(c));
        range += hi - cheapest(it);
    }
    const int64_t unit = std::max<int64_t>(1, (range + resolution - 1) / std::max(1, resolution));
    // capacity covers the most expensive assignment even after rounding every cost up
    const Table t = solve(items, (range + unit - 1) / unit + int64_t(items.size()), unit);
    std::vector<Allocation> out;
    double last = kInf;
    for (int64_t r = 0; r <= t.R; ++r) {
        if (!(t.best[size_t(r)] < last)) continue;
        last = t.best[size_t(r)];
        Allocation a = backtrack(items, t, r);
        while (!out.empty() && out.back().bits >= a.bits) out.pop_back();  // keep bits ascending
        out.push_back(std::move(a));
    }
    return out;
}

AllocCost parseAllocCost(const QString& s) {
    if (s == QLatin1String("predicted")) return AllocCost::Predicted;
    if (s == QLatin1String("block")) return AllocCost::Block;
    if (s == QLatin1String("ppl")) return AllocCost::Ppl;
    throw Error(QStringLiteral("unknown allocation cost '%1'; expected predicted, block or ppl").arg(s));
}

const char* allocCostName(AllocCost c) {
    switch (c) {
    case AllocCost::Predicted: return "predicted";
    case AllocCost::Block: return "block";
    case AllocCost::Ppl: return "ppl";
    }
    return "?";
}

std::vector<AllocItem> allocItemsFromReport(const SensitivityReport& r, const std::vector<QuantFormat>& allowed, AllocCost cost) {
    if (r.layers.empty()) throw Error(QStringLiteral("the sensitivity report has no layers"));
    for (const QuantFormat& f : allowed)
        if (std::find(r.options.candidates.begin(), r.options.candidates.end(), f) == r.options.candidates.end()) {
            QStringList have;
            for (const QuantFormat& c : r.options.candidates) have << QString::fromStdString(c.name());
            throw Error(QStringLiteral("the sensitivity report has no candidate '%1' (it has %2); rerun sensitivity with --candidates")
                            .arg(QString::fromStdString(f.name()), have.join(QStringLiteral(", "))));
        }
    std::vector<AllocItem> items;
    for (const LayerSensitivity& l : r.layers) {
        AllocItem it;
        it.name = l.name;
        it.params = l.params();
        for (const CandidateCost& c : l.candidates) {
            if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), c.format) == allowed.end()) continue;
            double e = c.predictedError;
            if (cost == AllocCost::Block) e = c.blockError;
            if (cost == AllocCost::Ppl) e = c.pplDelta;
            if (!std::isfinite(e))
                throw Error(QStringLiteral("layer '%1', candidate %2: the report has no %3 cost (%4)")
                                .arg(QString::fromStdString(l.name), QString::fromStdString(c.format.name()), QLatin1String(allocCostName(cost)),
                                     cost == AllocCost::Ppl ? QStringLiteral("run sensitivity with --eval to measure perplexity deltas")
                                                            : QStringLiteral("run sensitivity with --block-error-tokens > 0")));
            it.choices.push_back({c.format, c.bitsPerWeight, e});
        }
        std::stable_sort(it.choices.begin(), it.choices.end(),
                         [](const AllocChoice& a, const AllocChoice& b) { return a.bitsPerWeight < b.bitsPerWeight; });
        items.push_back(std::move(it));
    }
    return items;
}

namespace {

QJsonObject recipeBase(const SensitivityReport& r, const QString& description) {
    return QJsonObject{{QStringLiteral("quantscope_recipe"), Recipe::kVersion},
                       {QStringLiteral("description"), description},
                       {QStringLiteral("calibration"), QJsonObject{{QStringLiteral("nsamples"), r.calib.nsamples},
                                                                   {QStringLiteral("seqlen"), r.calib.seqlen},
                                                                   {QStringLiteral("seed"), double(r.calib.seed)}}}};
}

}  // namespace

std::vector<AllocItem> mgptqLevelItems(const SensitivityReport& r, const std::vector<QuantFormat>& bases,
                                       const std::vector<int>& choices, AllocCost cost, int maxLevels) {
    if (r.layers.empty()) throw Error(QStringLiteral("the sensitivity report has no layers"));
    if (bases.empty()) throw Error(QStringLiteral("MG-PTQ allocation: no group size given"));
    for (const QuantFormat& base : bases)
        if (base.kind != FormatKind::Int || base.groupSize <= 0)
            throw Error(QStringLiteral("MG-PTQ allocation needs grouped integer formats (a group size), got %1").arg(QString::fromStdString(base.name())));
    MgptqOptions check;
    check.choices = choices;
    check.targetBits = 1;
    if (const std::string e = validateMgptqOptions(check); !e.empty()) throw Error(QString::fromStdString(e));
    maxLevels = std::clamp(maxLevels, int(choices.size()), 250 / int(bases.size()));
    std::vector<AllocItem> items;
    for (const LayerSensitivity& l : r.layers) {
        AllocItem it;
        it.name = l.name;
        it.params = l.params();
        for (const QuantFormat& base : bases) {
            // the report's cost of each uniform width
            std::vector<double> ub, ue;  // bits per weight, cost
            for (int b : choices) {
                QuantFormat f = base;
                f.bits = b;
                const auto c = std::find_if(l.candidates.begin(), l.candidates.end(), [&](const CandidateCost& c) { return c.format == f; });
                if (c == l.candidates.end()) {
                    QStringList have;
                    for (const QuantFormat& h : r.options.candidates) have << QString::fromStdString(h.name());
                    throw Error(QStringLiteral("MG-PTQ allocation: the sensitivity report has no candidate %1 for layer '%2' (it has %3); "
                                               "rerun sensitivity with --candidates including int<b>-g%4 for every width of --choices")
                                    .arg(QString::fromStdString(f.name()), QString::fromStdString(l.name), have.join(QStringLiteral(", ")))
                                    .arg(base.groupSize));
                }
                double e = c->predictedError;
                if (cost == AllocCost::Block) e = c->blockError;
                if (cost == AllocCost::Ppl) e = c->pplDelta;
                if (!std::isfinite(e))
                    throw Error(QStringLiteral("layer '%1', candidate %2: the report has no %3 cost")
                                    .arg(QString::fromStdString(l.name), QString::fromStdString(f.name()), QLatin1String(allocCostName(cost))));
                ub.push_back(f.bitsPerWeight(l.inFeatures));
                ue.push_back(e);
            }
            const std::vector<double> all = mgptqAchievableBits(l.inFeatures, base, choices);
            std::vector<double> levels;
            if (int(all.size()) <= maxLevels) {
                levels = all;
            } else {
                for (int i = 0; i < maxLevels; ++i)
                    levels.push_back(all[size_t(std::llround(double(i) * double(all.size() - 1) / double(maxLevels - 1)))]);
                for (double u : ub) levels.push_back(u);
                std::sort(levels.begin(), levels.end());
                levels.erase(std::unique(levels.begin(), levels.end(), [](double a, double b) { return std::abs(a - b) < 1e-12; }), levels.end());
            }
            for (double v : levels) {
                size_t k = 0;
                while (k + 2 < ub.size() && v > ub[k + 1]) ++k;
                // geometric between the two uniform widths around v (linear when a cost is <= 0)
                double e = ue[0];
                if (ub.size() > 1) {
                    const double f = std::clamp((v - ub[k]) / (ub[k + 1] - ub[k]), 0.0, 1.0);
                    e = ue[k] > 0 && ue[k + 1] > 0 ? std::pow(ue[k], 1 - f) * std::pow(ue[k + 1], f) : (1 - f) * ue[k] + f * ue[k + 1];
                }
                QuantFormat f = base;
                f.bits = choices.front();
                it.choices.push_back({f, v, e});
            }
        }
        std::stable_sort(it.choices.begin(), it.choices.end(),
                         [](const AllocChoice& a, const AllocChoice& b) { return a.bitsPerWeight < b.bitsPerWeight; });
        items.push_back(std::move(it));
    }
    return items;
}

Recipe mgptqRecipe(const SensitivityReport& r, const std::vector<AllocItem>& items, const Allocation* a, const QuantFormat& base,
                   const MgptqOptions& m, const QString& description) {
    LayerPlan plan;
    plan.method = QuantMethod::Mgptq;
    plan.weight = base;
    if (usesGptq(r.options.method)) plan.gptq = r.options.gptq;
    plan.mgptq = m;
    const Recipe baseRecipe = Recipe::parse(QJsonDocument(recipeBase(r, description)).toJson(), QStringLiteral("allocation"));
    std::vector<Recipe::LayerPlanEntry> layers;
    if (a) {
        for (size_t i = 0; i < items.size(); ++i) {
            const AllocChoice& c = items[i].choices[size_t(a->choice[i])];
            plan.weight = c.format;
            plan.mgptq.targetBits = c.bitsPerWeight;
            layers.push_back({items[i].name, items[i].params, plan});
        }
    } else {
        for (const LayerSensitivity& l : r.layers) {
            if (const std::string e = mgptqPlanError(plan, l.inFeatures); !e.empty())
                throw Error(QStringLiteral("layer '%1': %2").arg(QString::fromStdString(l.name), QString::fromStdString(e)));
            layers.push_back({l.name, l.params(), plan});
        }
    }
    return Recipe::fromLayerPlans(layers, baseRecipe, QStringLiteral("allocation"));
}

Recipe allocationRecipe(const SensitivityReport& r, const std::vector<AllocItem>& items, const Allocation& a,
                        const QString& description) {
    LayerPlan plan;  // the report's error model: its rounding and GPTQ options
    plan.method = r.options.method;
    if (usesGptq(plan.method)) plan.gptq = r.options.gptq;
    std::vector<Recipe::LayerPlanEntry> layers;
    for (size_t i = 0; i < items.size(); ++i) {
        plan.weight = items[i].choices[size_t(a.choice[i])].format;
        layers.push_back({items[i].name, items[i].params, plan});
    }
    return Recipe::fromLayerPlans(layers, Recipe::parse(QJsonDocument(recipeBase(r, description)).toJson(), QStringLiteral("allocation")),
                                  QStringLiteral("allocation"));
}

}  // namespace qs
