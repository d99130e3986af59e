#pragma once
// Per-layer sensitivity bars with the current bits per weight overlaid.
//  * Bars (left axis): LayerTableModel::sensitivity() of every layer in model
//    order (the reference candidate's error, dimensionless). The axis is
//    logarithmic when the positive values span more than two decades.
//  * Line (right axis): the row's current storage bits per weight (scales and zero
//    points included), updated live as the table is edited.
//  * Categories: "<block>.<kind>" (e.g. "3.down"), rotated when they do not fit
//    side by side, every k-th labelled when they do not fit rotated. Hovering a bar or a point shows
//    the layer's name, sensitivity and format.
// The chart only shows what the table model holds; it computes nothing.
#include <QChartView>
#include <QPointer>

class QBarSeries;
class QBarSet;
class QLineSeries;
class QCategoryAxis;
class QAbstractAxis;
class QValueAxis;

namespace qs::views {

class LayerTableModel;

class SensitivityChart : public QChartView {
    Q_OBJECT
public:
    explicit SensitivityChart(QWidget* parent = nullptr);
    void setTableModel(LayerTableModel* model);

    // what is shown (for tests)
    int barCount() const;
    bool logScale() const { return log_; }
    QList<double> bitsLine() const;
    QList<double> barValues() const;
    /// The labels on the x axis: every layer when they fit, else every k-th.
    QStringList categoryLabels() const;

private:
    void rebuild();
    void updateBits();
    QString layerTip(int row) const;

    QPointer<LayerTableModel> model_;
    QBarSet* bars_ = nullptr;
    QBarSeries* barSeries_ = nullptr;
    QLineSeries* bits_ = nullptr;
    QCategoryAxis* xAxis_ = nullptr;
    QStringList categories_;
    int labelStride_ = 0;  // every labelStride_-th layer is labelled
    QAbstractAxis* yAxis_ = nullptr;
    QValueAxis* bitsAxis_ = nullptr;
    bool log_ = false;
    QList<double> values_;
};

}  // namespace qs::views
