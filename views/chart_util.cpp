#include "chart_util.h"

#include <algorithm>
#include <cmath>

#include <QAbstractAxis>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QFontMetricsF>
#include <QLegend>
#include <QLogValueAxis>
#include <QRegularExpression>

namespace qs::views {

QString shortLayerName(int block, const std::string& kind) {
    return QStringLiteral("%1.%2").arg(block).arg(QString::fromStdString(kind));
}

namespace {
bool endsWith(const std::string& s, const char* suffix) {
    const std::string x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}
}  // namespace

std::string kindFromLayerName(const std::string& n) {
    // Canonical names of core/model (hf_loader.cpp, llama2c.cpp): LLaMA family and
    // OPT use *_proj / fc1 / fc2; GPT-2 splits c_attn into .q/.k/.v.
    static const struct {
        const char* suffix;
        const char* kind;
    } table[] = {
        {".q_proj", "q"},          {".k_proj", "k"},          {".v_proj", "v"},         {".o_proj", "o"},
        {".out_proj", "o"},        {".gate_proj", "gate"},    {".up_proj", "up"},       {".down_proj", "down"},
        {".fc1", "fc1"},           {".fc2", "fc2"},           {".c_attn.q", "q"},       {".c_attn.k", "k"},
        {".c_attn.v", "v"},        {".attn.c_proj", "o"},     {".mlp.c_fc", "fc1"},     {".mlp.c_proj", "fc2"},
    };
    for (const auto& e : table)
        if (endsWith(n, e.suffix)) return e.kind;
    return {};
}

int blockFromLayerName(const std::string& name) {
    static const QRegularExpression re(QStringLiteral("(?:^|\\.)(?:layers|h)\\.(\\d+)(?:\\.|$)"));
    const auto m = re.match(QString::fromStdString(name));
    return m.hasMatch() ? m.captured(1).toInt() : -1;
}

QString shortLayerName(const std::string& name, int block) {
    if (name == "lm_head" || endsWith(name, ".lm_head")) return QStringLiteral("lm_head");
    if (endsWith(name, "embed_tokens")) return QStringLiteral("embed");
    const std::string kind = kindFromLayerName(name);
    const int b = block >= 0 ? block : blockFromLayerName(name);
    if (!kind.empty() && b >= 0) return shortLayerName(b, kind);
    const QStringList parts = QString::fromStdString(name).split(QLatin1Char('.'), Qt::SkipEmptyParts);
    if (parts.size() <= 2) return QString::fromStdString(name);
    return parts.mid(parts.size() - 2).join(QLatin1Char('.'));
}

QFont chartSmallFont(const QFont& base) {
    QFont f = base;
    f.setPointSizeF(std::max(7.0, f.pointSizeF() - 1.5));
    return f;
}

QFont chartAxisTitleFont(const QFont& base) {
    QFont f = base;
    f.setPointSizeF(std::max(8.0, f.pointSizeF() - 0.5));
    return f;
}

QFont chartTitleFont(const QFont& base) {
    QFont f = base;
    f.setBold(true);
    return f;
}

void applyChartFonts(QChart* c, const QFont& base) {
    const QFont small = chartSmallFont(base), axisTitle = chartAxisTitleFont(base);
    c->setTitleFont(chartTitleFont(base));
    for (QAbstractAxis* a : c->axes()) {
        a->setLabelsFont(small);
        a->setTitleFont(axisTitle);
    }
    c->legend()->setFont(small);
}

void clearChart(QChart* c) {
    c->removeAllSeries();
    for (QAbstractAxis* a : c->axes()) {
        c->removeAxis(a);
        delete a;
    }
}

QLogValueAxis* makeDecadeLogAxis(double lo, double hi) {
    auto* y = new QLogValueAxis();
    y->setBase(10);
    y->setLabelFormat(QStringLiteral("%.0e"));
    double a = std::floor(std::log10(lo)), b = std::ceil(std::log10(hi));
    if (b <= a) b = a + 1;
    // A hair outside the decades: Qt places the first/last label at ceil/floor of
    // ln(min)/ln(10), which rounding can push past the end decade (its label vanishes).
    y->setRange(std::pow(10.0, a) * (1 - 1e-9), std::pow(10.0, b) * (1 + 1e-9));
    y->setMinorTickCount(-1);
    return y;
}

QColor seriesColor(int i) {
    static const QRgb tableau[] = {0x4e79a7, 0xf28e2b, 0x59a14f, 0xe15759, 0x76b7b2,
                                   0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
    const int n = int(std::size(tableau));
    return QColor::fromRgb(tableau[((i % n) + n) % n]);
}

QCategoryAxis* makeLayerAxis(int n, const QString& title) {
    auto* a = new QCategoryAxis();
    a->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    a->setRange(-0.5, std::max(n, 1) - 0.5);
    a->setStartValue(-0.5);
    a->setGridLineVisible(false);
    a->setTitleText(title);
    return a;
}

int fitCategoryLabels(QCategoryAxis* axis, const QStringList& categories, const QChartView* view, int stride) {
    // Qt Charts' bar category axis can neither skip labels nor stop eliding rotated
    // ones ("..." turned into a column of dots), so the axis is a QCategoryAxis with
    // one label on each labelled category's position.
    if (!axis) return stride;
    const int n = int(categories.size());
    const QFontMetricsF fm(axis->labelsFont());
    // Before the chart is laid out (hidden, just rebuilt) the plot area is stale: estimate
    // it from the view (the axes take about 160 px), so labels are not flipped once laid out.
    qreal plotW = view->chart()->plotArea().width();
    if (!view->isVisible() || plotW <= 1) plotW = std::max(0, view->width() - 160);
    const qreal perCategory = n > 0 ? plotW / n : 0;
    qreal widest = 0;
    for (const QString& c : categories) widest = std::max(widest, fm.horizontalAdvance(c));
    const bool rotate = n > 0 && perCategory < widest + 6;
    const qreal need = rotate ? fm.height() + 1 : 0;  // rotated labels side by side, 1 px apart
    const int k = n == 0 || perCategory <= 0 ? 1 : std::max(1, int(std::ceil(need / perCategory)));
    if (k == stride && rotate == (axis->labelsAngle() != 0) && axis->count() > 0) return k;
    for (const QString& l : axis->categoriesLabels()) axis->remove(l);
    axis->setLabelsAngle(rotate ? -90 : 0);
    // Qt would elide rotated labels to "..." when the axis is short; side by side they fit.
    axis->setTruncateLabels(!rotate);
    if (n == 0) {
        axis->append(QStringLiteral("-"), 0);
        return k;
    }
    for (int i = 0; i < n; i += k) axis->append(categories[i], i);
    return k;
}

}  // namespace qs::views
