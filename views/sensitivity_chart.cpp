#include "sensitivity_chart.h"

#include <algorithm>
#include <cmath>

#include <QBarSeries>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QCursor>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QToolTip>
#include <QValueAxis>

#include "chart_util.h"
#include "layer_table_model.h"

namespace qs::views {

SensitivityChart::SensitivityChart(QWidget* parent) : QChartView(new QChart(), parent) {
    setRenderHint(QPainter::Antialiasing);
    chart()->setAnimationOptions(QChart::NoAnimation);
    chart()->legend()->setVisible(true);
    chart()->legend()->setAlignment(Qt::AlignTop);
    chart()->setMargins(QMargins(4, 4, 4, 4));
    setMinimumHeight(260);
    connect(chart(), &QChart::plotAreaChanged, this,
            [this](const QRectF&) { labelStride_ = fitCategoryLabels(xAxis_, categories_, this, labelStride_); });
    rebuild();
}

void SensitivityChart::setTableModel(LayerTableModel* model) {
    if (model_) disconnect(model_, nullptr, this, nullptr);
    model_ = model;
    if (model_) {
        connect(model_, &QAbstractItemModel::modelReset, this, &SensitivityChart::rebuild);
        connect(model_, &LayerTableModel::reportChanged, this, &SensitivityChart::rebuild);
        connect(model_, &LayerTableModel::totalsChanged, this, &SensitivityChart::updateBits);
    }
    rebuild();
}

int SensitivityChart::barCount() const { return bars_ ? bars_->count() : 0; }

QList<double> SensitivityChart::barValues() const { return values_; }

QStringList SensitivityChart::categoryLabels() const { return xAxis_ ? xAxis_->categoriesLabels() : QStringList(); }

QList<double> SensitivityChart::bitsLine() const {
    QList<double> v;
    if (bits_)
        for (const QPointF& p : bits_->points()) v.push_back(p.y());
    return v;
}

QString SensitivityChart::layerTip(int row) const {
    if (!model_ || row < 0 || row >= model_->rowCount()) return {};
    const auto s = model_->sensitivity(row);
    const auto e = model_->errorAtFormat(row);
    QString t = tr("%1\nformat %2, %3 bits/weight").arg(QString::fromStdString(model_->row(row).name),
                                                                   model_->index(row, LayerTableModel::ColFormat).data().toString())
                    .arg(model_->bitsPerWeight(row), 0, 'f', 3);
    if (s && model_->referenceCandidate())
        t += tr("\nsensitivity (%1 at %2): %3").arg(model_->errorMeasureName(),
                                                               QString::fromStdString(model_->referenceCandidate()->name()))
                 .arg(*s, 0, 'g', 3);
    if (e) t += tr("\nerror at the current format: %1").arg(*e, 0, 'g', 3);
    return t;
}

void SensitivityChart::rebuild() {
    QChart* c = chart();
    clearChart(c);
    bars_ = nullptr, barSeries_ = nullptr, bits_ = nullptr, xAxis_ = nullptr, yAxis_ = nullptr, bitsAxis_ = nullptr;
    values_.clear();
    log_ = false;

    const int n = model_ ? model_->rowCount() : 0;
    const bool haveReport = model_ && model_->report();
    if (!haveReport)
        c->setTitle(n ? tr("Sensitivity per layer (run Analyse to measure it) and bits per weight")
                      : tr("No model loaded"));
    else
        c->setTitle(tr("Sensitivity per layer (%1 at %2) and bits per weight")
                        .arg(model_->errorMeasureName(),
                             model_->referenceCandidate() ? QString::fromStdString(model_->referenceCandidate()->name()) : QString()));

    categories_.clear();
    double lo = 1e300, hi = 0;
    for (int r = 0; r < n; ++r) {
        const auto& row = model_->row(r);
        categories_ << shortLayerName(row.block, row.kind);
        const auto s = model_->sensitivity(r);
        const double v = s ? *s : 0.0;
        values_ << v;
        if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    log_ = haveReport && hi > 0 && hi / lo > 100.0;

    barSeries_ = new QBarSeries();
    bars_ = new QBarSet(haveReport ? tr("Sensitivity (left axis)") : tr("Sensitivity (not measured yet)"));
    bars_->setColor(QColor(70, 130, 180));
    bars_->setBorderColor(QColor(45, 90, 130));
    for (double v : values_) bars_->append(log_ ? std::max(v, lo) : v);
    barSeries_->append(bars_);
    barSeries_->setBarWidth(0.7);
    c->addSeries(barSeries_);
    connect(bars_, &QBarSet::hovered, this, [this](bool on, int idx) {
        if (on) QToolTip::showText(QCursor::pos(), layerTip(idx), this);
        else QToolTip::hideText();
    });

    bits_ = new QLineSeries();
    bits_->setName(tr("Weight bits per parameter, incl. scales (right axis)"));
    QPen pen(QColor(230, 120, 20));
    pen.setWidthF(2.0);
    bits_->setPen(pen);
    bits_->setPointsVisible(true);
    c->addSeries(bits_);
    connect(bits_, &QLineSeries::hovered, this, [this](const QPointF& p, bool on) {
        if (on) QToolTip::showText(QCursor::pos(), layerTip(int(std::lround(p.x()))), this);
        else QToolTip::hideText();
    });

    // x: layer i at i; a QCategoryAxis labels the layers that fit (fitCategoryLabels).
    xAxis_ = makeLayerAxis(n, tr("Layer (block.linear, model order)"));
    labelStride_ = 0;
    c->addAxis(xAxis_, Qt::AlignBottom);
    barSeries_->attachAxis(xAxis_);
    bits_->attachAxis(xAxis_);

    const QString yTitle = tr("Sensitivity (error ratio%1)").arg(log_ ? tr(", log") : QString());
    if (log_) {
        yAxis_ = makeDecadeLogAxis(lo, hi);
    } else {
        auto* y = new QValueAxis();
        const double top = hi > 0 ? hi * 1.1 : 1.0;
        y->setRange(0, top);
        y->setTickCount(6);
        y->applyNiceNumbers();
        y->setLabelFormat(top < 0.01 ? QStringLiteral("%.1e") : QStringLiteral("%.3g"));
        yAxis_ = y;
    }
    yAxis_->setTitleText(yTitle);
    c->addAxis(yAxis_, Qt::AlignLeft);
    barSeries_->attachAxis(yAxis_);

    bitsAxis_ = new QValueAxis();
    bitsAxis_->setRange(0, 9);
    bitsAxis_->setTickCount(10);
    bitsAxis_->setLabelFormat(QStringLiteral("%d"));
    bitsAxis_->setTitleText(tr("Bits / weight"));
    bitsAxis_->setLinePenColor(pen.color());
    bitsAxis_->setLabelsColor(QColor(160, 80, 0));
    c->addAxis(bitsAxis_, Qt::AlignRight);
    bits_->attachAxis(bitsAxis_);
    bitsAxis_->setGridLineVisible(false);

    applyChartFonts(c, font());
    labelStride_ = fitCategoryLabels(xAxis_, categories_, this, labelStride_);
    updateBits();
}

void SensitivityChart::updateBits() {
    if (!bits_ || !model_) return;
    QList<QPointF> pts;
    double top = 8;
    for (int r = 0; r < model_->rowCount(); ++r) {
        const double b = model_->bitsPerWeight(r);
        top = std::max(top, b);
        pts << QPointF(r, b);
    }
    bits_->replace(pts);
    if (bitsAxis_) {
        double t = std::ceil(top + 1);
        if (t > 10) t = 2 * std::ceil(t / 2);  // ticks every 2 bits
        bitsAxis_->setRange(0, t);
        bitsAxis_->setTickCount(t > 10 ? int(t / 2) + 1 : int(t) + 1);
    }
}

}  // namespace qs::views
