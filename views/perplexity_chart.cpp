#include "perplexity_chart.h"

#include <algorithm>
#include <cmath>

#include <QChart>
#include <QCursor>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
#include <QToolTip>
#include <QValueAxis>

#include "chart_util.h"

namespace qs::views {

PerplexityChart::PerplexityChart(QWidget* parent) : QChartView(new QChart(), parent) {
    setRenderHint(QPainter::Antialiasing);
    chart()->setAnimationOptions(QChart::NoAnimation);
    chart()->legend()->setVisible(true);
    chart()->legend()->setAlignment(Qt::AlignTop);
    chart()->setMargins(QMargins(4, 4, 4, 4));
    setMinimumHeight(240);
    rebuild();
}

void PerplexityChart::setCurves(const std::vector<PplCurve>& curves) {
    curves_.clear();
    for (PplCurve c : curves) {
        std::erase_if(c.points, [](const PplPoint& p) { return !(std::isfinite(p.bits) && std::isfinite(p.ppl) && p.ppl > 0); });
        std::sort(c.points.begin(), c.points.end(), [](const PplPoint& a, const PplPoint& b) { return a.bits < b.bits; });
        if (!c.points.empty()) curves_.push_back(std::move(c));
    }
    rebuild();
}

void PerplexityChart::setReferencePpl(std::optional<double> ppl, const QString& label) {
    refPpl_ = ppl && std::isfinite(*ppl) && *ppl > 0 ? ppl : std::nullopt;
    refLabel_ = label;
    rebuild();
}

void PerplexityChart::setFrontier(const std::vector<FrontierPoint>& frontier, const QString& errorName) {
    frontier_.clear();
    for (const FrontierPoint& p : frontier)
        if (std::isfinite(p.bits) && std::isfinite(p.error) && p.error > 0) frontier_.push_back(p);
    std::sort(frontier_.begin(), frontier_.end(), [](const FrontierPoint& a, const FrontierPoint& b) { return a.bits < b.bits; });
    errorName_ = errorName;
    rebuild();
}

QStringList PerplexityChart::legendNames() const {
    QStringList names;
    for (QLegendMarker* m : chart()->legend()->markers())
        if (m->series()->type() != QAbstractSeries::SeriesTypeScatter) names << m->label();
    return names;
}

namespace {

double niceFloorLog(double v) { return std::pow(10.0, std::floor(std::log10(v))); }
double niceCeilLog(double v) { return std::pow(10.0, std::ceil(std::log10(v))); }

}  // namespace

void PerplexityChart::rebuild() {
    QChart* c = chart();
    clearChart(c);
    c->setTitle(curves_.empty() ? tr("Perplexity vs bits (no runs yet: Run, Sweep, or tick runs in History)")
                                : tr("Perplexity vs average bits per weight"));

    // ranges
    double bLo = 1e300, bHi = -1e300, pLo = 1e300, pHi = -1e300;
    for (const PplCurve& cv : curves_)
        for (const PplPoint& p : cv.points) {
            bLo = std::min(bLo, p.bits), bHi = std::max(bHi, p.bits);
            pLo = std::min(pLo, p.ppl), pHi = std::max(pHi, p.ppl);
        }
    for (const FrontierPoint& f : frontier_) bLo = std::min(bLo, f.bits), bHi = std::max(bHi, f.bits);
    if (refPpl_) pLo = std::min(pLo, *refPpl_), pHi = std::max(pHi, *refPpl_);
    if (bLo > bHi) bLo = 2, bHi = 8;
    if (pLo > pHi) pLo = 1, pHi = 10;
    bLo = std::floor(bLo * 2 - 0.3) / 2, bHi = std::ceil(bHi * 2 + 0.3) / 2;  // half-bit margins
    log_ = pHi / pLo > 10.0;
    bitsRange_ = {bLo, bHi};

    auto* x = new QValueAxis();
    x->setRange(bLo, bHi);
    x->setTickType(QValueAxis::TicksDynamic);
    x->setTickAnchor(std::floor(bLo));
    x->setTickInterval(bHi - bLo > 6 ? 1.0 : 0.5);
    x->setLabelFormat(QStringLiteral("%.1f"));
    x->setTitleText(tr("Average bits per weight (incl. scales and zeros)"));
    c->addAxis(x, Qt::AlignBottom);

    QAbstractAxis* y = nullptr;
    if (log_) {
        auto* ly = new QLogValueAxis();
        ly->setBase(10);
        pplRange_ = {niceFloorLog(pLo), niceCeilLog(pHi)};
        ly->setRange(pplRange_.first, pplRange_.second);
        ly->setLabelFormat(QStringLiteral("%g"));
        ly->setMinorTickCount(8);
        y = ly;
    } else {
        auto* vy = new QValueAxis();
        const double pad = std::max((pHi - pLo) * 0.08, pHi * 0.01);
        vy->setRange(std::max(0.0, pLo - pad), pHi + pad);
        vy->setTickCount(6);
        vy->applyNiceNumbers();
        vy->setLabelFormat(QStringLiteral("%.4g"));
        pplRange_ = {vy->min(), vy->max()};
        y = vy;
    }
    y->setTitleText(log_ ? tr("Perplexity (log scale; lower is better)") : tr("Perplexity (lower is better)"));
    c->addAxis(y, Qt::AlignLeft);

    for (size_t i = 0; i < curves_.size(); ++i) {
        const PplCurve& cv = curves_[i];
        const QColor col = seriesColor(int(i));
        auto* line = new QLineSeries();
        QPen pen(col);
        pen.setWidthF(2.2);
        line->setPen(pen);
        line->setName(cv.name);
        auto* dots = new QScatterSeries();
        dots->setColor(col);
        dots->setBorderColor(col.darker(140));
        dots->setMarkerSize(9);
        for (const PplPoint& p : cv.points) {
            line->append(p.bits, p.ppl);
            dots->append(p.bits, p.ppl);
        }
        c->addSeries(line);
        c->addSeries(dots);
        for (QAbstractSeries* s : {static_cast<QAbstractSeries*>(line), static_cast<QAbstractSeries*>(dots)}) {
            s->attachAxis(x);
            s->attachAxis(y);
        }
        c->legend()->markers(dots).front()->setVisible(false);
        auto tip = [this, i](const QPointF& pt, bool on) {
            if (!on) {
                QToolTip::hideText();
                return;
            }
            const PplCurve& cv2 = curves_[i];
            const auto it = std::min_element(cv2.points.begin(), cv2.points.end(), [&](const PplPoint& a, const PplPoint& b) {
                return std::abs(a.bits - pt.x()) < std::abs(b.bits - pt.x());
            });
            QToolTip::showText(QCursor::pos(), tr("%1\n%2\n%3 bits/weight, perplexity %4")
                                                   .arg(cv2.name, it->label)
                                                   .arg(it->bits, 0, 'f', 3)
                                                   .arg(it->ppl, 0, 'f', 3), this);
        };
        connect(line, &QLineSeries::hovered, this, tip);
        connect(dots, &QScatterSeries::hovered, this, tip);
        connect(dots, &QScatterSeries::clicked, this, [this, i](const QPointF& pt) {
            const PplCurve& cv2 = curves_[i];
            const auto it = std::min_element(cv2.points.begin(), cv2.points.end(), [&](const PplPoint& a, const PplPoint& b) {
                return std::abs(a.bits - pt.x()) + std::abs(a.ppl - pt.y()) < std::abs(b.bits - pt.x()) + std::abs(b.ppl - pt.y());
            });
            if (it->runId) Q_EMIT runClicked(it->runId);
        });
    }

    if (refPpl_) {
        auto* ref = new QLineSeries();
        QPen pen(QColor(90, 90, 90));
        pen.setStyle(Qt::DashLine);
        pen.setWidthF(1.5);
        ref->setPen(pen);
        ref->setName(refLabel_.isEmpty() ? tr("float: %1").arg(*refPpl_, 0, 'f', 2)
                                         : tr("%1: %2").arg(refLabel_).arg(*refPpl_, 0, 'f', 2));
        ref->append(bLo, *refPpl_);
        ref->append(bHi, *refPpl_);
        c->addSeries(ref);
        ref->attachAxis(x);
        ref->attachAxis(y);
    }

    if (!frontier_.empty()) {
        double eLo = 1e300, eHi = 0;
        for (const FrontierPoint& f : frontier_) eLo = std::min(eLo, f.error), eHi = std::max(eHi, f.error);
        QLogValueAxis* ey = makeDecadeLogAxis(eLo, eHi);
        ey->setTitleText(tr("Predicted total %1 (log)").arg(errorName_));
        ey->setGridLineVisible(false);
        ey->setLabelsColor(QColor(110, 110, 110));
        c->addAxis(ey, Qt::AlignRight);
        auto* fr = new QLineSeries();
        QPen pen(QColor(120, 120, 120));
        pen.setStyle(Qt::DotLine);
        pen.setWidthF(2.0);
        fr->setPen(pen);
        fr->setName(tr("predicted frontier (right)"));
        for (const FrontierPoint& f : frontier_) fr->append(f.bits, f.error);
        c->addSeries(fr);
        fr->attachAxis(x);
        fr->attachAxis(ey);
    }

    applyChartFonts(c, font());
}

}  // namespace qs::views
