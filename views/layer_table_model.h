#pragma once
// The layer table (views/): one row per quantizable linear of a Model, in model
// order (block by block; q, k, v, o, gate, up, down or fc1, fc2).
//
// Columns: block, name, shape "out×in" (W is [out, in], core's convention),
// parameters (out·in), sensitivity, error at the current format, activation
// outlier score, weight format (editable), bits per weight, activation format,
// method.
//
// Every row holds a full LayerPlan (what core's recipe gives that layer). The
// table edits the weight format only; every edit goes through the table's
// QUndoStack, and a multi-row edit (one format on many rows, an auto-assignment,
// an imported recipe) is one undo step. Undo restores the previous plans exactly.
//
// Sensitivity columns come from a SensitivityReport (core/alloc) when one is set,
// and are empty before the analysis. Per candidate format c of a layer the
// "error" is
//     e(c) = the measured block-output error of c (mean squared change of the
//            block's output when only this layer is quantized, relative to the
//            change the block makes to its input) when the report measured it,
//            else the relative predicted output error tr(ΔW H ΔWᵀ) / tr(W H Wᵀ).
// Both are dimensionless ratios.
//  * "Sensitivity" = e(reference candidate), where the reference candidate is the
//    report's 3-bit candidate with the fewest bits per weight (int3-g128 in the
//    default candidate list), or, when the report has no 3-bit candidate, its
//    candidate with the fewest bits per weight. It is fixed per report, so it does
//    not move while bits are edited: sort by it to see which layers hurt.
//  * "Error @ format" = e(the candidate equal to the row's current weight format);
//    empty when the current format is not one of the report's candidates.
//  * "Outlier" = the activation outlier score of the layer's input: max / median
//    over input channels of the per-channel max |x|.
//
// Live totals (parameter-weighted over the quantizable linears):
//  * average bits per weight = Σ params·bpw / Σ params with
//    bpw = QuantFormat::bitsPerWeight(inFeatures) (scales and zero points
//    included); a row kept in float (method "none", or format fp32) counts as
//    16 bits: float tensors are stored as fp16.
//  * quantized model size (MB = 10^6 bytes) = Σ linears params·bpw / 8 + every
//    other parameter of the model (embeddings, lm_head, norms, biases, positions)
//    at fp16, 2 bytes each. The recipe's optional lm_head / embed_tokens sections
//    are kept in recipe round trips but the size counts those tensors at fp16.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <QAbstractTableModel>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QUndoStack>

#include "alloc/sensitivity.h"
#include "model/model.h"
#include "quant/formats.h"
#include "quant/pipeline.h"
#include "recipe/recipe.h"

namespace qs::views {

class SetPlansCommand;

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        ColBlock,
        ColName,
        ColShape,
        ColParams,
        ColSensitivity,
        ColErrorAtFormat,
        ColOutlier,
        ColFormat,
        ColBits,
        ColActivation,
        ColMethod,
        ColumnCount
    };
    /// A numeric value for sorting (double) where the column is numeric, the text
    /// otherwise; invalid when the cell is empty (no report yet).
    static constexpr int SortRole = Qt::UserRole + 1;

    struct Row {
        std::string name;
        int block = 0;
        std::string kind;   // linearKindName: "q", "k", ..., "down", "fc1", "fc2"
        int64_t outFeatures = 0, inFeatures = 0;
        int64_t params() const { return outFeatures * inFeatures; }
        LayerPlan plan;
    };

    explicit LayerTableModel(QObject* parent = nullptr);
    ~LayerTableModel() override;

    /// The starting recipe of a freshly set model: GPTQ, int4-g128, float activations.
    static Recipe initialRecipe();

    /// Replaces the rows with the quantizable linears of `model`, every row planned
    /// by initialRecipe(); clears the report and the undo stack.
    /// The model's linears, planned by `initial` (default: initialRecipe()); clears
    /// the undo stack and the report.
    void setModel(const Model& model, const Recipe* initial = nullptr);
    /// For a checkpoint that is already quantized: every row kept as loaded (method
    /// none), so a run evaluates the checkpoint as it is (int4-g128 when a row is given a method).
    static Recipe asLoadedRecipe();
    /// Sets (or clears, with null) the sensitivity report. Not an undoable edit.
    void setReport(std::shared_ptr<const SensitivityReport> report);
    const SensitivityReport* report() const { return report_.get(); }
    QUndoStack* undoStack() const { return undo_; }

    // QAbstractTableModel
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    /// ColFormat, Qt::EditRole: an int (bit width 2..8, group size and symmetry
    /// kept, see withBits) or a format name ("int3-g64", "mxfp4"). One undo step.
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

    // rows
    const Row& row(int r) const { return rows_.at(size_t(r)); }
    int rowOf(const std::string& name) const;  // -1 when absent
    QuantFormat format(int r) const { return row(r).plan.weight; }
    /// bits per weight of the row as the totals count it (float rows: 16).
    double bitsPerWeight(int r) const;
    /// The sensitivity columns' values (see the header comment); nullopt without a
    /// report or when the report lacks the layer / the candidate.
    std::optional<double> sensitivity(int r) const;
    std::optional<double> errorAtFormat(int r) const;
    std::optional<double> outlierScore(int r) const;
    /// "block-output error" or "relative predicted error" (what e(c) is for the
    /// current report), empty without a report.
    QString errorMeasureName() const;
    /// The reference candidate of the "Sensitivity" column (nullopt without a report).
    std::optional<QuantFormat> referenceCandidate() const;

    // edits (every one undoable)
    /// `current` with its bit width set to `bits`: an integer format keeps its group
    /// size, symmetry and scale type (-f16); a GGUF format stays on llama.cpp's grids
    /// at 8 bits (Q8_0) and 4 bits (Q4_0 / Q4_1), else becomes int<bits>-g32; an MX
    /// format becomes int<bits> with groups of 32 (its block size); fp32 and fp16
    /// become int<bits>-g128 (setData treats a row kept in float by method "none"
    /// the same way).
    static QuantFormat withBits(const QuantFormat& current, int bits);
    /// One format on several rows: one undo step (none when nothing changes).
    /// Returns false for an invalid format or row.
    bool setFormats(const QList<int>& rows, const QuantFormat& f, const QString& text = {});
    /// Per-row formats (an allocation): one undo step.
    bool setFormatsPerRow(const std::vector<std::pair<int, QuantFormat>>& changes, const QString& text);
    /// One method (as --method: "gptq", "boa", "awq+gptq", "smoothquant+gptq",
    /// "mgptq", "none", ...) on several rows, formats kept: one undo step. A row
    /// leaving MG-PTQ drops its MG-PTQ options; a row entering it gets its current
    /// bits per weight as the target (the same size, widths mixed per group of its
    /// format; a format without groups becomes int<bits>-g64 first). Returns an
    /// empty string, or why nothing was changed (unknown method, a row MG-PTQ
    /// cannot plan).
    QString setMethods(const QList<int>& rows, const QString& method);
    /// Every row := recipe.planFor(name), and the recipe becomes the table's base
    /// (its defaults, calibration, description, lm_head/embed_tokens): one undo step.
    void applyRecipe(const Recipe& recipe, const QString& text);

    // totals
    int64_t linearParams() const;
    double averageBits() const;
    double sizeMB() const;
    /// The same model with every tensor at fp16.
    double fp16SizeMB() const;
    int64_t otherParams() const { return otherParams_; }

    /// The table's state as a recipe: the base recipe's description, calibration
    /// and lm_head/embed_tokens sections; defaults = the plan covering most
    /// parameters; one exact-name override ("match": the layer's name) per row
    /// whose plan differs from it, naming only the keys that differ.
    /// recipe.planFor(row name) reproduces every row's plan.
    Recipe toRecipe() const;
    const Recipe& baseRecipe() const { return base_; }

Q_SIGNALS:
    /// After every change of formats or rows: the live totals.
    void totalsChanged(double averageBits, double sizeMB);
    void reportChanged();

private:
    friend class SetPlansCommand;
    // Applies plans (and optionally a base recipe) without touching the undo stack.
    void applyPlans(const std::vector<int>& rows, const std::vector<LayerPlan>& plans, const Recipe* base);
    void pushPlans(std::vector<int> rows, std::vector<LayerPlan> after, const QString& text, const Recipe* newBase);
    std::optional<double> candidateError(int r, const QuantFormat& f) const;
    const LayerSensitivity* reportLayer(int r) const;
    void emitTotals();

    std::vector<Row> rows_;
    int64_t otherParams_ = 0;
    Recipe base_;
    std::shared_ptr<const SensitivityReport> report_;
    std::vector<const LayerSensitivity*> reportRows_;  // per row, null when absent
    bool useBlockError_ = false;
    std::optional<QuantFormat> reference_;
    QUndoStack* undo_ = nullptr;
};

/// Formats offered for a whole selection: int2..int8 per channel and with groups of
/// 32/64/128, the MX formats, then the grids the exporters store exactly (GGUF
/// Q8_0/Q4_1/Q4_0, GPTQ-packed int*-g128-f16) and fp16. (The combo box also takes
/// any other format name.)
std::vector<QuantFormat> selectableFormats();

}  // namespace qs::views
