#pragma once
// Mixed-precision allocation under a budget (core/alloc).
//
// Each quantizable linear i has choices c (a weight format) with a storage cost
// bits(i, c) = params_i · bits_per_weight(c) (scales and zero points included)
// and an error e(i, c) (the sensitivity report's predicted tr(ΔW H ΔWᵀ), or a
// measured block-output error or perplexity delta). The allocation picks one
// choice per layer minimising Σ e subject to Σ bits ≤ budget · Σ params: a
// multiple-choice knapsack, solved exactly by dynamic programming over the bits
// above the all-cheapest assignment, in integer units of u bits,
// u = ceil((budget bits - cheapest bits) / resolution). Each layer's extra cost
// over its cheapest choice is rounded *up* to units, so the result always meets
// the real budget and the table stays layers x resolution bytes; with u = 1
// (small models or a large resolution) it is the exact optimum.
#include <cstdint>
#include <string>
#include <vector>

#include "alloc/sensitivity.h"
#include "quant/formats.h"
#include "recipe/recipe.h"

namespace qs {

struct AllocChoice {
    QuantFormat format;
    double bitsPerWeight = 0;
    double error = 0;
};

struct AllocItem {
    std::string name;
    int64_t params = 0;
    std::vector<AllocChoice> choices;
    int64_t costBits(size_t c) const;  // params · bits per weight, rounded to whole bits
};

struct Allocation {
    std::vector<int> choice;  // per item
    double error = 0;         // Σ e
    int64_t bits = 0;         // Σ bits
    double avgBits = 0;       // bits / Σ params
    int64_t unitBits = 1;     // the DP's unit u
};

/// Minimises Σ error with average bits per weight ≤ budgetAvgBits. Throws
/// qs::Error when even the cheapest choices exceed the budget, or on bad input.
Allocation allocateKnapsack(const std::vector<AllocItem>& items, double budgetAvgBits, int resolution = 20000);

/// The error-vs-average-bits Pareto frontier (each point an optimal allocation
/// for its budget up to the rounding of costs to units, on a grid of `resolution` units between the cheapest and the
/// most expensive assignment); ascending bits, strictly descending error.
std::vector<Allocation> paretoFrontier(const std::vector<AllocItem>& items, int resolution = 4000);

/// Which sensitivity measurement is the per-layer error.
enum class AllocCost { Predicted, Block, Ppl };
AllocCost parseAllocCost(const QString& s);  // "predicted" | "block" | "ppl"; throws on others
const char* allocCostName(AllocCost c);

/// Items from a report: the report's candidates that `allowed` names (empty =
/// all), per layer. An allowed format that the report lacks, or a cost the report
/// did not measure, is a qs::Error.
std::vector<AllocItem> allocItemsFromReport(const SensitivityReport& r, const std::vector<QuantFormat>& allowed, AllocCost cost);

/// The recipe of an allocation: the report's method (and GPTQ options) and
/// calibration; defaults.wformat = the most common chosen format; one exact-name
/// override per layer that differs.
Recipe allocationRecipe(const SensitivityReport& r, const std::vector<AllocItem>& items, const Allocation& a,
                        const QString& description);

/// MG-PTQ per-layer targets (allocate --method mgptq): one item per layer whose
/// choices are the bits-per-weight levels MG-PTQ reaches exactly on that layer with
/// each of `bases` (a group size and symmetry each; the item's choice format is its
/// base) and `choices` widths (mgptqAchievableBits; at most `maxLevels` per base,
/// evenly spread over the achievable ones, always including every uniform width). A level's cost is
/// interpolated between the report's costs of the uniform formats on either side of
/// it (int<b>-g<G> for adjacent widths b in `choices`), geometrically in the share f
/// of groups at the wider width: e_lo^(1-f) · e_hi^f (linearly when a cost is <= 0).
/// Spreading the extra bits evenly would cost the linear chord; placing them on the
/// most sensitive groups first (what MG-PTQ does) makes the error convex in f, below
/// the chord, and the geometric mean is such a convex curve (an assumption: the
/// report has no per-group costs). With the chord a mixed level never beats mixing
/// uniform layers, so the knapsack would never choose one. The
/// knapsack over these items picks per-layer targets that meet the model's budget;
/// MG-PTQ then meets each layer's target exactly. The report must hold the uniform
/// formats (a qs::Error names the missing one).
std::vector<AllocItem> mgptqLevelItems(const SensitivityReport& r, const std::vector<QuantFormat>& bases,
                                       const std::vector<int>& choices, AllocCost cost, int maxLevels = 64);

/// The MG-PTQ recipe: method mgptq, the report's GPTQ options and calibration, `m`'s
/// choices and seed; per layer wformat (its group size) and mgptq_bits = its chosen
/// level in `a` (items from mgptqLevelItems), or, with `a` null, `base` and
/// m.targetBits for every layer (a qs::Error names a layer on which that is below
/// every achievable level).
Recipe mgptqRecipe(const SensitivityReport& r, const std::vector<AllocItem>& items, const Allocation* a, const QuantFormat& base,
                   const MgptqOptions& m, const QString& description);

}  // namespace qs
