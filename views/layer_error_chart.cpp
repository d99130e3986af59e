#include "layer_error_chart.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <QCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QCursor>
#include <QFontMetricsF>
#include <QGraphicsSimpleTextItem>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QToolTip>
#include <QValueAxis>

#include "chart_util.h"
#include "quant/pipeline.h"
#include "store/store.h"

namespace qs::views {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
bool shown(double e) { return std::isfinite(e) && e > 0; }
}  // namespace

LayerErrorSeries LayerErrorSeries::fromLayerResults(const QString& label, const std::vector<LayerResult>& layers) {
    LayerErrorSeries s;
    s.label = label;
    for (const LayerResult& r : layers) {
        Layer l;
        l.name = r.name;
        l.shortName = shortLayerName(r.name, r.block);
        l.error = r.relOutputError;
        l.bits = r.bitsPerWeight;
        const QString method = QString::fromStdString(r.methodName.empty() ? std::string(quantMethodName(r.method)) : r.methodName);
        l.format = QStringLiteral("%1 %2").arg(method, QString::fromStdString(r.format.name())).trimmed();
        s.layers.push_back(std::move(l));
    }
    return s;
}

LayerErrorSeries LayerErrorSeries::fromLayerResultRows(const QString& label, const std::vector<LayerResultRow>& rows) {
    LayerErrorSeries s;
    s.label = label;
    for (const LayerResultRow& r : rows) {
        Layer l;
        l.name = r.layerName.toStdString();
        l.shortName = shortLayerName(l.name, r.block);
        l.error = r.outputError.value_or(kNaN);
        l.bits = r.bitsPerWeight > 0 ? r.bitsPerWeight : kNaN;
        l.format = QStringLiteral("%1 %2").arg(r.method, r.format).trimmed();
        s.layers.push_back(std::move(l));
    }
    return s;
}

LayerErrorChart::LayerErrorChart(QWidget* parent) : QChartView(new QChart(), parent) {
    setRenderHint(QPainter::Antialiasing);
    chart()->setAnimationOptions(QChart::NoAnimation);
    chart()->legend()->setVisible(true);
    chart()->legend()->setAlignment(Qt::AlignTop);
    chart()->setMargins(QMargins(4, 4, 4, 4));
    setMinimumHeight(260);
    noteItem_ = new QGraphicsSimpleTextItem(chart());
    noteItem_->setBrush(QColor(160, 64, 0));
    noteItem_->setZValue(100);
    connect(chart(), &QChart::plotAreaChanged, this, [this](const QRectF&) {
        placeNote();
        fitCategoryLabels();
    });
    rebuild();
}

void LayerErrorChart::fitCategoryLabels() {
    labelStride_ = views::fitCategoryLabels(xAxis_, categories_, this, labelStride_);
}

QStringList LayerErrorChart::categoryLabels() const { return xAxis_ ? xAxis_->categoriesLabels() : QStringList(); }

void LayerErrorChart::placeNote() {
    if (!noteItem_) return;
    QFont f = chartSmallFont(font());
    noteItem_->setFont(f);
    const QRectF plot = chart()->plotArea();
    noteItem_->setText(QFontMetricsF(f).elidedText(note_, Qt::ElideRight, std::max<qreal>(40, plot.width() - 12)));
    noteItem_->setPos(plot.left() + 6, plot.top() + 3);
}

void LayerErrorChart::setSeries(std::vector<LayerErrorSeries> series) {
    series_ = std::move(series);
    rebuild();
}

void LayerErrorChart::addSeries(LayerErrorSeries series) {
    series_.push_back(std::move(series));
    rebuild();
}

void LayerErrorChart::clear() {
    series_.clear();
    rebuild();
}

int LayerErrorChart::barSetCount() const { return bars_ ? bars_->count() : 0; }

QStringList LayerErrorChart::legendLabels() const {
    QStringList out;
    // (QLegendMarker::isVisible is false until the chart is laid out: ask what rebuild hid.)
    for (QLegendMarker* m : chart()->legend()->markers())
        if (!(bitsLines_.size() > 1 && m->series()->type() == QAbstractSeries::SeriesTypeLine)) out << m->label();
    return out;
}

QList<double> LayerErrorChart::errors(int set) const {
    QList<double> v;
    if (set < 0 || set >= int(series_.size())) return v;
    for (int i : index_[set]) v << (i >= 0 ? series_[set].layers[i].error : kNaN);
    return v;
}

QList<double> LayerErrorChart::barSetValues(int set) const {
    QList<double> v;
    if (!bars_ || set < 0 || set >= bars_->count()) return v;
    const QBarSet* b = bars_->barSets().at(set);
    for (int i = 0; i < b->count(); ++i) v << b->at(i);
    return v;
}

QList<double> LayerErrorChart::bitsLine(int line) const {
    QList<double> v;
    if (line < 0 || line >= bitsLineCount()) return v;
    for (int c = 0; c < categories_.size(); ++c) v << kNaN;
    for (const QPointF& p : bitsLines_[line]->points()) v[int(std::lround(p.x()))] = p.y();
    return v;
}

std::pair<double, double> LayerErrorChart::errorAxisRange() const {
    return yAxis_ ? std::pair<double, double>{yAxis_->min(), yAxis_->max()} : std::pair<double, double>{kNaN, kNaN};
}

std::pair<double, double> LayerErrorChart::bitsAxisRange() const {
    return bitsAxis_ ? std::pair<double, double>{bitsAxis_->min(), bitsAxis_->max()} : std::pair<double, double>{kNaN, kNaN};
}

QString LayerErrorChart::errorAxisTitle() const { return yAxis_ ? yAxis_->titleText() : QString(); }

QString LayerErrorChart::tip(int set, int category) const {
    if (set < 0 || set >= int(series_.size()) || category < 0 || category >= categories_.size()) return {};
    const int i = index_[set][category];
    const LayerErrorSeries& s = series_[set];
    if (i < 0) return tr("%1\n%2: not in this run").arg(s.label, categories_[category]);
    const auto& l = s.layers[i];
    QString t = QStringLiteral("%1\n%2").arg(s.label, QString::fromStdString(l.name));
    if (!l.format.isEmpty()) t += QStringLiteral("\n%1").arg(l.format);
    t += shown(l.error) ? tr("\nrelative output error %1").arg(l.error, 0, 'g', 3)
                        : tr("\nrelative output error: not measured (no calibration data)");
    if (std::isfinite(l.bits)) t += tr("\n%1 bits/weight").arg(l.bits, 0, 'f', 3);
    return t;
}

void LayerErrorChart::rebuild() {
    QChart* c = chart();
    clearChart(c);
    bars_ = nullptr, xAxis_ = nullptr, yAxis_ = nullptr, bitsAxis_ = nullptr;
    bitsLines_.clear();
    lineCategories_.clear();
    categories_.clear();
    index_.clear();
    note_.clear();

    // Categories: the first run's order, then layers only later runs have.
    std::map<std::string, int> catOf;
    for (const auto& s : series_)
        for (const auto& l : s.layers)
            if (catOf.emplace(l.name, int(categories_.size())).second) categories_ << l.shortName;
    const int n = int(categories_.size());
    double lo = 1e300, hi = 0;
    for (const auto& s : series_) {
        std::vector<int> idx(n, -1);
        for (int i = 0; i < int(s.layers.size()); ++i) {
            idx[catOf[s.layers[i].name]] = i;
            const double e = s.layers[i].error;
            if (shown(e)) lo = std::min(lo, e), hi = std::max(hi, e);
        }
        index_.push_back(std::move(idx));
    }
    const bool any = hi > 0;
    if (!any) lo = 1e-4, hi = 1;

    // Missing errors: one note for the title.
    QStringList missing;
    for (int k = 0; k < int(series_.size()); ++k) {
        int m = 0;
        for (const auto& l : series_[k].layers) m += !shown(l.error);
        if (m == 0) continue;
        const bool all = m == int(series_[k].layers.size());
        const QString count = all ? tr("all %1 layers").arg(m)
                                  : tr("%1 of %2 layers").arg(m).arg(series_[k].layers.size());
        missing << (series_.size() > 1 ? tr("%1 of \"%2\"").arg(count, series_[k].label) : count);
    }
    if (!missing.isEmpty())
        note_ = tr("No error for %1 (not measured: run without calibration data, or 0); no bar drawn")
                    .arg(missing.join(QStringLiteral(", ")));

    // (A rich-text title would take the legend's place in Qt 6.4: the note is an overlay on the plot.)
    c->setTitle(series_.empty() ? tr("Per-layer output error (no run selected)")
                                : tr("Per-layer relative output error tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) and bits per weight"));
    noteItem_->setText(note_);
    noteItem_->setVisible(!note_.isEmpty());
    placeNote();

    // Whole decades, the smallest bar at least a tenth of a decade high (a value on a
    // decade would otherwise sit on the axis floor and look absent).
    yAxis_ = makeDecadeLogAxis(lo / 1.25, hi);
    const double floorValue = yAxis_->min();
    bars_ = new QBarSeries();
    for (int k = 0; k < int(series_.size()); ++k) {
        QString label = series_[k].label.isEmpty() ? tr("run %1").arg(k + 1) : series_[k].label;
        if (!series_[k].layers.empty() &&
            std::none_of(series_[k].layers.begin(), series_[k].layers.end(), [](const auto& l) { return shown(l.error); }))
            label += tr(" (no error measured)");
        auto* set = new QBarSet(label);
        const QColor col = series_.size() == 1 ? QColor(70, 130, 180) : seriesColor(k);
        set->setColor(col);
        set->setBorderColor(col.darker(140));
        for (int cat = 0; cat < n; ++cat) {
            const int i = index_[k][cat];
            const double e = i >= 0 ? series_[k].layers[i].error : kNaN;
            set->append(shown(e) ? e : floorValue);  // absent: a zero-height bar at the axis floor
        }
        bars_->append(set);
        connect(set, &QBarSet::hovered, this, [this, k](bool on, int idx) {
            if (on) QToolTip::showText(QCursor::pos(), tip(k, idx), this);
            else QToolTip::hideText();
        });
    }
    bars_->setBarWidth(series_.size() > 1 ? 0.85 : 0.7);
    c->addSeries(bars_);

    // Bits lines: one when every run has the same bits per layer, else one per run.
    auto bitsAt = [this](int k, int cat) {
        const int i = index_[k][cat];
        return i >= 0 ? series_[k].layers[i].bits : kNaN;
    };
    bool same = true;
    for (int k = 1; k < int(series_.size()) && same; ++k)
        for (int cat = 0; cat < n && same; ++cat) {
            const double a = bitsAt(0, cat), b = bitsAt(k, cat);
            same = (std::isnan(a) && std::isnan(b)) || a == b;
        }
    double topBits = 8;
    const int lines = series_.empty() ? 0 : same ? 1 : int(series_.size());
    for (int k = 0; k < lines; ++k) {
        auto* line = new QLineSeries();
        QColor col = lines == 1 ? QColor(230, 120, 20) : seriesColor(k).darker(135);
        QPen pen(col);
        pen.setWidthF(2.0);
        line->setPen(pen);
        line->setPointsVisible(n <= 64);
        // Several lines have no legend entry; their (hidden) markers still take legend
        // width in Qt 6.4, so they get no name.
        line->setName(lines == 1 ? (series_.size() > 1 ? tr("Bits per weight, incl. scales (right axis; same in every run)")
                                                        : tr("Bits per weight, incl. scales (right axis)"))
                                 : QString());
        std::vector<int> cats;
        for (int cat = 0; cat < n; ++cat) {
            double b = kNaN;
            for (int j = (lines == 1 ? 0 : k); j < (lines == 1 ? int(series_.size()) : k + 1) && std::isnan(b); ++j) b = bitsAt(j, cat);
            if (!std::isfinite(b)) continue;
            line->append(cat, b);
            cats.push_back(cat);
            topBits = std::max(topBits, b);
        }
        c->addSeries(line);
        bitsLines_.push_back(line);
        lineCategories_.push_back(cats);
        const int run = lines == 1 ? 0 : k;
        connect(line, &QLineSeries::hovered, this, [this, run](const QPointF& p, bool on) {
            if (on) QToolTip::showText(QCursor::pos(), tip(run, int(std::lround(p.x()))), this);
            else QToolTip::hideText();
        });
    }

    // x: layer i at i; a QCategoryAxis labels the layers that fit (fitCategoryLabels).
    xAxis_ = makeLayerAxis(n, tr("Layer (block.linear, model order)"));
    labelStride_ = 0;
    c->addAxis(xAxis_, Qt::AlignBottom);
    bars_->attachAxis(xAxis_);
    for (auto* l : bitsLines_) l->attachAxis(xAxis_);

    yAxis_->setTitleText(tr("Relative output error (log)"));
    c->addAxis(yAxis_, Qt::AlignLeft);
    bars_->attachAxis(yAxis_);

    bitsAxis_ = new QValueAxis();
    double t = std::ceil(topBits + 1);
    if (t > 10) t = 2 * std::ceil(t / 2);  // ticks every 2 bits
    bitsAxis_->setRange(0, t);
    bitsAxis_->setTickCount(t > 10 ? int(t / 2) + 1 : int(t) + 1);
    bitsAxis_->setLabelFormat(QStringLiteral("%d"));
    bitsAxis_->setTitleText(lines > 1 ? tr("Bits / weight (lines, run colours)") : tr("Bits / weight"));
    bitsAxis_->setLinePenColor(QColor(230, 120, 20));
    bitsAxis_->setLabelsColor(QColor(160, 80, 0));
    bitsAxis_->setGridLineVisible(false);
    c->addAxis(bitsAxis_, Qt::AlignRight);
    for (auto* l : bitsLines_) l->attachAxis(bitsAxis_);

    applyChartFonts(c, font());
    fitCategoryLabels();
    // Several runs: the legend names the runs (bars); the dashed lines carry the run's colour.
    if (lines > 1)
        for (auto* l : bitsLines_)
            for (QLegendMarker* m : c->legend()->markers(l)) m->setVisible(false);
}

}  // namespace qs::views
