#include "outlier_heatmap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QEvent>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>
#include <QVBoxLayout>

#include "alloc/sensitivity.h"
#include "chart_util.h"

namespace qs::views {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool readsHiddenState(const std::string& kind) {
    return kind == "q" || kind == "k" || kind == "v" || kind == "gate" || kind == "up" || kind == "fc1";
}

bool hasColour(double v) { return std::isfinite(v) && v > 0; }

/// Compact number for ticks and tooltips: 3 significant digits, plain notation
/// from 1e-3 to 1e5, else "2.5e-5".
QString fmtValue(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? QStringLiteral("n/a") : (v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf"));
    const double a = std::abs(v);
    if (a == 0) return QStringLiteral("0");
    if (a >= 1e-3 && a < 1e5) {
        const int digits = a >= 1 ? int(std::floor(std::log10(a))) + 1 : 1;
        return QString::number(v, 'g', std::max(3, digits));
    }
    QString s = QString::number(v, 'e', 1);  // "2.5e-05"
    s.replace(QStringLiteral("e-0"), QStringLiteral("e-")).replace(QStringLiteral("e+0"), QStringLiteral("e")).replace(QStringLiteral("e+"), QStringLiteral("e"));
    return s;
}

/// Nice step (1, 2, 5 × 10^k) at least `raw`.
double niceStep(double raw) {
    if (raw <= 1) return 1;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= raw) return m * p;
    return 10 * p;
}

/// The cells [a, b) a device pixel p of `pixels` shows along an axis of `cells`:
/// the cell under the pixel's centre when magnified; when minified, the cells whose
/// centres fall in the pixel (so the pixel holding a cell's centre shows that cell).
void cellRange(int p, int pixels, int cells, int& a, int& b) {
    if (cells <= pixels) {
        a = std::min(cells - 1, int((p + 0.5) * cells / pixels));
        b = a + 1;
    } else {
        a = std::clamp(int(std::ceil(double(p) * cells / pixels - 0.5)), 0, cells - 1);
        b = std::clamp(int(std::ceil(double(p + 1) * cells / pixels - 0.5)), a + 1, cells);
    }
}

/// The cells under the logical pixel at offset `x` (≥ 0) of a map drawn with
/// `pixels` device pixels at ratio `dpr`: the union over its device pixels.
void logicalCellRange(qreal x, qreal dpr, int pixels, int cells, int& a, int& b) {
    const int p0 = std::clamp(int(std::floor(std::floor(x) * dpr)), 0, pixels - 1);
    const int p1 = std::clamp(int(std::floor((std::floor(x) + 1) * dpr)) - 1, p0, pixels - 1);
    int a1, b1;
    cellRange(p0, pixels, cells, a, b);
    cellRange(p1, pixels, cells, a1, b1);
    a = std::min(a, a1), b = std::max(b, b1);
}

QString unitsTitle(OutlierHeatmap::Statistic s) {
    switch (s) {
    case OutlierHeatmap::ActivationAbsMax: return QCoreApplication::translate("qs::views::OutlierHeatmap", "max |x| per channel (input units, log scale)");
    case OutlierHeatmap::ActivationMeanAbs: return QCoreApplication::translate("qs::views::OutlierHeatmap", "mean |x| per channel (input units, log scale)");
    case OutlierHeatmap::ActivationKurtosis: return QCoreApplication::translate("qs::views::OutlierHeatmap", "kurtosis of x (3 = Gaussian, log scale)");
    case OutlierHeatmap::WeightAbsMax: return QCoreApplication::translate("qs::views::OutlierHeatmap", "max |w| per input column (log scale)");
    }
    return {};
}

}  // namespace

/// The painting surface: forwards painting and tooltips to the OutlierHeatmap.
class HeatmapCanvas : public QWidget {
public:
    explicit HeatmapCanvas(OutlierHeatmap* owner) : QWidget(owner), owner_(owner) {
        setMouseTracking(true);
        setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
        setMinimumSize(320, 180);
    }

protected:
    void paintEvent(QPaintEvent*) override {
        QPainter p(this);
        owner_->paintCanvas(p);
    }
    bool event(QEvent* e) override {
        if (e->type() == QEvent::ToolTip) {
            auto* he = static_cast<QHelpEvent*>(e);
            const QString t = owner_->toolTipAt(he->pos());
            if (t.isEmpty()) QToolTip::hideText(), e->ignore();
            else QToolTip::showText(he->globalPos(), t, this);
            return true;
        }
        return QWidget::event(e);
    }

private:
    OutlierHeatmap* owner_;
};

QColor OutlierHeatmap::colormap(double t) {
    // viridis (matplotlib) at t = 0, 0.1, ..., 1.
    static const QRgb anchors[11] = {0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c,
                                     0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725};
    if (!std::isfinite(t)) return noValueColor();
    t = std::clamp(t, 0.0, 1.0) * 10.0;
    const int i = std::min(9, int(t));
    const double f = t - i;
    const QColor a = QColor::fromRgb(anchors[i]), b = QColor::fromRgb(anchors[i + 1]);
    auto mix = [f](int x, int y) { return int(std::lround(x + (y - x) * f)); };
    return QColor(mix(a.red(), b.red()), mix(a.green(), b.green()), mix(a.blue(), b.blue()));
}

QString OutlierHeatmap::statisticName(Statistic s) {
    switch (s) {
    case ActivationAbsMax: return tr("Activation max |x|");
    case ActivationMeanAbs: return tr("Activation mean |x|");
    case ActivationKurtosis: return tr("Activation kurtosis");
    case WeightAbsMax: return tr("Weight max |w|");
    }
    return {};
}

OutlierHeatmap::OutlierHeatmap(QWidget* parent) : QWidget(parent), lo_(kNaN), hi_(kNaN) {
    auto* title = new QLabel(tr("Outlier channels"), this);
    title->setFont(chartTitleFont(font()));
    statBox_ = new QComboBox(this);
    statBox_->setObjectName(QStringLiteral("heatmapStatistic"));
    for (Statistic s : {ActivationAbsMax, ActivationMeanAbs, ActivationKurtosis, WeightAbsMax})
        statBox_->addItem(statisticName(s), int(s));
    statBox_->setToolTip(tr("Per-input-channel statistic of the sensitivity report shown as colour"));
    hiddenBox_ = new QCheckBox(tr("Only layers reading the hidden state"), this);
    hiddenBox_->setObjectName(QStringLiteral("heatmapHiddenOnly"));
    hiddenBox_->setToolTip(tr("q, k, v, gate, up (fc1): the linears fed by the normalized residual stream"));
    canvas_ = new HeatmapCanvas(this);

    auto* controls = new QHBoxLayout();
    controls->setContentsMargins(4, 2, 4, 0);
    controls->addWidget(title);
    controls->addSpacing(8);
    controls->addWidget(statBox_);
    controls->addSpacing(8);
    controls->addWidget(hiddenBox_);
    controls->addStretch(1);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addLayout(controls);
    lay->addWidget(canvas_, 1);

    connect(statBox_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setStatistic(Statistic(statBox_->itemData(i).toInt())); });
    connect(hiddenBox_, &QCheckBox::toggled, this, [this](bool on) { setHiddenStateOnly(on); });
    rebuild();
}

OutlierHeatmap::~OutlierHeatmap() = default;

void OutlierHeatmap::changeEvent(QEvent* e) {
    if (e->type() == QEvent::FontChange || e->type() == QEvent::PaletteChange) {
        layoutValid_ = false;  // label widths, line heights
        canvas_->update();
    }
    QWidget::changeEvent(e);
}

void OutlierHeatmap::setReport(std::shared_ptr<const SensitivityReport> report) {
    report_ = std::move(report);
    rebuild();
}

void OutlierHeatmap::setStatistic(Statistic s) {
    if (statBox_->currentIndex() != statBox_->findData(int(s))) {
        statBox_->setCurrentIndex(statBox_->findData(int(s)));  // re-enters through the signal
        return;
    }
    if (s == stat_ && !rows_.empty()) return;
    stat_ = s;
    rebuild();
}

void OutlierHeatmap::setHiddenStateOnly(bool on) {
    if (hiddenBox_->isChecked() != on) {
        hiddenBox_->setChecked(on);  // re-enters through the signal
        return;
    }
    hiddenOnly_ = on;
    rebuild();
}

const std::vector<float>* OutlierHeatmap::statVector(const LayerSensitivity& l) const {
    switch (stat_) {
    case ActivationAbsMax: return &l.activations.absMax;
    case ActivationMeanAbs: return &l.activations.meanAbs;
    case ActivationKurtosis: return &l.activations.kurtosis;
    case WeightAbsMax: return &l.weights.absMax;
    }
    return nullptr;
}

void OutlierHeatmap::rebuild() {
    rows_.clear();
    sections_.clear();
    marks_.clear();
    lo_ = hi_ = kNaN;
    hint_.clear();
    layoutValid_ = false;

    const bool activation = stat_ != WeightAbsMax;
    if (!report_ || report_->layers.empty()) {
        hint_ = report_ ? tr("The sensitivity report has no layers.")
                        : tr("No sensitivity report yet.\nRun Analyse to see the outlier channels (layers × input channels).");
    } else {
        bool anyVectors = false;
        for (const auto& l : report_->layers) anyVectors |= !statVector(l)->empty();
        if (!anyVectors) {
            hint_ = tr("This report has no per-channel vectors (it was analysed with channel vectors off, "
                                   "e.g. quantscope-cli sensitivity --no-channel-vectors).\n"
                                   "Re-run the analysis with them to see the heatmap.");
        }
    }

    if (hint_.isEmpty()) {
        // Rows in model order; consecutive linears of a block reading the same input share a row.
        std::vector<Row> ordered;
        for (const auto& l : report_->layers) {
            if (hiddenOnly_ && !readsHiddenState(l.kind)) continue;
            const std::vector<float>* v = statVector(l);
            if (activation && !ordered.empty()) {
                Row& prev = ordered.back();
                const LayerSensitivity* p = prev.layers.front();
                if (p->block == l.block && !l.activations.absMax.empty() && p->activations.absMax == l.activations.absMax &&
                    p->activations.meanAbs == l.activations.meanAbs && p->activations.kurtosis == l.activations.kurtosis) {
                    prev.layers.push_back(&l);
                    prev.label += QLatin1Char('/') + QString::fromStdString(l.kind);
                    continue;
                }
            }
            Row r;
            r.block = l.block;
            r.layers = {&l};
            r.values = v;
            r.width = v->empty() ? int(l.inFeatures) : int(v->size());
            r.label = l.block >= 0 ? shortLayerName(l.block, l.kind) : shortLayerName(l.name);
            ordered.push_back(std::move(r));
        }
        // Sections by input width, in order of first appearance; rows stay in model order within.
        std::vector<int> widths;
        for (const Row& r : ordered)
            if (std::find(widths.begin(), widths.end(), r.width) == widths.end()) widths.push_back(r.width);
        for (int w : widths) {
            Section s;
            s.width = w;
            s.firstRow = int(rows_.size());
            QStringList kinds;
            for (const Row& r : ordered)
                if (r.width == w) {
                    rows_.push_back(r);
                    const QString k = r.label.section(QLatin1Char('.'), 1);
                    if (!kinds.contains(k)) kinds << k;
                }
            s.rowCount = int(rows_.size()) - s.firstRow;
            s.title = tr("%1 input channels: %2").arg(w).arg(kinds.join(QStringLiteral(", ")));
            sections_.push_back(s);
        }
        if (rows_.empty())
            hint_ = tr("No layer of this model reads the hidden state directly.");

        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const Row& r : rows_)
            for (float x : *r.values)
                if (hasColour(x)) lo = std::min(lo, double(x)), hi = std::max(hi, double(x));
        if (hi > 0) lo_ = lo, hi_ = hi;
        else if (!rows_.empty())
            hint_ = tr("No positive finite value of %1 in this report: nothing to show on a log scale.")
                        .arg(statisticName(stat_).toLower());

        // Rings on the model's top outlier channels.
        std::map<std::string, int> rowOf;
        for (int i = 0; i < int(rows_.size()); ++i)
            for (const auto* l : rows_[i].layers) rowOf[l->name] = i;
        for (const auto& o : report_->topOutliers) {
            const auto it = rowOf.find(o.layer);
            if (it == rowOf.end() || o.channel < 0 || o.channel >= rows_[it->second].width) continue;
            const std::pair<int, int> m{it->second, o.channel};
            if (std::find(marks_.begin(), marks_.end(), m) == marks_.end()) marks_.push_back(m);
        }
    }
    canvas_->setToolTip(QString());
    canvas_->update();
}

QString OutlierHeatmap::rowLabel(int row) const {
    return row >= 0 && row < rowCount() ? rows_[row].label : QString();
}

QStringList OutlierHeatmap::rowLayers(int row) const {
    QStringList out;
    if (row >= 0 && row < rowCount())
        for (const auto* l : rows_[row].layers) out << QString::fromStdString(l->name);
    return out;
}

int OutlierHeatmap::rowChannels(int row) const { return row >= 0 && row < rowCount() ? rows_[row].width : 0; }

double OutlierHeatmap::value(int row, int channel) const {
    if (row < 0 || row >= rowCount()) return kNaN;
    const auto& v = *rows_[row].values;
    return channel >= 0 && channel < int(v.size()) ? double(v[channel]) : kNaN;
}

double OutlierHeatmap::colorPosition(double v) const {
    if (!hasColour(v) || !std::isfinite(lo_)) return kNaN;
    const double a = std::log10(lo_), b = std::log10(hi_);
    if (b <= a) return 0.5;
    return std::clamp((std::log10(v) - a) / (b - a), 0.0, 1.0);
}

QColor OutlierHeatmap::colorFor(double v) const { return colormap(colorPosition(v)); }

std::vector<double> OutlierHeatmap::colorBarTicks() const {
    std::vector<double> t;
    if (!std::isfinite(lo_)) return t;
    const double a = std::log10(lo_), b = std::log10(hi_);
    const double eps = 1e-9;
    // Decades (every 2nd/3rd over wide ranges); 1-2-5 or 1..9 mantissas over narrow ones.
    const int span = int(std::floor(b + eps) - std::ceil(a - eps));
    if (span >= 2) {
        const int step = span > 12 ? 3 : span > 6 ? 2 : 1;
        for (int e = int(std::ceil(a - eps)); e <= int(std::floor(b + eps)); ++e)
            if (e % step == 0) t.push_back(std::pow(10.0, e));
    } else {
        for (const auto& mantissas : {std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
            t.clear();
            for (int e = int(std::floor(a)) - 1; e <= int(std::ceil(b)); ++e)
                for (double m : mantissas) {
                    const double v = m * std::pow(10.0, e);
                    const double lv = std::log10(v);
                    if (lv >= a - eps && lv <= b + eps) t.push_back(v);
                }
            if (t.size() >= 3) break;
        }
    }
    return t;
}

void OutlierHeatmap::ensureLayout() const {
    const qreal dpr = canvas_->devicePixelRatioF();
    if (layoutValid_ && layoutSize_ == canvas_->size() && layoutDpr_ == dpr) return;
    layoutValid_ = true;
    layoutSize_ = canvas_->size();
    layoutDpr_ = dpr;
    for (const Section& s : sections_) s.image = QImage();
    if (!hint_.isEmpty() || rows_.empty()) return;

    const QFontMetricsF fm(chartSmallFont(font()));
    const qreal lh = std::ceil(fm.height());
    const qreal W = canvas_->width(), H = canvas_->height();
    qreal labelW = 0;
    for (const Row& r : rows_) labelW = std::max(labelW, fm.horizontalAdvance(r.label));
    labelWidth_ = std::ceil(labelW) + 8;
    qreal tickW = 0;
    for (double v : colorBarTicks()) tickW = std::max(tickW, fm.horizontalAdvance(fmtValue(v)));
    tickW = std::max({tickW, fm.horizontalAdvance(fmtValue(lo_)), fm.horizontalAdvance(fmtValue(hi_))});
    const qreal barW = 12, right = 10 + barW + 4 + std::ceil(tickW) + 4 + lh + 2;
    const qreal mapX = labelWidth_, mapW = std::max<qreal>(20, std::floor(W - mapX - right));
    const qreal top = 2, bottomLine = lh + 4;
    const qreal headerH = lh + 1, ticksH = 3 + lh + 3;
    const int n = int(sections_.size());
    const qreal avail = std::max<qreal>(n * 8.0, H - top - bottomLine - n * (headerH + ticksH));
    const int totalRows = rowCount();
    qreal y = top, used = 0;
    for (int i = 0; i < n; ++i) {
        const Section& s = sections_[i];
        s.header = QRectF(mapX, y, mapW, headerH);
        y += headerH;
        // Heights in proportion to the rows; the last section takes what is left.
        qreal h = i == n - 1 ? std::floor(avail - used) : std::floor(avail * s.rowCount / totalRows);
        h = std::max<qreal>(h, 8);
        used += h;
        s.map = QRectF(mapX, y, mapW, h);
        y += h + ticksH;
    }
    colorBar_ = QRectF(mapX + mapW + 10, sections_.front().map.top(), barW,
                       sections_.back().map.bottom() - sections_.front().map.top());
}

void OutlierHeatmap::renderSection(const Section& s, qreal dpr) const {
    const int pw = std::max(1, int(std::lround(s.map.width() * dpr)));
    const int ph = std::max(1, int(std::lround(s.map.height() * dpr)));
    QImage img(pw, ph, QImage::Format_RGB32);
    img.setDevicePixelRatio(dpr);
    const int R = s.rowCount, C = s.width;
    // Pixel → cell ranges (cellRange): the max over the covered cells when minified,
    // so an outlier channel never vanishes.
    const auto range = cellRange;
    std::vector<std::vector<float>> pooled(R, std::vector<float>(pw, std::numeric_limits<float>::quiet_NaN()));
    for (int r = 0; r < R; ++r) {
        const auto& v = *rows_[s.firstRow + r].values;
        if (v.empty()) continue;
        for (int px = 0; px < pw; ++px) {
            int c0, c1;
            range(px, pw, C, c0, c1);
            float m = std::numeric_limits<float>::quiet_NaN();
            for (int c = c0; c < c1 && c < int(v.size()); ++c)
                if (hasColour(v[c]) && !(m >= v[c])) m = v[c];
            pooled[r][px] = m;
        }
    }
    for (int py = 0; py < ph; ++py) {
        int r0, r1;
        range(py, ph, R, r0, r1);
        auto* line = reinterpret_cast<QRgb*>(img.scanLine(py));
        for (int px = 0; px < pw; ++px) {
            float m = std::numeric_limits<float>::quiet_NaN();
            for (int r = r0; r < r1; ++r)
                if (!std::isnan(pooled[r][px]) && !(m >= pooled[r][px])) m = pooled[r][px];
            line[px] = colorFor(m).rgb();
        }
    }
    s.image = img;
}

QImage OutlierHeatmap::sectionImage(int section) const {
    if (section < 0 || section >= sectionCount()) return {};
    ensureLayout();
    const Section& s = sections_[section];
    if (s.image.isNull()) renderSection(s, layoutDpr_);
    return s.image;
}

void OutlierHeatmap::paintCanvas(QPainter& p) const {
    p.fillRect(canvas_->rect(), palette().window());
    const QFont small = chartSmallFont(font());
    p.setFont(small);
    if (!hint_.isEmpty()) {
        p.setFont(font());
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(canvas_->rect().adjusted(20, 10, -20, -10), Qt::AlignCenter | Qt::TextWordWrap, hint_);
        return;
    }
    ensureLayout();
    const QFontMetricsF fm(small);
    const qreal lh = std::ceil(fm.height());
    const QColor text = palette().color(QPalette::WindowText);
    QColor faint = text;
    faint.setAlphaF(0.75);

    for (const Section& s : sections_) {
        if (s.image.isNull()) renderSection(s, layoutDpr_);
        p.setPen(faint);
        p.drawText(s.header, Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(s.title, Qt::ElideRight, s.header.width()));
        p.drawImage(s.map.topLeft(), s.image);
        const qreal rowH = s.map.height() / s.rowCount;
        // Block separators (thin lines in the background colour) when rows are tall enough.
        if (rowH >= 4) {
            p.setPen(QPen(palette().color(QPalette::Window), 1.0));
            for (int r = 1; r < s.rowCount; ++r)
                if (rows_[s.firstRow + r].block != rows_[s.firstRow + r - 1].block) {
                    const qreal y = std::round(s.map.top() + r * rowH);
                    p.drawLine(QPointF(s.map.left(), y), QPointF(s.map.right(), y));
                }
        }
        // Row labels: all when they fit, else the first row of blocks, spaced by a line height.
        p.setPen(text);
        const bool all = rowH >= lh - 1;
        qreal lastY = -1e9;
        for (int r = 0; r < s.rowCount; ++r) {
            const Row& row = rows_[s.firstRow + r];
            const bool firstOfBlock = r == 0 || rows_[s.firstRow + r - 1].block != row.block;
            const qreal cy = s.map.top() + (r + 0.5) * rowH;
            if (!all && (!firstOfBlock || cy - lastY < lh)) continue;
            lastY = cy;
            p.drawText(QRectF(0, cy - lh / 2, labelWidth_ - 5, lh), Qt::AlignRight | Qt::AlignVCenter, row.label);
            if (!all) p.drawLine(QPointF(labelWidth_ - 3, cy), QPointF(labelWidth_ - 1, cy));
        }
        // Channel ticks.
        const qreal cellW = s.map.width() / s.width;
        const qreal labelSpace = fm.horizontalAdvance(QString::number(s.width)) + 14;
        const double step = niceStep(s.width / std::max(1.0, std::floor(s.map.width() / labelSpace)));
        p.setPen(text);
        qreal lastRight = -1e9;
        auto tick = [&](int c) {
            const qreal x = s.map.left() + (c + 0.5) * cellW;
            const QString t = QString::number(c);
            const qreal w = fm.horizontalAdvance(t);
            const QRectF box(x - w / 2, s.map.bottom() + 3, w, lh);
            if (box.left() < lastRight + 4 || box.right() > colorBar_.left() + 4) return;
            p.drawLine(QPointF(x, s.map.bottom()), QPointF(x, s.map.bottom() + 3));
            p.drawText(box, Qt::AlignCenter, t);
            lastRight = box.right();
        };
        for (double c = 0; c < s.width; c += step) tick(int(c));
        if (s.width > 1 && std::fmod(s.width - 1, step) != 0) tick(s.width - 1);
        p.setPen(QPen(faint, 0.8));
        p.setBrush(Qt::NoBrush);
        p.drawRect(s.map.adjusted(-0.5, -0.5, 0.5, 0.5));
    }

    // Rings on the top outlier channels.
    p.setRenderHint(QPainter::Antialiasing, true);
    for (const auto& [row, ch] : marks_) {
        int sec = 0;
        while (sec + 1 < sectionCount() && sections_[sec + 1].firstRow <= row) ++sec;
        const Section& s = sections_[sec];
        const qreal cw = s.map.width() / s.width, rh = s.map.height() / s.rowCount;
        const QPointF c(s.map.left() + (ch + 0.5) * cw, s.map.top() + (row - s.firstRow + 0.5) * rh);
        const qreal rad = std::clamp(0.6 * std::min(std::max(cw, 6.0), rh), 3.0, 7.0);
        p.setBrush(Qt::NoBrush);
        p.setPen(QPen(Qt::white, 3.0));
        p.drawEllipse(c, rad, rad);
        p.setPen(QPen(QColor(220, 20, 60), 1.6));
        p.drawEllipse(c, rad, rad);
    }
    p.setRenderHint(QPainter::Antialiasing, false);

    // Colour bar: the data range, log scale, ticks in data units.
    {
        const qreal dpr = layoutDpr_;
        const int bh = std::max(1, int(std::lround(colorBar_.height() * dpr)));
        const int bw = std::max(1, int(std::lround(colorBar_.width() * dpr)));
        QImage bar(bw, bh, QImage::Format_RGB32);
        bar.setDevicePixelRatio(dpr);
        for (int y = 0; y < bh; ++y) {
            const QRgb c = colormap(1.0 - (y + 0.5) / bh).rgb();
            auto* line = reinterpret_cast<QRgb*>(bar.scanLine(y));
            std::fill(line, line + bw, c);
        }
        p.drawImage(colorBar_.topLeft(), bar);
        p.setPen(QPen(faint, 0.8));
        p.drawRect(colorBar_.adjusted(-0.5, -0.5, 0.5, 0.5));
        p.setPen(text);
        const qreal tx = colorBar_.right() + 4;
        auto yOf = [&](double v) { return colorBar_.bottom() - colorPosition(v) * colorBar_.height(); };
        std::vector<qreal> used;
        auto label = [&](double v, bool force) {
            const qreal y = std::clamp(yOf(v), colorBar_.top() + lh / 2 - 2, colorBar_.bottom() - lh / 2 + 2);
            for (qreal u : used)
                if (std::abs(u - y) < lh - 1 && !force) return;
            used.push_back(y);
            p.drawLine(QPointF(colorBar_.right(), yOf(v)), QPointF(colorBar_.right() + 3, yOf(v)));
            p.drawText(QRectF(tx, y - lh / 2, 200, lh), Qt::AlignLeft | Qt::AlignVCenter, fmtValue(v));
        };
        label(hi_, true);
        if (lo_ < hi_) label(lo_, true);
        for (double v : colorBarTicks()) label(v, false);
        // Title along the bar, reading bottom to top.
        p.save();
        const qreal titleX = canvas_->width() - 2;
        const QPointF mid(titleX - lh / 2, colorBar_.center().y());
        p.translate(mid);
        p.rotate(-90);
        const QString title = fm.elidedText(unitsTitle(stat_), Qt::ElideRight, std::max<qreal>(colorBar_.height() + 40, 60));
        p.drawText(QRectF(-canvas_->height() / 2.0, -lh / 2, canvas_->height(), lh), Qt::AlignCenter, title);
        p.restore();
    }

    // Bottom line: the x axis title and the legend of the marks and the grey.
    {
        const qreal y = canvas_->height() - lh - 2;
        const qreal x0 = sections_.front().map.left();
        p.setPen(text);
        const QString xTitle = tr("Input channel (index)");
        p.drawText(QRectF(x0, y, fm.horizontalAdvance(xTitle) + 2, lh), Qt::AlignLeft | Qt::AlignVCenter, xTitle);
        qreal x = colorBar_.right();
        const QString noValue = tr("no value / ≤ 0");
        const qreal nvW = fm.horizontalAdvance(noValue);
        x -= nvW;
        p.drawText(QRectF(x, y, nvW + 2, lh), Qt::AlignLeft | Qt::AlignVCenter, noValue);
        x -= 14;
        p.fillRect(QRectF(x, y + lh / 2 - 5, 10, 10), noValueColor());
        p.setPen(QPen(faint, 0.8));
        p.drawRect(QRectF(x, y + lh / 2 - 5, 10, 10));
        if (!marks_.empty()) {
            const QString m = tr("top %1 activation outliers of the model").arg(report_->topOutliers.size());
            const qreal mw = fm.horizontalAdvance(m);
            x -= 14 + mw;
            p.setPen(text);
            p.drawText(QRectF(x, y, mw + 2, lh), Qt::AlignLeft | Qt::AlignVCenter, m);
            x -= 14;
            p.setRenderHint(QPainter::Antialiasing, true);
            p.setPen(QPen(QColor(220, 20, 60), 1.6));
            p.drawEllipse(QPointF(x + 5, y + lh / 2), 4.5, 4.5);
            p.setRenderHint(QPainter::Antialiasing, false);
        }
    }
}

bool OutlierHeatmap::cellAt(const QPointF& pos, int& row, int& c0, int& c1, int& r0, int& r1) const {
    ensureLayout();
    if (!hint_.isEmpty()) return false;
    for (const Section& s : sections_) {
        if (!s.map.contains(pos)) continue;
        const qreal dpr = layoutDpr_;
        const int pw = std::max(1, int(std::lround(s.map.width() * dpr)));
        const int ph = std::max(1, int(std::lround(s.map.height() * dpr)));
        logicalCellRange(pos.x() - s.map.left(), dpr, pw, s.width, c0, c1);
        logicalCellRange(pos.y() - s.map.top(), dpr, ph, s.rowCount, r0, r1);
        r0 += s.firstRow, r1 += s.firstRow;
        row = r0;
        return true;
    }
    return false;
}

QRectF OutlierHeatmap::mapRect(int section) const {
    if (section < 0 || section >= sectionCount()) return {};
    ensureLayout();
    return sections_[section].map;
}

QPoint OutlierHeatmap::cellCenter(int row, int channel) const {
    ensureLayout();
    if (!hint_.isEmpty() || row < 0 || row >= rowCount() || channel < 0 || channel >= rows_[row].width) return {-1, -1};
    int sec = 0;
    while (sec + 1 < sectionCount() && sections_[sec + 1].firstRow <= row) ++sec;
    const Section& s = sections_[sec];
    const qreal x = s.map.left() + (channel + 0.5) * s.map.width() / s.width;
    const qreal y = s.map.top() + (row - s.firstRow + 0.5) * s.map.height() / s.rowCount;
    return QPoint(int(std::floor(x)), int(std::floor(y)));
}

QString OutlierHeatmap::toolTipAt(const QPoint& pos) const {
    int row = 0, c0 = 0, c1 = 0, r0 = 0, r1 = 0;
    if (!cellAt(QPointF(pos), row, c0, c1, r0, r1)) return {};
    // When a pixel covers several cells, describe the one with the largest value (what the pixel shows).
    int ch = c0;
    double best = kNaN;
    for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) {
            const double v = value(r, c);
            if (hasColour(v) && !(best >= v)) best = v, row = r, ch = c;
        }
    const Row& R = rows_[row];
    const LayerSensitivity& l = *R.layers.front();
    QStringList names;
    for (const auto* x : R.layers) names << QString::fromStdString(x->name);
    QString t = QStringLiteral("%1  (%2)").arg(R.label, names.join(QStringLiteral(", ")));
    t += tr("\nchannel %1 of %2").arg(ch).arg(R.width);
    if (c1 - c0 > 1 || r1 - r0 > 1)
        t += tr("  (this pixel covers channels %1–%2%3; the largest is shown)")
                 .arg(c0)
                 .arg(c1 - 1)
                 .arg(r1 - r0 > 1 ? tr(" of %1 rows").arg(r1 - r0) : QString());
    auto at = [ch](const std::vector<float>& v) { return ch < int(v.size()) ? double(v[ch]) : kNaN; };
    // The layer's median channel = max / outlier score (core's definition of the score).
    auto ratio = [&at](const ChannelStatsReport& s) -> QString {
        if (s.absMax.empty() || !(s.outlierScore > 0) || !std::isfinite(s.outlierScore)) return {};
        const double mx = *std::max_element(s.absMax.begin(), s.absMax.end());
        const double median = mx / s.outlierScore;
        if (!(median > 0)) return {};
        return tr("  (%1× the layer's median)").arg(at(s.absMax) / median, 0, 'f', 2);
    };
    if (!l.activations.absMax.empty())
        t += tr("\nactivation max |x| %1%2\nactivation mean |x| %3\nactivation kurtosis %4")
                 .arg(fmtValue(at(l.activations.absMax)), ratio(l.activations), fmtValue(at(l.activations.meanAbs)),
                      fmtValue(at(l.activations.kurtosis)));
    else
        t += tr("\nactivations: no per-channel values");
    if (R.layers.size() == 1) {
        if (!l.weights.absMax.empty())
            t += tr("\nweight max |w| %1%2").arg(fmtValue(at(l.weights.absMax)), ratio(l.weights));
    } else {
        QStringList w;
        for (const auto* x : R.layers)
            if (!x->weights.absMax.empty())
                w << QStringLiteral("%1 %2").arg(QString::fromStdString(x->kind), fmtValue(at(x->weights.absMax)));
        if (!w.isEmpty()) t += tr("\nweight max |w|: ") + w.join(QStringLiteral(", "));
    }
    if (report_)
        for (int i = 0; i < int(report_->topOutliers.size()); ++i) {
            const auto& o = report_->topOutliers[i];
            if (o.channel != ch) continue;
            for (const auto* x : R.layers)
                if (x->name == o.layer) {
                    t += tr("\ntop outlier #%1 of the model").arg(i + 1);
                    i = int(report_->topOutliers.size());
                    break;
                }
        }
    return t;
}

}  // namespace qs::views
