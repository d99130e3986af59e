#pragma once
// Per-layer output error of one or several quantization runs.
//  * Bars (left axis, log): each layer's relative output error
//    tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) on the calibration inputs (dimensionless), one
//    QBarSet per run side by side, legend = the run's label. The axis spans whole
//    decades around the finite positive values. A non-finite error (a run without
//    calibration data) or one ≤ 0 has no bar (the set holds the axis minimum, a
//    zero-height bar); a note at the plot's top left says how many are missing,
//    and a run with none measured says so in the legend.
//  * Lines (right axis): each run's storage bits per weight per layer (scales and
//    zero points included); one line when all runs agree, else one per run in a
//    darker shade of the run's colour (without a legend entry of its own).
//  * Categories: "<block>.<kind>" (e.g. "3.down") in the order of the first run,
//    layers only other runs have appended; rotated when they do not fit side by
//    side, every k-th labelled when they do not fit rotated (hundreds of layers).
//    Hover a bar or point for the values.
// The chart shows what a run recorded; it computes nothing.
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <QChartView>
#include <QString>

class QCategoryAxis;
class QGraphicsSimpleTextItem;
class QBarSeries;
class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace qs {
struct LayerResult;
struct LayerResultRow;
}  // namespace qs

namespace qs::views {

/// One run's per-layer errors and bits, as the chart shows them.
struct LayerErrorSeries {
    struct Layer {
        std::string name;   // full name, e.g. "model.layers.3.mlp.down_proj"
        QString shortName;  // category, e.g. "3.down"
        double error = std::numeric_limits<double>::quiet_NaN();  // relative output error; NaN = not measured
        double bits = std::numeric_limits<double>::quiet_NaN();   // bits per weight; NaN = unknown
        QString format;     // "gptq int3-g32" (tooltip)
    };
    QString label;
    std::vector<Layer> layers;

    /// From the pipeline's results (QuantizeResult::layers).
    static LayerErrorSeries fromLayerResults(const QString& label, const std::vector<LayerResult>& layers);
    /// From a run of the experiment log (RunRecord::layers).
    static LayerErrorSeries fromLayerResultRows(const QString& label, const std::vector<LayerResultRow>& rows);
};

class LayerErrorChart : public QChartView {
    Q_OBJECT
public:
    explicit LayerErrorChart(QWidget* parent = nullptr);

    void setSeries(std::vector<LayerErrorSeries> series);
    void addSeries(LayerErrorSeries series);
    void clear();
    const std::vector<LayerErrorSeries>& series() const { return series_; }

    // What is shown (for tests).
    int barSetCount() const;
    QStringList categories() const { return categories_; }
    /// The labels on the x axis: every layer when they fit, else every k-th.
    QStringList categoryLabels() const;
    QStringList legendLabels() const;
    /// Errors per category of run `set` (NaN where absent).
    QList<double> errors(int set) const;
    /// The values in the QBarSet of run `set` (absent = the axis minimum).
    QList<double> barSetValues(int set) const;
    /// The bits lines (one, or one per run): y per category, NaN where absent.
    int bitsLineCount() const { return int(bitsLines_.size()); }
    QList<double> bitsLine(int line) const;
    std::pair<double, double> errorAxisRange() const;
    std::pair<double, double> bitsAxisRange() const;
    QString errorAxisTitle() const;
    /// The note on missing errors (empty when every bar is there).
    QString note() const { return note_; }

private:
    void rebuild();
    void placeNote();
    void fitCategoryLabels();
    QString tip(int set, int category) const;

    std::vector<LayerErrorSeries> series_;
    QStringList categories_;
    std::vector<std::vector<int>> index_;  // per run, per category: index into layers, -1 when absent
    QBarSeries* bars_ = nullptr;
    std::vector<QLineSeries*> bitsLines_;
    std::vector<std::vector<int>> lineCategories_;  // per line, per point: its category
    QCategoryAxis* xAxis_ = nullptr;
    int labelStride_ = 0;  // every labelStride_-th layer is labelled
    QLogValueAxis* yAxis_ = nullptr;
    QValueAxis* bitsAxis_ = nullptr;
    QString note_;
    QGraphicsSimpleTextItem* noteItem_ = nullptr;  // the note, drawn at the plot area's top left
};

}  // namespace qs::views
