#pragma once
// The outlier-channel heatmap: layers × input channels of a SensitivityReport,
// log colour scale, hover for values. Custom painting (Qt Charts has no heatmap).
//
//  * Statistic (selector): the report's per-input-channel vectors: activation
//    max |x|, mean |x| or Pearson kurtosis (3 = Gaussian) of the layer's input, or
//    max |w| of W's input column. Channel = input channel = column of W [out, in].
//  * Rows: one per quantizable linear in model order, labelled "<block>.<kind>".
//    For an activation statistic, consecutive linears of a block that read the
//    same input (q/k/v, gate/up: their vectors are identical) share one row
//    ("3.q/k/v"). Rows are grouped into sections by input width (e.g. 256 for
//    q/k/v/o/gate/up, 688 for down), each with its own channel axis spanning the
//    full width. "Only layers reading the hidden state" keeps q, k, v, gate, up
//    and fc1 (the linears fed by the normalized residual stream).
//  * Colour: log10 of the value on a viridis map; the colour range is the data
//    range (smallest positive to largest finite value shown); NaN, ±inf and values
//    ≤ 0 have no place on a log scale and are drawn grey ("no value"). When the
//    map has fewer pixels than cells, each pixel shows the largest value it covers
//    (outliers never disappear when downsampled).
//  * Marks: rings on the model's top outlier channels (report.topOutliers).
//  * Hover: layer, channel, activation max |x| / mean |x| / kurtosis and weight
//    max |w|, max |x| and max |w| relative to the layer's median channel
//    (median = max / the report's outlier score, so the ratio is core's).
// Painted into a cached QImage per section at the device pixel ratio (HiDPI).
// It only shows the report; it computes nothing.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <QColor>
#include <QImage>
#include <QRect>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QPainter;

namespace qs {
struct SensitivityReport;
struct LayerSensitivity;
}  // namespace qs

namespace qs::views {

class OutlierHeatmap : public QWidget {
    Q_OBJECT
public:
    enum Statistic { ActivationAbsMax, ActivationMeanAbs, ActivationKurtosis, WeightAbsMax };
    Q_ENUM(Statistic)

    explicit OutlierHeatmap(QWidget* parent = nullptr);
    ~OutlierHeatmap() override;

    /// Sets (or clears, with null) the report shown.
    void setReport(std::shared_ptr<const SensitivityReport> report);
    const SensitivityReport* report() const { return report_.get(); }

    void setStatistic(Statistic s);
    Statistic statistic() const { return stat_; }
    void setHiddenStateOnly(bool on);
    bool hiddenStateOnly() const { return hiddenOnly_; }

    // What is shown (for tests and the main window).
    /// Why no map is shown (no report, no channel vectors, no rows); empty when a map is shown.
    QString hint() const { return hint_; }
    int rowCount() const { return int(rows_.size()); }
    int sectionCount() const { return int(sections_.size()); }
    QString rowLabel(int row) const;
    /// Full names of the linears a row shows (several when they share the input).
    QStringList rowLayers(int row) const;
    int rowChannels(int row) const;
    /// The shown statistic at (row, channel); NaN when absent.
    double value(int row, int channel) const;
    /// The colour range (smallest positive, largest finite value shown); NaNs when none.
    std::pair<double, double> colorRange() const { return {lo_, hi_}; }
    /// Position of `v` on the colour scale: (log10 v − log10 lo)/(log10 hi − log10 lo)
    /// clamped to [0, 1] (0.5 when lo == hi); NaN for values with no colour (≤ 0, NaN, inf).
    double colorPosition(double v) const;
    QColor colorFor(double v) const;
    /// The colour bar's tick values (in data units).
    std::vector<double> colorBarTicks() const;
    /// (row, channel) of each ring drawn (report.topOutliers among the shown rows).
    std::vector<std::pair<int, int>> outlierMarks() const { return marks_; }
    /// Centre of a cell in canvas() coordinates ((-1, -1) when not shown).
    QPoint cellCenter(int row, int channel) const;
    /// The tooltip at a canvas() position (empty outside the map).
    QString toolTipAt(const QPoint& canvasPos) const;
    /// The painting surface (below the controls).
    QWidget* canvas() const { return canvas_; }
    /// A section's map in canvas() coordinates (its image is drawn there).
    QRectF mapRect(int section) const;
    /// The cached image of a section's map (device pixels, devicePixelRatio set).
    QImage sectionImage(int section) const;

    /// Perceptual colour map (viridis, 11 anchors interpolated linearly), t in [0, 1].
    static QColor colormap(double t);
    static QColor noValueColor() { return QColor(200, 200, 200); }
    static QString statisticName(Statistic s);

protected:
    void changeEvent(QEvent* e) override;

private:
    friend class HeatmapCanvas;
    struct Row {
        QString label;
        int block = 0;
        int width = 0;
        std::vector<const LayerSensitivity*> layers;  // one, or several reading the same input
        const std::vector<float>* values = nullptr;   // the shown statistic (may be empty)
    };
    struct Section {
        int width = 0;
        int firstRow = 0, rowCount = 0;
        QString title;
        // geometry (canvas coordinates) and the rendered map, cached by ensureLayout/renderSection
        mutable QRectF map;
        mutable QRectF header;
        mutable QImage image;
    };
    void rebuild();
    void ensureLayout() const;
    void renderSection(const Section& s, qreal dpr) const;
    void paintCanvas(QPainter& p) const;
    bool cellAt(const QPointF& pos, int& row, int& c0, int& c1, int& r0, int& r1) const;
    const std::vector<float>* statVector(const LayerSensitivity& l) const;

    std::shared_ptr<const SensitivityReport> report_;
    Statistic stat_ = ActivationAbsMax;
    bool hiddenOnly_ = false;
    QString hint_;
    std::vector<Row> rows_;
    std::vector<Section> sections_;
    std::vector<std::pair<int, int>> marks_;
    double lo_, hi_;

    QComboBox* statBox_ = nullptr;
    QCheckBox* hiddenBox_ = nullptr;
    QWidget* canvas_ = nullptr;

    // layout cache
    mutable QSize layoutSize_;
    mutable qreal layoutDpr_ = 0;
    mutable bool layoutValid_ = false;
    mutable QRectF colorBar_;
    mutable qreal labelWidth_ = 0;
};

}  // namespace qs::views
