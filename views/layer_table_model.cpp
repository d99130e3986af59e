#include "layer_table_model.h"

#include <algorithm>
#include <cmath>

#include <QLocale>
#include <QUndoCommand>

namespace qs::views {

// ---------------------------------------------------------------------------
// The undo command: a set of rows with their plans before and after (and the
// base recipe before and after, for an imported recipe).
class SetPlansCommand : public QUndoCommand {
public:
    SetPlansCommand(LayerTableModel* m, std::vector<int> rows, std::vector<LayerPlan> before, std::vector<LayerPlan> after,
                    std::optional<Recipe> baseBefore, std::optional<Recipe> baseAfter, const QString& text)
        : QUndoCommand(text), m_(m), rows_(std::move(rows)), before_(std::move(before)), after_(std::move(after)),
          baseBefore_(std::move(baseBefore)), baseAfter_(std::move(baseAfter)) {}
    void redo() override { m_->applyPlans(rows_, after_, baseAfter_ ? &*baseAfter_ : nullptr); }
    void undo() override { m_->applyPlans(rows_, before_, baseBefore_ ? &*baseBefore_ : nullptr); }

private:
    LayerTableModel* m_;
    std::vector<int> rows_;
    std::vector<LayerPlan> before_, after_;
    std::optional<Recipe> baseBefore_, baseAfter_;
};

namespace {

bool isFloat(const LayerPlan& p) { return p.method == QuantMethod::None || p.weight.kind == FormatKind::None; }

QString formatText(const LayerPlan& p) {
    if (p.method == QuantMethod::None) return QStringLiteral("float (method none)");
    if (p.method == QuantMethod::Mgptq) {
        // the widths vary per column group: the target and the grid they share
        QStringList w;
        for (int c : p.mgptq.choices) w << QString::number(c);
        return QStringLiteral("mgptq <= %1 b, %2%3 g%4")
            .arg(p.mgptq.targetBits, 0, 'g', 4)
            .arg(w.join(QLatin1Char('/')))
            .arg(p.weight.symmetric ? QStringLiteral("-sym") : QString())
            .arg(p.weight.groupSize);
    }
    return QString::fromStdString(p.weight.name());
}

QString groupedInt(int64_t v) { return QLocale(QLocale::English).toString(qlonglong(v)); }

QString sci(double v) {
    if (v == 0) return QStringLiteral("0");
    const double a = std::fabs(v);
    if (a >= 1e-3 && a < 1e4) return QString::number(v, 'g', 3);
    return QString::number(v, 'e', 2);
}

}  // namespace

std::vector<QuantFormat> selectableFormats() {
    std::vector<QuantFormat> out;
    for (int b = 2; b <= 8; ++b)
        for (int g : {0, 32, 64, 128}) out.push_back(QuantFormat{FormatKind::Int, b, false, g});
    for (const char* n : {"mxint8", "mxint4", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4",
                          // the grids the exporters store exactly: llama.cpp's blocks, GPTQ-packed fp16 scales
                          "gguf_q8_0", "gguf_q4_1", "gguf_q4_0", "int2-g128-f16", "int3-g128-f16", "int4-g128-f16",
                          "int4-sym-g128-f16", "int8-g128-f16", "fp16"})
        out.push_back(*QuantFormat::parse(n));
    return out;
}

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent), base_(initialRecipe()), undo_(new QUndoStack(this)) {}

LayerTableModel::~LayerTableModel() = default;

Recipe LayerTableModel::initialRecipe() {
    return Recipe::parse(R"({"quantscope_recipe": 1, "defaults": {"method": "gptq", "wformat": "int4-g128"}})",
                         QStringLiteral("initial recipe"));
}

Recipe LayerTableModel::asLoadedRecipe() {
    return Recipe::parse(R"({"quantscope_recipe": 1, "description": "the checkpoint as loaded",
                            "defaults": {"method": "none", "wformat": "int4-g128"}})",
                         QStringLiteral("as-loaded recipe"));
}

void LayerTableModel::setModel(const Model& model, const Recipe* initial) {
    beginResetModel();
    undo_->clear();
    rows_.clear();
    base_ = initial ? *initial : initialRecipe();
    for (const Block& b : model.blocks)
        for (const Linear& l : b.linears) {
            Row r;
            r.name = l.name;
            r.block = b.index;
            r.kind = linearKindName(l.kind);
            r.outFeatures = l.outFeatures;
            r.inFeatures = l.inFeatures;
            r.plan = base_.planFor(l.name);
            rows_.push_back(std::move(r));
        }
    otherParams_ = std::max<int64_t>(0, model.numParams() - model.numLinearParams());
    report_.reset();
    reportRows_.assign(rows_.size(), nullptr);
    reference_.reset();
    useBlockError_ = false;
    endResetModel();
    Q_EMIT reportChanged();
    emitTotals();
}

void LayerTableModel::setReport(std::shared_ptr<const SensitivityReport> report) {
    report_ = std::move(report);
    reportRows_.assign(rows_.size(), nullptr);
    reference_.reset();
    useBlockError_ = false;
    if (report_) {
        for (size_t i = 0; i < rows_.size(); ++i) reportRows_[i] = report_->find(rows_[i].name);
        // block-output errors when the report measured them for every candidate
        bool block = !report_->layers.empty();
        for (const LayerSensitivity& l : report_->layers)
            for (const CandidateCost& c : l.candidates) block = block && std::isfinite(c.blockError);
        useBlockError_ = block;
        // the reference candidate: 3 bits with the fewest bits/weight, else the fewest bits/weight
        std::optional<QuantFormat> best3, best;
        double b3 = 1e300, b = 1e300;
        for (const QuantFormat& f : report_->options.candidates) {
            const double bpw = f.bitsPerWeight(0);
            if (f.bits == 3 && bpw < b3) b3 = bpw, best3 = f;
            if (bpw < b) b = bpw, best = f;
        }
        reference_ = best3 ? best3 : best;
    }
    if (!rows_.empty())
        Q_EMIT dataChanged(index(0, ColSensitivity), index(rowCount() - 1, ColOutlier));
    Q_EMIT headerDataChanged(Qt::Horizontal, ColSensitivity, ColOutlier);
    Q_EMIT reportChanged();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

int LayerTableModel::rowOf(const std::string& name) const {
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].name == name) return int(i);
    return -1;
}

double LayerTableModel::bitsPerWeight(int r) const {
    const Row& x = row(r);
    if (isFloat(x.plan)) return 16.0;
    if (x.plan.method == QuantMethod::Mgptq && mgptqPlanError(x.plan, x.inFeatures).empty()) {
        // MG-PTQ: the largest level the layer reaches <= its target (the widths vary per group)
        double bits = 0;
        for (double v : mgptqAchievableBits(x.inFeatures, x.plan.weight, x.plan.mgptq.choices))
            if (v <= x.plan.mgptq.targetBits * (1 + 1e-12)) bits = v;
        return bits;
    }
    return x.plan.weight.bitsPerWeight(x.inFeatures);
}

const LayerSensitivity* LayerTableModel::reportLayer(int r) const {
    return (r >= 0 && size_t(r) < reportRows_.size()) ? reportRows_[size_t(r)] : nullptr;
}

std::optional<double> LayerTableModel::candidateError(int r, const QuantFormat& f) const {
    const LayerSensitivity* l = reportLayer(r);
    if (!l) return std::nullopt;
    for (const CandidateCost& c : l->candidates)
        if (c.format == f) {
            const double e = useBlockError_ ? c.blockError : c.relPredictedError;
            return std::isfinite(e) ? std::optional<double>(e) : std::nullopt;
        }
    return std::nullopt;
}

std::optional<double> LayerTableModel::sensitivity(int r) const {
    if (!reference_) return std::nullopt;
    return candidateError(r, *reference_);
}

std::optional<double> LayerTableModel::errorAtFormat(int r) const {
    if (isFloat(row(r).plan)) return std::nullopt;
    return candidateError(r, row(r).plan.weight);
}

std::optional<double> LayerTableModel::outlierScore(int r) const {
    const LayerSensitivity* l = reportLayer(r);
    if (!l) return std::nullopt;
    return l->activations.outlierScore;
}

QString LayerTableModel::errorMeasureName() const {
    if (!report_) return {};
    return useBlockError_ ? tr("block-output error") : tr("relative predicted error");
}

std::optional<QuantFormat> LayerTableModel::referenceCandidate() const { return reference_; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const int r = index.row();
    const Row& x = row(r);
    const int c = index.column();
    auto opt = [](std::optional<double> v) { return v ? QVariant(*v) : QVariant(); };
    if (role == SortRole) {
        switch (c) {
        case ColBlock: return x.block;
        case ColName: return QString::fromStdString(x.name);
        case ColShape: return double(x.outFeatures) * double(x.inFeatures);
        case ColParams: return double(x.params());
        case ColSensitivity: return opt(sensitivity(r));
        case ColErrorAtFormat: return opt(errorAtFormat(r));
        case ColOutlier: return opt(outlierScore(r));
        case ColFormat: return formatText(x.plan);
        case ColBits: return bitsPerWeight(r);
        case ColActivation: return QString::fromStdString(x.plan.activation.kind == FormatKind::None ? "none" : x.plan.activation.name());
        case ColMethod: return QString::fromStdString(planMethodName(x.plan));
        }
        return {};
    }
    if (role == Qt::DisplayRole) {
        switch (c) {
        case ColBlock: return x.block;
        case ColName: return QString::fromStdString(x.name);
        case ColShape: return QStringLiteral("%1×%2").arg(x.outFeatures).arg(x.inFeatures);
        case ColParams: return groupedInt(x.params());
        case ColSensitivity: { auto v = sensitivity(r); return v ? QVariant(sci(*v)) : QVariant(); }
        case ColErrorAtFormat: { auto v = errorAtFormat(r); return v ? QVariant(sci(*v)) : QVariant(); }
        case ColOutlier: { auto v = outlierScore(r); return v ? QVariant(QString::number(*v, 'f', 1)) : QVariant(); }
        case ColFormat: return formatText(x.plan);
        case ColBits: return isFloat(x.plan) ? QStringLiteral("16 (fp16)") : QString::number(bitsPerWeight(r), 'f', 3);
        case ColActivation:
            return x.plan.activation.kind == FormatKind::None ? QStringLiteral("float") : QString::fromStdString(x.plan.activation.name());
        case ColMethod: return QString::fromStdString(planMethodName(x.plan));
        }
        return {};
    }
    if (role == Qt::EditRole && c == ColFormat) return isFloat(x.plan) ? 8 : x.plan.weight.bits;
    if (role == Qt::TextAlignmentRole) {
        switch (c) {
        case ColBlock: case ColParams: case ColSensitivity: case ColErrorAtFormat: case ColOutlier: case ColBits:
            return int(Qt::AlignRight | Qt::AlignVCenter);
        default: return int(Qt::AlignLeft | Qt::AlignVCenter);
        }
    }
    if (role == Qt::ToolTipRole) {
        const LayerSensitivity* l = reportLayer(r);
        switch (c) {
        case ColSensitivity:
        case ColErrorAtFormat:
            if (l) {
                QString s = tr("%1 per candidate (%2):").arg(errorMeasureName(), QString::fromLatin1(quantMethodName(report_->options.method)));
                for (const CandidateCost& cc : l->candidates) {
                    const double e = useBlockError_ ? cc.blockError : cc.relPredictedError;
                    s += tr("\n  %1 (%2 bits/weight): %3").arg(QString::fromStdString(cc.format.name()))
                             .arg(cc.bitsPerWeight, 0, 'f', 3).arg(sci(e));
                }
                return s;
            }
            return headerData(c, Qt::Horizontal, Qt::ToolTipRole);
        case ColOutlier:
            if (l) {
                QString s = tr("activations: max/median of per-channel max|x| = %1\nweights: max/median of per-column max|w| = %2")
                                .arg(l->activations.outlierScore, 0, 'f', 2).arg(l->weights.outlierScore, 0, 'f', 2);
                if (!l->activations.top.empty())
                    s += tr("\nlargest input channel: %1 (max|x| = %2)").arg(l->activations.top.front().channel)
                             .arg(sci(l->activations.top.front().absMax));
                return s;
            }
            return headerData(c, Qt::Horizontal, Qt::ToolTipRole);
        case ColFormat: return tr("Double-click to set the bit width (2–8); the group size is kept.");
        default: return {};
        }
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::DisplayRole) {
        switch (section) {
        case ColBlock: return tr("Block");
        case ColName: return tr("Layer");
        case ColShape: return tr("Shape (out×in)");
        case ColParams: return tr("Params");
        case ColSensitivity: return tr("Sensitivity");
        case ColErrorAtFormat: return tr("Error @ format");
        case ColOutlier: return tr("Outlier");
        case ColFormat: return tr("Weight format");
        case ColBits: return tr("Bits/weight");
        case ColActivation: return tr("Activations");
        case ColMethod: return tr("Method");
        }
        return {};
    }
    if (role == Qt::ToolTipRole) {
        const QString measure = report_ ? errorMeasureName() : tr("block-output error (else relative predicted error)");
        switch (section) {
        case ColBlock: return tr("Decoder block index");
        case ColName: return tr("The linear's name in the checkpoint");
        case ColShape: return tr("Weight matrix W [out, in]; input channel = column");
        case ColParams: return tr("Weights in the matrix (out × in)");
        case ColSensitivity:
            return tr("Sensitivity: the %1 of the reference candidate %2 (dimensionless).\n"
                                  "Block-output error = mean squared change of the block's output when only this layer is "
                                  "quantized, relative to the change the block makes to its input;\n"
                                  "relative predicted error = tr(ΔW H ΔWᵀ) / tr(W H Wᵀ). Reference: the report's 3-bit candidate "
                                  "with the fewest bits/weight. Empty until Analyse has run.")
                .arg(measure, reference_ ? QString::fromStdString(reference_->name()) : tr("(3-bit)"));
        case ColErrorAtFormat:
            return tr("The %1 of the row's current weight format (empty when that format is not a candidate of the analysis)")
                .arg(measure);
        case ColOutlier:
            return tr("Activation outlier score: max / median over input channels of the per-channel max |x|");
        case ColFormat: return tr("Weight format (editable): integer grid with bits and group size, or an MX format");
        case ColBits: return tr("Storage bits per weight including scales and zero points (float rows: fp16)");
        case ColActivation: return tr("Dynamic quantization of the layer's input (float = none)");
        case ColMethod: return tr("Quantization method steps (transforms + rounding)");
        }
    }
    return {};
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    if (index.column() == ColFormat) f |= Qt::ItemIsEditable;
    return f;
}

QuantFormat LayerTableModel::withBits(const QuantFormat& current, int bits) {
    if (current.kind == FormatKind::Int) {  // group, symmetry and the fp16-scale grid (GPTQ-packed export) kept
        QuantFormat f = current;
        f.bits = bits;
        return f;
    }
    if (current.isGguf()) {  // stay on llama.cpp's grids where one has the width (exported losslessly)
        if (bits == 8) return *QuantFormat::parse("gguf_q8_0");
        if (bits == 4) return current.kind == FormatKind::GgufQ8_0 ? *QuantFormat::parse("gguf_q4_0") : current;
        return QuantFormat{FormatKind::Int, bits, false, 32};
    }
    if (current.isMx()) return QuantFormat{FormatKind::Int, bits, false, current.blockSize()};
    return QuantFormat{FormatKind::Int, bits, false, 128};
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || !index.isValid() || index.column() != ColFormat || index.row() >= rowCount()) return false;
    std::optional<QuantFormat> f;
    if (value.typeId() == QMetaType::Int || value.typeId() == QMetaType::LongLong || value.typeId() == QMetaType::UInt) {
        const int bits = value.toInt();
        if (bits < 2 || bits > 8) return false;
        // a float row (method none or fp32) has no group size to keep
        f = withBits(isFloat(row(index.row()).plan) ? QuantFormat{FormatKind::None, 0, false, 0} : format(index.row()), bits);
    } else {
        f = QuantFormat::parse(value.toString().toStdString());
    }
    if (!f) return false;
    return setFormats({index.row()}, *f,
                      tr("Set %1 to %2").arg(QString::fromStdString(row(index.row()).name), QString::fromStdString(f->name())));
}

QString LayerTableModel::setMethods(const QList<int>& rows, const QString& method) {
    std::vector<int> changed;
    std::vector<LayerPlan> after;
    for (int r : rows) {
        if (r < 0 || r >= rowCount()) return tr("row %1 does not exist").arg(r);
        const LayerPlan& before = row(r).plan;
        LayerPlan p = before;
        if (const std::string e = parseMethodInto(method.trimmed().toStdString(), p); !e.empty()) return QString::fromStdString(e);
        if (p.method == QuantMethod::Mgptq && before.method != QuantMethod::Mgptq) {
            p.mgptq = MgptqOptions{};
            p.mgptq.targetBits = bitsPerWeight(r);  // same size, widths mixed per column group
            if (p.weight.kind != FormatKind::Int || p.weight.groupSize <= 0)
                p.weight = QuantFormat{FormatKind::Int, std::clamp(p.weight.bits, 2, 8), false, 64};
            if (const std::string e = mgptqPlanError(p, row(r).inFeatures); !e.empty())
                return QStringLiteral("%1: %2").arg(QString::fromStdString(row(r).name), QString::fromStdString(e));
        } else if (p.method != QuantMethod::Mgptq) {
            p.mgptq = MgptqOptions{};
        }
        if (Recipe::planJson(p) == Recipe::planJson(before)) continue;
        changed.push_back(r);
        after.push_back(p);
    }
    if (!changed.empty())
        pushPlans(std::move(changed), std::move(after), tr("Set %1 layer(s) to method %2").arg(rows.size()).arg(method.trimmed()), nullptr);
    return {};
}

bool LayerTableModel::setFormats(const QList<int>& rows, const QuantFormat& f, const QString& text) {
    std::vector<std::pair<int, QuantFormat>> changes;
    for (int r : rows) changes.emplace_back(r, f);
    const QString t = text.isEmpty() ? tr("Set %1 layer(s) to %2").arg(rows.size()).arg(QString::fromStdString(f.name())) : text;
    return setFormatsPerRow(changes, t);
}

bool LayerTableModel::setFormatsPerRow(const std::vector<std::pair<int, QuantFormat>>& changes, const QString& text) {
    std::vector<int> rows;
    std::vector<LayerPlan> after;
    for (const auto& [r, f] : changes) {
        if (r < 0 || r >= rowCount()) return false;
        if (f.kind == FormatKind::None) return false;  // the table sets quantized formats only
        if (f.kind == FormatKind::Int && (f.bits < 2 || f.bits > 8 || f.groupSize < 0)) return false;
    }
    for (const auto& [r, f] : changes) {
        LayerPlan p = row(r).plan;
        if (p.method == QuantMethod::None) {
            // a float row gets the recipe's rounding (rtn when that is none too)
            p.method = base_.defaults().method == QuantMethod::None ? QuantMethod::Rtn : base_.defaults().method;
            if (p.method == QuantMethod::Gptq) p.gptq = base_.defaults().gptq;
        }
        // An MG-PTQ row given one format is no longer mixed: GPTQ (its rounding) on that format,
        // with its transforms kept.
        if (p.method == QuantMethod::Mgptq) {
            p.method = QuantMethod::Gptq;
            p.mgptq = MgptqOptions{};
        }
        p.weight = f;
        if (Recipe::planJson(p) == Recipe::planJson(row(r).plan)) continue;
        const auto it = std::find(rows.begin(), rows.end(), r);
        if (it != rows.end()) {
            after[size_t(it - rows.begin())] = p;
        } else {
            rows.push_back(r);
            after.push_back(p);
        }
    }
    if (!rows.empty()) pushPlans(std::move(rows), std::move(after), text, nullptr);
    return true;
}

void LayerTableModel::applyRecipe(const Recipe& recipe, const QString& text) {
    std::vector<int> rows;
    std::vector<LayerPlan> after;
    for (size_t i = 0; i < rows_.size(); ++i) {
        rows.push_back(int(i));
        after.push_back(recipe.planFor(rows_[i].name));
    }
    pushPlans(std::move(rows), std::move(after), text, &recipe);
}

void LayerTableModel::pushPlans(std::vector<int> rows, std::vector<LayerPlan> after, const QString& text, const Recipe* newBase) {
    std::vector<LayerPlan> before;
    for (int r : rows) before.push_back(row(r).plan);
    std::optional<Recipe> bb, ba;
    if (newBase) bb = base_, ba = *newBase;
    undo_->push(new SetPlansCommand(this, std::move(rows), std::move(before), std::move(after), std::move(bb), std::move(ba), text));
}

void LayerTableModel::applyPlans(const std::vector<int>& rows, const std::vector<LayerPlan>& plans, const Recipe* base) {
    if (base) base_ = *base;
    int lo = rowCount(), hi = -1;
    for (size_t i = 0; i < rows.size(); ++i) {
        rows_[size_t(rows[i])].plan = plans[i];
        lo = std::min(lo, rows[i]);
        hi = std::max(hi, rows[i]);
    }
    if (hi >= lo) Q_EMIT dataChanged(index(lo, 0), index(hi, ColumnCount - 1));
    emitTotals();
}

int64_t LayerTableModel::linearParams() const {
    int64_t n = 0;
    for (const Row& r : rows_) n += r.params();
    return n;
}

double LayerTableModel::averageBits() const {
    double bits = 0;
    int64_t n = 0;
    for (int r = 0; r < rowCount(); ++r) {
        bits += bitsPerWeight(r) * double(row(r).params());
        n += row(r).params();
    }
    return n ? bits / double(n) : 0.0;
}

double LayerTableModel::sizeMB() const {
    double bits = 0;
    for (int r = 0; r < rowCount(); ++r) bits += bitsPerWeight(r) * double(row(r).params());
    return (bits / 8.0 + 2.0 * double(otherParams_)) / 1e6;
}

double LayerTableModel::fp16SizeMB() const { return 2.0 * double(linearParams() + otherParams_) / 1e6; }

void LayerTableModel::emitTotals() { Q_EMIT totalsChanged(averageBits(), sizeMB()); }

Recipe LayerTableModel::toRecipe() const {
    std::vector<Recipe::LayerPlanEntry> layers;
    layers.reserve(rows_.size());
    for (const Row& r : rows_) layers.push_back({r.name, r.params(), r.plan});
    return Recipe::fromLayerPlans(layers, base_, QStringLiteral("layer table"));
}

}  // namespace qs::views
